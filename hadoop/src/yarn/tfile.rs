//! A reader of Hadoop's TFile container format, enough to read YARN's
//! aggregated logs ([`super::aggregated_log`]): the key/value records of every
//! data block, in file order.
//!
//! Layout (Hadoop's `org.apache.hadoop.io.file.tfile` package):
//! - **BCFile** (`BCFile.java`), the block layer: data blocks, then meta blocks,
//!   then the meta index, then a fixed tail: `offsetIndexMeta` (big-endian i64),
//!   the API version (two big-endian i16, major 1) and a 16-byte magic. The meta
//!   index (`MetaIndex`/`MetaIndexEntry`) is a VInt count of entries, each a
//!   String name (`data:` + the meta block's name), a String compression name
//!   and a `BlockRegion` (VLong offset, compressed size, raw size). The meta
//!   block `BCFile.index` (`DataIndex`) holds the default compression name and a
//!   VInt count of data-block `BlockRegion`s.
//! - **TFile** (`TFile.java`, `Chunk.java`), the record layer inside a data
//!   block: each key is a VInt length and its bytes; each value is a sequence
//!   of chunks, each a VInt length and bytes, negative for a chunk that more
//!   follow (`Chunk.ChunkEncoder`), zero or positive for the last one.
//! - Numbers (`Utils.readVLong`): TFile's own variable-length encoding (not
//!   Hadoop's `WritableUtils` one); Strings (`Utils.readString`): a VInt length
//!   and UTF-8 bytes.
//!
//! Compression: only `none` (YARN's default,
//! `yarn.nodemanager.log-aggregation.compression-type`); any other algorithm is
//! a [`TFileError::Compression`] naming it.

/// The last 16 bytes of every BCFile (`BCFile.Magic`).
pub const MAGIC: [u8; 16] =
    [0xd1, 0x11, 0xd3, 0x68, 0x91, 0xb5, 0xd7, 0xb6, 0x39, 0xdf, 0x41, 0x40, 0x92, 0xba, 0xe1, 0x50];

/// Bytes of the fixed tail: offset of the meta index, version, magic.
const TAIL: usize = 8 + 4 + 16;

/// Why bytes are not a readable TFile. Callers add the file's path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TFileError {
    /// The bytes end before a structure that should be there.
    #[error("truncated: {what} needs bytes up to {needed}, the file has {len}")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// The end offset it needed, bytes.
        needed: u64,
        /// The file's length, bytes.
        len: u64,
    },
    /// The last 16 bytes are not BCFile's magic.
    #[error("not a TFile (no BCFile magic in the last 16 bytes)")]
    BadMagic,
    /// A BCFile major version other than 1.
    #[error("unsupported BCFile version {major}.{minor} (only 1.x)")]
    Version {
        /// Major version.
        major: i16,
        /// Minor version.
        minor: i16,
    },
    /// A block compressed with an algorithm this reader lacks.
    #[error("block compressed with '{0}'; rfy reads only uncompressed TFiles (yarn.nodemanager.log-aggregation.compression-type=none)")]
    Compression(String),
    /// A structure that cannot be what the format says.
    #[error("corrupt: {0}")]
    Corrupt(String),
}

