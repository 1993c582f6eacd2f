//! Hadoop's framing of SASL-wrapped RPC traffic, used after a DIGEST-MD5
//! exchange that ended in qop `auth-int` or `auth-conf`
//! (`org.apache.hadoop.security.SaslRpcClient`'s `WrappedOutputStream` and
//! `WrappedInputStream`; `org.apache.hadoop.ipc.Server#wrapWithSasl`).
//!
//! - Out: every frame the client would send (length prefix included: the
//!   connection context, then calls) is wrapped by the [`LayerSender`] and sent
//!   as the token of an `RpcSaslProto { state: WRAP }` in a SASL control frame
//!   (call id -33).
//! - In: every frame from the server must be such a message (response header
//!   call id -33, state `WRAP`); the unwrapped tokens form a byte stream of
//!   ordinary response frames (length prefix included). One token may hold
//!   several frames, and a frame may span tokens.
//!
//! With qop `auth` nothing changes: [`Outgoing::plain`] and [`Incoming::plain`]
//! pass frames through.

use tokio::io::AsyncRead;

use super::digest_layer::{LayerReceiver, LayerSender};
use super::frame::{self, MAX_FRAME_LEN, SASL_CALL_ID};
use super::{IpcError, RemoteException};
use crate::proto::common::{
    rpc_response_header_proto::RpcStatusProto, rpc_sasl_proto::SaslState, RpcResponseHeaderProto, RpcSaslProto,
};

/// A SASL control frame carrying `token` in state `WRAP`.
pub fn wrap_message(token: Vec<u8>) -> Vec<u8> {
    let m = RpcSaslProto { version: None, state: SaslState::Wrap as i32, token: Some(token), auths: vec![] };
    frame::control_frame(SASL_CALL_ID, &[], &m)
}

/// What the connection's writer sends: frames as they are, or wrapped.
#[derive(Debug)]
pub struct Outgoing {
    sender: Option<LayerSender>,
}

impl Outgoing {
    /// Frames go out as they are (qop `auth`, or no SASL).
    pub fn plain() -> Self {
        Outgoing { sender: None }
    }

    /// Frames go out wrapped by `sender`.
    pub fn wrapped(sender: LayerSender) -> Self {
        Outgoing { sender: Some(sender) }
    }

    /// The bytes to write for `frame` (a complete request frame, length prefix
    /// included). Wrapping advances the sequence number: call in send order.
    pub fn frame(&mut self, frame: Vec<u8>) -> Vec<u8> {
        match &mut self.sender {
            None => frame,
            Some(s) => wrap_message(s.wrap(&frame)),
        }
    }
}

/// What the connection's reader receives: frames as they are, or unwrapped
/// from `WRAP` messages.
#[derive(Debug)]
pub struct Incoming {
    receiver: Option<LayerReceiver>,
    /// Unwrapped bytes not yet returned as frames, from `pos` on.
    buf: Vec<u8>,
    pos: usize,
}

fn protocol(addr: &str, reason: String) -> IpcError {
    IpcError::Protocol { addr: addr.to_string(), reason }
}

impl Incoming {
    /// Frames arrive as they are.
    pub fn plain() -> Self {
        Incoming { receiver: None, buf: Vec::new(), pos: 0 }
    }

    /// Frames arrive wrapped; `receiver` opens them.
    pub fn wrapped(receiver: LayerReceiver) -> Self {
        Incoming { receiver: Some(receiver), buf: Vec::new(), pos: 0 }
    }

    /// The body of the next response frame (without its length prefix).
    ///
    /// Errors: those of [`super::frame::read_frame`]; for a wrapped
    /// connection also [`Self::push_packet`]'s and [`Self::take_frame`]'s.
    pub async fn next_frame<S: AsyncRead + Unpin>(&mut self, s: &mut S, addr: &str) -> Result<Vec<u8>, IpcError> {
        if self.receiver.is_none() {
            return super::frame::read_frame(s, addr).await;
        }
        loop {
            if let Some(f) = self.take_frame(addr)? {
                return Ok(f);
            }
            let packet = super::frame::read_frame(s, addr).await?;
            self.push_packet(&packet, addr)?;
        }
    }

