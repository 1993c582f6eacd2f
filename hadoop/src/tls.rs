//! HTTPS for rfy's HTTP clients (the ResourceManager's REST API, WebHDFS,
//! the JobManager's REST API): reqwest over rustls with the `ring` crypto
//! provider (no OpenSSL, no aws-lc-rs: its C build cost every job executable
//! about a minute on its first build). reqwest is built without a provider of
//! its own, so every client must come from [`http_client_builder`] (or
//! [`client_builder`]), which installs ring as the process's default first;
//! a `reqwest::Client` built before that panics ("No rustls crypto provider").
//!
//! A server certificate is checked against the system's roots (the
//! platform's trust store: `/etc/ssl/certs`, `SSL_CERT_FILE`, `SSL_CERT_DIR`)
//! plus the CA certificates of a PEM bundle named by
//! [`TRUSTSTORE_PEM_KEY`] in the Hadoop configuration. Hadoop's own clients
//! read `ssl.client.truststore.*` from `ssl-client.xml`, a JKS or PKCS12 key
//! store rfy does not read: export its CA as PEM (`keytool -exportcert -rfc`
//! or `openssl pkcs12 -nokeys`) and name that file with this key in any site
//! file of `HADOOP_CONF_DIR` (`core-site.xml`, say).

use std::path::{Path, PathBuf};

use crate::config::HadoopConfig;

/// Hadoop configuration key (rfy's own; Hadoop ignores it): path of a PEM
/// file of CA certificates that the cluster's HTTPS endpoints (the RM with
/// `yarn.http.policy=HTTPS_ONLY`, WebHDFS with `dfs.http.policy=HTTPS_ONLY`)
/// are signed by, trusted beside the system's roots.
pub const TRUSTSTORE_PEM_KEY: &str = "rfy.ssl.client.truststore.pem";

/// Why no HTTP client could be built; each names the file and the key.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The PEM bundle cannot be read.
    #[error("cannot read the CA bundle {path} ({TRUSTSTORE_PEM_KEY}): {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file holds no PEM certificate, or a broken one.
    #[error("CA bundle {path} ({TRUSTSTORE_PEM_KEY}) holds no usable PEM certificate: {reason}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// reqwest refused the configuration.
    #[error("cannot build an HTTPS client{}: {source}", trust_note(.trust_store))]
    Client {
        /// The extra CA bundle, if any.
        trust_store: Option<PathBuf>,
        /// reqwest's error.
        source: reqwest::Error,
    },
}

fn trust_note(p: &Option<PathBuf>) -> String {
    p.as_ref().map(|p| format!(" trusting {} ({TRUSTSTORE_PEM_KEY})", p.display())).unwrap_or_default()
}

/// The extra CA bundle `conf` names ([`TRUSTSTORE_PEM_KEY`]), if any.
pub fn trust_store(conf: &HadoopConfig) -> Option<PathBuf> {
    conf.get(TRUSTSTORE_PEM_KEY).map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// The CA certificates of a PEM bundle.
///
/// Errors: [`TlsError::Read`], [`TlsError::Pem`] (no certificate in it).
pub fn read_pem_bundle(path: &Path) -> Result<Vec<reqwest::Certificate>, TlsError> {
    let bytes = std::fs::read(path).map_err(|source| TlsError::Read { path: path.to_path_buf(), source })?;
    let certs = reqwest::Certificate::from_pem_bundle(&bytes)
        .map_err(|e| TlsError::Pem { path: path.to_path_buf(), reason: e.to_string() })?;
    if certs.is_empty() {
        return Err(TlsError::Pem { path: path.to_path_buf(), reason: "no BEGIN CERTIFICATE block".into() });
    }
    Ok(certs)
}

/// Installs rustls's `ring` provider as the process's default crypto provider
/// (`rustls::crypto::CryptoProvider::install_default`), unless one is
/// installed already (by a program that embeds rfy, say: that one is kept).
/// Idempotent and cheap; [`http_client_builder`] calls it.
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            // Err only when another thread installed one in between: that one is used.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
    });
}

/// `reqwest::Client::builder()` once the crypto provider is installed
/// ([`install_crypto_provider`]): the one way rfy makes an HTTP(S) client
/// with the platform's roots. The caller adds timeouts and builds it.
///
/// ```
/// let http = rfy_hadoop::tls::http_client_builder().timeout(std::time::Duration::from_secs(10)).build().unwrap();
/// # drop(http);
/// ```
pub fn http_client_builder() -> reqwest::ClientBuilder {
    install_crypto_provider();
    reqwest::Client::builder()
}

/// A reqwest client builder for HTTP and HTTPS: rustls, the system's roots, plus the CA certificates of `trust_store`
/// (a PEM bundle) when given. The caller adds timeouts and builds it.
///
/// Errors: as [`read_pem_bundle`].
pub fn client_builder(trust_store: Option<&Path>) -> Result<reqwest::ClientBuilder, TlsError> {
    let mut builder = http_client_builder();
    if let Some(path) = trust_store {
        builder = builder.tls_certs_merge(read_pem_bundle(path)?);
    }
    Ok(builder)
}

/// Builds `builder` (from [`client_builder`]), naming the trust store in the error.
pub fn build(builder: reqwest::ClientBuilder, trust_store: Option<&Path>) -> Result<reqwest::Client, TlsError> {
    builder.build().map_err(|source| TlsError::Client { trust_store: trust_store.map(Path::to_path_buf), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_store_key_is_optional_and_trimmed() {
        let mut c = HadoopConfig::new();
        assert_eq!(trust_store(&c), None);
        c.set(TRUSTSTORE_PEM_KEY, "  ");
        assert_eq!(trust_store(&c), None);
        c.set(TRUSTSTORE_PEM_KEY, " /etc/rfy/ca.pem ");
        assert_eq!(trust_store(&c), Some(PathBuf::from("/etc/rfy/ca.pem")));
    }

    #[test]
    fn bad_bundles_name_the_file_and_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let e = client_builder(Some(&missing)).unwrap_err().to_string();
        assert!(e.contains(&missing.display().to_string()) && e.contains(TRUSTSTORE_PEM_KEY), "{e}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = client_builder(Some(&empty)).unwrap_err().to_string();
        assert!(e.contains("holds no usable PEM certificate") && e.contains(&empty.display().to_string()), "{e}");
    }

    #[test]
    fn builds_without_and_with_system_roots() {
        let b = client_builder(None).unwrap();
        build(b, None).unwrap();
    }

    #[test]
    fn ring_is_the_installed_provider() {
        http_client_builder().build().unwrap();
        let p = rustls::crypto::CryptoProvider::get_default().expect("a provider is installed");
        let ring = rustls::crypto::ring::default_provider();
        let names = |p: &rustls::crypto::CryptoProvider| {
            p.cipher_suites.iter().map(|s| format!("{:?}", s.suite())).collect::<Vec<_>>()
        };
        assert_eq!(names(p), names(&ring));
    }
}
