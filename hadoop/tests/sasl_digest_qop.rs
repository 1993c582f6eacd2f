//! rfy's IPC client against the JDK's own DIGEST-MD5 SASL server (the one in
//! every Hadoop daemon) at qop `auth-int` and `auth-conf` (3des, rc4, and the
//! weaker des/rc4-56/rc4-40), inside a small Hadoop IPC server written in Java
//! (`tests/sasl_peer/Peer.java`, run by `java` as a source file; loopback only).
//!
//! Each connection does the SASL handshake (rfy checks Java's `rspauth`), sends
//! its connection context and calls wrapped; Java unwraps them (checking MAC,
//! padding and sequence numbers), echoes each request message and wraps the
//! responses, which rfy unwraps: several messages each way, two responses in
//! one wrap, one response across two wraps, a message larger than `maxbuf`.
//! Also: the strongest common qop wins, `auth` stays unwrapped, and a qop or
//! cipher rfy does not accept is one line naming the server, the offer and
//! `hadoop.rpc.protection`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine;
use rfy_hadoop::ipc::{Auth, ConnectOptions, IpcConnection, IpcError, Qop, RpcProtection};
use rfy_hadoop::proto::common::TokenProto;
use rfy_hadoop::token::Token;

const PROTOCOL: &str = "org.apache.hadoop.yarn.api.ContainerManagementProtocolPB";

/// Server configurations: `<qops>[/<ciphers offered>]`.
const CONFIGS: [&str; 10] = [
    "auth",
    "auth-int",
    "auth-conf/3des",
    "auth-conf/rc4",
    "auth-conf/des",
    "auth-conf/rc4-56",
    "auth-conf/rc4-40",
    "auth-conf",
    "auth,auth-int,auth-conf",
    "auth-conf/aes128,chacha",
];

fn token() -> Token {
    Token {
        identifier: vec![0x0a, 0x0c, 0x0a, 0x08, 0x08, 0x01, 0x10, 0xe8, 0x07, 0x10, 0x01, 0x10, 0x05, 0xfe],
        password: vec![0x9f, 0x12, 0x00, 0xff, 0x42, 0x17, 0x80],
        kind: "NMToken".into(),
        service: "127.0.0.1:0".into(),
    }
}

/// The Java peer, shared by the tests of this binary. It exits when its
/// standard input closes, i.e. when this test process ends.
struct Peer {
    ports: HashMap<String, u16>,
    _child: Child,
}

fn peer() -> &'static Peer {
    static PEER: OnceLock<Peer> = OnceLock::new();
    PEER.get_or_init(|| start_peer().unwrap_or_else(|e| panic!("cannot start the Java SASL peer: {e}")))
}

fn start_peer() -> Result<Peer, String> {
    let java = match std::env::var_os("JAVA_HOME") {
        Some(home) => std::path::Path::new(&home).join("bin/java"),
        None => "java".into(),
    };
    let source = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sasl_peer/Peer.java");
    let b64 = base64::engine::general_purpose::STANDARD;
    let t = token();
    let mut child = Command::new(&java)
        .arg(source)
        .arg(b64.encode(&t.identifier))
        .arg(b64.encode(&t.password))
        .args(CONFIGS)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("{}: {e} (JDK 17+ needed; set JAVA_HOME)", java.display()))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut ports = HashMap::new();
    // Generous: the source launcher compiles Peer.java first, slow on a loaded machine.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = rx.recv_timeout(left).map_err(|e| format!("no READY line from {source}: {e}"))?;
        if line == "READY" {
            break;
        }
        let mut parts = line.split_whitespace();
        if let (Some("LISTEN"), Some(config), Some(port)) = (parts.next(), parts.next(), parts.next()) {
            ports.insert(config.to_string(), port.parse().map_err(|e| format!("bad port in {line:?}: {e}"))?);
        }
    }
    Ok(Peer { ports, _child: child })
}

fn addr(config: &str) -> String {
    format!("127.0.0.1:{}", peer().ports[config])
}

fn opts(protection: &[Qop]) -> ConnectOptions {
    ConnectOptions {
        connect_timeout: Duration::from_secs(60),
        call_timeout: Some(Duration::from_secs(60)),
        protection: RpcProtection::of(protection),
    }
}

async fn connect(config: &str, protection: &[Qop]) -> Result<IpcConnection, IpcError> {
    IpcConnection::connect(&addr(config), PROTOCOL, 1, &Auth::token(token(), "alice"), &opts(protection)).await
}

fn message(i: u32, payload_len: usize) -> TokenProto {
    TokenProto {
        identifier: (0..payload_len).map(|j| (j as u32 * 7 + i) as u8).collect(),
        password: i.to_be_bytes().to_vec(),
        kind: format!("message-{i}"),
        service: "echo".into(),
    }
}

