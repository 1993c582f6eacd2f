//! One Hadoop IPC connection: preamble, optional SASL, connection context,
//! then concurrent protobuf calls matched by call id (`org.apache.hadoop.ipc.Client.Connection`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prost::Message;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use super::frame::{self, AuthProtocol, CONNECTION_CONTEXT_CALL_ID};
use super::qop::{Qop, RpcProtection};
use super::sasl::{self, Negotiated};
use super::wrap::{Incoming, Outgoing};
use super::{IpcError, RemoteException};
use crate::proto::common::{
    rpc_response_header_proto::RpcStatusProto, IpcConnectionContextProto, UserInformationProto,
};
use crate::token::Token;

/// How to authenticate a connection.
#[derive(Debug, Clone)]
pub struct Auth {
    /// The user name sent in the connection context when the connection ends
    /// up SIMPLE (no token, or the server switched to SIMPLE).
    pub user: String,
    /// The token for SASL TOKEN/DIGEST-MD5. `None`: SIMPLE auth without SASL.
    pub token: Option<Token>,
}

impl Auth {
    /// SIMPLE authentication as `user` (auth protocol byte 0, no SASL).
    pub fn simple(user: impl Into<String>) -> Self {
        Auth { user: user.into(), token: None }
    }
    /// Token authentication (SASL DIGEST-MD5); `user` is used only if the server falls back to SIMPLE.
    pub fn token(token: Token, user: impl Into<String>) -> Self {
        Auth { user: user.into(), token: Some(token) }
    }
}

/// Connection tuning.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Limit for TCP connect plus the SASL handshake (default 10 s).
    pub connect_timeout: Duration,
    /// Limit for one call's answer; `None` waits forever (default 120 s).
    pub call_timeout: Option<Duration>,
    /// The SASL qops accepted (`hadoop.rpc.protection`; default `authentication`).
    pub protection: RpcProtection,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            connect_timeout: Duration::from_secs(10),
            call_timeout: Some(Duration::from_secs(120)),
            protection: RpcProtection::default(),
        }
    }
}

impl ConnectOptions {
    /// The defaults with `protection` from the cluster's `hadoop.rpc.protection`.
    ///
    /// Errors: [`crate::config::ConfigError::BadValue`] for an unknown protection.
    pub fn from_conf(conf: &crate::config::HadoopConfig) -> Result<Self, crate::config::ConfigError> {
        Ok(ConnectOptions { protection: RpcProtection::from_conf(conf)?, ..Default::default() })
    }
}

/// A call's outcome as delivered by the reader task: the response message
/// bytes (still varint-delimited) or an error.
type CallResult = Result<Vec<u8>, CallFailure>;

#[derive(Debug)]
enum CallFailure {
    Remote(RemoteException),
    Closed(String),
}

#[derive(Default)]
struct Pending {
    calls: HashMap<i32, oneshot::Sender<CallResult>>,
    closed: Option<String>,
}

struct Shared {
    addr: String,
    protocol: String,
    protocol_version: u64,
    client_id: [u8; 16],
    next_call_id: AtomicI32,
    /// Frames to send; a writer task owns the socket's write half, so a
    /// cancelled call can never leave half a frame on the wire.
    outgoing: tokio::sync::mpsc::UnboundedSender<Vec<u8>>,
    pending: Mutex<Pending>,
    call_timeout: Option<Duration>,
}

impl Shared {
    fn close(&self, reason: String) {
        let calls = {
            let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            if p.closed.is_none() {
                p.closed = Some(reason.clone());
            }
            std::mem::take(&mut p.calls)
        };
        for (_, tx) in calls {
            let _ = tx.send(Err(CallFailure::Closed(reason.clone())));
        }
    }
}

/// An authenticated IPC connection to one server for one protocol.
/// Cheap to share by reference; calls may run concurrently. Dropping it stops
/// the reader task and closes the socket.
pub struct IpcConnection {
    shared: Arc<Shared>,
    reader: tokio::task::JoinHandle<()>,
    writer: tokio::task::JoinHandle<()>,
    negotiated: Option<Negotiated>,
    qop: Qop,
}

impl std::fmt::Debug for IpcConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IpcConnection")
            .field("addr", &self.shared.addr)
            .field("protocol", &self.shared.protocol)
            .field("negotiated", &self.negotiated)
            .field("qop", &self.qop)
            .finish()
    }
}

impl Drop for IpcConnection {
    fn drop(&mut self) {
        self.reader.abort();
        self.writer.abort();
    }
}

