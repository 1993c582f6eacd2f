//! A process's log files as the REST API serves them (Flink's
//! `/jobmanager/logs` and `/taskmanagers/:id/logs`): the regular files of one
//! log directory, listed with size and modification time, and read by name
//! from an offset. Names are plain file names: a name with a path separator,
//! `..`, or one not in the directory is refused, so nothing outside the log
//! directory can be read.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// One log file (Flink's `LogInfo`: `name`, `size`, `mtime`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFile {
    /// File name inside the log directory.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modification, ms since the epoch.
    pub mtime_ms: u64,
}

/// Why a log file cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum LogFileError {
    /// The name is not a plain file name.
    #[error("invalid log file name '{0}': a file name inside the log directory is expected")]
    BadName(String),
    /// No such file in the directory.
    #[error("no log file '{name}' in {dir}")]
    NotFound {
        /// The name asked for.
        name: String,
        /// The log directory.
        dir: String,
    },
    /// The directory or file cannot be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// What was read.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// The regular files of `dir`, by name. Errors: `dir` cannot be listed.
pub fn list(dir: &Path) -> Result<Vec<LogFile>, LogFileError> {
    let io = |source| LogFileError::Io { path: dir.display().to_string(), source };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        let mtime_ms = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        out.push(LogFile { name: entry.file_name().to_string_lossy().into_owned(), size: meta.len(), mtime_ms });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The path of log file `name` in `dir`, checked to be a plain existing file name.
pub fn path_of(dir: &Path, name: &str) -> Result<PathBuf, LogFileError> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\\') {
        return Err(LogFileError::BadName(name.to_string()));
    }
    let path = dir.join(name);
    if !path.is_file() {
        return Err(LogFileError::NotFound { name: name.to_string(), dir: dir.display().to_string() });
    }
    Ok(path)
}

/// Up to `max` bytes of log file `name` in `dir` from byte `offset`, and the
/// file's size. Errors: see [`path_of`]; the file cannot be read.
pub fn read(dir: &Path, name: &str, offset: u64, max: u64) -> Result<(Vec<u8>, u64), LogFileError> {
    let path = path_of(dir, name)?;
    let io = |source| LogFileError::Io { path: path.display().to_string(), source };
    let mut f = std::fs::File::open(&path).map_err(io)?;
    let size = f.metadata().map_err(io)?.len();
    f.seek(SeekFrom::Start(offset.min(size))).map_err(io)?;
    let mut buf = Vec::new();
    f.take(max).read_to_end(&mut buf).map_err(io)?;
    Ok((buf, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_reads_and_refuses_names_outside_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("taskmanager.log"), "line 1\nline 2\n").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let files = list(dir.path()).unwrap();
        assert_eq!(files.iter().map(|f| (f.name.as_str(), f.size)).collect::<Vec<_>>(), [("taskmanager.log", 14)]);
        assert_eq!(read(dir.path(), "taskmanager.log", 7, 100).unwrap(), (b"line 2\n".to_vec(), 14));
        assert_eq!(read(dir.path(), "taskmanager.log", 99, 100).unwrap().0, b"");
        assert!(matches!(read(dir.path(), "../etc/passwd", 0, 1), Err(LogFileError::BadName(_))));
        assert!(matches!(read(dir.path(), "sub", 0, 1), Err(LogFileError::NotFound { .. })));
        assert!(matches!(list(&dir.path().join("missing")), Err(LogFileError::Io { .. })));
    }
}
