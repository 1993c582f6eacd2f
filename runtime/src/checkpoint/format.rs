//! The framing of checkpoint files: a magic, a format version, the payload's
//! length and CRC-32, then the payload (postcard). Reading checks all four
//! and names the file in every error, so a damaged file is reported, never
//! half-read.

use std::path::Path;

use serde::{de::DeserializeOwned, Serialize};

use super::CheckpointError;

/// First bytes of every state file.
pub const STATE_MAGIC: &[u8; 8] = b"RFYSTATE";
/// Version of the state file layout.
pub const STATE_FORMAT_VERSION: u32 = 1;
const HEADER: usize = 8 + 4 + 8 + 4;

/// Slice-by-16 tables: several GB/s, so checksums do not bound checkpoint speed.
const CRC: crc::Crc<u32, crc::Table<16>> = crc::Crc::<u32, crc::Table<16>>::new(&crc::CRC_32_ISO_HDLC);

/// CRC-32 (ISO-HDLC, as zlib and HDFS's default) of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    CRC.checksum(bytes)
}

/// Encodes `value` into a framed state file image.
///
/// Errors: [`CheckpointError::Encode`] if `value` cannot be serialized.
pub fn encode_framed<T: Serialize>(value: &T, what: &str) -> Result<Vec<u8>, CheckpointError> {
    encode_framed_sized(value, what, 64)
}

/// As [`encode_framed`], with room for `size_hint` payload bytes reserved
/// up front (no regrowing copies for big state).
///
/// Errors: [`CheckpointError::Encode`] if `value` cannot be serialized.
pub fn encode_framed_sized<T: Serialize>(value: &T, what: &str, size_hint: usize) -> Result<Vec<u8>, CheckpointError> {
    let mut out = Vec::with_capacity(HEADER + size_hint);
    out.extend_from_slice(STATE_MAGIC);
    out.extend_from_slice(&STATE_FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&[0u8; 12]);
    // The runtime's appending flavor: postcard's own `to_extend` goes byte by byte.
    crate::record::encode_into(value, &mut out).map_err(|e| CheckpointError::Encode(format!("{what}: {e}")))?;
    let len = (out.len() - HEADER) as u64;
    let crc = crc32(&out[HEADER..]);
    out[12..20].copy_from_slice(&len.to_le_bytes());
    out[20..24].copy_from_slice(&crc.to_le_bytes());
    Ok(out)
}

/// The payload CRC-32 recorded in a framed image's header (what `_metadata`
/// lists for the file), after checking the frame: magic, version, length and
/// that the payload matches the CRC.
///
/// Errors: [`CheckpointError::Corrupt`] naming `path`.
pub fn check_frame(bytes: &[u8], path: &Path) -> Result<u32, CheckpointError> {
    let corrupt = |why: String| CheckpointError::Corrupt { path: path.display().to_string(), reason: why };
    if bytes.len() < HEADER || &bytes[..8] != STATE_MAGIC {
        return Err(corrupt("not an rfy state file (bad magic)".into()));
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().unwrap_or_default());
    if version != STATE_FORMAT_VERSION {
        return Err(corrupt(format!("state format version {version}, this build reads {STATE_FORMAT_VERSION}")));
    }
    let len = u64::from_le_bytes(bytes[12..20].try_into().unwrap_or_default());
    let crc = u32::from_le_bytes(bytes[20..24].try_into().unwrap_or_default());
    let payload = &bytes[HEADER..];
    if payload.len() as u64 != len {
        return Err(corrupt(format!("payload is {} bytes, header says {len} (truncated?)", payload.len())));
    }
    let actual = crc32(payload);
    if actual != crc {
        return Err(corrupt(format!("checksum mismatch: stored {crc:08x}, computed {actual:08x}")));
    }
    Ok(crc)
}

/// The payload CRC-32 in the header of a framed image just made by
/// [`encode_framed`] (no recomputation).
pub fn frame_crc(image: &[u8]) -> u32 {
    image.get(20..24).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes).unwrap_or(0)
}

/// Decodes a framed image read from `path`.
///
/// Errors: [`CheckpointError::Corrupt`] naming `path` if the magic, version,
/// length, checksum or payload is wrong.
pub fn decode_framed<T: DeserializeOwned>(bytes: &[u8], path: &Path) -> Result<T, CheckpointError> {
    check_frame(bytes, path)?;
    postcard::from_bytes(&bytes[HEADER..]).map_err(|e| CheckpointError::Corrupt {
        path: path.display().to_string(),
        reason: format!("undecodable payload: {e}"),
    })
}

/// Writes `bytes` to `path` through a temporary file in the same directory
/// and a rename, so `path` appears complete or not at all.
///
/// Errors: [`CheckpointError::Io`] naming the file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    use std::io::Write;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp-write");
    let tmp = std::path::PathBuf::from(tmp);
    let io = |what: &str, p: &Path, e: std::io::Error| CheckpointError::Io {
        context: format!("cannot {what} {}", p.display()),
        source: e,
    };
    let mut f = std::fs::File::create(&tmp).map_err(|e| io("create", &tmp, e))?;
    f.write_all(bytes).map_err(|e| io("write", &tmp, e))?;
    f.sync_all().map_err(|e| io("sync", &tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| io("rename into place", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_damage_is_an_error_naming_the_file() {
        let value: Vec<(String, u64)> = (0..100).map(|i| (format!("k{i}"), i)).collect();
        let img = encode_framed(&value, "test").unwrap();
        let p = Path::new("/ckpt/chk-3/op-1");
        assert_eq!(decode_framed::<Vec<(String, u64)>>(&img, p).unwrap(), value);
        // truncation
        for cut in [0, 5, HEADER, img.len() - 1] {
            let e = decode_framed::<Vec<(String, u64)>>(&img[..cut], p).unwrap_err().to_string();
            assert!(e.contains("/ckpt/chk-3/op-1"), "{e}");
        }
        // every single-byte flip is detected
        for i in 0..img.len() {
            let mut bad = img.clone();
            bad[i] ^= 0x40;
            assert!(decode_framed::<Vec<(String, u64)>>(&bad, p).is_err(), "flip at {i} undetected");
        }
    }
}
