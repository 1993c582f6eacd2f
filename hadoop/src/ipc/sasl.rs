//! SASL negotiation of a Hadoop IPC connection (`SaslRpcClient#saslConnect`).
//!
//! All messages are `RpcSaslProto` frames with call id -33. The client sends
//! `NEGOTIATE`; the server lists its `SaslAuth`s (method, mechanism,
//! protocol, server id and, for DIGEST-MD5, the first challenge). The client
//! picks `TOKEN`/`DIGEST-MD5` when it holds a token, else `SIMPLE`, and sends
//! `INITIATE` with its response and the chosen auth (challenge removed); the
//! server answers `CHALLENGE` (client replies `RESPONSE`) or `SUCCESS` with
//! `rspauth`, which the client verifies. A server that only allows SIMPLE
//! answers the first `NEGOTIATE` with `SUCCESS` straight away.
//!
//! With qop `auth-int` or `auth-conf` the outcome carries the
//! [`SecurityLayer`] that wraps everything the connection sends afterwards
//! (see [`super::wrap`]).

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::digest::DigestMd5Client;
use super::digest_layer::SecurityLayer;
use super::frame::{self, SASL_CALL_ID};
use super::qop::{Qop, RpcProtection};
use super::{IpcError, RemoteException};
use crate::proto::common::{
    rpc_response_header_proto::{RpcErrorCodeProto, RpcStatusProto},
    rpc_sasl_proto::{SaslAuth, SaslState},
    RpcResponseHeaderProto, RpcSaslProto,
};
use crate::token::Token;

/// How the connection ended up authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Negotiated {
    /// DIGEST-MD5 with the token; the server knows who we are.
    Token,
    /// The server accepted SIMPLE: the user name goes in the connection context.
    Simple,
}

/// The result of a SASL exchange.
#[derive(Debug)]
pub struct SaslOutcome {
    /// How the connection is authenticated.
    pub negotiated: Negotiated,
    /// The negotiated qop (`auth` for SIMPLE).
    pub qop: Qop,
    /// The layer wrapping later messages, for `auth-int` and `auth-conf`.
    pub layer: Option<SecurityLayer>,
}

/// Turns an error response header into a [`RemoteException`].
pub fn remote_exception(h: &RpcResponseHeaderProto) -> RemoteException {
    RemoteException {
        class_name: h.exception_class_name().to_string(),
        message: h.error_msg().to_string(),
        error_code: h
            .error_detail
            .and_then(|c| RpcErrorCodeProto::try_from(c).ok())
            .map(|c| c.as_str_name().to_string()),
        fatal: h.status == RpcStatusProto::Fatal as i32,
    }
}

async fn send<S: AsyncWrite + Unpin>(s: &mut S, addr: &str, m: &RpcSaslProto) -> Result<(), IpcError> {
    let f = frame::control_frame(SASL_CALL_ID, &[], m);
    s.write_all(&f).await.map_err(|source| IpcError::Io { addr: addr.to_string(), source })
}

fn reply(state: SaslState, token: Option<Vec<u8>>, auths: Vec<SaslAuth>) -> RpcSaslProto {
    RpcSaslProto { version: None, state: state as i32, token, auths }
}

