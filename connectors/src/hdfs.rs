//! Text files in HDFS: [`HdfsTextFileSource`] and [`HdfsTextFileSink`], the
//! `hdfs://` counterparts of the runtime's local `TextFileSource` and
//! `TextFileSink`, with the same semantics:
//!
//! - the source splits the file by byte ranges: subtask i of n reads the
//!   lines that *start* in bytes `[i·len/n, (i+1)·len/n)`, so every line is
//!   read exactly once whatever the parallelism;
//! - the sink writes `DIR/.part-<subtask>.inprogress` and renames it to
//!   `DIR/part-<subtask>` when its input has ended; a failed or canceled task
//!   deletes its in-progress file.
//!
//! With checkpointing (the task has a checkpointing hub) the source saves
//! its position (one byte range per split, the next line's offset) at each
//! barrier and resumes from it after a restore, and the sink is the
//! runtime's exactly-once two-phase-commit writer over HDFS.
//!
//! Paths are `hdfs:///path` (the NameNode of `fs.defaultFS` in the Hadoop
//! configuration found through `HADOOP_CONF_DIR`) or `hdfs://host:port/path`.
//! Tasks run on plain threads, so the connector uses the blocking clients of
//! rfy's one HDFS home, [`rfy_hadoop::hdfs::blocking`] (one per NameNode,
//! kept for the process's lifetime). Reads and writes go through 1 MiB
//! buffers: no per-record calls into HDFS.

use std::io::{BufReader, BufWriter, Write};
use std::sync::Arc;

pub use rfy_hadoop::hdfs::blocking::is_hdfs;
use rfy_hadoop::hdfs::blocking::{
    client, fs_path, is_not_found as not_found, off_async, Client, FileReader, FileWriter, HdfsUri, NativeError,
    WriteOptions,
};
use rfy_runtime::fs::{FileStatus, FileSystem, InputFile, OutputFile};
use rfy_runtime::sinks::two_phase::TwoPhaseTextWriter;
use rfy_runtime::sinks::{Sink, SinkWriter};
use rfy_runtime::sources::{file_splits, Source, SourceReader, SplitLineReader};
use rfy_runtime::IoCheckError;
use rfy_runtime::{OperatorContext, TaskError};

/// Buffer size of readers and writers, bytes (1 MiB).
const IO_BUFFER: usize = 1 << 20;

/// An HDFS error as an I/O error. A NameNode's RemoteException becomes one
/// line, `<simple class name>: <first line of its message>` (its message
/// carries the server's Java stack trace after the first line); an
/// `AccessControlException` is [`std::io::ErrorKind::PermissionDenied`].
fn io_err(e: NativeError) -> std::io::Error {
    match &e {
        NativeError::RPCError(class, msg) | NativeError::FatalRPCError(class, msg) => {
            let simple = class.rsplit('.').next().unwrap_or(class);
            let first = msg.lines().next().unwrap_or("").trim();
            let kind = if simple == "AccessControlException" {
                std::io::ErrorKind::PermissionDenied
            } else {
                std::io::ErrorKind::Other
            };
            std::io::Error::new(kind, format!("{simple}: {first}"))
        }
        _ => std::io::Error::other(e),
    }
}

/// Reads a text file in HDFS line by line (without the line end).
pub struct HdfsTextFileSource {
    path: HdfsUri,
    lines_per_second: Option<f64>,
}

impl HdfsTextFileSource {
    /// A source over `uri` (`hdfs:///path` or `hdfs://host:port/path`).
    /// Nothing is contacted until the planning check or a reader.
    pub fn new(uri: &str) -> Self {
        // A bad URI is reported by the planning check (`check`), naming it.
        let path = HdfsUri::parse(uri).unwrap_or(HdfsUri { namenode: None, path: String::new(), uri: uri.to_string() });
        HdfsTextFileSource { path, lines_per_second: None }
    }

    /// Paces the source to `lines_per_second` in total over all subtasks.
    pub fn with_rate(mut self, lines_per_second: f64) -> Self {
        self.lines_per_second = Some(lines_per_second);
        self
    }
}

