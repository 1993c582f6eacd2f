//! rfy's Hadoop protocol layer.
//!
//! - [`config`]: Hadoop XML configuration (`core-site.xml`, `hdfs-site.xml`,
//!   `yarn-site.xml`) with typed getters for the addresses rfy needs.
//! - [`ipc`]: a Hadoop IPC v9 client with SASL TOKEN/DIGEST-MD5 and SIMPLE auth.
//! - [`kerberos`]: which Kerberos credentials a client uses; SPNEGO for the RM REST API.
//! - [`tls`]: HTTPS for rfy's HTTP clients (rustls with ring; system roots plus a PEM CA bundle).
//! - [`token`]: tokens and the `HADOOP_TOKEN_FILE_LOCATION` credentials file.
//! - [`yarn`]: ApplicationMasterProtocol ([`yarn::amrm`]), ContainerManagementProtocol
//!   ([`yarn::nm`]) and the ResourceManager REST API ([`yarn::rest`]).
//! - [`hdfs`]: rfy's one HDFS home over `hdfs-native`: the async client of
//!   YARN submission and the blocking clients of job tasks ([`hdfs::blocking`]);
//!   the HDFS delegation token over WebHDFS ([`hdfs::webhdfs`]).
//! - [`proto`]: prost types generated from rfy's own schemas in `proto/`.

#![warn(missing_docs)]

pub mod config;
pub mod hdfs;
pub mod ipc;
pub mod kerberos;
pub mod tls;
pub mod token;
pub mod yarn;

/// Protobuf messages of the Hadoop wire protocols rfy speaks, generated from
/// rfy's own schemas (`hadoop/proto/*.proto`) by prost-build into
/// `hadoop/generated/`, checked in so that no build compiles the code
/// generator; `tests/generated_code.rs` fails when they differ from what the
/// schemas generate, and rewrites them with
/// `RFY_BLESS=1 cargo test -p rfy-hadoop --test generated_code`.
#[allow(missing_docs, clippy::all)]
pub mod proto {
    /// `hadoop.common`: IPC headers, SASL, connection context, tokens, credentials.
    pub mod common {
        include!("../generated/hadoop.common.rs");
    }
    /// `hadoop.yarn`: YARN records, AMRM and NM protocol messages, token identifiers.
    pub mod yarn {
        include!("../generated/hadoop.yarn.rs");
    }
}
