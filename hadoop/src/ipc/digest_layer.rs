//! The DIGEST-MD5 security layer (RFC 2831 §2.3 integrity, §2.4 confidentiality)
//! as Java's `com.sun.security.sasl.digest.DigestMD5Base` (`DigestIntegrity`,
//! `DigestPrivacy`) implements it, the peer of every Hadoop server.
//!
//! Keys derive from the session key H(A1) (16 bytes, the binary MD5 of A1):
//! - integrity: `Kic = MD5(H(A1) + "Digest session key to client-to-server signing key magic constant")`,
//!   `Kis` likewise with `server-to-client`;
//! - confidentiality: `Kcc = MD5(H(A1)[..n] + "Digest H(A1) to client-to-server sealing key magic constant")`,
//!   `Kcs` likewise, `n` from [`DigestCipher::session_key_bytes`].
//!
//! Wire layouts (`SeqNum` is a big-endian `u32` counting from 0 in each direction,
//! `MAC = HMAC-MD5(Ki, SeqNum + msg)[..10]`, message type `0x0001`):
//! - `auth-int`: `msg | MAC | 0x0001 | SeqNum`;
//! - `auth-conf`: `CIPHER(Kc, msg | pad | MAC) | 0x0001 | SeqNum`, where block ciphers
//!   pad with 1..=8 bytes each holding the pad length, and the cipher state (RC4's
//!   key stream, CBC's chaining block) runs on across messages. DES keys take 7
//!   bytes of Kc each, spread over 8 bytes with odd parity; the CBC IV is `Kc[8..16]`.
//!
//! The client seals with Kic/Kcc and opens with Kis/Kcs; [`Role::Server`] swaps them
//! (for tests that play the server).

use cbc::cipher::{Array, BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use hmac::{KeyInit, Mac};
use md5::{Digest, Md5};
use rc4::StreamCipher;

use super::qop::DigestCipher;

type HmacMd5 = hmac::Hmac<Md5>;

const CLIENT_SIGN_MAGIC: &[u8] = b"Digest session key to client-to-server signing key magic constant";
const SERVER_SIGN_MAGIC: &[u8] = b"Digest session key to server-to-client signing key magic constant";
const CLIENT_SEAL_MAGIC: &[u8] = b"Digest H(A1) to client-to-server sealing key magic constant";
const SERVER_SEAL_MAGIC: &[u8] = b"Digest H(A1) to server-to-client sealing key magic constant";

/// Bytes of the truncated HMAC-MD5 in each message.
pub const MAC_LEN: usize = 10;
/// Bytes after the (encrypted) body: message type (2) and sequence number (4).
pub const TRAILER_LEN: usize = 6;
/// The message type of every wrapped message.
pub const MESSAGE_TYPE: [u8; 2] = [0x00, 0x01];

/// Which side of the exchange this layer is (decides which keys seal and which open).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Seals with the client-to-server keys.
    Client,
    /// Seals with the server-to-client keys.
    Server,
}

/// Why an incoming message could not be opened. The connection must be dropped:
/// the sequence numbers and the cipher state are no longer in step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayerError {
    /// The message is shorter than its fixed parts.
    #[error("wrapped message of {len} bytes is shorter than its {min}-byte minimum")]
    TooShort {
        /// Bytes received.
        len: usize,
        /// Bytes needed.
        min: usize,
    },
    /// The encrypted part is not a whole number of cipher blocks.
    #[error("encrypted part of {len} bytes is not a multiple of the {block}-byte cipher block")]
    BlockSize {
        /// Encrypted bytes.
        len: usize,
        /// Block size.
        block: usize,
    },
    /// The padding after decryption is not 1..=block size bytes of its own length.
    #[error("bad padding after decryption (last byte {0}): wrong key or tampered message")]
    BadPadding(u8),
    /// The MAC does not match: wrong key, or the message was altered.
    #[error("integrity check failed for message {seq}: MAC does not match")]
    BadMac {
        /// The message's sequence number.
        seq: u32,
    },
    /// The message type is not `0x0001`.
    #[error("wrapped message has type {0:#06x}, expected 0x0001")]
    BadType(u16),
    /// A message was lost, replayed or reordered.
    #[error("wrapped message out of sequence: got {got}, expected {expected}")]
    OutOfOrder {
        /// The sequence number received.
        got: u32,
        /// The one expected.
        expected: u32,
    },
}