impl IpcConnection {
    /// Connects to `addr` (`host:port`) for `protocol` (e.g.
    /// `org.apache.hadoop.yarn.api.ApplicationMasterProtocolPB`) at
    /// `protocol_version` (YARN protocols: 1), authenticates and sends the
    /// connection context.
    ///
    /// With a token: preamble auth byte 0xDF, SASL TOKEN/DIGEST-MD5 at the
    /// strongest qop the server offers and `opts.protection` allows, then a
    /// context without user info (the token names the user); with qop
    /// `auth-int`/`auth-conf` the context and every call travel wrapped
    /// ([`super::wrap`]). Without a token: auth byte 0 and a context with
    /// `effectiveUser = auth.user`.
    ///
    /// Errors name `addr`: [`IpcError::Connect`], [`IpcError::ConnectTimeout`],
    /// SASL errors, [`IpcError::Remote`] when the server rejects the token.
    pub async fn connect(
        addr: &str,
        protocol: &str,
        protocol_version: u64,
        auth: &Auth,
        opts: &ConnectOptions,
    ) -> Result<IpcConnection, IpcError> {
        match tokio::time::timeout(
            opts.connect_timeout,
            Self::connect_inner(addr, protocol, protocol_version, auth, opts),
        )
        .await
        {
            Ok(r) => r,
            Err(_) => Err(IpcError::ConnectTimeout { addr: addr.to_string(), after: opts.connect_timeout }),
        }
    }

    async fn connect_inner(
        addr: &str,
        protocol: &str,
        protocol_version: u64,
        auth: &Auth,
        opts: &ConnectOptions,
    ) -> Result<IpcConnection, IpcError> {
        let mut stream =
            TcpStream::connect(addr).await.map_err(|source| IpcError::Connect { addr: addr.to_string(), source })?;
        let _ = stream.set_nodelay(true);
        let io = |source| IpcError::Io { addr: addr.to_string(), source };
        let auth_protocol = if auth.token.is_some() { AuthProtocol::Sasl } else { AuthProtocol::None };
        stream.write_all(&frame::preamble(auth_protocol)).await.map_err(io)?;
        let outcome = match auth_protocol {
            AuthProtocol::Sasl => {
                Some(sasl::negotiate(&mut stream, addr, auth.token.as_ref(), &opts.protection).await?)
            }
            AuthProtocol::None => None,
        };
        let negotiated = outcome.as_ref().map(|o| o.negotiated);
        let qop = outcome.as_ref().map_or(Qop::Auth, |o| o.qop);
        let (mut outgoing, incoming) = match outcome.and_then(|o| o.layer) {
            Some(layer) => (Outgoing::wrapped(layer.sender), Incoming::wrapped(layer.receiver)),
            None => (Outgoing::plain(), Incoming::plain()),
        };
        let client_id = *uuid::Uuid::new_v4().as_bytes();
        let user_info = match negotiated {
            Some(Negotiated::Token) => UserInformationProto::default(),
            _ => UserInformationProto { effective_user: Some(auth.user.clone()), real_user: None },
        };
        let context = IpcConnectionContextProto { user_info: Some(user_info), protocol: Some(protocol.to_string()) };
        let context_frame = outgoing.frame(frame::control_frame(CONNECTION_CONTEXT_CALL_ID, &client_id, &context));
        stream.write_all(&context_frame).await.map_err(io)?;
        let (read_half, write_half) = stream.into_split();
        let (out_tx, out_rx) = tokio::sync::mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            addr: addr.to_string(),
            protocol: protocol.to_string(),
            protocol_version,
            client_id,
            next_call_id: AtomicI32::new(0),
            outgoing: out_tx,
            pending: Mutex::new(Pending::default()),
            call_timeout: opts.call_timeout,
        });
        let reader = tokio::spawn(reader_loop(read_half, incoming, Arc::clone(&shared)));
        let writer = tokio::spawn(writer_loop(write_half, out_rx, outgoing, Arc::clone(&shared)));
        tracing::debug!(addr, protocol, ?negotiated, %qop, "IPC connection established");
        Ok(IpcConnection { shared, reader, writer, negotiated, qop })
    }

    /// The server address this connection talks to.
    pub fn addr(&self) -> &str {
        &self.shared.addr
    }

    /// How SASL ended (`None`: no SASL, SIMPLE by preamble).
    pub fn negotiated(&self) -> Option<Negotiated> {
        self.negotiated
    }

    /// The SASL quality of protection in force (`auth` without SASL or with SIMPLE).
    pub fn qop(&self) -> Qop {
        self.qop
    }

    /// Whether the connection has been closed (by the server or an error).
    pub fn is_closed(&self) -> bool {
        self.shared.pending.lock().map(|p| p.closed.is_some()).unwrap_or(true)
    }

    /// Calls `method` with `request` and decodes the response as `Resp`.
    ///
    /// Errors: [`IpcError::Remote`] with the Java exception when the server
    /// threw; [`IpcError::Closed`] / [`IpcError::Io`] when the connection
    /// broke; [`IpcError::CallTimeout`]; [`IpcError::Frame`] if the response
    /// does not decode.
    pub async fn call<Req: Message, Resp: Message + Default>(
        &self,
        method: &str,
        request: &Req,
    ) -> Result<Resp, IpcError> {
        let s = &self.shared;
        let call_id = s.next_call_id.fetch_add(1, Ordering::Relaxed) & 0x7fff_ffff;
        let (tx, rx) = oneshot::channel();
        {
            let mut p = s.pending.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(reason) = &p.closed {
                return Err(IpcError::Closed { addr: s.addr.clone(), reason: reason.clone() });
            }
            p.calls.insert(call_id, tx);
        }
        let bytes = frame::call_frame(call_id, &s.client_id, 0, method, &s.protocol, s.protocol_version, request);
        tracing::trace!(addr = %s.addr, method, call_id, len = bytes.len(), "IPC call");
        if s.outgoing.send(bytes).is_err() {
            s.pending.lock().unwrap_or_else(|e| e.into_inner()).calls.remove(&call_id);
            return Err(IpcError::Closed { addr: s.addr.clone(), reason: "writer stopped".into() });
        }
        let outcome = match s.call_timeout {
            Some(limit) => match tokio::time::timeout(limit, rx).await {
                Ok(r) => r,
                Err(_) => {
                    s.pending.lock().unwrap_or_else(|e| e.into_inner()).calls.remove(&call_id);
                    return Err(IpcError::CallTimeout {
                        addr: s.addr.clone(),
                        method: method.to_string(),
                        after: limit,
                    });
                }
            },
            None => rx.await,
        };
        let body = match outcome {
            Ok(Ok(body)) => body,
            Ok(Err(CallFailure::Remote(exception))) => {
                return Err(IpcError::Remote { addr: s.addr.clone(), exception })
            }
            Ok(Err(CallFailure::Closed(reason))) => return Err(IpcError::Closed { addr: s.addr.clone(), reason }),
            Err(_) => return Err(IpcError::Closed { addr: s.addr.clone(), reason: "reader stopped".into() }),
        };
        let mut rest = body.as_slice();
        frame::decode_delimited::<Resp>(&mut rest, "response message")
            .map_err(|source| IpcError::Frame { addr: s.addr.clone(), source })
    }
}

