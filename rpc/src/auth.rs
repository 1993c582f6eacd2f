//! Internal authentication: only the processes of one rfy application can
//! speak to each other (issue 20, part 5).
//!
//! Every JobManager ⇄ TaskManager RPC and every TaskManager ⇄ TaskManager
//! data connection carries the application's [`ClusterSecret`] in the
//! [`SECRET_HEADER`] metadata entry; every gRPC server of rfy refuses a call
//! without it (`UNAUTHENTICATED`, and a warning naming the peer).
//!
//! The design is Spark's `spark.authenticate`: the client generates a random
//! secret per application and ships it in the YARN credentials of the AM's
//! container (alias [`CLUSTER_SECRET_ALIAS`]); the AM hands its credentials
//! minus the AMRMToken to every TaskManager container, so each process of the
//! application reads the secret from its `HADOOP_TOKEN_FILE_LOCATION` file,
//! which only the application's user can read. Local mode generates one per
//! embedded cluster. No set-up is asked of the user.
//!
//! What it does not do: encrypt. The secret travels in clear on the internal
//! connections like Hadoop's `hadoop.rpc.protection=authentication`; someone
//! who can sniff the cluster network could replay it. Encrypting the internal
//! traffic (TLS with a per-application certificate pinned the same way) is
//! the next step, written down in ARCHITECTURE.md.

use std::fmt;
use std::sync::Arc;

use subtle::ConstantTimeEq;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::service::Interceptor;
use tonic::transport::Channel;
use tonic::{Request, Status};

/// The alias of the secret in the YARN credentials (`Credentials.secretKeys`)
/// the client ships to the AM and the AM to the TaskManagers.
pub const CLUSTER_SECRET_ALIAS: &str = "rfy.cluster.secret";

/// The gRPC metadata key every internal call carries the secret in (hex).
pub const SECRET_HEADER: &str = "rfy-cluster-secret";

/// Length of a cluster secret, in bytes.
pub const SECRET_LEN: usize = 32;

/// A secret that does not have the shape of a cluster secret.
#[derive(Debug, thiserror::Error)]
#[error("an rfy cluster secret is {SECRET_LEN} bytes, got {0}")]
pub struct BadSecret(pub usize);

/// The application's shared secret: [`SECRET_LEN`] random bytes. `Debug`
/// never prints it.
#[derive(Clone)]
pub struct ClusterSecret {
    bytes: Arc<[u8; SECRET_LEN]>,
    header: MetadataValue<Ascii>,
}

impl fmt::Debug for ClusterSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClusterSecret(<redacted>)")
    }
}

impl ClusterSecret {
    /// A new random secret (the operating system's random source).
    pub fn generate() -> ClusterSecret {
        Self::from_array(rand::random())
    }

    /// The secret from its bytes, as read from a credentials file.
    ///
    /// Errors: [`BadSecret`] when `bytes` is not [`SECRET_LEN`] long.
    pub fn from_bytes(bytes: &[u8]) -> Result<ClusterSecret, BadSecret> {
        let array: [u8; SECRET_LEN] = bytes.try_into().map_err(|_| BadSecret(bytes.len()))?;
        Ok(Self::from_array(array))
    }

    fn from_array(bytes: [u8; SECRET_LEN]) -> ClusterSecret {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let header = MetadataValue::try_from(hex).expect("hex digits are valid metadata");
        ClusterSecret { bytes: Arc::new(bytes), header }
    }

    /// The raw bytes, to ship in credentials.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..]
    }

    /// The interceptor that adds the secret to every call of a client.
    pub fn client(&self) -> ClientAuth {
        ClientAuth(self.header.clone())
    }

    /// The interceptor that refuses every call without the secret; `server`
    /// names the server in the warning a refused call logs.
    pub fn server(&self, server: &'static str) -> ServerAuth {
        ServerAuth { expected: self.header.clone(), server }
    }

    /// A channel whose calls carry the secret.
    pub fn channel(&self, channel: Channel) -> AuthChannel {
        InterceptedService::new(channel, self.client())
    }
}

/// A channel whose every call carries the cluster secret.
pub type AuthChannel = InterceptedService<Channel, ClientAuth>;

/// Client side: adds [`SECRET_HEADER`] to each call.
#[derive(Clone)]
pub struct ClientAuth(MetadataValue<Ascii>);

impl Interceptor for ClientAuth {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        request.metadata_mut().insert(SECRET_HEADER, self.0.clone());
        Ok(request)
    }
}

/// Server side: passes a call only if it carries this application's secret
/// (compared in constant time).
#[derive(Clone)]
pub struct ServerAuth {
    expected: MetadataValue<Ascii>,
    server: &'static str,
}

impl Interceptor for ServerAuth {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let presented = request.metadata().get(SECRET_HEADER);
        let ok = presented.is_some_and(|p| bool::from(p.as_bytes().ct_eq(self.expected.as_bytes())));
        if ok {
            return Ok(request);
        }
        let peer = request.remote_addr().map(|a| a.to_string()).unwrap_or_else(|| "an unknown peer".into());
        let why = if presented.is_some() { "a wrong cluster secret" } else { "no cluster secret" };
        tracing::warn!(%peer, server = self.server, "refused a call with {why}: not a process of this rfy application");
        Err(Status::unauthenticated(format!(
            "{}: refused: the call carries {why} (only processes of this rfy application may call it)",
            self.server
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(server: &mut ServerAuth, header: Option<&ClusterSecret>) -> Result<(), Status> {
        let mut req = Request::new(());
        if let Some(s) = header {
            req = s.client().call(req)?;
        }
        server.call(req).map(|_| ())
    }

    #[test]
    fn the_own_secret_passes_and_another_or_none_is_refused() {
        let ours = ClusterSecret::generate();
        let theirs = ClusterSecret::generate();
        let mut server = ours.server("test server");
        assert!(call(&mut server, Some(&ours)).is_ok());
        let wrong = call(&mut server, Some(&theirs)).unwrap_err();
        assert_eq!(wrong.code(), tonic::Code::Unauthenticated);
        assert!(wrong.message().contains("wrong cluster secret"), "{}", wrong.message());
        let none = call(&mut server, None).unwrap_err();
        assert!(none.message().contains("no cluster secret"), "{}", none.message());
    }

    #[test]
    fn a_secret_round_trips_through_its_bytes_and_rejects_other_lengths() {
        let s = ClusterSecret::generate();
        let back = ClusterSecret::from_bytes(s.as_bytes()).unwrap();
        assert!(call(&mut s.server("t"), Some(&back)).is_ok());
        assert_eq!(ClusterSecret::from_bytes(&[1; 16]).unwrap_err().0, 16);
    }

    #[test]
    fn debug_does_not_print_the_secret() {
        let s = ClusterSecret::from_bytes(&[0xab; SECRET_LEN]).unwrap();
        assert_eq!(format!("{s:?}"), "ClusterSecret(<redacted>)");
    }
}
