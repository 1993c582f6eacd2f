//! Property tests of the Hadoop decoders (issue 11, "wire and files"): random
//! bytes and mutations (byte changes, truncation, insertion) of valid inputs
//! are fed to the IPC response-frame decoder, the SASL negotiation (as a
//! server's answers), RemoteException extraction, credentials files in both
//! layouts (Writable and protobuf), URL-encoded tokens and YARN token
//! identifiers. Each must answer `Ok` or an error: never a panic, never a
//! hang, and never an allocation sized by a length read from the input
//! beyond the decoders' limits (a 4-byte frame length claiming 128 MiB with
//! no body must not allocate 128 MiB).
//!
//! Seeded (fixed RNG seed, so a failure reproduces), 10 000 cases per property.

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use prost::Message;
use rfy_hadoop::ipc::digest_layer::{Role, SecurityLayer};
use rfy_hadoop::ipc::frame::{decode_delimited, decode_response, SASL_CALL_ID};
use rfy_hadoop::ipc::sasl::{negotiate, remote_exception};
use rfy_hadoop::ipc::wrap::Incoming;
use rfy_hadoop::ipc::{digest, frame::read_frame, DigestCipher, Qop, RpcProtection};
use rfy_hadoop::proto::common::rpc_sasl_proto::{SaslAuth, SaslState};
use rfy_hadoop::proto::common::{RpcResponseHeaderProto, RpcSaslProto};
use rfy_hadoop::token::ident::{AmRmTokenIdentifier, ContainerTokenIdentifier, NmTokenIdentifier};
use rfy_hadoop::token::{Credentials, Token};

const CASES: u32 = 10_000;

fn config(seed: u64) -> Config {
    Config { cases: CASES, rng_seed: RngSeed::Fixed(seed), failure_persistence: None, ..Config::default() }
}

/// Random bytes, or `base` with up to 8 bytes changed, then possibly cut or
/// extended with random bytes.
fn bytes_like(base: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let n = base.len();
    let random = proptest::collection::vec(any::<u8>(), 0..512);
    let mutated = (
        proptest::collection::vec((0..n.max(1), any::<u8>()), 0..8),
        0..=n,
        proptest::collection::vec(any::<u8>(), 0..16),
        any::<bool>(),
    )
        .prop_map(move |(edits, cut, tail, truncate)| {
            let mut b = base.clone();
            for (i, v) in edits {
                if i < b.len() {
                    b[i] = v;
                }
            }
            if truncate {
                b.truncate(cut);
            } else {
                b.extend_from_slice(&tail);
            }
            b
        });
    prop_oneof![1 => random, 3 => mutated]
}

fn all_qops() -> RpcProtection {
    RpcProtection::of(&[Qop::Auth, Qop::AuthInt, Qop::AuthConf])
}

/// The frame body of a server's SASL WRAP message holding one response frame,
/// sealed with 3DES by the server side of a layer on a fixed session key.
fn wrap_reply() -> Vec<u8> {
    let mut server = SecurityLayer::privacy(&[3; 16], DigestCipher::TripleDes, Role::Server);
    let inner = RpcResponseHeaderProto { call_id: 1, status: 0, ..Default::default() };
    let mut frame = (delimited(&inner).len() as u32).to_be_bytes().to_vec();
    frame.extend(delimited(&inner));
    let m = RpcSaslProto {
        version: None,
        state: SaslState::Wrap as i32,
        token: Some(server.sender.wrap(&frame)),
        auths: vec![],
    };
    let h = RpcResponseHeaderProto { call_id: SASL_CALL_ID as u32, status: 0, ..Default::default() };
    [delimited(&h), delimited(&m)].concat()
}

fn delimited(m: &impl Message) -> Vec<u8> {
    m.encode_length_delimited_to_vec()
}

/// A server's SASL NEGOTIATE answer offering TOKEN/DIGEST-MD5 (frame body, no length).
fn negotiate_reply() -> Vec<u8> {
    let header = RpcResponseHeaderProto { call_id: SASL_CALL_ID as u32, status: 0, ..Default::default() };
    let challenge = b"realm=\"default\",nonce=\"bm9uY2U=\",qop=\"auth\",charset=utf-8,algorithm=md5-sess".to_vec();
    let sasl = RpcSaslProto {
        version: None,
        state: SaslState::Negotiate as i32,
        token: None,
        auths: vec![SaslAuth {
            method: "TOKEN".into(),
            mechanism: "DIGEST-MD5".into(),
            protocol: Some(String::new()),
            server_id: Some("default".into()),
            challenge: Some(challenge),
        }],
    };
    [delimited(&header), delimited(&sasl)].concat()
}