/// Opens `path` for a [`SplitLineReader`] over this subtask's splits.
fn open_reader(
    path: &HdfsUri,
    ctx: &OperatorContext,
    rate: Option<f64>,
) -> Result<SplitLineReader<BufReader<FileReader>>, TaskError> {
    let c = path.client().map_err(|e| TaskError::User(e.to_string()))?;
    let file =
        c.read(&path.path).map_err(|e| TaskError::io(format!("cannot open input file {}", path.uri), io_err(e)))?;
    let len = file.file_length() as u64;
    let splits = file_splits(ctx, &path.uri, || Ok(len))?;
    tracing::info!(file = %path.uri, ?splits, "reading HDFS splits");
    SplitLineReader::new(path.uri.clone(), BufReader::with_capacity(IO_BUFFER, file), splits, ctx.parallelism, rate)
}

impl Source<String> for HdfsTextFileSource {
    fn name(&self) -> String {
        let file = self.path.path.rsplit('/').next().unwrap_or_default();
        format!("Source: {file}")
    }
    fn bounded(&self) -> bool {
        true
    }
    fn check(&self) -> Result<(), IoCheckError> {
        let p = HdfsUri::parse(&self.path.uri).map_err(IoCheckError::client)?;
        off_async(|| {
            let c = p.client().map_err(IoCheckError::client)?;
            match c.get_file_info(&p.path) {
                Ok(s) if !s.isdir => Ok(()),
                Ok(_) => Err(format!("input path {} is a directory, not a file", p.uri).into()),
                Err(e) if not_found(&e) => Err(format!("input file {} does not exist", p.uri).into()),
                Err(e) => Err(format!("input file {} cannot be read: {}", p.uri, io_err(e)).into()),
            }
        })
    }
    fn create_reader(&self, ctx: &OperatorContext) -> Result<Box<dyn SourceReader<String>>, TaskError> {
        let p = HdfsUri::parse(&self.path.uri).map_err(|e| TaskError::User(e.to_string()))?;
        Ok(Box::new(open_reader(&p, ctx, self.lines_per_second)?))
    }
}

/// How a record becomes a line.
type Formatter<T> = dyn Fn(&T, &mut Vec<u8>) + Send + Sync;

/// HDFS as a [`FileSystem`] of the runtime (checkpoint storage, the
/// two-phase-commit writer): one blocking client per NameNode and process.
/// Paths are `hdfs://[authority]/path` URIs or absolute paths inside the
/// file system. Every call runs on a thread of its own, as callers may be
/// threads that drive async tasks (the JobManager's checkpoint coordinator);
/// the readers and writers that `open` and `create` return block, so use
/// them from plain threads (tasks) only.
pub struct HdfsFileSystem {
    client: Client,
}

/// Registers HDFS for `hdfs://` URIs with the runtime's file-system
/// registry ([`rfy_runtime::fs::register`]); `hdfs:///path` (no authority)
/// uses `fs.defaultFS` of the Hadoop configuration in `HADOOP_CONF_DIR`.
/// Every entry point calls it once at start.
pub fn register_file_system() {
    rfy_runtime::fs::register("hdfs", |authority| {
        let namenode = authority.map(|a| format!("hdfs://{a}"));
        let client = client(namenode.as_deref())?;
        Ok(Arc::new(HdfsFileSystem { client }) as Arc<dyn FileSystem>)
    });
}

struct HdfsOutput(Option<BufWriter<FileWriter>>);

impl Write for HdfsOutput {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.as_mut().map(|w| w.write(buf)).unwrap_or(Ok(0))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.as_mut().map(|w| w.flush()).unwrap_or(Ok(()))
    }
}

impl OutputFile for HdfsOutput {
    fn close(mut self: Box<Self>) -> std::io::Result<()> {
        let Some(w) = self.0.take() else { return Ok(()) };
        let mut f = w.into_inner().map_err(|e| e.into_error())?;
        // Closing completes the last block on the DataNodes: the data is durable.
        off_async(|| f.close()).map_err(io_err)
    }
}