    /// Unwraps one frame body from the server (a SASL `WRAP` message) and
    /// appends the plain bytes to the buffer. On a plain connection the body is
    /// buffered as a frame of its own.
    ///
    /// Errors: [`IpcError::Remote`] when the server sent an error instead,
    /// [`IpcError::Protocol`] for a non-wrapped response, a message that does
    /// not decode, or one the security layer refuses (MAC, sequence number).
    pub fn push_packet(&mut self, body: &[u8], addr: &str) -> Result<(), IpcError> {
        let Some(receiver) = self.receiver.as_mut() else {
            self.compact();
            self.buf.extend_from_slice(&(body.len() as u32).to_be_bytes());
            self.buf.extend_from_slice(body);
            return Ok(());
        };
        let (header, mut rest) =
            frame::decode_response(body).map_err(|source| IpcError::Frame { addr: addr.to_string(), source })?;
        let call_id = header.call_id as i32;
        if header.status != RpcStatusProto::Success as i32 {
            return Err(IpcError::Remote { addr: addr.to_string(), exception: exception(&header) });
        }
        if call_id != SASL_CALL_ID {
            return Err(protocol(addr, format!("server sent a non-wrapped response (call id {call_id}) after SASL")));
        }
        let msg: RpcSaslProto = frame::decode_delimited(&mut rest, "RpcSaslProto")
            .map_err(|source| IpcError::Frame { addr: addr.to_string(), source })?;
        if msg.state != SaslState::Wrap as i32 {
            return Err(protocol(addr, format!("expected a SASL WRAP message, got state {}", msg.state)));
        }
        let plain = receiver
            .unwrap(msg.token())
            .map_err(|e| protocol(addr, format!("cannot unwrap a SASL-protected message: {e}")))?;
        self.compact();
        self.buf.extend_from_slice(&plain);
        Ok(())
    }

    /// The next complete frame body from the buffer, if one is there.
    ///
    /// Errors: [`IpcError::Protocol`] for a frame longer than [`MAX_FRAME_LEN`].
    pub fn take_frame(&mut self, addr: &str) -> Result<Option<Vec<u8>>, IpcError> {
        let avail = &self.buf[self.pos..];
        if avail.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([avail[0], avail[1], avail[2], avail[3]]) as usize;
        if len > MAX_FRAME_LEN {
            return Err(protocol(
                addr,
                format!("response frame of {len} bytes exceeds the {MAX_FRAME_LEN}-byte limit"),
            ));
        }
        if avail.len() < 4 + len {
            return Ok(None);
        }
        let body = avail[4..4 + len].to_vec();
        self.pos += 4 + len;
        Ok(Some(body))
    }

    /// Drops the bytes already returned.
    fn compact(&mut self) {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
    }
}

