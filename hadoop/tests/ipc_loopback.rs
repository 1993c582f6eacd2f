//! The IPC client, SASL DIGEST-MD5 and the AMRM client against a small
//! in-test server on 127.0.0.1 that speaks the server side of Hadoop IPC v9
//! (preamble, SASL negotiate/initiate/success with rspauth, connection
//! context, calls answered out of order, a RemoteException). No Hadoop needed.

use std::time::Duration;

use base64::Engine;
use prost::Message;
use rfy_hadoop::ipc::digest::{self, DigestParams};
use rfy_hadoop::ipc::frame;
use rfy_hadoop::ipc::{Auth, ConnectOptions, IpcConnection, IpcError};
use rfy_hadoop::proto::common::{
    rpc_response_header_proto::RpcStatusProto,
    rpc_sasl_proto::{SaslAuth, SaslState},
    IpcConnectionContextProto, RequestHeaderProto, RpcRequestHeaderProto, RpcResponseHeaderProto, RpcSaslProto,
    TokenProto,
};
use rfy_hadoop::proto::yarn as pb;
use rfy_hadoop::token::Token;
use rfy_hadoop::yarn::amrm::{AllocateRequest, AmRmClient, ContainerAsk, FinalStatus};
use rfy_hadoop::yarn::Resource;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const PROTOCOL: &str = "org.apache.hadoop.yarn.api.ApplicationMasterProtocolPB";

fn token() -> Token {
    Token {
        identifier: vec![0x0a, 0x0c, 0x0a, 0x08, 0x08, 0x01, 0x10, 0xe8, 0x07, 0x10, 0x01, 0x10, 0x05],
        password: vec![0x9f, 0x12, 0x00, 0xff, 0x42],
        kind: "YARN_AM_RM_TOKEN".into(),
        service: "127.0.0.1:8030".into(),
    }
}

async fn read_frame(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await.ok()?;
    let mut b = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut b).await.ok()?;
    Some(b)
}

async fn reply(s: &mut TcpStream, header: RpcResponseHeaderProto, body: Option<Vec<u8>>) {
    let mut parts = header.encode_length_delimited_to_vec();
    if let Some(b) = body {
        parts.extend_from_slice(&b);
    }
    let mut out = (parts.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&parts);
    s.write_all(&out).await.unwrap();
}

fn ok_header(call_id: i32) -> RpcResponseHeaderProto {
    RpcResponseHeaderProto {
        call_id: call_id as u32,
        status: RpcStatusProto::Success as i32,
        server_ipc_version_num: Some(9),
        ..Default::default()
    }
}

/// What the fake server saw, for assertions.
#[derive(Debug, Default)]
struct Seen {
    context: Option<IpcConnectionContextProto>,
    methods: Vec<String>,
    client_id_len: usize,
}

