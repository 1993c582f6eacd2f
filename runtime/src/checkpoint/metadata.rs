//! A checkpoint's `_metadata`: what the JobMaster writes last, atomically,
//! once every task acknowledged. It lists every state file with its size and
//! CRC-32, so a restore notices a missing or damaged file. It is JSON (one
//! header line with its own CRC-32, then the document), readable by people.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::format::crc32;
use super::storage::{join, CheckpointStorage};
use super::CheckpointError;

/// Name of the metadata file in a checkpoint or savepoint directory.
pub const METADATA_FILE: &str = "_metadata";
/// Version of the metadata layout.
pub const METADATA_VERSION: u32 = 1;
/// First word of a `_metadata` file's header line.
pub const HEADER_PREFIX: &str = "rfy-checkpoint-metadata";

/// One subtask's state file of one operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateHandle {
    /// The subtask that wrote it.
    pub subtask: u32,
    /// File name, relative to the checkpoint directory.
    pub file: String,
    /// Size in bytes.
    pub size: u64,
    /// CRC-32 of the file's payload, as in its header (see `format`).
    pub crc32: u32,
    /// The key groups it holds, `[first, last]`; `None` for an operator without keyed state.
    pub key_groups: Option<(u32, u32)>,
}

/// The state of one operator (by uid) in a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorMeta {
    /// Parallelism the operator ran at.
    pub parallelism: u32,
    /// One handle per subtask that had state.
    pub subtasks: Vec<StateHandle>,
}

/// The format a savepoint was asked for in (Flink's `SavepointFormatType`).
/// rfy has one state format, the canonical one (`format`: framed postcard
/// images per key group, restorable at another parallelism): a NATIVE
/// savepoint is written the same way and only records that it was asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SavepointFormat {
    /// Flink's default: the state backend independent format.
    #[default]
    Canonical,
    /// Flink: the state backend's own format (faster for RocksDB); rfy: the same files as CANONICAL.
    Native,
}

impl SavepointFormat {
    /// Flink's name: `CANONICAL` or `NATIVE`.
    pub fn name(self) -> &'static str {
        match self {
            SavepointFormat::Canonical => "CANONICAL",
            SavepointFormat::Native => "NATIVE",
        }
    }

    /// Parses Flink's name, case-insensitively (`None`: neither).
    pub fn parse(name: &str) -> Option<Self> {
        [SavepointFormat::Canonical, SavepointFormat::Native].into_iter().find(|f| f.name().eq_ignore_ascii_case(name))
    }
}

/// The content of `_metadata`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointMetadata {
    /// [`METADATA_VERSION`].
    pub version: u32,
    /// The job that took it.
    pub job_id: String,
    /// Checkpoint id.
    pub checkpoint_id: u64,
    /// Trigger time, ms since the Unix epoch.
    pub timestamp_ms: u64,
    /// True for a savepoint.
    pub savepoint: bool,
    /// A savepoint's requested format (absent for checkpoints and in files written before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub savepoint_format: Option<SavepointFormat>,
    /// Number of key groups (`pipeline.max-parallelism`) of the job.
    pub max_parallelism: u32,
    /// Operator state by operator uid.
    pub operators: BTreeMap<String, OperatorMeta>,
}

impl CheckpointMetadata {
    /// The file image: a header line with the CRC-32 and length of the JSON that follows.
    pub fn to_bytes(&self) -> Vec<u8> {
        let json = serde_json::to_vec_pretty(self).unwrap_or_default();
        let mut out =
            format!("{HEADER_PREFIX} v{METADATA_VERSION} crc32={:08x} len={}\n", crc32(&json), json.len()).into_bytes();
        out.extend_from_slice(&json);
        out
    }

