use super::*;

fn sample() -> Credentials {
    let mut c = Credentials::new();
    c.add_token(
        "10.0.0.1:8030",
        Token {
            identifier: vec![0x0a, 0x02, 0x08, 0x01],
            password: vec![0xde, 0xad],
            kind: KIND_AM_RM_TOKEN.into(),
            service: "10.0.0.1:8030".into(),
        },
    );
    c.add_secret_key("key", vec![1, 2, 3]);
    c
}

/// The Writable layout, built by hand from `Credentials#write` and `Token#write`.
#[test]
fn writable_layout_exact_bytes() {
    let mut c = Credentials::new();
    c.add_token(
        "a",
        Token { identifier: vec![0x01, 0x02], password: vec![0x03], kind: "K".into(), service: "s:1".into() },
    );
    c.add_secret_key("x", vec![0xff]);
    let expected: Vec<u8> = vec![
        b'H', b'D', b'T', b'S', 0x00, // magic, format 0
        0x01, // one token
        0x01, b'a', // alias Text
        0x02, 0x01, 0x02, // identifier
        0x01, 0x03, // password
        0x01, b'K', // kind Text
        0x03, b's', b':', b'1', // service Text
        0x01, // one secret
        0x01, b'x', 0x01, 0xff,
    ];
    assert_eq!(c.encode_writable(), expected);
    assert_eq!(Credentials::decode(&expected).unwrap(), c);
}

#[test]
fn round_trips_both_formats() {
    let c = sample();
    assert_eq!(Credentials::decode(&c.encode_writable()).unwrap(), c);
    assert_eq!(Credentials::decode(&c.encode_proto()).unwrap(), c);
    assert_eq!(c.am_rm_token().unwrap().password, vec![0xde, 0xad]);
    assert!(c.require_kind(KIND_NM_TOKEN).is_err());
}

#[test]
fn protobuf_layout_bytes() {
    let mut c = Credentials::new();
    c.add_token("a", Token { identifier: vec![1], password: vec![2], kind: "K".into(), service: "S".into() });
    // HDTS 1, delimited CredentialsProto { tokens(1): { alias(1) "a", token(2): {1:[1],2:[2],3:"K",4:"S"} } }
    let expected = vec![
        b'H', b'D', b'T', b'S', 0x01, 0x13, 0x0a, 0x11, 0x0a, 0x01, b'a', 0x12, 0x0c, 0x0a, 0x01, 0x01, 0x12, 0x01,
        0x02, 0x1a, 0x01, b'K', 0x22, 0x01, b'S',
    ];
    assert_eq!(c.encode_proto(), expected);
    assert_eq!(Credentials::decode(&expected).unwrap(), c);
}

#[test]
fn file_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("container_tokens");
    let c = sample();
    c.write_file(&p).unwrap();
    assert_eq!(Credentials::read_file(&p).unwrap(), c);
    let e = Credentials::read_file(dir.path().join("missing")).unwrap_err();
    assert!(e.to_string().contains("missing"), "{e}");
}

#[test]
fn bad_headers() {
    assert!(matches!(Credentials::decode(b""), Err(TokenError::BadMagic { .. })));
    assert!(matches!(Credentials::decode(b"HDTX\x00"), Err(TokenError::BadMagic { .. })));
    assert!(matches!(Credentials::decode(b"HDTS\x07"), Err(TokenError::UnknownFormat(7))));
}

#[test]
fn truncations_and_random_bytes_never_panic() {
    let full = sample().encode_writable();
    for n in 0..full.len() {
        assert!(Credentials::decode(&full[..n]).is_err(), "prefix {n} decoded");
    }
    let full_pb = sample().encode_proto();
    for n in 5..full_pb.len() {
        assert!(Credentials::decode(&full_pb[..n]).is_err(), "pb prefix {n} decoded");
    }
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for i in 0..5000 {
        let len = (next() % 64) as usize;
        let mut b: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if i % 2 == 0 {
            let mut h = b"HDTS".to_vec();
            h.push((i / 2 % 2) as u8);
            h.extend_from_slice(&b);
            b = h;
        }
        let _ = Credentials::decode(&b);
        let _ = ident::AmRmTokenIdentifier::decode(&b);
        let _ = ident::NmTokenIdentifier::decode(&b);
        let _ = ident::ContainerTokenIdentifier::decode(&b);
    }
}

#[test]
fn describes_yarn_identifiers() {
    use crate::proto::yarn::{AmrmTokenIdentifierProto, NmTokenIdentifierProto};
    use crate::yarn::records::{ApplicationAttemptId, NodeId};
    use prost::Message;
    let attempt: ApplicationAttemptId = "appattempt_1700000000000_0001_000001".parse().unwrap();
    let id = AmrmTokenIdentifierProto { app_attempt_id: Some(attempt.to_proto()), key_id: Some(7) }.encode_to_vec();
    let d = ident::AmRmTokenIdentifier::decode(&id).unwrap();
    assert_eq!(d.attempt_id, Some(attempt));
    assert_eq!(d.key_id, 7);
    let tok = Token { identifier: id, password: vec![1], kind: KIND_AM_RM_TOKEN.into(), service: "rm:8030".into() };
    let s = ident::describe(&tok);
    assert!(s.contains("YARN_AM_RM_TOKEN") && s.contains("key_id: 7"), "{s}");
    let nm = NmTokenIdentifierProto {
        app_attempt_id: Some(attempt.to_proto()),
        node_id: Some(NodeId { host: "nm".into(), port: 4545 }.to_proto()),
        app_submitter: Some("alice".into()),
        key_id: Some(3),
    }
    .encode_to_vec();
    let d = ident::NmTokenIdentifier::decode(&nm).unwrap();
    assert_eq!(d.node_id.unwrap().to_string(), "nm:4545");
    assert_eq!(d.app_submitter, "alice");
    assert!(!format!("{tok:?}").contains("password: ["));
}

#[test]
fn url_string_round_trip() {
    let t = Token {
        identifier: vec![0xfb, 0xff, 0x00],
        password: vec![0xfe; 20],
        kind: "HDFS_DELEGATION_TOKEN".into(),
        service: "127.0.0.1:9000".into(),
    };
    let s = t.encode_to_url_string();
    assert!(!s.contains('+') && !s.contains('/') && !s.contains('='), "{s}");
    assert_eq!(Token::decode_from_url_string(&s).unwrap(), t);
    assert!(Token::decode_from_url_string("!!").is_err());
    assert!(Token::decode_from_url_string("AAAA").is_err());
}
