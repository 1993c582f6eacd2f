//! Hadoop IPC v9 byte layout (`org.apache.hadoop.ipc.Client`,
//! `org.apache.hadoop.ipc.Server`, `ProtobufRpcEngine2`).
//!
//! - Connection preamble: `"hrpc"`, version `9`, service class, auth protocol
//!   byte (`0` none, `0xDF` = -33 SASL).
//! - Request frame: `u32` big-endian length of the rest, then the
//!   varint-delimited `RpcRequestHeaderProto`, then (for method calls) the
//!   varint-delimited `RequestHeaderProto`, then the varint-delimited request
//!   message. SASL messages (call id -33) and the connection context (call id
//!   -3) carry their message right after the RPC header.
//! - Response frame: `u32` length, varint-delimited `RpcResponseHeaderProto`,
//!   then (on success) the varint-delimited response message.

use prost::Message;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::IpcError;

use crate::proto::common::{
    rpc_request_header_proto::OperationProto, RequestHeaderProto, RpcKindProto, RpcRequestHeaderProto,
    RpcResponseHeaderProto,
};

/// The IPC protocol version rfy speaks (`Server.CURRENT_VERSION`).
pub const IPC_VERSION: u8 = 9;
/// Call id of SASL negotiation messages (`AuthProtocol.SASL.callId`).
pub const SASL_CALL_ID: i32 = -33;
/// Call id of the connection context (`RpcConstants.CONNECTION_CONTEXT_CALL_ID`).
pub const CONNECTION_CONTEXT_CALL_ID: i32 = -3;
/// Call id of a client ping (`RpcConstants.PING_CALL_ID`).
pub const PING_CALL_ID: i32 = -4;
/// Retry count sent on control messages (`RpcConstants.INVALID_RETRY_COUNT`).
pub const INVALID_RETRY_COUNT: i32 = -1;
/// Largest response frame accepted, bytes (Hadoop's
/// `ipc.maximum.response.length` default, 128 MiB).
pub const MAX_FRAME_LEN: usize = 128 << 20;

/// The auth protocol byte of the preamble (`Server.AuthProtocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthProtocol {
    /// No SASL: SIMPLE authentication by the user name in the connection context.
    None,
    /// SASL negotiation follows the preamble.
    Sasl,
}

impl AuthProtocol {
    /// The byte on the wire: 0 or 0xDF (-33).
    pub fn byte(self) -> u8 {
        match self {
            AuthProtocol::None => 0,
            AuthProtocol::Sasl => SASL_CALL_ID as i8 as u8,
        }
    }
}

/// The 7-byte connection preamble for service class 0.
pub fn preamble(auth: AuthProtocol) -> [u8; 7] {
    [b'h', b'r', b'p', b'c', IPC_VERSION, 0, auth.byte()]
}

/// An `RpcRequestHeaderProto` for a protobuf-engine call: kind
/// `RPC_PROTOCOL_BUFFER`, op `RPC_FINAL_PACKET`. The request header's
/// `callId` is a `sint32` (zigzag) on the wire, while the response header's is
/// a `uint32` (the Java `int` reinterpreted).
pub fn rpc_header(call_id: i32, client_id: &[u8], retry_count: i32) -> RpcRequestHeaderProto {
    RpcRequestHeaderProto {
        rpc_kind: Some(RpcKindProto::RpcProtocolBuffer as i32),
        rpc_op: Some(OperationProto::RpcFinalPacket as i32),
        call_id,
        client_id: client_id.to_vec(),
        retry_count: Some(retry_count),
    }
}

fn frame_of(parts: &[Vec<u8>]) -> Vec<u8> {
    let len: usize = parts.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(4 + len);
    out.extend_from_slice(&(len as u32).to_be_bytes());
    for p in parts {
        out.extend_from_slice(p);
    }
    out
}