    /// Parses a file image read from `path`.
    ///
    /// Errors: [`CheckpointError::Corrupt`] naming `path` when the header,
    /// length, checksum or JSON is wrong.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self, CheckpointError> {
        let corrupt = |reason: String| CheckpointError::Corrupt { path: path.display().to_string(), reason };
        let nl = bytes.iter().position(|b| *b == b'\n').ok_or_else(|| corrupt("no header line".into()))?;
        let header = std::str::from_utf8(&bytes[..nl]).map_err(|_| corrupt("header is not text".into()))?;
        let mut parts = header.split(' ');
        if parts.next() != Some(HEADER_PREFIX) {
            return Err(corrupt("not an rfy checkpoint metadata file".into()));
        }
        if parts.next() != Some(&format!("v{METADATA_VERSION}")) {
            return Err(corrupt(format!("unsupported metadata version (this build reads v{METADATA_VERSION})")));
        }
        let field = |p: Option<&str>, name: &str| -> Option<String> {
            p.and_then(|s| s.strip_prefix(name)).map(str::to_string)
        };
        let crc = field(parts.next(), "crc32=")
            .and_then(|s| u32::from_str_radix(&s, 16).ok())
            .ok_or_else(|| corrupt("bad crc32 field".into()))?;
        let len = field(parts.next(), "len=")
            .and_then(|s| s.parse::<usize>().ok())
            .ok_or_else(|| corrupt("bad len field".into()))?;
        let json = &bytes[nl + 1..];
        if json.len() != len {
            return Err(corrupt(format!("{} bytes of JSON, header says {len} (truncated?)", json.len())));
        }
        if crc32(json) != crc {
            return Err(corrupt("checksum mismatch".into()));
        }
        let meta: CheckpointMetadata = serde_json::from_slice(json).map_err(|e| corrupt(format!("bad JSON: {e}")))?;
        if meta.version != METADATA_VERSION {
            return Err(corrupt(format!("metadata version {}", meta.version)));
        }
        Ok(meta)
    }

    /// Reads and parses `<dir>/_metadata` from `storage`.
    ///
    /// Errors: missing or unreadable file ([`CheckpointError::Io`]), or corrupt.
    pub fn read(storage: &dyn CheckpointStorage, dir: &str) -> Result<Self, CheckpointError> {
        let path = join(dir, METADATA_FILE);
        let bytes = storage.read(&path)?;
        Self::from_bytes(&bytes, Path::new(&path))
    }

    /// Checks that every referenced file exists in `dir` with its recorded
    /// size; with `verify_checksums`, also reads each file and checks its CRC-32.
    ///
    /// Errors: the first missing, resized or damaged file, named.
    pub fn verify_files(
        &self,
        storage: &dyn CheckpointStorage,
        dir: &str,
        verify_checksums: bool,
    ) -> Result<(), CheckpointError> {
        for h in self.operators.values().flat_map(|o| o.subtasks.iter()) {
            let path = join(dir, &h.file);
            let corrupt = |reason: String| CheckpointError::Corrupt { path: path.clone(), reason };
            let len =
                storage.len(&path).map_err(|e| corrupt(format!("referenced by _metadata but not readable: {e}")))?;
            if len != h.size {
                return Err(corrupt(format!("{len} bytes, _metadata says {}", h.size)));
            }
            if verify_checksums {
                let bytes = storage.read(&path).map_err(|e| corrupt(format!("cannot read: {e}")))?;
                if super::format::check_frame(&bytes, Path::new(&path))? != h.crc32 {
                    return Err(corrupt("checksum differs from _metadata".into()));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CheckpointMetadata {
        let mut operators = BTreeMap::new();
        operators.insert(
            "Sum-3".to_string(),
            OperatorMeta {
                parallelism: 2,
                subtasks: vec![StateHandle {
                    subtask: 0,
                    file: "Sum-3-0".into(),
                    size: 10,
                    crc32: 7,
                    key_groups: Some((0, 63)),
                }],
            },
        );
        CheckpointMetadata {
            version: METADATA_VERSION,
            job_id: "j".into(),
            checkpoint_id: 4,
            timestamp_ms: 1,
            savepoint: false,
            savepoint_format: None,
            max_parallelism: 128,
            operators,
        }
    }

    #[test]
    fn round_trip_and_damage() {
        let m = sample();
        let img = m.to_bytes();
        let p = Path::new("/c/chk-4/_metadata");
        assert_eq!(CheckpointMetadata::from_bytes(&img, p).unwrap(), m);
        for cut in [0, 10, img.len() - 1] {
            assert!(CheckpointMetadata::from_bytes(&img[..cut], p)
                .unwrap_err()
                .to_string()
                .contains("/c/chk-4/_metadata"));
        }
        let mut bad = img.clone();
        let last = bad.len() - 3;
        bad[last] ^= 1;
        assert!(CheckpointMetadata::from_bytes(&bad, p).is_err());
    }
}