/// Calls that exercise both directions: sequential echoes (sequence numbers
/// 0, 1, 2, ... each way), two responses in one wrap, one response over two
/// wraps, and a message larger than the 64 KiB `maxbuf`.
async fn exercise(conn: &IpcConnection) {
    for i in 0..6 {
        let m = message(i, 1 + i as usize * 13);
        let r: TokenProto = conn.call("echo", &m).await.unwrap_or_else(|e| panic!("echo {i}: {e}"));
        assert_eq!(r, m, "echo {i}");
    }
    let (a, b) = (message(100, 40), message(101, 3));
    let (ra, rb) = tokio::join!(conn.call::<_, TokenProto>("pair", &a), conn.call::<_, TokenProto>("pair", &b));
    assert_eq!(ra.expect("first of a pair"), a);
    assert_eq!(rb.expect("second of a pair"), b);
    let s = message(200, 5000);
    assert_eq!(conn.call::<_, TokenProto>("split", &s).await.expect("split response"), s);
    let big = message(300, 100_000);
    assert_eq!(conn.call::<_, TokenProto>("echo", &big).await.expect("large message"), big);
    for i in 400..403 {
        let m = message(i, 17);
        assert_eq!(conn.call::<_, TokenProto>("echo", &m).await.expect("after the large message"), m);
    }
    assert!(!conn.is_closed());
}

const ALL: [Qop; 3] = [Qop::Auth, Qop::AuthInt, Qop::AuthConf];

#[tokio::test]
async fn auth_int_round_trips_through_java() {
    let conn = connect("auth-int", &[Qop::AuthInt]).await.expect("auth-int handshake");
    assert_eq!(conn.qop(), Qop::AuthInt);
    exercise(&conn).await;
}

#[tokio::test]
async fn auth_conf_3des_round_trips_through_java() {
    let conn = connect("auth-conf/3des", &[Qop::AuthConf]).await.expect("3des handshake");
    assert_eq!(conn.qop(), Qop::AuthConf);
    exercise(&conn).await;
}

#[tokio::test]
async fn auth_conf_rc4_round_trips_through_java() {
    let conn = connect("auth-conf/rc4", &[Qop::AuthConf]).await.expect("rc4 handshake");
    assert_eq!(conn.qop(), Qop::AuthConf);
    exercise(&conn).await;
}

#[tokio::test]
async fn auth_conf_weaker_ciphers_round_trip_through_java() {
    for config in ["auth-conf/des", "auth-conf/rc4-56", "auth-conf/rc4-40"] {
        let conn = connect(config, &[Qop::AuthConf]).await.unwrap_or_else(|e| panic!("{config}: {e}"));
        assert_eq!(conn.qop(), Qop::AuthConf, "{config}");
        exercise(&conn).await;
    }
}

/// The JDK server offers all its ciphers (3des first among equals); with every
/// qop offered, the strongest the client allows is taken.
#[tokio::test]
async fn strongest_common_qop_is_chosen() {
    let cases: [(&[Qop], Qop); 4] = [
        (&ALL, Qop::AuthConf),
        (&[Qop::Auth, Qop::AuthInt], Qop::AuthInt),
        (&[Qop::Auth], Qop::Auth),
        (&[Qop::AuthConf, Qop::Auth], Qop::AuthConf),
    ];
    for (allowed, expected) in cases {
        let conn = connect("auth,auth-int,auth-conf", allowed).await.unwrap_or_else(|e| panic!("{allowed:?}: {e}"));
        assert_eq!(conn.qop(), expected, "client allows {allowed:?}");
        exercise(&conn).await;
    }
    let conn = connect("auth-conf", &ALL).await.expect("JDK's full cipher offer");
    assert_eq!(conn.qop(), Qop::AuthConf);
    exercise(&conn).await;
}

#[tokio::test]
async fn auth_stays_unwrapped() {
    let conn = connect("auth", &ALL).await.expect("auth handshake");
    assert_eq!(conn.qop(), Qop::Auth);
    exercise(&conn).await;
}

#[tokio::test]
async fn qop_the_client_does_not_allow_is_one_clear_line() {
    let a = addr("auth-conf");
    let e = connect("auth-conf", &[Qop::Auth]).await.expect_err("privacy-only server, authentication-only client");
    assert!(matches!(e, IpcError::Sasl { .. }), "{e:?}");
    let line = e.to_string();
    assert!(!line.contains('\n'), "one line: {line}");
    for needle in [a.as_str(), "auth-conf", "hadoop.rpc.protection=authentication"] {
        assert!(line.contains(needle), "{needle:?} missing from: {line}");
    }
    let e = connect("auth-int", &[Qop::AuthConf]).await.expect_err("integrity-only server, privacy-only client");
    let line = e.to_string();
    assert!(line.contains("auth-int") && line.contains("hadoop.rpc.protection=privacy"), "{line}");
}

#[tokio::test]
async fn cipher_rfy_lacks_is_one_clear_line() {
    let a = addr("auth-conf/aes128,chacha");
    let e = connect("auth-conf/aes128,chacha", &[Qop::AuthConf]).await.expect_err("no common cipher");
    let line = e.to_string();
    assert!(!line.contains('\n'), "one line: {line}");
    for needle in [a.as_str(), "aes128,chacha", "3des", "hadoop.rpc.protection=privacy"] {
        assert!(line.contains(needle), "{needle:?} missing from: {line}");
    }
}

/// Java checks the digest: a wrong token password is refused by the server.
#[tokio::test]
async fn wrong_password_is_refused_by_java() {
    let mut t = token();
    t.password[0] ^= 1;
    let e = IpcConnection::connect(&addr("auth-conf/3des"), PROTOCOL, 1, &Auth::token(t, "alice"), &opts(&ALL))
        .await
        .expect_err("bad password");
    let remote = e.remote().unwrap_or_else(|| panic!("expected the server's SaslException, got {e}"));
    assert!(remote.class_name.contains("SaslException"), "{remote}");
}