/// A framed control message (SASL or connection context): length, delimited
/// RPC header, delimited message.
pub fn control_frame(call_id: i32, client_id: &[u8], msg: &impl Message) -> Vec<u8> {
    frame_of(&[
        rpc_header(call_id, client_id, INVALID_RETRY_COUNT).encode_length_delimited_to_vec(),
        msg.encode_length_delimited_to_vec(),
    ])
}

/// A framed method call: length, delimited RPC header, delimited
/// `RequestHeaderProto { methodName, declaringClassProtocolName,
/// clientProtocolVersion }`, delimited request.
pub fn call_frame(
    call_id: i32,
    client_id: &[u8],
    retry_count: i32,
    method: &str,
    protocol: &str,
    protocol_version: u64,
    request: &impl Message,
) -> Vec<u8> {
    let req_header = RequestHeaderProto {
        method_name: method.to_string(),
        declaring_class_protocol_name: protocol.to_string(),
        client_protocol_version: protocol_version,
    };
    frame_of(&[
        rpc_header(call_id, client_id, retry_count).encode_length_delimited_to_vec(),
        req_header.encode_length_delimited_to_vec(),
        request.encode_length_delimited_to_vec(),
    ])
}

/// Bytes reserved up front for a response frame; larger frames grow as they arrive.
const FRAME_PREALLOC: usize = 64 << 10;

/// Reads one response frame (`u32` length + body) and returns the body.
///
/// Errors: [`IpcError::Io`] (including EOF), [`IpcError::Protocol`] for a
/// frame longer than [`MAX_FRAME_LEN`].
pub async fn read_frame<S: AsyncRead + Unpin>(s: &mut S, addr: &str) -> Result<Vec<u8>, IpcError> {
    let io = |source| IpcError::Io { addr: addr.to_string(), source };
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await.map_err(io)?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME_LEN {
        return Err(IpcError::Protocol {
            addr: addr.to_string(),
            reason: format!("response frame of {len} bytes exceeds the {MAX_FRAME_LEN}-byte limit"),
        });
    }
    // Grow with the bytes that arrive, not with the claimed length: a peer
    // that announces 128 MiB and sends nothing costs nothing.
    let mut body = Vec::with_capacity(len.min(FRAME_PREALLOC));
    (&mut *s).take(len as u64).read_to_end(&mut body).await.map_err(io)?;
    if body.len() < len {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("response frame cut short: {} of {len} bytes", body.len()),
        )));
    }
    Ok(body)
}

/// Why a response frame could not be decoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FrameError {
    /// A varint length prefix was missing or malformed.
    #[error("bad varint length prefix for {0}")]
    BadLength(&'static str),
    /// A length prefix pointed past the end of the frame.
    #[error("{what} claims {claimed} bytes but only {available} remain")]
    Truncated {
        /// The part being read.
        what: &'static str,
        /// Its claimed length, bytes.
        claimed: u64,
        /// Bytes left in the frame.
        available: usize,
    },
    /// A protobuf message failed to decode.
    #[error("cannot decode {what}: {source}")]
    Decode {
        /// The message type.
        what: &'static str,
        /// The decoder's error.
        source: prost::DecodeError,
    },
}

/// Splits a varint-delimited part off the front of `buf`.
pub fn take_delimited<'a>(buf: &mut &'a [u8], what: &'static str) -> Result<&'a [u8], FrameError> {
    let len = prost::encoding::decode_varint(buf).map_err(|_| FrameError::BadLength(what))?;
    if len > buf.len() as u64 {
        return Err(FrameError::Truncated { what, claimed: len, available: buf.len() });
    }
    let (head, tail) = buf.split_at(len as usize);
    *buf = tail;
    Ok(head)
}

/// Decodes a varint-delimited message off the front of `buf`.
pub fn decode_delimited<M: Message + Default>(buf: &mut &[u8], what: &'static str) -> Result<M, FrameError> {
    let part = take_delimited(buf, what)?;
    M::decode(part).map_err(|source| FrameError::Decode { what, source })
}