/// An error answer carrying a RemoteException (frame body, no length).
fn error_reply() -> Vec<u8> {
    let header = RpcResponseHeaderProto {
        call_id: 3,
        status: 1,
        exception_class_name: Some("org.apache.hadoop.security.AccessControlException".into()),
        error_msg: Some("Permission denied: user=x, access=WRITE, inode=\"/a\"".into()),
        error_detail: Some(1),
        ..Default::default()
    };
    delimited(&header)
}

fn sample_credentials() -> Credentials {
    let mut c = Credentials::new();
    c.add_token(
        "10.0.0.1:8030",
        Token {
            identifier: vec![0x0a, 0x0c, 0x0a, 0x06, 0x08, 0x01, 0x10, 0x07, 0x10, 0x01, 0x10, 0x01, 0x10, 0x05],
            password: vec![0xde, 0xad, 0xbe, 0xef],
            kind: "YARN_AM_RM_TOKEN".into(),
            service: "10.0.0.1:8030".into(),
        },
    );
    c.add_token(
        "nm",
        Token { identifier: vec![1, 2, 3], password: vec![4; 20], kind: "NMToken".into(), service: "h:1".into() },
    );
    c.add_secret_key("key", vec![1, 2, 3]);
    c
}

fn framed(body: &[u8]) -> Vec<u8> {
    [&(body.len() as u32).to_be_bytes()[..], body].concat()
}

thread_local! {
    static RUNTIME: tokio::runtime::Runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
}

/// Runs `f` on this thread's runtime.
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    RUNTIME.with(|rt| rt.block_on(f))
}

/// The system allocator, recording the largest single allocation per thread,
/// so that a property can check no decoder sized an allocation by a claimed length.
struct Recording;

