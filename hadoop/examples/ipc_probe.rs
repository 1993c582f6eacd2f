//! Connects to a Hadoop IPC server with a bogus token and prints what happens
//! (a debugging aid for the SASL handshake): `ipc_probe host:port protocol`.
use rfy_hadoop::ipc::{Auth, ConnectOptions, IpcConnection};
use rfy_hadoop::token::Token;

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt().with_max_level(tracing::Level::TRACE).with_ansi(false).init();
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8030".into());
    let protocol = args.next().unwrap_or_else(|| "org.apache.hadoop.yarn.api.ApplicationMasterProtocolPB".into());
    let token = Token {
        identifier: vec![0x0a, 0x02, 0x08, 0x01],
        password: vec![1, 2, 3],
        kind: "YARN_AM_RM_TOKEN".into(),
        service: addr.clone(),
    };
    match IpcConnection::connect(&addr, &protocol, 1, &Auth::token(token, "probe"), &ConnectOptions::default()).await {
        Ok(c) => println!("connected: {c:?}"),
        Err(e) => println!("error: {e}"),
    }
}
