//! rfy's one HDFS home, over `hdfs-native` (a pure-Rust HDFS client).
//!
//! - [`Hdfs`]: the async client of the YARN client and the AM: connect from
//!   `fs.defaultFS`, upload files for YARN local resources (returning the
//!   exact size and modification time YARN checks), mkdirs, delete, list,
//!   read, write, exists, rename, access times.
//! - [`blocking`]: `hdfs://` URIs and the process-wide blocking clients that
//!   job tasks use; `rfy-connectors` implements the runtime's `FileSystem`
//!   and the `hdfs://` text source and sink over it.
//!
//! Errors ([`HdfsError`]) name the path and the NameNode.

use std::path::Path;

use bytes::Bytes;
use hdfs_native::{Client, ClientBuilder, WriteOptions};
use tokio::io::AsyncReadExt;

use crate::config::HadoopConfig;
use crate::yarn::records::{LocalResource, LocalResourceType, LocalResourceVisibility};

pub mod blocking;
pub mod webhdfs;

/// Bytes per write call when uploading (4 MiB).
const UPLOAD_CHUNK: usize = 4 << 20;

/// Errors of the HDFS wrapper; each names the NameNode URL and, for file
/// operations, the path.
#[derive(Debug, thiserror::Error)]
pub enum HdfsError {
    /// The URL is not `hdfs://host[:port]` (or `viewfs://`).
    #[error("not an HDFS URL: {0:?} (expected hdfs://host:port)")]
    BadUrl(String),
    /// Building the client failed.
    #[error("cannot connect to HDFS NameNode {namenode}: {source}")]
    Connect {
        /// NameNode URL.
        namenode: String,
        /// hdfs-native's error.
        source: hdfs_native::HdfsError,
    },
    /// Nothing accepts connections at the NameNode's address.
    #[error("cannot reach the HDFS NameNode {namenode}: {reason}")]
    Unreachable {
        /// NameNode URL.
        namenode: String,
        /// Why (connection refused, timeout, unresolvable host).
        reason: String,
    },
    /// An operation on a path failed.
    #[error("HDFS {op} of {path} on {namenode} failed: {source}")]
    Op {
        /// The operation (`mkdirs`, `upload`, ...).
        op: &'static str,
        /// The HDFS path.
        path: String,
        /// NameNode URL.
        namenode: String,
        /// hdfs-native's error.
        source: hdfs_native::HdfsError,
    },
    /// Reading a local file failed.
    #[error("cannot read local file {path}: {source}")]
    Local {
        /// The local path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Length and modification time of an HDFS file, as YARN local resources need them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    /// Length, bytes.
    pub size: u64,
    /// Modification time, ms since the epoch.
    pub modification_time: u64,
}

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Absolute HDFS path.
    pub path: String,
    /// Whether it is a directory.
    pub is_dir: bool,
    /// Length, bytes (0 for directories).
    pub size: u64,
    /// Modification time, ms since the epoch.
    pub modification_time: u64,
    /// Access time, ms since the epoch (the NameNode updates it on reads at
    /// most once per `dfs.namenode.accesstime.precision`, default 1 h;
    /// [`Hdfs::set_access_time`] sets it exactly).
    pub access_time: u64,
    /// Permission bits, e.g. `0o700`.
    pub permission: u16,
    /// Owner.
    pub owner: String,
}

/// An HDFS client bound to one NameNode (or name service).
#[derive(Clone)]
pub struct Hdfs {
    client: Client,
    namenode: String,
    /// The RPC `host:port` of every NameNode behind `namenode` (several for an HA name service).
    rpc_addrs: Vec<String>,
}

impl std::fmt::Debug for Hdfs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hdfs").field("namenode", &self.namenode).finish()
    }
}

fn is_not_found(e: &hdfs_native::HdfsError) -> bool {
    matches!(e, hdfs_native::HdfsError::FileNotFound(_))
}

impl Hdfs {
    /// Connects to the file system named by `fs.defaultFS` in `conf`, passing
    /// all of `conf`'s properties to hdfs-native, acting as `user` (`None`:
    /// `HADOOP_USER_NAME` or the OS user).
    ///
    /// On a Kerberized cluster after a process login
    /// ([`crate::kerberos::set_login_user`]) the client is that principal
    /// (its keytab or ticket cache) and `user` is ignored: never a proxy user.
    /// hdfs-native then negotiates SASL GSSAPI with the NameNode and the
    /// DataNodes at the cluster's `hadoop.rpc.protection` and
    /// `dfs.data.transfer.protection`.
    ///
    /// Errors: [`HdfsError::BadUrl`] when `fs.defaultFS` is not `hdfs://`, [`HdfsError::Connect`].
    pub fn from_config(conf: &HadoopConfig, user: Option<&str>) -> Result<Self, HdfsError> {
        let url = conf.default_fs();
        let props: Vec<(String, String)> =
            conf.keys().filter_map(|k| conf.get(k).map(|v| (k.to_string(), v))).collect();
        match crate::kerberos::login_user().filter(|_| crate::kerberos::is_enabled(conf)) {
            Some(login) => Self::build_with(&url, props, None, Some(&login.credentials)),
            None => Self::build(&url, props, user),
        }
    }

