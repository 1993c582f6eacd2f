//! An unbounded source reading text lines from a TCP socket (Flink's
//! `socketTextStream`); non-parallel, ends when the peer closes the socket.
//!
//! At-most-once: a socket cannot be rewound, so the source keeps no position
//! in checkpoints; after a restore, lines sent while the job was down or
//! after the last checkpoint are lost (as in Flink).

use std::io::{BufRead, BufReader, ErrorKind};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::{Source, SourceReader, SourceStatus, SOURCE_BATCH};
use crate::context::OperatorContext;
use crate::error::TaskError;

/// Connect timeout of the socket source.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads `\n`-separated lines from `host:port`.
pub struct SocketTextSource {
    address: String,
}

impl SocketTextSource {
    /// A source reading from `host:port`.
    pub fn new(host: &str, port: u16) -> Self {
        SocketTextSource { address: format!("{host}:{port}") }
    }
}

struct SocketReader {
    address: String,
    reader: BufReader<TcpStream>,
    partial: Vec<u8>,
}

impl SourceReader<String> for SocketReader {
    fn poll_next(&mut self, out: &mut Vec<String>) -> Result<SourceStatus, TaskError> {
        for _ in 0..SOURCE_BATCH {
            match self.reader.read_until(b'\n', &mut self.partial) {
                Ok(0) => {
                    if !self.partial.is_empty() {
                        out.push(String::from_utf8_lossy(&self.partial).into_owned());
                        self.partial.clear();
                    }
                    return Ok(SourceStatus::Finished);
                }
                Ok(_) if self.partial.last() == Some(&b'\n') => {
                    self.partial.pop();
                    if self.partial.last() == Some(&b'\r') {
                        self.partial.pop();
                    }
                    out.push(String::from_utf8_lossy(&self.partial).into_owned());
                    self.partial.clear();
                }
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Ok(if out.is_empty() { SourceStatus::Idle } else { SourceStatus::Available });
                }
                Err(e) => return Err(TaskError::io(format!("cannot read from socket {}", self.address), e)),
            }
        }
        Ok(SourceStatus::Available)
    }
}

impl Source<String> for SocketTextSource {
    fn name(&self) -> String {
        format!("Source: Socket Stream {}", self.address)
    }
    fn bounded(&self) -> bool {
        false
    }
    fn max_parallelism(&self) -> Option<u32> {
        Some(1)
    }
    fn create_reader(&self, ctx: &OperatorContext) -> Result<Box<dyn SourceReader<String>>, TaskError> {
        if ctx.checkpointing.is_some() {
            tracing::warn!(address = %self.address, "the socket source is at-most-once: lines are not replayed after a failure");
        }
        let addr = self
            .address
            .to_socket_addrs()
            .map_err(|e| TaskError::io(format!("cannot resolve socket source address {}", self.address), e))?
            .next()
            .ok_or_else(|| TaskError::User(format!("socket source address {} resolves to nothing", self.address)))?;
        let stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)
            .map_err(|e| TaskError::io(format!("cannot connect to socket source {}", self.address), e))?;
        stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .map_err(|e| TaskError::io(format!("socket {}", self.address), e))?;
        Ok(Box::new(SocketReader {
            address: self.address.clone(),
            reader: BufReader::new(stream),
            partial: Vec::new(),
        }))
    }
}