/// Serves one connection: SASL with `password` as the server's idea of the
/// token password, then calls. Calls are read two at a time when `pairs`,
/// and answered in reverse order.
async fn serve(mut s: TcpStream, password: Vec<u8>, pairs: bool) -> Seen {
    let mut seen = Seen::default();
    let mut pre = [0u8; 7];
    s.read_exact(&mut pre).await.unwrap();
    assert_eq!(&pre, b"hrpc\x09\x00\xdf");
    // NEGOTIATE
    let f = read_frame(&mut s).await.unwrap();
    let mut buf = f.as_slice();
    let h: RpcRequestHeaderProto = frame::decode_delimited(&mut buf, "h").unwrap();
    assert_eq!(h.call_id, -33);
    let m: RpcSaslProto = frame::decode_delimited(&mut buf, "m").unwrap();
    assert_eq!(m.state, SaslState::Negotiate as i32);
    let challenge = br#"realm="default",nonce="c2VydmVyTm9uY2U=",qop="auth",charset=utf-8,algorithm=md5-sess"#;
    let neg = RpcSaslProto {
        version: None,
        state: SaslState::Negotiate as i32,
        token: None,
        auths: vec![SaslAuth {
            method: "TOKEN".into(),
            mechanism: "DIGEST-MD5".into(),
            protocol: Some(String::new()),
            server_id: Some("default".into()),
            challenge: Some(challenge.to_vec()),
        }],
    };
    reply(&mut s, ok_header(-33), Some(neg.encode_length_delimited_to_vec())).await;
    // INITIATE with the digest response
    let f = read_frame(&mut s).await.unwrap();
    let mut buf = f.as_slice();
    let _h: RpcRequestHeaderProto = frame::decode_delimited(&mut buf, "h").unwrap();
    let m: RpcSaslProto = frame::decode_delimited(&mut buf, "m").unwrap();
    assert_eq!(m.state, SaslState::Initiate as i32);
    assert_eq!(m.auths.len(), 1);
    assert!(m.auths[0].challenge.is_none(), "client must clear the challenge");
    let d: std::collections::HashMap<String, String> =
        digest::parse_directives(m.token()).unwrap().into_iter().collect();
    let b64 = base64::engine::general_purpose::STANDARD;
    let pw = b64.encode(&password);
    let params = DigestParams {
        username: &d["username"],
        realm: &d["realm"],
        password: &pw,
        nonce: &d["nonce"],
        cnonce: &d["cnonce"],
        nc: &d["nc"],
        qop: &d["qop"],
        digest_uri: &d["digest-uri"],
        authzid: None,
    };
    assert_eq!(d["username"], b64.encode(token().identifier));
    assert_eq!(d["digest-uri"], "/default");
    if digest::digest_response(&params, false) != d["response"] {
        reply(
            &mut s,
            RpcResponseHeaderProto {
                call_id: -33i32 as u32,
                status: RpcStatusProto::Fatal as i32,
                exception_class_name: Some("javax.security.sasl.SaslException".into()),
                error_msg: Some("DIGEST-MD5: digest response format violation. Mismatched response.".into()),
                ..Default::default()
            },
            None,
        )
        .await;
        return seen;
    }
    let success = RpcSaslProto {
        version: None,
        state: SaslState::Success as i32,
        token: Some(format!("rspauth={}", digest::digest_response(&params, true)).into_bytes()),
        auths: vec![],
    };
    reply(&mut s, ok_header(-33), Some(success.encode_length_delimited_to_vec())).await;
    // connection context
    let f = read_frame(&mut s).await.unwrap();
    let mut buf = f.as_slice();
    let h: RpcRequestHeaderProto = frame::decode_delimited(&mut buf, "h").unwrap();
    assert_eq!(h.call_id, -3);
    seen.client_id_len = h.client_id.len();
    seen.context = Some(frame::decode_delimited(&mut buf, "ctx").unwrap());
    // calls
    loop {
        let mut batch = Vec::new();
        for _ in 0..if pairs { 2 } else { 1 } {
            match read_frame(&mut s).await {
                Some(f) => batch.push(f),
                None => break,
            }
        }
        if batch.is_empty() {
            return seen;
        }
        for f in batch.into_iter().rev() {
            let mut buf = f.as_slice();
            let h: RpcRequestHeaderProto = frame::decode_delimited(&mut buf, "h").unwrap();
            let rh: RequestHeaderProto = frame::decode_delimited(&mut buf, "rh").unwrap();
            assert_eq!(rh.declaring_class_protocol_name, PROTOCOL);
            assert_eq!(rh.client_protocol_version, 1);
            let call_id = h.call_id;
            seen.methods.push(rh.method_name.clone());
            match rh.method_name.as_str() {
                "registerApplicationMaster" => {
                    let r = pb::RegisterApplicationMasterResponseProto {
                        maximum_capability: Some(Resource::new(8192, 8).to_proto()),
                        queue: Some("default".into()),
                        ..Default::default()
                    };
                    reply(&mut s, ok_header(call_id), Some(r.encode_length_delimited_to_vec())).await;
                }
                "allocate" => {
                    let req: pb::AllocateRequestProto = frame::decode_delimited(&mut buf, "req").unwrap();
                    let cid: rfy_hadoop::yarn::ContainerId = "container_1700000000000_0001_01_000002".parse().unwrap();
                    let r = pb::AllocateResponseProto {
                        response_id: Some(req.response_id() + 1),
                        allocated_containers: vec![pb::ContainerProto {
                            id: Some(cid.to_proto()),
                            node_id: Some(pb::NodeIdProto { host: Some("nm1".into()), port: Some(45454) }),
                            node_http_address: Some("nm1:8042".into()),
                            resource: req.ask.first().and_then(|a| a.capability),
                            priority: Some(pb::PriorityProto { priority: Some(1) }),
                            container_token: Some(TokenProto {
                                identifier: vec![1],
                                password: vec![2],
                                kind: "ContainerToken".into(),
                                service: "nm1:45454".into(),
                            }),
                            ..Default::default()
                        }],
                        completed_container_statuses: vec![pb::ContainerStatusProto {
                            container_id: Some(cid.to_proto()),
                            state: Some(pb::ContainerStateProto::CComplete as i32),
                            diagnostics: Some("Container killed on request. Exit code is 143".into()),
                            exit_status: Some(-105),
                            capability: None,
                        }],
                        nm_tokens: vec![pb::NmTokenProto {
                            node_id: Some(pb::NodeIdProto { host: Some("nm1".into()), port: Some(45454) }),
                            token: Some(TokenProto {
                                identifier: vec![3],
                                password: vec![4],
                                kind: "NMToken".into(),
                                service: "nm1:45454".into(),
                            }),
                        }],
                        am_rm_token: Some(TokenProto {
                            identifier: vec![5],
                            password: vec![6],
                            kind: "YARN_AM_RM_TOKEN".into(),
                            service: String::new(),
                        }),
                        ..Default::default()
                    };
                    reply(&mut s, ok_header(call_id), Some(r.encode_length_delimited_to_vec())).await;
                }
                "finishApplicationMaster" => {
                    let r = pb::FinishApplicationMasterResponseProto { is_unregistered: Some(true) };
                    reply(&mut s, ok_header(call_id), Some(r.encode_length_delimited_to_vec())).await;
                }
                other => {
                    reply(
                        &mut s,
                        RpcResponseHeaderProto {
                            call_id: call_id as u32,
                            status: RpcStatusProto::Error as i32,
                            exception_class_name: Some("org.apache.hadoop.ipc.RpcNoSuchMethodException".into()),
                            error_msg: Some(format!("Unknown method {other} called on protocol.\n\tat some.Stack")),
                            error_detail: Some(2),
                            ..Default::default()
                        },
                        None,
                    )
                    .await;
                }
            }
        }
    }
}