impl FileSystem for HdfsFileSystem {
    fn status(&self, path: &str) -> std::io::Result<Option<FileStatus>> {
        match off_async(|| self.client.get_file_info(fs_path(path))) {
            Ok(s) => Ok(Some(FileStatus { is_dir: s.isdir, len: s.length as u64 })),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(io_err(e)),
        }
    }
    fn open(&self, path: &str) -> std::io::Result<(Box<dyn InputFile>, u64)> {
        let f = off_async(|| self.client.read(fs_path(path))).map_err(io_err)?;
        let len = f.file_length() as u64;
        Ok((Box::new(f), len))
    }
    fn create(&self, path: &str) -> std::io::Result<Box<dyn OutputFile>> {
        let opts = WriteOptions::default().overwrite(true).permission(0o644);
        let f = off_async(|| self.client.create(fs_path(path), opts)).map_err(io_err)?;
        Ok(Box::new(HdfsOutput(Some(BufWriter::with_capacity(IO_BUFFER, f)))))
    }
    fn mkdirs(&self, dir: &str) -> std::io::Result<()> {
        off_async(|| self.client.mkdirs(fs_path(dir), 0o755, true)).map_err(io_err)
    }
    fn rename(&self, from: &str, to: &str) -> std::io::Result<()> {
        off_async(|| self.client.rename(fs_path(from), fs_path(to), false)).map_err(io_err)
    }
    fn remove_file(&self, path: &str) -> std::io::Result<()> {
        off_async(|| self.client.delete(fs_path(path), false)).map(|_| ()).map_err(io_err)
    }
    fn remove_dir_all(&self, path: &str) -> std::io::Result<()> {
        match off_async(|| self.client.delete(fs_path(path), true)) {
            Ok(_) => Ok(()),
            Err(e) if not_found(&e) => Ok(()),
            Err(e) => Err(io_err(e)),
        }
    }
    fn list(&self, dir: &str) -> std::io::Result<Vec<String>> {
        let v = off_async(|| self.client.list_status(fs_path(dir), false)).map_err(io_err)?;
        Ok(v.into_iter().map(|s| s.path.rsplit('/').next().unwrap_or_default().to_string()).collect())
    }
    fn read(&self, path: &str) -> std::io::Result<Vec<u8>> {
        // Opened and read off the async threads: the reader blocks on the client's runtime.
        off_async(|| {
            let mut f = self.client.read(fs_path(path)).map_err(io_err)?;
            let mut v = Vec::with_capacity(f.file_length());
            std::io::Read::read_to_end(&mut f, &mut v)?;
            Ok(v)
        })
    }
    fn write_atomic(&self, path: &str, bytes: &[u8]) -> std::io::Result<()> {
        let p = fs_path(path);
        let tmp = format!("{p}.tmp-write");
        off_async(|| {
            if let Some((parent, _)) = p.rsplit_once('/').filter(|(d, _)| !d.is_empty()) {
                self.client.mkdirs(parent, 0o755, true)?;
            }
            let mut f = self.client.create(&tmp, WriteOptions::default().overwrite(true).permission(0o644))?;
            f.write_bytes(bytes::Bytes::copy_from_slice(bytes))?;
            f.close()?;
            self.client.rename(&tmp, p, true)
        })
        .map_err(io_err)
    }
}

/// Writes text part files into a directory in HDFS.
pub struct HdfsTextFileSink<T> {
    dir: String,
    format: Arc<Formatter<T>>,
}

impl<T> HdfsTextFileSink<T> {
    /// A sink writing into directory `uri` (`hdfs:///dir`), each record
    /// formatted by `format` (the sink adds the `\n`).
    pub fn new(uri: &str, format: impl Fn(&T, &mut Vec<u8>) + Send + Sync + 'static) -> Self {
        HdfsTextFileSink { dir: uri.to_string(), format: Arc::new(format) }
    }
}

struct HdfsTextFileWriter<T> {
    format: Arc<Formatter<T>>,
    client: Client,
    out: Option<BufWriter<FileWriter>>,
    in_progress: String,
    final_path: String,
    uri: String,
    line: Vec<u8>,
}