/// A cursor over bytes with TFile's primitive decoders; every read checks bounds.
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Offset of `buf[0]` in the file, for error messages.
    base: u64,
    /// The file's length, for error messages.
    file_len: u64,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8], base: u64, file_len: u64) -> Self {
        Cursor { buf, pos: 0, base, file_len }
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], TFileError> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len()).ok_or(TFileError::Truncated {
            what,
            needed: self.base + self.pos as u64 + n as u64,
            len: self.file_len,
        })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn byte(&mut self, what: &'static str) -> Result<u8, TFileError> {
        Ok(self.take(1, what)?[0])
    }

    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, TFileError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub(crate) fn i32(&mut self, what: &'static str) -> Result<i32, TFileError> {
        let b = self.take(4, what)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// TFile's `Utils.readVLong`.
    pub(crate) fn vlong(&mut self, what: &'static str) -> Result<i64, TFileError> {
        let first = self.byte(what)? as i8 as i64;
        if first >= -32 {
            return Ok(first);
        }
        let be = |bytes: &[u8]| bytes.iter().fold(0i64, |acc, b| (acc << 8) | *b as i64);
        Ok(match (first + 128) / 8 {
            7..=11 => ((first + 52) << 8) | be(self.take(1, what)?),
            3..=6 => ((first + 88) << 16) | be(self.take(2, what)?),
            1 | 2 => ((first + 112) << 24) | be(self.take(3, what)?),
            _ => {
                let len = (first + 129) as usize;
                if !(4..=8).contains(&len) {
                    return Err(TFileError::Corrupt(format!("bad VLong length {len} in {what}")));
                }
                let b = self.take(len, what)?;
                // Sign-extend from the first byte, as Java's readInt/readLong do.
                let sign = if b[0] & 0x80 != 0 { -1i64 } else { 0 };
                b.iter().fold(sign, |acc, x| (acc << 8) | *x as i64)
            }
        })
    }

    /// `Utils.readVInt`: a VLong that must fit an i32.
    pub(crate) fn vint(&mut self, what: &'static str) -> Result<i32, TFileError> {
        let v = self.vlong(what)?;
        i32::try_from(v).map_err(|_| TFileError::Corrupt(format!("{what}: {v} does not fit an int")))
    }

    /// A non-negative VInt length.
    fn len(&mut self, what: &'static str) -> Result<usize, TFileError> {
        let v = self.vint(what)?;
        usize::try_from(v).map_err(|_| TFileError::Corrupt(format!("{what}: negative length {v}")))
    }

    /// `Utils.readString` (a null string, length -1, is an error here).
    fn string(&mut self, what: &'static str) -> Result<String, TFileError> {
        let n = self.len(what)?;
        Ok(String::from_utf8_lossy(self.take(n, what)?).into_owned())
    }
}

/// A `BlockRegion`: where a block lies in the file, bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BlockRegion {
    offset: u64,
    compressed: u64,
    raw: u64,
}

fn region(c: &mut Cursor<'_>, what: &'static str) -> Result<BlockRegion, TFileError> {
    let mut field = || -> Result<u64, TFileError> {
        let v = c.vlong(what)?;
        u64::try_from(v).map_err(|_| TFileError::Corrupt(format!("{what}: negative block offset/size {v}")))
    };
    Ok(BlockRegion { offset: field()?, compressed: field()?, raw: field()? })
}

/// The bytes of a block, uncompressed.
fn block<'a>(file: &'a [u8], r: BlockRegion, compression: &str, what: &'static str) -> Result<&'a [u8], TFileError> {
    if compression != "none" {
        return Err(TFileError::Compression(compression.to_string()));
    }
    if r.compressed != r.raw {
        return Err(TFileError::Corrupt(format!(
            "{what}: uncompressed block of {} bytes stored in {}",
            r.raw, r.compressed
        )));
    }
    let end = r.offset.checked_add(r.compressed).filter(|e| *e <= file.len() as u64).ok_or(TFileError::Truncated {
        what,
        needed: r.offset.saturating_add(r.compressed),
        len: file.len() as u64,
    })?;
    Ok(&file[r.offset as usize..end as usize])
}