async fn listener() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    (l, addr)
}

#[tokio::test]
async fn token_auth_concurrent_calls_and_remote_exception() {
    let (l, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (s, _) = l.accept().await.unwrap();
        serve(s, token().password, true).await
    });
    let conn = IpcConnection::connect(&addr, PROTOCOL, 1, &Auth::token(token(), "alice"), &ConnectOptions::default())
        .await
        .unwrap();
    // Two concurrent calls, answered in reverse order by the server.
    let req_a = pb::AllocateRequestProto { response_id: Some(41), ..Default::default() };
    let req_b = pb::AllocateRequestProto::default();
    let a = conn.call::<_, pb::AllocateResponseProto>("allocate", &req_a);
    let b = conn.call::<_, pb::AllocateResponseProto>("noSuchMethod", &req_b);
    let (a, b) = tokio::join!(a, b);
    assert_eq!(a.unwrap().response_id(), 42);
    let e = b.unwrap_err();
    let r = e.remote().expect("remote exception");
    assert_eq!(r.class_name, "org.apache.hadoop.ipc.RpcNoSuchMethodException");
    assert_eq!(r.simple_class_name(), "RpcNoSuchMethodException");
    assert_eq!(r.error_code.as_deref(), Some("ERROR_NO_SUCH_METHOD"));
    assert!(!r.fatal && !e.is_connection_error());
    assert!(e.to_string().contains(&addr), "{e}");
    drop(conn);
    let seen = server.await.unwrap();
    let ctx = seen.context.unwrap();
    assert_eq!(ctx.protocol.as_deref(), Some(PROTOCOL));
    // Token auth: the connection context carries no user name.
    assert_eq!(ctx.user_info.unwrap().effective_user, None);
    assert_eq!(seen.client_id_len, 16);
}