impl<T> SinkWriter<T> for HdfsTextFileWriter<T> {
    fn write_batch(&mut self, batch: &mut Vec<T>) -> Result<(), TaskError> {
        let Some(out) = self.out.as_mut() else {
            return Err(TaskError::User(format!("{} was already committed", self.final_path)));
        };
        self.line.clear();
        for rec in batch.drain(..) {
            (self.format)(&rec, &mut self.line);
            self.line.push(b'\n');
        }
        out.write_all(&self.line)
            .map_err(|e| TaskError::io(format!("cannot write {}{}", self.uri, self.in_progress), e))
    }

    fn finish(&mut self) -> Result<(), TaskError> {
        if let Some(out) = self.out.take() {
            let ctx = |what: &str| format!("cannot {what} {} on {}", self.in_progress, self.uri);
            let mut file = out.into_inner().map_err(|e| TaskError::io(ctx("write"), e.into_error()))?;
            file.close().map_err(|e| TaskError::io(ctx("close"), io_err(e)))?;
            self.client.rename(&self.in_progress, &self.final_path, false).map_err(|e| {
                TaskError::io(
                    format!("cannot rename {} to {} on {}", self.in_progress, self.final_path, self.uri),
                    io_err(e),
                )
            })?;
        }
        Ok(())
    }
}

impl<T> Drop for HdfsTextFileWriter<T> {
    fn drop(&mut self) {
        if let Some(mut out) = self.out.take() {
            // Not finished (failure or cancel): close and remove the in-progress file.
            let _ = out.flush();
            if let Ok(mut f) = out.into_inner() {
                let _ = f.close();
            }
            let _ = self.client.delete(&self.in_progress, false);
        }
    }
}

impl<T: 'static> Sink<T> for HdfsTextFileSink<T> {
    fn name(&self) -> String {
        format!("Sink: Text file {}", self.dir)
    }
    fn check(&self) -> Result<(), IoCheckError> {
        let p = HdfsUri::parse(&self.dir).map_err(IoCheckError::client)?;
        off_async(|| {
            let c = p.client().map_err(IoCheckError::client)?;
            match c.get_file_info(&p.path) {
                Ok(s) if !s.isdir => Err(format!("output path {} exists and is not a directory", p.uri).into()),
                Ok(_) => match c.list_status(&p.path, false) {
                    Ok(v) if v.is_empty() => Ok(()),
                    Ok(_) => Err(format!("output directory {} exists and is not empty", p.uri).into()),
                    Err(e) => Err(format!("cannot list output directory {}: {}", p.uri, io_err(e)).into()),
                },
                Err(e) if not_found(&e) => Ok(()),
                Err(e) => Err(format!("cannot check output directory {}: {}", p.uri, io_err(e)).into()),
            }
        })
    }
    fn create_writer(&self, ctx: &OperatorContext) -> Result<Box<dyn SinkWriter<T>>, TaskError> {
        let p = HdfsUri::parse(&self.dir).map_err(|e| TaskError::User(e.to_string()))?;
        let c = p.client().map_err(|e| TaskError::User(e.to_string()))?;
        if let Some(cp) = &ctx.checkpointing {
            let fs: Arc<dyn FileSystem> = Arc::new(HdfsFileSystem { client: c });
            return Ok(Box::new(TwoPhaseTextWriter::open(fs, &p.path, self.format.clone(), ctx, cp)?));
        }
        c.mkdirs(&p.path, 0o755, true)
            .map_err(|e| TaskError::io(format!("cannot create output directory {}", p.uri), io_err(e)))?;
        let part = format!("part-{}", ctx.subtask_index);
        let in_progress = p.join(&format!(".{part}.inprogress"));
        let file = c
            .create(&in_progress, WriteOptions::default().overwrite(true).permission(0o644))
            .map_err(|e| TaskError::io(format!("cannot create {in_progress} in {}", p.uri), io_err(e)))?;
        Ok(Box::new(HdfsTextFileWriter {
            format: self.format.clone(),
            client: c,
            out: Some(BufWriter::with_capacity(IO_BUFFER, file)),
            in_progress,
            final_path: p.join(&part),
            uri: p.uri.clone(),
            line: Vec::new(),
        }))
    }
}