fn md5_of(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// The integrity keys `(Kic, Kis)` from the session key H(A1).
pub fn integrity_keys(h_a1: &[u8; 16]) -> ([u8; 16], [u8; 16]) {
    (md5_of(&[h_a1, CLIENT_SIGN_MAGIC]), md5_of(&[h_a1, SERVER_SIGN_MAGIC]))
}

/// The sealing keys `(Kcc, Kcs)` for `cipher` from the session key H(A1).
pub fn sealing_keys(h_a1: &[u8; 16], cipher: DigestCipher) -> ([u8; 16], [u8; 16]) {
    let n = cipher.session_key_bytes();
    (md5_of(&[&h_a1[..n], CLIENT_SEAL_MAGIC]), md5_of(&[&h_a1[..n], SERVER_SEAL_MAGIC]))
}

/// Spreads 7 key bytes (56 bits) over 8 bytes, 7 bits each in the high bits, and
/// sets each byte's low bit for odd parity (`DigestMD5Base#addDesParity`).
pub fn des_key_with_parity(seven: &[u8; 7]) -> [u8; 8] {
    let mut bits = 0u64;
    for b in seven {
        bits = (bits << 8) | u64::from(*b);
    }
    let mut out = [0u8; 8];
    for (i, o) in out.iter_mut().enumerate() {
        let b = (((bits >> (7 * (7 - i))) & 0x7f) as u8) << 1;
        *o = b | ((b.count_ones() as u8 & 1) ^ 1);
    }
    out
}

fn seven(k: &[u8; 16], from: usize) -> [u8; 7] {
    let mut s = [0u8; 7];
    s.copy_from_slice(&k[from..from + 7]);
    s
}

/// The 24-byte 3DES-EDE key `K1 | K2 | K1` from Kc (`DigestMD5Base#makeDesKeys`).
fn triple_des_key(kc: &[u8; 16]) -> [u8; 24] {
    let k1 = des_key_with_parity(&seven(kc, 0));
    let k2 = des_key_with_parity(&seven(kc, 7));
    let mut key = [0u8; 24];
    key[..8].copy_from_slice(&k1);
    key[8..16].copy_from_slice(&k2);
    key[16..].copy_from_slice(&k1);
    key
}

fn mac(ki: &[u8; 16], seq: u32, msg: &[u8]) -> [u8; MAC_LEN] {
    // HMAC takes keys of any length: this cannot fail for 16 bytes.
    let mut m = <HmacMd5 as KeyInit>::new_from_slice(ki).expect("HMAC-MD5 accepts a 16-byte key");
    m.update(&seq.to_be_bytes());
    m.update(msg);
    let full = m.finalize().into_bytes();
    let mut out = [0u8; MAC_LEN];
    out.copy_from_slice(&full[..MAC_LEN]);
    out
}

enum Encrypt {
    Rc4(Box<rc4::Rc4>),
    Des(Box<cbc::Encryptor<des::Des>>),
    TripleDes(Box<cbc::Encryptor<des::TdesEde3>>),
}

enum Decrypt {
    Rc4(Box<rc4::Rc4>),
    Des(Box<cbc::Decryptor<des::Des>>),
    TripleDes(Box<cbc::Decryptor<des::TdesEde3>>),
}

fn rc4_of(kc: &[u8; 16]) -> Box<rc4::Rc4> {
    // RC4 takes keys of 1..=256 bytes: 16 always fits.
    Box::new(<rc4::Rc4 as rc4::KeyInit>::new_from_slice(kc).expect("RC4 accepts a 16-byte key"))
}

fn blocks(buf: &mut [u8]) -> &mut [Array<u8, cbc::cipher::consts::U8>] {
    let (blocks, rest) = Array::<u8, cbc::cipher::consts::U8>::slice_as_chunks_mut(buf);
    debug_assert!(rest.is_empty(), "callers pass whole blocks");
    blocks
}

impl Encrypt {
    fn new(cipher: DigestCipher, kc: &[u8; 16]) -> Self {
        let iv = &kc[8..16];
        // Key and IV lengths are fixed by construction (8/24-byte keys, 8-byte IV).
        match cipher {
            DigestCipher::Rc4 | DigestCipher::Rc4_56 | DigestCipher::Rc4_40 => Encrypt::Rc4(rc4_of(kc)),
            DigestCipher::Des => Encrypt::Des(Box::new(
                cbc::Encryptor::new_from_slices(&des_key_with_parity(&seven(kc, 0)), iv).expect("DES key and IV sizes"),
            )),
            DigestCipher::TripleDes => Encrypt::TripleDes(Box::new(
                cbc::Encryptor::new_from_slices(&triple_des_key(kc), iv).expect("3DES key and IV sizes"),
            )),
        }
    }

    /// Encrypts in place; block ciphers get whole blocks.
    fn apply(&mut self, buf: &mut [u8]) {
        match self {
            Encrypt::Rc4(c) => c.apply_keystream(buf),
            Encrypt::Des(c) => c.encrypt_blocks(blocks(buf)),
            Encrypt::TripleDes(c) => c.encrypt_blocks(blocks(buf)),
        }
    }
}

impl Decrypt {
    fn new(cipher: DigestCipher, kc: &[u8; 16]) -> Self {
        let iv = &kc[8..16];
        match cipher {
            DigestCipher::Rc4 | DigestCipher::Rc4_56 | DigestCipher::Rc4_40 => Decrypt::Rc4(rc4_of(kc)),
            DigestCipher::Des => Decrypt::Des(Box::new(
                cbc::Decryptor::new_from_slices(&des_key_with_parity(&seven(kc, 0)), iv).expect("DES key and IV sizes"),
            )),
            DigestCipher::TripleDes => Decrypt::TripleDes(Box::new(
                cbc::Decryptor::new_from_slices(&triple_des_key(kc), iv).expect("3DES key and IV sizes"),
            )),
        }
    }

    fn apply(&mut self, buf: &mut [u8]) {
        match self {
            Decrypt::Rc4(c) => c.apply_keystream(buf),
            Decrypt::Des(c) => c.decrypt_blocks(blocks(buf)),
            Decrypt::TripleDes(c) => c.decrypt_blocks(blocks(buf)),
        }
    }
}

/// The sending half: wraps outgoing messages (`SaslClient#wrap`).
pub struct LayerSender {
    ki: [u8; 16],
    seq: u32,
    cipher: Option<(DigestCipher, Encrypt)>,
}

/// The receiving half: opens incoming messages (`SaslClient#unwrap`).
pub struct LayerReceiver {
    ki: [u8; 16],
    seq: u32,
    cipher: Option<(DigestCipher, Decrypt)>,
}

impl std::fmt::Debug for LayerSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LayerSender")
            .field("seq", &self.seq)
            .field("cipher", &self.cipher.as_ref().map(|c| c.0))
            .finish()
    }
}