    /// Connects to `url` (`hdfs://host:port`), acting as `user` (`None`:
    /// `HADOOP_USER_NAME` or the OS user).
    pub fn connect(url: &str, user: Option<&str>) -> Result<Self, HdfsError> {
        Self::build(url, Vec::new(), user)
    }

    fn build(url: &str, props: Vec<(String, String)>, user: Option<&str>) -> Result<Self, HdfsError> {
        Self::build_with(url, props, user, None)
    }

    fn build_with(
        url: &str,
        props: Vec<(String, String)>,
        user: Option<&str>,
        kerberos: Option<&crate::kerberos::KerberosCredentials>,
    ) -> Result<Self, HdfsError> {
        let url = url.trim().trim_end_matches('/').to_string();
        if !(url.starts_with("hdfs://") || url.starts_with("viewfs://")) || url.len() <= "hdfs://".len() {
            return Err(HdfsError::BadUrl(url));
        }
        let rpc_addrs = rpc_addresses(&url, &props);
        let mut b = ClientBuilder::new().with_url(url.clone()).with_config(props);
        if let Some(u) = user {
            b = b.with_user(u);
        }
        if let Some(k) = kerberos {
            if let Some(p) = &k.principal {
                b = b.with_kerberos_principal(p);
            }
            if let Some(kt) = &k.keytab {
                b = b.with_kerberos_keytab(kt);
            }
            if let Some(c) = &k.cache {
                b = b.with_kerberos_cache(c);
            }
        }
        let client = b.build().map_err(|source| HdfsError::Connect { namenode: url.clone(), source })?;
        tracing::debug!(namenode = %url, rpc = ?rpc_addrs, "HDFS client ready");
        Ok(Hdfs { client, namenode: url, rpc_addrs })
    }

    /// The NameNode URL (`hdfs://host:port`), no trailing slash.
    pub fn namenode(&self) -> &str {
        &self.namenode
    }

    /// The fully qualified URI of an absolute path (`hdfs://host:port/path`).
    pub fn qualify(&self, path: &str) -> String {
        if path.contains("://") {
            path.to_string()
        } else {
            format!("{}/{}", self.namenode, path.trim_start_matches('/'))
        }
    }

