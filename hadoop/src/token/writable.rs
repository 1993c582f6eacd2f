//! Hadoop `Writable` primitives used by the credentials file: variable-length
//! integers (`org.apache.hadoop.io.WritableUtils#writeVLong` / `readVLong`)
//! and `org.apache.hadoop.io.Text` (vint byte length + UTF-8 bytes).

use super::TokenError;

/// Largest length (bytes) accepted for one `Text` or byte array while
/// decoding: 64 MiB. Guards against absurd allocations from corrupt input.
pub const MAX_FIELD_LEN: usize = 64 << 20;

/// Appends `value` in Hadoop's `WritableUtils` vlong encoding (1 to 9 bytes).
///
/// Values in `-112..=127` take one byte; otherwise a first byte gives sign and
/// length, followed by the magnitude in big-endian bytes (negative values are
/// stored as their one's complement).
pub fn write_vlong(out: &mut Vec<u8>, value: i64) {
    if (-112..=127).contains(&value) {
        out.push(value as i8 as u8);
        return;
    }
    let (mut len, magnitude): (i32, u64) = if value < 0 { (-120, (!value) as u64) } else { (-112, value as u64) };
    let mut tmp = magnitude;
    while tmp != 0 {
        tmp >>= 8;
        len -= 1;
    }
    out.push(len as i8 as u8);
    let nbytes = if len < -120 { -(len + 120) } else { -(len + 112) } as u32;
    for idx in (0..nbytes).rev() {
        out.push((magnitude >> (idx * 8)) as u8);
    }
}

/// Appends an `int` in `WritableUtils#writeVInt` encoding (same as vlong).
pub fn write_vint(out: &mut Vec<u8>, value: i32) {
    write_vlong(out, i64::from(value));
}

/// Appends a Hadoop `Text`: vint byte length then the UTF-8 bytes.
pub fn write_text(out: &mut Vec<u8>, s: &str) {
    write_bytes(out, s.as_bytes());
}

/// Appends a vint length followed by the raw bytes (the layout of a token's
/// identifier and password and of a secret key's value).
pub fn write_bytes(out: &mut Vec<u8>, b: &[u8]) {
    write_vint(out, b.len() as i32);
    out.extend_from_slice(b);
}

/// A cursor over a byte slice that decodes Writable primitives; every read
/// returns [`TokenError::Truncated`] or [`TokenError::Malformed`] instead of
/// panicking on short or corrupt input.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading at the first byte of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Byte offset of the next read.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The bytes not read yet.
    pub fn remaining(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// Reads one byte.
    pub fn u8(&mut self) -> Result<u8, TokenError> {
        let b = *self.buf.get(self.pos).ok_or(TokenError::Truncated { offset: self.pos, what: "byte" })?;
        self.pos += 1;
        Ok(b)
    }

    /// Reads exactly `n` bytes.
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], TokenError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or(TokenError::Truncated { offset: self.pos, what })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// Reads a `WritableUtils` vlong.
    pub fn vlong(&mut self) -> Result<i64, TokenError> {
        let first = self.u8()? as i8;
        let len: usize = if first >= -112 {
            return Ok(i64::from(first));
        } else if first < -120 {
            (-119 - i32::from(first)) as usize
        } else {
            (-111 - i32::from(first)) as usize
        };
        let bytes = self.take(len - 1, "vlong")?;
        let mut v: i64 = 0;
        for b in bytes {
            v = (v << 8) | i64::from(*b);
        }
        let negative = first < -120 || (-112..0).contains(&first);
        Ok(if negative { !v } else { v })
    }

    /// Reads a `WritableUtils` vint; errors if the value does not fit an `i32`.
    pub fn vint(&mut self) -> Result<i32, TokenError> {
        let at = self.pos;
        let v = self.vlong()?;
        i32::try_from(v).map_err(|_| TokenError::Malformed { offset: at, reason: format!("vint {v} out of int range") })
    }

    /// Reads a vint length in `0..=MAX_FIELD_LEN`.
    pub fn len(&mut self, what: &'static str) -> Result<usize, TokenError> {
        let at = self.pos;
        let n = self.vint()?;
        if n < 0 || n as usize > MAX_FIELD_LEN {
            return Err(TokenError::Malformed { offset: at, reason: format!("bad length {n} for {what}") });
        }
        Ok(n as usize)
    }

    /// Reads vint-length-prefixed bytes.
    pub fn bytes(&mut self, what: &'static str) -> Result<Vec<u8>, TokenError> {
        let n = self.len(what)?;
        Ok(self.take(n, what)?.to_vec())
    }

    /// Reads a Hadoop `Text` (must be valid UTF-8).
    pub fn text(&mut self, what: &'static str) -> Result<String, TokenError> {
        let at = self.pos;
        let b = self.bytes(what)?;
        String::from_utf8(b).map_err(|_| TokenError::Malformed { offset: at, reason: format!("{what} is not UTF-8") })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(v: i64) -> Vec<u8> {
        let mut o = Vec::new();
        write_vlong(&mut o, v);
        o
    }

    #[test]
    fn vlong_known_bytes() {
        // Values checked against WritableUtils' encoding rules.
        assert_eq!(enc(0), vec![0x00]);
        assert_eq!(enc(127), vec![0x7f]);
        assert_eq!(enc(-112), vec![0x90]);
        assert_eq!(enc(128), vec![0x8f, 0x80]); // -113, one byte follows
        assert_eq!(enc(255), vec![0x8f, 0xff]);
        assert_eq!(enc(256), vec![0x8e, 0x01, 0x00]);
        assert_eq!(enc(-113), vec![0x87, 0x70]); // -121, !(-113) = 112
        assert_eq!(enc(-256), vec![0x87, 0xff]);
        assert_eq!(enc(-257), vec![0x86, 0x01, 0x00]);
    }

    #[test]
    fn vlong_round_trip() {
        for v in [
            0i64,
            1,
            -1,
            127,
            128,
            -112,
            -113,
            1000,
            -1000,
            65535,
            1 << 31,
            -(1 << 31),
            i64::MAX,
            i64::MIN,
            i32::MAX as i64,
            i32::MIN as i64,
        ] {
            let b = enc(v);
            let mut r = Reader::new(&b);
            assert_eq!(r.vlong().unwrap(), v, "value {v}");
            assert!(r.remaining().is_empty());
        }
    }

    #[test]
    fn truncated_inputs_error() {
        assert!(Reader::new(&[]).vlong().is_err());
        assert!(Reader::new(&[0x8e, 0x01]).vlong().is_err());
        assert!(Reader::new(&[0x05, b'a']).text("t").is_err());
        assert!(Reader::new(&[0xff]).len("x").is_err()); // -1
    }
}
