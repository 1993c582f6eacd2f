//! rfy's connectors to external systems, above the runtime (which knows only
//! local files, sockets and collections).
//!
//! - [`hdfs`]: the HDFS [`rfy_runtime::fs::FileSystem`] (registered for
//!   `hdfs://` URIs by [`register_file_system`]), `hdfs://` text file source (split by byte ranges) and sink
//!   (part files written in progress, renamed at the end), over hdfs-native.
//! - [`text_source`]-style helpers: [`is_hdfs`] tells jobs which to use.

#![warn(missing_docs)]

pub mod hdfs;

pub use hdfs::{is_hdfs, register_file_system, HdfsFileSystem, HdfsTextFileSink, HdfsTextFileSource};