thread_local! {
    static LARGEST: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn note(size: usize) {
    let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
}

// SAFETY: forwards every call to the system allocator unchanged.
unsafe impl std::alloc::GlobalAlloc for Recording {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        note(layout.size());
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        note(layout.size());
        unsafe { std::alloc::System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { std::alloc::System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Recording = Recording;

/// Largest allocation made by `f` on this thread, bytes.
fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|l| l.set(0));
    let out = f();
    (out, LARGEST.with(|l| l.get()))
}

/// No decoder may allocate more than this for inputs of at most a few hundred bytes.
const ALLOCATION_BOUND: usize = 256 << 10;

proptest! {
    #![proptest_config(config(0x5eed_0001))]
    /// Response frames: header, then a SASL message or a RemoteException.
    #[test]
    fn response_frames_decode_or_error(body in prop_oneof![bytes_like(negotiate_reply()), bytes_like(error_reply())]) {
        let (_, largest) = largest_allocation(|| decode_all_parts(&body));
        prop_assert!(largest <= ALLOCATION_BOUND, "{} bytes allocated for a {}-byte frame", largest, body.len());
    }
}

/// Decodes a response frame body as far as it goes.
fn decode_all_parts(body: &[u8]) {
    if let Ok((header, mut rest)) = decode_response(body) {
        let e = remote_exception(&header);
        let _ = (e.simple_class_name().len(), e.first_line().len());
        if let Ok(sasl) = decode_delimited::<RpcSaslProto>(&mut rest, "RpcSaslProto") {
            for a in &sasl.auths {
                if let Some(c) = &a.challenge {
                    let _ = digest::Challenge::parse(c);
                    let _ = digest::parse_directives(c);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(config(0x5eed_0002))]
    /// Whole server answers (length-prefixed frames) to a SASL negotiation,
    /// with and without a token: an outcome or an error, never a panic or a hang.
    #[test]
    fn sasl_negotiation_survives_any_server(
        first in prop_oneof![bytes_like(negotiate_reply()), bytes_like(error_reply())],
        second in bytes_like(negotiate_reply()),
        raw_length in any::<bool>(),
        with_token in any::<bool>(),
    ) {
        let mut input = if raw_length { first.clone() } else { framed(&first) };
        input.extend(framed(&second));
        let token = Token { identifier: vec![1, 2, 3], password: vec![4, 5], kind: "K".into(), service: "s".into() };
        let (outcome, largest) = largest_allocation(|| block_on(async {
            let mut stream = tokio::io::join(&input[..], tokio::io::sink());
            tokio::time::timeout(
                std::time::Duration::from_secs(5),
                negotiate(&mut stream, "127.0.0.1:1", with_token.then_some(&token), &all_qops()),
            )
            .await
        }));
        prop_assert!(outcome.is_ok(), "negotiation hung");
        prop_assert!(largest <= ALLOCATION_BOUND, "{} bytes allocated", largest);
    }
}

proptest! {
    #![proptest_config(config(0x5eed_0007))]
    /// SASL-wrapped server messages (auth-conf, 3DES): unwrapped or refused,
    /// never a panic, and the frames taken from them bounded by the input.
    #[test]
    fn wrapped_messages_unwrap_or_error(packets in proptest::collection::vec(bytes_like(wrap_reply()), 1..3)) {
        let client = SecurityLayer::privacy(&[3; 16], DigestCipher::TripleDes, Role::Client);
        let mut incoming = Incoming::wrapped(client.receiver);
        let total: usize = packets.iter().map(Vec::len).sum();
        let (_, largest) = largest_allocation(|| {
            for p in &packets {
                if incoming.push_packet(p, "127.0.0.1:1").is_err() {
                    return;
                }
                while let Ok(Some(f)) = incoming.take_frame("127.0.0.1:1") {
                    assert!(f.len() <= total);
                }
            }
        });
        prop_assert!(largest <= ALLOCATION_BOUND, "{} bytes allocated", largest);
    }
}

proptest! {
    #![proptest_config(config(0x5eed_0003))]
    /// Frame lengths: up to the limit the reader waits for data; it never
    /// allocates the claimed length up front, and a frame over the limit is refused.
    #[test]
    fn frame_reader_bounds_lengths(len in any::<u32>(), body in proptest::collection::vec(any::<u8>(), 0..64)) {
        let input = [&len.to_be_bytes()[..], &body].concat();
        let (r, largest) = largest_allocation(|| block_on(async { read_frame(&mut &input[..], "127.0.0.1:1").await }));
        prop_assert!(largest <= ALLOCATION_BOUND, "{} bytes allocated for a frame claiming {} bytes", largest, len);
        match r {
            Ok(b) => prop_assert_eq!(b.len(), len as usize),
            Err(e) => prop_assert!(e.to_string().contains("127.0.0.1:1"), "{}", e),
        }
    }
}

proptest! {
    #![proptest_config(config(0x5eed_0004))]
    /// Credentials files in the Writable layout.
    #[test]
    fn writable_credentials_decode_or_error(bytes in bytes_like(sample_credentials().encode_writable())) {
        let (decoded, largest) = largest_allocation(|| Credentials::decode(&bytes));
        prop_assert!(largest <= ALLOCATION_BOUND, "{} bytes allocated", largest);
        if let Ok(c) = decoded {
            let _ = format!("{c:?}");
            for (_, t) in &c.tokens {
                let _ = rfy_hadoop::token::ident::describe(t);
            }
        }
    }
}

proptest! {
    #![proptest_config(config(0x5eed_0005))]
    /// Credentials files in the protobuf layout.
    #[test]
    fn proto_credentials_decode_or_error(bytes in bytes_like(sample_credentials().encode_proto())) {
        let (decoded, largest) = largest_allocation(|| Credentials::decode(&bytes));
        prop_assert!(largest <= ALLOCATION_BOUND, "{} bytes allocated", largest);
        if let Ok(c) = decoded {
            for (_, t) in &c.tokens {
                let _ = rfy_hadoop::token::ident::describe(t);
            }
        }
    }
}

proptest! {
    #![proptest_config(config(0x5eed_0006))]
    /// URL-safe token strings (`Token#encodeToUrlString`) and YARN token identifiers.
    #[test]
    fn tokens_and_identifiers_decode_or_error(
        s in prop_oneof![
            any::<String>(),
            bytes_like(sample_credentials().tokens[0].1.encode_to_url_string().into_bytes())
                .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        ],
        ident in bytes_like(sample_credentials().tokens[0].1.identifier.clone()),
    ) {
        let (_, largest) = largest_allocation(|| {
            let _ = Token::decode_from_url_string(&s);
            let _ = AmRmTokenIdentifier::decode(&ident);
            let _ = NmTokenIdentifier::decode(&ident);
            let _ = ContainerTokenIdentifier::decode(&ident);
        });
        prop_assert!(largest <= ALLOCATION_BOUND, "{} bytes allocated", largest);
    }
}

/// A frame claiming the largest accepted length with no body fails at EOF
/// (checked above); one claiming more is refused naming the limit.
#[test]
fn oversized_frame_is_refused_by_length() {
    let input = u32::MAX.to_be_bytes();
    let e = block_on(async { read_frame(&mut &input[..], "nn:8020").await }).unwrap_err();
    assert!(e.to_string().contains("exceeds"), "{e}");
}

/// The base input of `wrapped_messages_unwrap_or_error` is valid: mutations start from a message that opens.
#[test]
fn wrap_reply_base_unwraps() {
    let client = SecurityLayer::privacy(&[3; 16], DigestCipher::TripleDes, Role::Client);
    let mut incoming = Incoming::wrapped(client.receiver);
    incoming.push_packet(&wrap_reply(), "127.0.0.1:1").unwrap();
    let f = incoming.take_frame("127.0.0.1:1").unwrap().expect("one frame");
    let (h, rest) = decode_response(&f).unwrap();
    assert_eq!((h.call_id, rest.len()), (1, 0));
}