async fn writer_loop(
    mut write: OwnedWriteHalf,
    mut frames: tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>,
    mut outgoing: Outgoing,
    shared: Arc<Shared>,
) {
    while let Some(f) = frames.recv().await {
        if let Err(e) = write.write_all(&outgoing.frame(f)).await {
            tracing::debug!(addr = %shared.addr, error = %e, "IPC write failed");
            shared.close(format!("write failed: {e}"));
            return;
        }
    }
}

async fn reader_loop(mut read: OwnedReadHalf, mut incoming: Incoming, shared: Arc<Shared>) {
    let reason = loop {
        let body = match incoming.next_frame(&mut read, &shared.addr).await {
            Ok(b) => b,
            Err(e) => break format!("{e}"),
        };
        let (header, rest) = match frame::decode_response(&body) {
            Ok(x) => x,
            Err(e) => break format!("undecodable response: {e}"),
        };
        let call_id = header.call_id as i32;
        let result = if header.status == RpcStatusProto::Success as i32 {
            Ok(rest.to_vec())
        } else {
            Err(CallFailure::Remote(sasl::remote_exception(&header)))
        };
        let fatal = header.status == RpcStatusProto::Fatal as i32;
        let tx = shared.pending.lock().unwrap_or_else(|e| e.into_inner()).calls.remove(&call_id);
        match tx {
            Some(tx) => {
                let _ = tx.send(result);
            }
            None => {
                tracing::warn!(addr = %shared.addr, call_id, "IPC response for an unknown call id");
                if fatal {
                    let e = sasl::remote_exception(&header);
                    break format!("server sent a fatal error: {e}");
                }
            }
        }
        if fatal {
            break "server reported a fatal error and closes the connection".to_string();
        }
    };
    tracing::debug!(addr = %shared.addr, %reason, "IPC connection closed");
    shared.close(reason);
}
