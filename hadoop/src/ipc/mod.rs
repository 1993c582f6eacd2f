//! A Hadoop IPC v9 client over tokio TCP (the wire protocol of
//! `org.apache.hadoop.ipc.Client` with `ProtobufRpcEngine2`).
//!
//! - [`frame`]: the preamble and the call/response framing, byte for byte
//!   (reading a response frame off the socket too: [`frame::read_frame`]).
//! - [`digest`]: SASL DIGEST-MD5 for Hadoop token authentication.
//! - [`qop`]: `hadoop.rpc.protection` and the qop/cipher choice.
//! - [`digest_layer`]: the DIGEST-MD5 security layer (`auth-int`, `auth-conf` wrapping).
//! - [`sasl`]: the `RpcSaslProto` negotiation (call id -33).
//! - [`wrap`]: Hadoop's framing of wrapped messages (`RpcSaslProto` state `WRAP`).
//! - [`connection`]: [`IpcConnection`], one TCP connection with the connection
//!   context (call id -3), concurrent calls matched by call id, and
//!   [`RemoteException`] mapping.

pub mod connection;
pub mod digest;
pub mod digest_layer;
pub mod frame;
pub mod qop;
pub mod sasl;
pub mod wrap;

pub use connection::{Auth, ConnectOptions, IpcConnection};
pub use qop::{DigestCipher, Qop, RpcProtection};

/// A Java exception thrown by the server for a call
/// (`org.apache.hadoop.ipc.RemoteException`): the response header had status
/// `ERROR` (connection stays usable) or `FATAL` (server closes the connection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteException {
    /// Fully qualified Java class, e.g. `org.apache.hadoop.security.token.SecretManager$InvalidToken`.
    pub class_name: String,
    /// The exception message (often with a server-side stack trace).
    pub message: String,
    /// The `RpcErrorCodeProto` name, when sent (e.g. `ERROR_APPLICATION`).
    pub error_code: Option<String>,
    /// The status was `FATAL`.
    pub fatal: bool,
}

impl RemoteException {
    /// The class name without its package (`InvalidToken` for `...SecretManager$InvalidToken`).
    pub fn simple_class_name(&self) -> &str {
        let s = self.class_name.rsplit('.').next().unwrap_or(&self.class_name);
        s.rsplit('$').next().unwrap_or(s)
    }

    /// The first line of the message (Hadoop appends stack traces).
    pub fn first_line(&self) -> &str {
        self.message.lines().next().unwrap_or("")
    }
}

impl std::fmt::Display for RemoteException {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.class_name, self.first_line())
    }
}

/// Errors of the IPC client. Every variant names the server address.
#[derive(Debug, thiserror::Error)]
pub enum IpcError {
    /// TCP connect failed.
    #[error("cannot connect to Hadoop IPC server {addr}: {source}")]
    Connect {
        /// `host:port`.
        addr: String,
        /// The socket error.
        source: std::io::Error,
    },
    /// TCP connect or the handshake did not finish in time.
    #[error("timed out after {after:?} connecting to Hadoop IPC server {addr}")]
    ConnectTimeout {
        /// `host:port`.
        addr: String,
        /// The limit.
        after: std::time::Duration,
    },
    /// Reading or writing the socket failed.
    #[error("I/O error talking to Hadoop IPC server {addr}: {source}")]
    Io {
        /// `host:port`.
        addr: String,
        /// The socket error.
        source: std::io::Error,
    },
    /// The connection is closed (the server closed it, or a fatal error occurred).
    #[error("connection to Hadoop IPC server {addr} is closed: {reason}")]
    Closed {
        /// `host:port`.
        addr: String,
        /// Why.
        reason: String,
    },
    /// The server threw a Java exception.
    #[error("Hadoop IPC server {addr} threw {exception}")]
    Remote {
        /// `host:port`.
        addr: String,
        /// The exception.
        exception: RemoteException,
    },
    /// SASL negotiation failed on the client side.
    #[error("SASL authentication with {addr} failed: {reason}")]
    Sasl {
        /// `host:port`.
        addr: String,
        /// What went wrong.
        reason: String,
    },
    /// The server offered no authentication method this client can do.
    #[error(
        "Hadoop IPC server {addr} offers no usable authentication (offered: {offered:?}; have token: {have_token})"
    )]
    NoAuthMethod {
        /// `host:port`.
        addr: String,
        /// `method/mechanism` pairs the server listed.
        offered: Vec<String>,
        /// Whether the client had a token.
        have_token: bool,
    },
    /// A frame or message from the server could not be decoded.
    #[error("bad response from Hadoop IPC server {addr}: {source}")]
    Frame {
        /// `host:port`.
        addr: String,
        /// The decoding error.
        source: frame::FrameError,
    },
    /// The server sent a frame larger than [`frame::MAX_FRAME_LEN`] or otherwise broke the protocol.
    #[error("protocol violation by Hadoop IPC server {addr}: {reason}")]
    Protocol {
        /// `host:port`.
        addr: String,
        /// What was wrong.
        reason: String,
    },
    /// A call got no answer in time.
    #[error("call {method} to Hadoop IPC server {addr} timed out after {after:?}")]
    CallTimeout {
        /// `host:port`.
        addr: String,
        /// The method.
        method: String,
        /// The limit.
        after: std::time::Duration,
    },
}

impl IpcError {
    /// The server's Java exception, if this is one.
    pub fn remote(&self) -> Option<&RemoteException> {
        match self {
            IpcError::Remote { exception, .. } => Some(exception),
            _ => None,
        }
    }

    /// Whether the connection is unusable after this error (a new connection may succeed).
    pub fn is_connection_error(&self) -> bool {
        match self {
            IpcError::Remote { exception, .. } => exception.fatal,
            IpcError::CallTimeout { .. } => false,
            _ => true,
        }
    }
}