impl std::fmt::Debug for LayerReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LayerReceiver")
            .field("seq", &self.seq)
            .field("cipher", &self.cipher.as_ref().map(|c| c.0))
            .finish()
    }
}

/// The security layer of one authenticated connection: its two halves are
/// independent (each keeps its own sequence number and cipher state), so a
/// writer task and a reader task can own one each.
#[derive(Debug)]
pub struct SecurityLayer {
    /// Wraps what this side sends.
    pub sender: LayerSender,
    /// Opens what the peer sends.
    pub receiver: LayerReceiver,
}

impl SecurityLayer {
    /// The `auth-int` layer for session key `h_a1`.
    pub fn integrity(h_a1: &[u8; 16], role: Role) -> Self {
        let (kic, kis) = integrity_keys(h_a1);
        let (mine, peer) = match role {
            Role::Client => (kic, kis),
            Role::Server => (kis, kic),
        };
        SecurityLayer {
            sender: LayerSender { ki: mine, seq: 0, cipher: None },
            receiver: LayerReceiver { ki: peer, seq: 0, cipher: None },
        }
    }

    /// The `auth-conf` layer for session key `h_a1` and `cipher`.
    pub fn privacy(h_a1: &[u8; 16], cipher: DigestCipher, role: Role) -> Self {
        let mut layer = Self::integrity(h_a1, role);
        let (kcc, kcs) = sealing_keys(h_a1, cipher);
        let (mine, peer) = match role {
            Role::Client => (kcc, kcs),
            Role::Server => (kcs, kcc),
        };
        layer.sender.cipher = Some((cipher, Encrypt::new(cipher, &mine)));
        layer.receiver.cipher = Some((cipher, Decrypt::new(cipher, &peer)));
        layer
    }
}