#[tokio::test]
async fn wrong_password_is_a_remote_sasl_error() {
    let (l, addr) = listener().await;
    tokio::spawn(async move {
        let (s, _) = l.accept().await.unwrap();
        serve(s, vec![0, 0, 0], false).await
    });
    let e = IpcConnection::connect(&addr, PROTOCOL, 1, &Auth::token(token(), "alice"), &ConnectOptions::default())
        .await
        .unwrap_err();
    match &e {
        IpcError::Remote { exception, .. } => {
            assert_eq!(exception.class_name, "javax.security.sasl.SaslException");
            assert!(exception.fatal);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(e.to_string().contains(&addr));
}

#[tokio::test]
async fn amrm_client_register_allocate_finish() {
    let (l, addr) = listener().await;
    tokio::spawn(async move {
        let (s, _) = l.accept().await.unwrap();
        serve(s, token().password, false).await
    });
    let c = AmRmClient::new(addr.clone(), token(), "alice", ConnectOptions::default());
    let reg = c.register_application_master("am-host", 6123, "http://am-host:8081/").await.unwrap();
    assert_eq!(reg.maximum_capability, Some(Resource::new(8192, 8)));
    assert_eq!(reg.queue, "default");
    let resp = c
        .allocate(&AllocateRequest {
            response_id: 0,
            asks: vec![ContainerAsk::any(1, Resource::new(1024, 1), 2)],
            releases: vec![],
            progress: 0.5,
        })
        .await
        .unwrap();
    assert_eq!(resp.response_id, 1);
    assert_eq!(resp.allocated.len(), 1);
    let ctr = &resp.allocated[0];
    assert_eq!(ctr.id.to_string(), "container_1700000000000_0001_01_000002");
    assert_eq!(ctr.node_id.to_string(), "nm1:45454");
    assert_eq!(ctr.resource, Resource::new(1024, 1));
    assert_eq!(ctr.container_token.as_ref().unwrap().kind, "ContainerToken");
    assert_eq!(resp.completed[0].exit_status, -105);
    assert_eq!(resp.nm_tokens[0].node_id.to_string(), "nm1:45454");
    // Rolled AMRM token: new identifier/password, old service kept.
    let t = c.current_token();
    assert_eq!((t.identifier.clone(), t.password.clone()), (vec![5], vec![6]));
    assert_eq!(t.service, "127.0.0.1:8030");
    c.unregister(FinalStatus::Succeeded, "done", "", Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn refused_connection_names_the_address() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}");
    let e = IpcConnection::connect(&addr, PROTOCOL, 1, &Auth::simple("alice"), &ConnectOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(e, IpcError::Connect { .. }));
    assert!(e.to_string().contains(&addr), "{e}");
}

#[tokio::test]
async fn simple_auth_sends_user_in_context() {
    let (l, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let mut pre = [0u8; 7];
        s.read_exact(&mut pre).await.unwrap();
        let f = read_frame(&mut s).await.unwrap();
        let mut buf = f.as_slice();
        let _h: RpcRequestHeaderProto = frame::decode_delimited(&mut buf, "h").unwrap();
        let ctx: IpcConnectionContextProto = frame::decode_delimited(&mut buf, "ctx").unwrap();
        (pre, ctx)
    });
    let conn =
        IpcConnection::connect(&addr, PROTOCOL, 1, &Auth::simple("alice"), &ConnectOptions::default()).await.unwrap();
    let (pre, ctx) = server.await.unwrap();
    assert_eq!(&pre, b"hrpc\x09\x00\x00");
    assert_eq!(ctx.user_info.unwrap().effective_user.as_deref(), Some("alice"));
    // The server hung up: calls fail with an error naming the address.
    let e =
        conn.call::<_, pb::AllocateResponseProto>("allocate", &pb::AllocateRequestProto::default()).await.unwrap_err();
    assert!(e.is_connection_error());
    assert!(e.to_string().contains(&addr), "{e}");
}

#[tokio::test]
async fn garbage_from_server_is_an_error_not_a_panic() {
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for round in 0..40 {
        let (l, addr) = listener().await;
        let mut junk = Vec::new();
        for _ in 0..(round * 7 % 90) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            junk.push(seed as u8);
        }
        if round % 3 == 0 && junk.len() >= 4 {
            // Plausible small length prefix with a random body.
            let n = (junk.len() - 4) as u32;
            junk[..4].copy_from_slice(&n.to_be_bytes());
        }
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut pre = [0u8; 7];
            let _ = s.read_exact(&mut pre).await;
            let _ = s.write_all(&junk).await;
        });
        let opts = ConnectOptions {
            connect_timeout: Duration::from_secs(5),
            call_timeout: Some(Duration::from_secs(5)),
            ..Default::default()
        };
        let r = IpcConnection::connect(&addr, PROTOCOL, 1, &Auth::token(token(), "alice"), &opts).await;
        assert!(r.is_err(), "round {round}");
    }
}
