//! Records and their compact binary encoding (postcard, a varint-based serde
//! format) for crossing task boundaries.

use serde::{de::DeserializeOwned, Serialize};

use crate::error::TaskError;

/// What a stream element must be: serializable (to cross task boundaries) and
/// cloneable (to fan out to several consumers).
pub trait Record: Serialize + DeserializeOwned + Clone + 'static {}
impl<T: Serialize + DeserializeOwned + Clone + 'static> Record for T {}

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

/// Decodes all `count` records of one buffer into `out` (appending).
///
/// Errors: [`TaskError::Decode`] if the bytes are truncated or malformed, or
/// if bytes remain after `count` records.
pub fn decode_all<T: DeserializeOwned>(mut bytes: &[u8], count: u32, out: &mut Vec<T>) -> Result<(), TaskError> {
    out.reserve(count as usize);
    for i in 0..count {
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
        }
    }
}