impl LayerSender {
    /// The cipher in use (`None` for `auth-int`).
    pub fn cipher(&self) -> Option<DigestCipher> {
        self.cipher.as_ref().map(|c| c.0)
    }

    /// Bytes [`Self::wrap`] adds to a message of `len` bytes.
    pub fn overhead(&self, len: usize) -> usize {
        let block = self.cipher().map_or(1, DigestCipher::block_size);
        let pad = if block > 1 { block - (len + MAC_LEN) % block } else { 0 };
        pad + MAC_LEN + TRAILER_LEN
    }

    /// Wraps `msg` into `out` (appended), then advances the sequence number.
    /// An empty message wraps to nothing, as in Java.
    pub fn wrap_into(&mut self, msg: &[u8], out: &mut Vec<u8>) {
        if msg.is_empty() {
            return;
        }
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        let mac = mac(&self.ki, seq, msg);
        out.reserve(msg.len() + self.overhead(msg.len()));
        let start = out.len();
        out.extend_from_slice(msg);
        if let Some((cipher, enc)) = &mut self.cipher {
            let block = cipher.block_size();
            if block > 1 {
                let pad = block - (msg.len() + MAC_LEN) % block;
                out.resize(out.len() + pad, pad as u8);
            }
            out.extend_from_slice(&mac);
            enc.apply(&mut out[start..]);
        } else {
            out.extend_from_slice(&mac);
        }
        out.extend_from_slice(&MESSAGE_TYPE);
        out.extend_from_slice(&seq.to_be_bytes());
    }

    /// Wraps `msg` into a new buffer.
    pub fn wrap(&mut self, msg: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        self.wrap_into(msg, &mut out);
        out
    }
}