    /// The underlying hdfs-native client, for operations not wrapped here.
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn op_err(&self, op: &'static str, path: &str) -> impl FnOnce(hdfs_native::HdfsError) -> HdfsError + '_ {
        let path = path.to_string();
        move |source| HdfsError::Op { op, path, namenode: self.namenode.clone(), source }
    }

    /// Creates `path` and missing parents with `permission` (e.g. `0o700`).
    pub async fn mkdirs(&self, path: &str, permission: u32) -> Result<(), HdfsError> {
        self.client.mkdirs(path, permission, true).await.map_err(self.op_err("mkdirs", path))
    }

    /// Deletes `path` (recursively if asked). Returns whether something was deleted.
    pub async fn delete(&self, path: &str, recursive: bool) -> Result<bool, HdfsError> {
        self.client.delete(path, recursive).await.map_err(self.op_err("delete", path))
    }

    /// Whether `path` exists.
    pub async fn exists(&self, path: &str) -> Result<bool, HdfsError> {
        match self.client.get_file_info(path).await {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(self.op_err("stat", path)(e)),
        }
    }

    /// Length and modification time of `path`.
    pub async fn stat(&self, path: &str) -> Result<FileStamp, HdfsError> {
        let s = self.client.get_file_info(path).await.map_err(self.op_err("stat", path))?;
        Ok(FileStamp { size: s.length as u64, modification_time: s.modification_time })
    }

    /// The entries of directory `path` (not recursive).
    pub async fn list(&self, path: &str) -> Result<Vec<FileEntry>, HdfsError> {
        let v = self.client.list_status(path, false).await.map_err(self.op_err("list", path))?;
        Ok(v.into_iter()
            .map(|s| FileEntry {
                path: s.path,
                is_dir: s.isdir,
                size: s.length as u64,
                modification_time: s.modification_time,
                access_time: s.access_time,
                permission: s.permission,
                owner: s.owner,
            })
            .collect())
    }

    /// Renames `from` to `to`. Without `overwrite` the rename fails when
    /// `to` exists (HDFS's rename is atomic: a reader sees the old name or
    /// the new one, never a partial file).
    pub async fn rename(&self, from: &str, to: &str, overwrite: bool) -> Result<(), HdfsError> {
        self.client.rename(from, to, overwrite).await.map_err(self.op_err("rename", from))
    }

    /// Sets the access time of `path` to `access_time` (ms since the epoch)
    /// and leaves its modification time as it is (YARN checks it against the
    /// local resource's timestamp). Needs `dfs.namenode.accesstime.precision`
    /// above 0 on the NameNode (the default, 1 h).
    pub async fn set_access_time(&self, path: &str, access_time: u64) -> Result<(), HdfsError> {
        // -1 as a 64-bit value: the NameNode leaves that time unchanged (ClientProtocol#setTimes).
        self.client.set_times(path, u64::MAX, access_time).await.map_err(self.op_err("set access time of", path))
    }

    /// Checks that something accepts TCP connections at the NameNode's
    /// address (any NameNode of an HA name service) within 5 s each.
    /// hdfs-native retries a refused connection for a long time; a client
    /// about to upload calls this first to fail at once with a clear message instead.
    ///
    /// Errors: [`HdfsError::Unreachable`] naming the NameNode (each address of a name service).
    pub async fn probe(&self) -> Result<(), HdfsError> {
        let mut reasons = Vec::new();
        for addr in &self.rpc_addrs {
            match tokio::time::timeout(std::time::Duration::from_secs(5), tokio::net::TcpStream::connect(addr)).await {
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(e)) => reasons.push((addr, e.to_string())),
                Err(_) => reasons.push((addr, "no answer within 5 s".into())),
            }
        }
        let reason = match reasons.as_slice() {
            [(_, r)] => r.clone(),
            all => all.iter().map(|(a, r)| format!("{a}: {r}")).collect::<Vec<_>>().join("; "),
        };
        Err(HdfsError::Unreachable { namenode: self.namenode.clone(), reason })
    }

    /// Reads the whole file.
    pub async fn read(&self, path: &str) -> Result<Vec<u8>, HdfsError> {
        let r = self.client.read(path).await.map_err(self.op_err("read", path))?;
        let bytes = r.read_range(0, r.file_length()).await.map_err(self.op_err("read", path))?;
        Ok(bytes.to_vec())
    }

    /// Writes `data` to `path` (parents created, replaced if `overwrite`),
    /// with file `permission` (e.g. `0o600`), and returns the stamp read back
    /// from the NameNode.
    pub async fn write(
        &self,
        path: &str,
        data: &[u8],
        permission: u32,
        overwrite: bool,
    ) -> Result<FileStamp, HdfsError> {
        self.put(path, data, permission, overwrite).await?;
        self.stat(path).await
    }

    /// Writes `data` to `path` like [`Hdfs::write`], without reading the
    /// stamp back (one NameNode round trip less). Returns once the NameNode
    /// has completed the file, i.e. every DataNode of the pipeline has it.
    pub async fn put(&self, path: &str, data: &[u8], permission: u32, overwrite: bool) -> Result<(), HdfsError> {
        let opts = WriteOptions::default().permission(permission).overwrite(overwrite);
        let mut w = self.client.create(path, opts).await.map_err(self.op_err("create", path))?;
        for chunk in data.chunks(UPLOAD_CHUNK) {
            w.write_bytes(Bytes::copy_from_slice(chunk)).await.map_err(self.op_err("write", path))?;
        }
        w.close().await.map_err(self.op_err("close", path))
    }

    /// Uploads the local file `local` to `path` in chunks and returns its
    /// length and modification time as the NameNode reports them after the
    /// close (what a YARN local resource must carry).
    pub async fn upload(
        &self,
        local: &Path,
        path: &str,
        permission: u32,
        overwrite: bool,
    ) -> Result<FileStamp, HdfsError> {
        let local_err = |source| HdfsError::Local { path: local.display().to_string(), source };
        let mut f = tokio::fs::File::open(local).await.map_err(local_err)?;
        let opts = WriteOptions::default().permission(permission).overwrite(overwrite);
        let mut w = self.client.create(path, opts).await.map_err(self.op_err("create", path))?;
        let mut buf = vec![0u8; UPLOAD_CHUNK];
        let mut total = 0u64;
        loop {
            let n = f
                .read(&mut buf)
                .await
                .map_err(|source| HdfsError::Local { path: local.display().to_string(), source })?;
            if n == 0 {
                break;
            }
            total += n as u64;
            w.write_bytes(Bytes::copy_from_slice(&buf[..n])).await.map_err(self.op_err("upload", path))?;
        }
        w.close().await.map_err(self.op_err("close", path))?;
        let stamp = self.stat(path).await?;
        tracing::info!(local = %local.display(), hdfs = %self.qualify(path), bytes = total, mtime = stamp.modification_time, "uploaded to HDFS");
        Ok(stamp)
    }