/// Runs the SASL exchange on a stream that has just sent the SASL preamble,
/// accepting the qops of `protection`.
///
/// Errors: [`IpcError::Remote`] when the server rejects us (e.g.
/// `javax.security.sasl.SaslException` / `InvalidToken`), [`IpcError::Sasl`]
/// on a digest failure or when the server offers no qop or cipher the client
/// accepts (one line naming the offer and `hadoop.rpc.protection`),
/// [`IpcError::NoAuthMethod`] when nothing usable is offered.
pub async fn negotiate<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    addr: &str,
    token: Option<&Token>,
    protection: &RpcProtection,
) -> Result<SaslOutcome, IpcError> {
    let simple_outcome = || SaslOutcome { negotiated: Negotiated::Simple, qop: Qop::Auth, layer: None };
    let sasl_err = |reason: String| IpcError::Sasl { addr: addr.to_string(), reason };
    send(stream, addr, &reply(SaslState::Negotiate, None, vec![])).await?;
    let mut client: Option<DigestMd5Client> = None;
    for _round in 0..8 {
        let body = frame::read_frame(stream, addr).await?;
        let (header, mut rest) =
            frame::decode_response(&body).map_err(|source| IpcError::Frame { addr: addr.to_string(), source })?;
        if header.status != RpcStatusProto::Success as i32 {
            return Err(IpcError::Remote { addr: addr.to_string(), exception: remote_exception(&header) });
        }
        if header.call_id as i32 != SASL_CALL_ID {
            return Err(IpcError::Protocol {
                addr: addr.to_string(),
                reason: format!("expected a SASL reply (call id -33), got call id {}", header.call_id as i32),
            });
        }
        let msg: RpcSaslProto = frame::decode_delimited(&mut rest, "RpcSaslProto")
            .map_err(|source| IpcError::Frame { addr: addr.to_string(), source })?;
        tracing::trace!(addr, state = msg.state, auths = ?msg.auths.iter().map(|a| (&a.method, &a.mechanism, a.protocol(), a.server_id())).collect::<Vec<_>>(), token_len = msg.token().len(), "SASL message from server");
        match SaslState::try_from(msg.state) {
            Ok(SaslState::Success) => {
                return match client.as_mut() {
                    Some(c) => {
                        c.verify_final(msg.token()).map_err(|e| sasl_err(e.to_string()))?;
                        let layer = c.security_layer().map_err(|e| sasl_err(e.to_string()))?;
                        let qop = c.qop().unwrap_or(Qop::Auth);
                        tracing::debug!(addr, %qop, cipher = ?c.cipher(), "SASL TOKEN/DIGEST-MD5 authentication succeeded");
                        Ok(SaslOutcome { negotiated: Negotiated::Token, qop, layer })
                    }
                    None => {
                        tracing::debug!(addr, "server switched the connection to SIMPLE auth");
                        Ok(simple_outcome())
                    }
                };
            }
            Ok(SaslState::Negotiate) => {
                let digest = msg.auths.iter().find(|a| a.method == "TOKEN" && a.mechanism == "DIGEST-MD5");
                let simple = msg.auths.iter().find(|a| a.method == "SIMPLE");
                match (digest, token, simple) {
                    (Some(auth), Some(tok), _) => {
                        let mut c = DigestMd5Client::for_token(
                            &tok.identifier,
                            &tok.password,
                            auth.protocol(),
                            auth.server_id(),
                        )
                        .with_protection(protection.clone());
                        let mut chosen = auth.clone();
                        let response = match chosen.challenge.take() {
                            Some(ch) => c.respond(&ch).map_err(|e| sasl_err(e.to_string()))?,
                            None => Vec::new(),
                        };
                        client = Some(c);
                        send(stream, addr, &reply(SaslState::Initiate, Some(response), vec![chosen])).await?;
                    }
                    (_, _, Some(auth)) => {
                        // SIMPLE: tell the server and do not wait for an answer.
                        send(stream, addr, &reply(SaslState::Initiate, None, vec![auth.clone()])).await?;
                        tracing::debug!(addr, "negotiated SIMPLE auth");
                        return Ok(simple_outcome());
                    }
                    _ => {
                        return Err(IpcError::NoAuthMethod {
                            addr: addr.to_string(),
                            offered: msg.auths.iter().map(|a| format!("{}/{}", a.method, a.mechanism)).collect(),
                            have_token: token.is_some(),
                        })
                    }
                }
            }
            Ok(SaslState::Challenge) => {
                let c = client.as_mut().ok_or_else(|| sasl_err("CHALLENGE before a mechanism was chosen".into()))?;
                let response = c.respond(msg.token()).map_err(|e| sasl_err(e.to_string()))?;
                send(stream, addr, &reply(SaslState::Response, Some(response), vec![])).await?;
            }
            other => {
                return Err(sasl_err(format!("unexpected SASL state {other:?} from server")));
            }
        }
    }
    Err(sasl_err("SASL exchange did not finish in 8 rounds".into()))
}