fn exception(h: &RpcResponseHeaderProto) -> RemoteException {
    super::sasl::remote_exception(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipc::digest_layer::{Role, SecurityLayer};
    use crate::ipc::qop::DigestCipher;
    use prost::Message;

    const H_A1: [u8; 16] = [7; 16];

    fn response_frame(call_id: u32, payload: &[u8]) -> Vec<u8> {
        let h = RpcResponseHeaderProto { call_id, status: RpcStatusProto::Success as i32, ..Default::default() };
        let mut body = h.encode_length_delimited_to_vec();
        body.extend_from_slice(payload);
        let mut f = (body.len() as u32).to_be_bytes().to_vec();
        f.extend_from_slice(&body);
        f
    }

    /// The frame body of a server WRAP message holding `plain` (as `Server#wrapWithSasl`).
    fn server_wrap(server: &mut SecurityLayer, plain: &[u8]) -> Vec<u8> {
        let f = response_frame(SASL_CALL_ID as u32, &{
            let m = RpcSaslProto {
                version: None,
                state: SaslState::Wrap as i32,
                token: Some(server.sender.wrap(plain)),
                auths: vec![],
            };
            m.encode_length_delimited_to_vec()
        });
        f[4..].to_vec()
    }

    #[test]
    fn outgoing_wraps_into_a_sasl_control_frame() {
        for cipher in [None, Some(DigestCipher::TripleDes)] {
            let layer = |role| match cipher {
                None => SecurityLayer::integrity(&H_A1, role),
                Some(c) => SecurityLayer::privacy(&H_A1, c, role),
            };
            let mut out = Outgoing::wrapped(layer(Role::Client).sender);
            let mut server = layer(Role::Server);
            for i in 0..3u8 {
                let request = vec![0, 0, 0, 3, i, i, i];
                let bytes = out.frame(request.clone());
                let len = u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
                assert_eq!(len, bytes.len() - 4);
                let mut rest = &bytes[4..];
                let h: crate::proto::common::RpcRequestHeaderProto =
                    frame::decode_delimited(&mut rest, "header").unwrap();
                assert_eq!(h.call_id, SASL_CALL_ID);
                assert!(h.client_id.is_empty());
                let m: RpcSaslProto = frame::decode_delimited(&mut rest, "sasl").unwrap();
                assert_eq!(m.state, SaslState::Wrap as i32);
                assert_ne!(m.token(), &request[..], "the token is not the plain frame");
                assert_eq!(server.receiver.unwrap(m.token()).unwrap(), request, "message {i} opens in order");
            }
        }
        assert_eq!(Outgoing::plain().frame(vec![1, 2, 3]), vec![1, 2, 3]);
    }

    #[test]
    fn incoming_splits_several_frames_and_joins_split_ones() {
        let mut server = SecurityLayer::privacy(&H_A1, DigestCipher::Rc4, Role::Server);
        let client = SecurityLayer::privacy(&H_A1, DigestCipher::Rc4, Role::Client);
        let mut inc = Incoming::wrapped(client.receiver);
        let (a, b, c) = (response_frame(1, &[1, 0xaa]), response_frame(2, &[]), response_frame(3, &[9; 300]));
        // Two frames in one token.
        let mut two = a.clone();
        two.extend_from_slice(&b);
        inc.push_packet(&server_wrap(&mut server, &two), "srv:1").unwrap();
        assert_eq!(inc.take_frame("srv:1").unwrap().unwrap(), a[4..]);
        assert_eq!(inc.take_frame("srv:1").unwrap().unwrap(), b[4..]);
        assert_eq!(inc.take_frame("srv:1").unwrap(), None);
        // One frame over three tokens, the cut inside the length prefix.
        for part in [&c[..2], &c[2..100], &c[100..]] {
            assert_eq!(inc.take_frame("srv:1").unwrap(), None);
            inc.push_packet(&server_wrap(&mut server, part), "srv:1").unwrap();
        }
        assert_eq!(inc.take_frame("srv:1").unwrap().unwrap(), c[4..]);
        assert_eq!(inc.take_frame("srv:1").unwrap(), None);
    }

    #[test]
    fn incoming_refuses_plain_tampered_and_oversized() {
        let mk = || {
            (
                SecurityLayer::integrity(&H_A1, Role::Server),
                Incoming::wrapped(SecurityLayer::integrity(&H_A1, Role::Client).receiver),
            )
        };
        let (_, mut inc) = mk();
        let plain = response_frame(0, &[0]);
        let e = inc.push_packet(&plain[4..], "srv:1").unwrap_err().to_string();
        assert!(e.contains("srv:1") && e.contains("non-wrapped"), "{e}");

        let (mut server, mut inc) = mk();
        let mut tampered = server_wrap(&mut server, &response_frame(0, &[5]));
        let n = tampered.len();
        tampered[n - 10] ^= 0x40; // inside the MAC
        let e = inc.push_packet(&tampered, "srv:1").unwrap_err().to_string();
        assert!(e.contains("integrity check failed"), "{e}");

        let (mut server, mut inc) = mk();
        let huge = ((MAX_FRAME_LEN + 1) as u32).to_be_bytes();
        inc.push_packet(&server_wrap(&mut server, &huge), "srv:1").unwrap();
        assert!(inc.take_frame("srv:1").unwrap_err().to_string().contains("exceeds"));

        let (_, mut inc) = mk();
        let err = RpcResponseHeaderProto {
            call_id: 4,
            status: RpcStatusProto::Fatal as i32,
            exception_class_name: Some("org.apache.hadoop.ipc.RpcServerException".into()),
            error_msg: Some("boom".into()),
            ..Default::default()
        };
        let e = inc.push_packet(&err.encode_length_delimited_to_vec(), "srv:1").unwrap_err();
        assert_eq!(e.remote().map(|r| r.fatal), Some(true), "{e}");
    }
}
