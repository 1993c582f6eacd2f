//! The async lookup example on the embedded local cluster at parallelism 2
//! against a real HTTP service started here (axum on loopback, 10 ms per
//! answer): every id comes out once with the name the service gives it.

use std::process::Command;
use std::time::Duration;

use axum::extract::Path;
use axum::routing::get;

async fn name(Path(id): Path<String>) -> String {
    tokio::time::sleep(Duration::from_millis(10)).await;
    format!("Name of {id}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_are_enriched_with_names() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/users", listener.local_addr().unwrap());
    let app = axum::Router::new().route("/users/{id}", get(name));
    tokio::spawn(async move { axum::serve(listener, app).await });

    let tmp = tempfile::tempdir().unwrap();
    let ids: Vec<String> = (0..500).map(|i| format!("u{i}")).collect();
    std::fs::write(tmp.path().join("ids.txt"), ids.iter().map(|i| format!("{i}\n")).collect::<String>()).unwrap();
    let exe = env!("CARGO_BIN_EXE_rfy-example-async-lookup");
    let dir = tmp.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        let args = ["--input", "ids.txt", "--url", &url, "--output", "out"];
        Command::new(exe).args(["run", "-p", "2", exe]).args(args).current_dir(dir).output().unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let mut want: Vec<String> = ids.iter().map(|i| format!("{i}\tName of {i}")).collect();
    want.sort();
    let mut got: Vec<String> = Vec::new();
    for e in std::fs::read_dir(tmp.path().join("out")).unwrap().flatten() {
        got.extend(std::fs::read_to_string(e.path()).unwrap().lines().map(str::to_string));
    }
    got.sort();
    assert_eq!(got, want);
}