impl LayerReceiver {
    /// Opens a wrapped message: decrypts (auth-conf), checks padding, the MAC,
    /// the message type and the sequence number, then advances it.
    ///
    /// Errors: [`LayerError`]; after one the layer is out of step with the peer.
    pub fn unwrap(&mut self, wrapped: &[u8]) -> Result<Vec<u8>, LayerError> {
        if wrapped.is_empty() {
            return Ok(Vec::new());
        }
        let min = MAC_LEN + TRAILER_LEN;
        if wrapped.len() < min {
            return Err(LayerError::TooShort { len: wrapped.len(), min });
        }
        let (body, trailer) = wrapped.split_at(wrapped.len() - TRAILER_LEN);
        let msg_type = u16::from_be_bytes([trailer[0], trailer[1]]);
        let seq = u32::from_be_bytes([trailer[2], trailer[3], trailer[4], trailer[5]]);
        let mut body = body.to_vec();
        let msg_len = match &mut self.cipher {
            None => body.len() - MAC_LEN,
            Some((cipher, dec)) => {
                let block = cipher.block_size();
                if body.len() % block != 0 {
                    return Err(LayerError::BlockSize { len: body.len(), block });
                }
                dec.apply(&mut body);
                let padded = body.len() - MAC_LEN;
                if block > 1 {
                    let pad = *body[..padded].last().ok_or(LayerError::BadPadding(0))?;
                    let p = pad as usize;
                    if p == 0 || p > block || p > padded || body[padded - p..padded].iter().any(|b| *b != pad) {
                        return Err(LayerError::BadPadding(pad));
                    }
                    padded - p
                } else {
                    padded
                }
            }
        };
        let got_mac = &body[body.len() - MAC_LEN..];
        let expected = mac(&self.ki, seq, &body[..msg_len]);
        // Not secret-dependent timing that matters here: a mismatch ends the connection.
        if got_mac != expected {
            return Err(LayerError::BadMac { seq });
        }
        if seq != self.seq {
            return Err(LayerError::OutOfOrder { got: seq, expected: self.seq });
        }
        if msg_type != 1 {
            return Err(LayerError::BadType(msg_type));
        }
        self.seq = self.seq.wrapping_add(1);
        body.truncate(msg_len);
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H_A1: [u8; 16] =
        [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10];

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// Expected values computed independently with Python's hashlib/hmac.
    #[test]
    fn key_derivation_known_answers() {
        let (kic, kis) = integrity_keys(&H_A1);
        assert_eq!(hex(&kic), KIC);
        assert_eq!(hex(&kis), KIS);
        let (kcc, kcs) = sealing_keys(&H_A1, DigestCipher::TripleDes);
        assert_eq!(hex(&kcc), KCC_16);
        assert_eq!(hex(&kcs), KCS_16);
        assert_eq!(sealing_keys(&H_A1, DigestCipher::Rc4), (kcc, kcs));
        let (kcc40, _) = sealing_keys(&H_A1, DigestCipher::Rc4_40);
        assert_eq!(hex(&kcc40), KCC_5);
        let (kcc56, _) = sealing_keys(&H_A1, DigestCipher::Rc4_56);
        assert_eq!(hex(&kcc56), KCC_7);
    }

    const KIC: &str = "a7e5f2dac73fdb3c0333af72f67505ff";
    const KIS: &str = "ef5c917f1fa249363ffad283afc7df85";
    const KCC_16: &str = "30974247d0443689a5057e8b034bbe1f";
    const KCS_16: &str = "3b904699885d08b744991a2e776b116c";
    const KCC_5: &str = "9219a0c0ab3217f87d5cf50101977b34";
    const KCC_7: &str = "8b7f39443bfe6d50105318f613e7e3b4";
    const INT_WRAP_0: &str = "68656c6c6f9bdc341be07ec1ca8edc000100000000";

    #[test]
    fn integrity_wrap_known_answer() {
        let mut layer = SecurityLayer::integrity(&H_A1, Role::Client);
        let w = layer.sender.wrap(b"hello");
        assert_eq!(hex(&w), INT_WRAP_0);
        assert_eq!(w.len(), 5 + 16);
        assert_eq!(&w[15..], &[0, 1, 0, 0, 0, 0]);
        let w1 = layer.sender.wrap(b"hello");
        assert_eq!(&w1[17..], &[0, 0, 0, 1], "sequence number advances");
        assert_ne!(w[5..15], w1[5..15], "the MAC covers the sequence number");
    }

    /// First message of each cipher; expected values from OpenSSL (`des-ede-cbc`,
    /// `-nopad`) and a Python RC4, on the layout in the module docs.
    #[test]
    fn privacy_wrap_known_answers() {
        let mut l = SecurityLayer::privacy(&H_A1, DigestCipher::TripleDes, Role::Client);
        assert_eq!(hex(&l.sender.wrap(b"hello")), "2499e38ae3ff384ab09a9168b77b1112000100000000");
        let mut l = SecurityLayer::privacy(&H_A1, DigestCipher::Rc4, Role::Client);
        assert_eq!(hex(&l.sender.wrap(b"hello")), "eeb1f9dfe929d6fa0a001483060c02000100000000");
    }

    #[test]
    fn des_parity_spreads_seven_bits_per_byte() {
        // 56 one bits: every byte 0xfe + odd parity => 0xfe has 7 ones, parity bit 0.
        assert_eq!(des_key_with_parity(&[0xff; 7]), [0xfe; 8]);
        // All zero: every byte gets the parity bit.
        assert_eq!(des_key_with_parity(&[0; 7]), [0x01; 8]);
        // 0x80 then zeros: the first 7 bits 1000000 -> 0x80, + parity 0 (one bit set).
        assert_eq!(des_key_with_parity(&[0x80, 0, 0, 0, 0, 0, 0]), [0x80, 1, 1, 1, 1, 1, 1, 1]);
        // Last bit set: lands in the top of the last byte's 7 bits: 0000001 -> 0x02, parity 0.
        assert_eq!(des_key_with_parity(&[0, 0, 0, 0, 0, 0, 1]), [1, 1, 1, 1, 1, 1, 1, 0x02]);
    }

    fn round_trip(client: &mut SecurityLayer, server: &mut SecurityLayer) {
        for (i, len) in [1usize, 5, 6, 7, 8, 13, 14, 100, 4096].into_iter().enumerate() {
            let msg: Vec<u8> = (0..len).map(|j| (i * 31 + j) as u8).collect();
            let w = client.sender.wrap(&msg);
            assert_eq!(w.len(), len + client.sender.overhead(len));
            if client.sender.cipher().is_some() {
                assert!(!w.windows(len.min(5)).any(|win| len >= 5 && win == &msg[..5]), "plaintext visible");
            }
            assert_eq!(server.receiver.unwrap(&w).unwrap(), msg);
            let r = server.sender.wrap(&msg);
            assert_eq!(client.receiver.unwrap(&r).unwrap(), msg);
        }
    }

    #[test]
    fn every_cipher_round_trips_both_ways() {
        for c in DigestCipher::PREFERENCE {
            let mut client = SecurityLayer::privacy(&H_A1, c, Role::Client);
            let mut server = SecurityLayer::privacy(&H_A1, c, Role::Server);
            round_trip(&mut client, &mut server);
        }
        let mut client = SecurityLayer::integrity(&H_A1, Role::Client);
        let mut server = SecurityLayer::integrity(&H_A1, Role::Server);
        round_trip(&mut client, &mut server);
    }

    #[test]
    fn block_cipher_padding_is_one_to_eight_bytes() {
        let l = SecurityLayer::privacy(&H_A1, DigestCipher::TripleDes, Role::Client);
        // len + 10 already a multiple of 8: a whole block of padding.
        assert_eq!(l.sender.overhead(6), 8 + 16);
        assert_eq!(l.sender.overhead(7), 7 + 16);
        let r = SecurityLayer::privacy(&H_A1, DigestCipher::Rc4, Role::Client);
        assert_eq!(r.sender.overhead(7), 16);
    }

    #[test]
    fn tampering_replay_and_reordering_are_refused() {
        for c in [None, Some(DigestCipher::TripleDes), Some(DigestCipher::Rc4)] {
            let make = |role| match c {
                None => SecurityLayer::integrity(&H_A1, role),
                Some(c) => SecurityLayer::privacy(&H_A1, c, role),
            };
            let (mut client, mut server) = (make(Role::Client), make(Role::Server));
            let mut w = client.sender.wrap(b"attack at dawn");
            w[0] ^= 1;
            assert!(server.receiver.unwrap(&w).is_err(), "{c:?}: flipped bit accepted");

            let (mut client, mut server) = (make(Role::Client), make(Role::Server));
            let w0 = client.sender.wrap(b"first");
            let w1 = client.sender.wrap(b"second");
            assert!(server.receiver.unwrap(&w1).is_err(), "{c:?}: skipped message accepted");

            let (mut client, mut server) = (make(Role::Client), make(Role::Server));
            let w0b = client.sender.wrap(b"first");
            assert_eq!(server.receiver.unwrap(&w0b).unwrap(), b"first");
            assert!(server.receiver.unwrap(&w0b).is_err(), "{c:?}: replay accepted");
            let _ = (w0, w1);

            // A message sealed by the wrong side (client keys read as client keys).
            let (mut a, mut b) = (make(Role::Client), make(Role::Client));
            let w = a.sender.wrap(b"mirror");
            assert!(b.receiver.unwrap(&w).is_err(), "{c:?}: own keys accepted as the peer's");
        }
        let mut l = SecurityLayer::integrity(&H_A1, Role::Client);
        assert_eq!(l.receiver.unwrap(&[0; 15]), Err(LayerError::TooShort { len: 15, min: 16 }));
        let mut p = SecurityLayer::privacy(&H_A1, DigestCipher::Des, Role::Client);
        assert!(matches!(p.receiver.unwrap(&[0; 23]), Err(LayerError::BlockSize { len: 17, block: 8 })));
    }

    #[test]
    fn random_input_never_panics() {
        let mut seed = 0x1234_5678_9abc_def0_u64;
        for c in DigestCipher::PREFERENCE {
            let mut l = SecurityLayer::privacy(&H_A1, c, Role::Client);
            for _ in 0..500 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let len = (seed % 64) as usize;
                let bytes: Vec<u8> = (0..len).map(|i| (seed.rotate_left(i as u32 * 3) & 0xff) as u8).collect();
                let _ = l.receiver.unwrap(&bytes);
            }
        }
    }
}