/// The data blocks of a BCFile, in file order, uncompressed.
fn data_blocks(file: &[u8]) -> Result<Vec<(u64, &[u8])>, TFileError> {
    let len = file.len() as u64;
    if file.len() < TAIL {
        return Err(TFileError::Truncated { what: "the BCFile tail", needed: TAIL as u64, len });
    }
    let tail = &file[file.len() - TAIL..];
    if tail[12..] != MAGIC {
        return Err(TFileError::BadMagic);
    }
    let mut c = Cursor::new(tail, len - TAIL as u64, len);
    let meta_offset = c.vlong_fixed()?;
    let major = c.u16("the BCFile version")? as i16;
    let minor = c.u16("the BCFile version")? as i16;
    if major != 1 {
        return Err(TFileError::Version { major, minor });
    }
    let meta_start = usize::try_from(meta_offset).ok().filter(|o| *o <= file.len() - TAIL).ok_or_else(|| {
        TFileError::Corrupt(format!("meta index offset {meta_offset} outside the file ({len} bytes)"))
    })?;
    let mut c = Cursor::new(&file[meta_start..file.len() - TAIL], meta_start as u64, len);
    let entries = c.vint("the meta index count")?;
    let mut data_index = None;
    for _ in 0..entries {
        let name = c.string("a meta index name")?;
        let compression = c.string("a meta index compression")?;
        let r = region(&mut c, "a meta index region")?;
        if name == "data:BCFile.index" {
            data_index = Some((compression, r));
        }
    }
    let (compression, r) =
        data_index.ok_or_else(|| TFileError::Corrupt("no BCFile.index meta block in the meta index".into()))?;
    let index = block(file, r, &compression, "the BCFile.index block")?;
    let mut c = Cursor::new(index, r.offset, len);
    let default_compression = c.string("the data index's compression")?;
    let n = c.vint("the data block count")?;
    let mut blocks = Vec::new();
    for _ in 0..n {
        let r = region(&mut c, "a data block region")?;
        blocks.push((r.offset, block(file, r, &default_compression, "a data block")?));
    }
    Ok(blocks)
}

impl Cursor<'_> {
    /// A big-endian i64 (Java's `readLong`).
    fn vlong_fixed(&mut self) -> Result<i64, TFileError> {
        let b = self.take(8, "the meta index offset")?;
        Ok(i64::from_be_bytes(b.try_into().expect("8 bytes")))
    }
}

/// One TFile record: its key's bytes and its value's bytes.
pub type Record = (Vec<u8>, Vec<u8>);

/// Every key/value record of a TFile, in file order (data block by data
/// block), as (key, value) byte strings; a value's chunks are joined.
///
/// Errors: [`TFileError`] for bytes that are not a complete, uncompressed TFile.
pub fn records(file: &[u8]) -> Result<Vec<Record>, TFileError> {
    let len = file.len() as u64;
    let mut out = Vec::new();
    for (offset, data) in data_blocks(file)? {
        let mut c = Cursor::new(data, offset, len);
        while !c.at_end() {
            let n = c.len("a record key length")?;
            let key = c.take(n, "a record key")?.to_vec();
            let mut value = Vec::new();
            loop {
                let n = c.vint("a value chunk length")?;
                value.extend_from_slice(c.take(n.unsigned_abs() as usize, "a value chunk")?);
                if n >= 0 {
                    break;
                }
            }
            out.push((key, value));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vlong(bytes: &[u8]) -> i64 {
        Cursor::new(bytes, 0, bytes.len() as u64).vlong("test").unwrap()
    }

    #[test]
    fn vlong_decodes_each_width() {
        // Values from Utils.writeVLong's ranges.
        assert_eq!(vlong(&[0x05]), 5);
        assert_eq!(vlong(&[0xe0]), -32);
        assert_eq!(vlong(&[(1i8 - 52) as u8, 0x2c]), 300); // 0x12c: first byte 1
        assert_eq!(vlong(&[(-1i8 - 52) as u8, 0xdf]), -33);
        assert_eq!(vlong(&[(1i8 - 88) as u8, 0x00, 0x00]), 65536);
        assert_eq!(vlong(&[(0i8 - 112) as u8, 0x10, 0x00, 0x00]), 0x100000);
        assert_eq!(vlong(&[(4i16 - 129) as u8, 0x7f, 0xff, 0xff, 0xff]), i32::MAX as i64);
        assert_eq!(vlong(&[(8i16 - 129) as u8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]), -2);
    }

    #[test]
    fn short_or_foreign_bytes_are_errors() {
        assert!(matches!(records(b"short"), Err(TFileError::Truncated { .. })));
        assert_eq!(records(&[0u8; 64]), Err(TFileError::BadMagic));
        assert!(matches!(Cursor::new(&[0x90], 0, 1).vlong("x"), Err(TFileError::Truncated { .. })));
    }
}