    /// Uploads `local` and describes it as a YARN local resource with the
    /// exact size and timestamp read back from HDFS.
    pub async fn upload_local_resource(
        &self,
        local: &Path,
        path: &str,
        kind: LocalResourceType,
        visibility: LocalResourceVisibility,
    ) -> Result<LocalResource, HdfsError> {
        let stamp = self.upload(local, path, 0o644, true).await?;
        Ok(LocalResource {
            uri: self.qualify(path),
            size: stamp.size as i64,
            timestamp: stamp.modification_time as i64,
            kind,
            visibility,
        })
    }
}

/// The RPC addresses behind `url` (`hdfs://authority`): `host:port` as
/// written; for an authority without a port that names an HA name service
/// (`dfs.ha.namenodes.<ns>` in `props`), each `dfs.namenode.rpc-address.<ns>.<id>`;
/// else `host:8020` (Hadoop's default NameNode port).
fn rpc_addresses(url: &str, props: &[(String, String)]) -> Vec<String> {
    let authority = url.split("://").nth(1).unwrap_or(url).split('/').next().unwrap_or("");
    if authority.contains(':') {
        return vec![authority.to_string()];
    }
    let get = |k: &str| props.iter().find(|(key, _)| key == k).map(|(_, v)| v.trim().to_string());
    let ha: Vec<String> = get(&format!("dfs.ha.namenodes.{authority}"))
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .filter_map(|id| get(&format!("dfs.namenode.rpc-address.{authority}.{id}")))
        .collect();
    if ha.is_empty() {
        vec![format!("{authority}:8020")]
    } else {
        ha
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpc_addresses_of_single_and_ha_namenodes() {
        let props = |kv: &[(&str, &str)]| kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
        assert_eq!(rpc_addresses("hdfs://nn:9000", &[]), ["nn:9000"]);
        assert_eq!(rpc_addresses("hdfs://nn", &[]), ["nn:8020"]);
        let ha = props(&[
            ("dfs.ha.namenodes.ns1", "nn1, nn2"),
            ("dfs.namenode.rpc-address.ns1.nn1", "h1:37020"),
            ("dfs.namenode.rpc-address.ns1.nn2", "h2:37120"),
        ]);
        assert_eq!(rpc_addresses("hdfs://ns1", &ha), ["h1:37020", "h2:37120"]);
    }

    #[tokio::test]
    async fn probe_of_a_name_service_names_every_namenode() {
        let free = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
        let (a, b) = (free(), free());
        let h = Hdfs {
            client: Hdfs::connect("hdfs://127.0.0.1:1", None).unwrap().client,
            namenode: "hdfs://ns1".into(),
            rpc_addrs: vec![a.clone(), b.clone()],
        };
        let e = h.probe().await.unwrap_err().to_string();
        assert!(e.contains("hdfs://ns1") && e.contains(&a) && e.contains(&b), "{e}");
        // One NameNode of the pair answering is enough.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let up = l.local_addr().unwrap().to_string();
        let h = Hdfs { rpc_addrs: vec![a, up], ..h };
        h.probe().await.unwrap();
    }

    #[test]
    fn rejects_non_hdfs_urls() {
        assert!(matches!(Hdfs::connect("file:///", None), Err(HdfsError::BadUrl(_))));
        assert!(matches!(Hdfs::connect("hdfs://", None), Err(HdfsError::BadUrl(_))));
        let conf = HadoopConfig::new();
        assert!(matches!(Hdfs::from_config(&conf, None), Err(HdfsError::BadUrl(_))));
    }

    #[test]
    fn qualifies_paths() {
        let h = Hdfs::connect("hdfs://127.0.0.1:9000/", Some("alice")).unwrap();
        assert_eq!(h.namenode(), "hdfs://127.0.0.1:9000");
        assert_eq!(h.qualify("/user/alice/x"), "hdfs://127.0.0.1:9000/user/alice/x");
        assert_eq!(h.qualify("hdfs://o:1/y"), "hdfs://o:1/y");
    }
}