/// Decodes a response frame body (the bytes after the `u32` length) into
/// its header and the remaining bytes (the delimited response message, if any).
pub fn decode_response(frame: &[u8]) -> Result<(RpcResponseHeaderProto, &[u8]), FrameError> {
    let mut buf = frame;
    let header = decode_delimited::<RpcResponseHeaderProto>(&mut buf, "RpcResponseHeaderProto")?;
    Ok((header, buf))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::yarn::AllocateRequestProto;

    #[test]
    fn preamble_bytes() {
        assert_eq!(preamble(AuthProtocol::Sasl), [0x68, 0x72, 0x70, 0x63, 0x09, 0x00, 0xdf]);
        assert_eq!(preamble(AuthProtocol::None), *b"hrpc\x09\x00\x00");
    }

    #[test]
    fn call_frame_exact_bytes() {
        let req = AllocateRequestProto { response_id: Some(1), ..Default::default() };
        let f = call_frame(0, &[0x11; 16], 0, "allocate", "p", 1, &req);
        let mut expected = vec![0x00, 0x00, 0x00, 0x2e];
        // RpcRequestHeaderProto, 26 bytes: rpcKind=2, rpcOp=0, callId=0, clientId, retryCount=0
        expected.extend_from_slice(&[0x1a, 0x08, 0x02, 0x10, 0x00, 0x18, 0x00, 0x22, 0x10]);
        expected.extend_from_slice(&[0x11; 16]);
        expected.extend_from_slice(&[0x28, 0x00]);
        // RequestHeaderProto, 15 bytes
        expected.extend_from_slice(&[0x0f, 0x0a, 0x08]);
        expected.extend_from_slice(b"allocate");
        expected.extend_from_slice(&[0x12, 0x01, b'p', 0x18, 0x01]);
        // AllocateRequestProto { response_id (4) = 1 }
        expected.extend_from_slice(&[0x02, 0x20, 0x01]);
        assert_eq!(f, expected);
    }

    #[test]
    fn sasl_negotiate_exact_bytes() {
        use crate::proto::common::{rpc_sasl_proto::SaslState, RpcSaslProto};
        let m = RpcSaslProto { version: None, state: SaslState::Negotiate as i32, token: None, auths: vec![] };
        let f = control_frame(SASL_CALL_ID, &[], &m);
        // header: kind 2, op 0, callId -33 (sint32, zigzag 65), clientId empty, retry -1 (zigzag 1)
        let expected = vec![
            0x00, 0x00, 0x00, 0x0e, //
            0x0a, 0x08, 0x02, 0x10, 0x00, 0x18, 0x41, 0x22, 0x00, 0x28, 0x01, //
            0x02, 0x10, 0x01,
        ];
        assert_eq!(f, expected);
    }

    #[test]
    fn response_decoding_rejects_garbage() {
        assert!(decode_response(&[]).is_err());
        assert!(decode_response(&[0x05, 0x08]).is_err());
        assert!(decode_response(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]).is_err());
        // header with callId 7, status SUCCESS, then a body part
        let (h, rest) = decode_response(&[0x04, 0x08, 0x07, 0x10, 0x00, 0x00]).unwrap();
        assert_eq!(h.call_id, 7);
        assert_eq!(rest, &[0x00]);
    }

    #[test]
    fn random_response_bytes_never_panic() {
        use crate::proto::common::RpcSaslProto;
        let mut seed = 0xdead_beef_cafe_f00d_u64;
        for _ in 0..5000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 48) as usize;
            let bytes: Vec<u8> = (0..len).map(|i| (seed.rotate_left(i as u32 * 5) & 0xff) as u8).collect();
            if let Ok((_, mut rest)) = decode_response(&bytes) {
                let _ = decode_delimited::<RpcSaslProto>(&mut rest, "sasl");
            }
        }
    }
}
