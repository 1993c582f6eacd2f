//! Records and their compact binary encoding (postcard, a varint-based serde
//! format) for crossing task boundaries.

use serde::{de::DeserializeOwned, Serialize};

use crate::error::TaskError;

/// What a stream element must be: serializable (to cross TaskManagers),
/// `Send` (batches move between task threads unencoded) and cloneable (to fan
/// out to several consumers).
pub trait Record: Serialize + DeserializeOwned + Clone + Send + 'static {}
impl<T: Serialize + DeserializeOwned + Clone + Send + 'static> Record for T {}

/// A short string stored inline up to 24 bytes: words and keys without a heap
/// allocation per record.
pub type Word = compact_str::CompactString;

/// A postcard flavor that appends straight to a borrowed buffer (postcard's
/// own `ExtendFlavor` pushes byte by byte through `Extend`).
struct AppendFlavor<'a>(&'a mut Vec<u8>);

impl postcard::ser_flavors::Flavor for AppendFlavor<'_> {
    type Output = ();

    #[inline]
    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.0.push(byte);
        Ok(())
    }

    #[inline]
    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(data);
        Ok(())
    }

    #[inline]
    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// Appends the encoding of `record` to `buf`.
///
/// Errors: only if the record's `Serialize` impl fails (never for plain data).
#[inline]
pub fn encode_into<T: Serialize>(record: &T, buf: &mut Vec<u8>) -> Result<(), TaskError> {
    postcard::serialize_with_flavor(record, AppendFlavor(buf))
        .map_err(|e| TaskError::User(format!("cannot serialize record: {e}")))
}

/// Flag in a buffer's record count ([`crate::exchange::NetMessage::Data`]):
/// every record of the buffer is preceded by its event-time timestamp (a
/// zigzag varint, ms). Buffers without it carry records without timestamps,
/// so streams that have none pay nothing.
pub const TIMESTAMPED: u32 = 1 << 31;

/// Appends `timestamp` (ms) and then the encoding of `record` to `buf`: one
/// record of a [`TIMESTAMPED`] buffer.
///
/// Errors: only if the record's `Serialize` impl fails.
#[inline]
pub fn encode_timestamped_into<T: Serialize>(timestamp: i64, record: &T, buf: &mut Vec<u8>) -> Result<(), TaskError> {
    let mut zz = ((timestamp << 1) ^ (timestamp >> 63)) as u64;
    while zz >= 0x80 {
        buf.push((zz as u8) | 0x80);
        zz >>= 7;
    }
    buf.push(zz as u8);
    encode_into(record, buf)
}

/// Decodes all `count` timestamped records of one [`TIMESTAMPED`] buffer,
/// appending the records to `out` and their timestamps to `timestamps`.
///
/// Errors: [`TaskError::Decode`] if the bytes are truncated or malformed, or
/// if bytes remain after `count` records.
pub fn decode_all_timestamped<T: DeserializeOwned>(
    mut bytes: &[u8],
    count: u32,
    out: &mut Vec<T>,
    timestamps: &mut Vec<i64>,
) -> Result<(), TaskError> {
    // `count` comes from the sender: reserve no more than the bytes can hold
    // (every record has at least a one-byte timestamp).
    let fits = (count as usize).min(bytes.len());
    out.reserve(fits);
    timestamps.reserve(fits);
    for i in 0..count {
        let mut zz: u64 = 0;
        let mut shift = 0;
        loop {
            let (&b, rest) = bytes
                .split_first()
                .ok_or_else(|| TaskError::Decode(format!("record {i} of {count}: truncated timestamp")))?;
            bytes = rest;
            if shift > 63 {
                return Err(TaskError::Decode(format!("record {i} of {count}: timestamp longer than 10 bytes")));
            }
            zz |= ((b & 0x7f) as u64) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
        timestamps.push(((zz >> 1) as i64) ^ -((zz & 1) as i64));
        let (rec, rest) = postcard::take_from_bytes::<T>(bytes)
            .map_err(|e| TaskError::Decode(format!("record {i} of {count}: {e}")))?;
        out.push(rec);
        bytes = rest;
    }
    if !bytes.is_empty() {
        return Err(TaskError::Decode(format!("{} trailing bytes after {count} records", bytes.len())));
    }
    Ok(())
}

/// Decodes all `count` records of one buffer into `out` (appending).
///
/// Errors: [`TaskError::Decode`] if the bytes are truncated or malformed, or
/// if bytes remain after `count` records.
pub fn decode_all<T: DeserializeOwned>(bytes: &[u8], count: u32, out: &mut Vec<T>) -> Result<(), TaskError> {
    // `count` comes from the sender: reserve no more than the bytes can hold
    // (a record that encodes to no bytes is zero-sized and needs no room).
    out.reserve((count as usize).min(bytes.len()));
    // One deserializer for the whole buffer (not one per record).
    let mut de = postcard::Deserializer::from_bytes(bytes);
    for i in 0..count {
        let rec = T::deserialize(&mut de).map_err(|e| TaskError::Decode(format!("record {i} of {count}: {e}")))?;
        out.push(rec);
    }
    let bytes = de.finalize().map_err(|e| TaskError::Decode(format!("after {count} records: {e}")))?;
    if !bytes.is_empty() {
        return Err(TaskError::Decode(format!("{} trailing bytes after {count} records", bytes.len())));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_garbage() {
        let mut buf = Vec::new();
        let recs: Vec<(Word, u64)> = vec![("the".into(), 1), ("a-much-longer-word-than-24-bytes".into(), 300)];
        for r in &recs {
            encode_into(r, &mut buf).unwrap();
        }
        let mut out = Vec::new();
        decode_all::<(Word, u64)>(&buf, 2, &mut out).unwrap();
        assert_eq!(out, recs);
        // Truncated and trailing bytes are errors, never panics.
        let mut out2: Vec<(Word, u64)> = Vec::new();
        assert!(decode_all::<(Word, u64)>(&buf[..buf.len() - 1], 2, &mut out2).is_err());
        assert!(decode_all::<(Word, u64)>(&buf, 1, &mut out2).is_err());
        for seed in 0..200u32 {
            let junk: Vec<u8> = (0..(seed % 40)).map(|i| (seed.wrapping_mul(31).wrapping_add(i * 7)) as u8).collect();
            let mut o: Vec<(Word, u64)> = Vec::new();
            let _ = decode_all::<(Word, u64)>(&junk, 3, &mut o);
            let _ = decode_all_timestamped::<(Word, u64)>(&junk, 3, &mut o, &mut Vec::new());
        }
    }

    #[test]
    fn timestamped_round_trip() {
        let mut buf = Vec::new();
        let ts = [i64::MIN, -1, 0, 1, 1_700_000_000_000, i64::MAX];
        for (i, t) in ts.iter().enumerate() {
            encode_timestamped_into(*t, &(i as u32), &mut buf).unwrap();
        }
        let (mut recs, mut got) = (Vec::<u32>::new(), Vec::new());
        decode_all_timestamped(&buf, ts.len() as u32, &mut recs, &mut got).unwrap();
        assert_eq!(got, ts);
        assert_eq!(recs, (0..ts.len() as u32).collect::<Vec<_>>());
        assert!(decode_all_timestamped(&buf[..buf.len() - 1], ts.len() as u32, &mut recs, &mut got).is_err());
    }
}
