//! A minimal YARN ApplicationMaster for checking the AMRM and NM clients
//! against a real cluster (used by `tests/live_cluster.rs`).
//!
//! Run inside a YARN AM container with `HADOOP_CONF_DIR` set: registers with
//! the RM over IPC (SASL DIGEST-MD5 + AMRM token), asks for one container,
//! starts `sh -c 'echo hello; exit 3'` in it through the NodeManager (NMToken),
//! waits for it to complete, checks exit status 3, and unregisters
//! SUCCEEDED (or FAILED with the error as diagnostics). Exit code 0 on success.

use std::time::{Duration, Instant};

use rfy_hadoop::config::HadoopConfig;
use rfy_hadoop::ipc::ConnectOptions;
use rfy_hadoop::yarn::amrm::{AllocateRequest, AmRmClient, ContainerAsk, FinalStatus};
use rfy_hadoop::yarn::nm::{ContainerLaunchContext, NmClient, NmTokenCache};
use rfy_hadoop::yarn::Resource;

async fn run(c: &AmRmClient) -> Result<String, String> {
    let reg = c.register_application_master("127.0.0.1", 0, "").await.map_err(|e| format!("register: {e}"))?;
    println!("registered; max capability {:?}, queue {}", reg.maximum_capability, reg.queue);
    let cache = NmTokenCache::new();
    let mut response_id = 0;
    let mut asks = vec![ContainerAsk::any(1, Resource::new(256, 1), 1)];
    let deadline = Instant::now() + Duration::from_secs(90);
    let container = loop {
        if Instant::now() > deadline {
            return Err("no container allocated within 90 s".into());
        }
        let r = c
            .allocate(&AllocateRequest {
                response_id,
                asks: std::mem::take(&mut asks),
                releases: vec![],
                progress: 0.1,
            })
            .await
            .map_err(|e| format!("allocate: {e}"))?;
        response_id = r.response_id;
        cache.insert_all(&r.nm_tokens);
        if let Some(ctr) = r.allocated.into_iter().next() {
            break ctr;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    // Cancel the outstanding ask now that it is satisfied.
    let cancel = vec![ContainerAsk::any(1, Resource::new(256, 1), 0)];
    println!("allocated {} on {}", container.id, container.node_id);
    let token = cache.get(&container.node_id).ok_or_else(|| format!("no NMToken for {}", container.node_id))?;
    let nm = NmClient::connect(&container.node_id, &token, "rfy", &ConnectOptions::default())
        .await
        .map_err(|e| format!("NM connect: {e}"))?;
    let ctx = ContainerLaunchContext {
        commands: vec!["sh -c 'echo hello-from-worker; exit 3' 1><LOG_DIR>/stdout 2><LOG_DIR>/stderr".into()],
        environment: vec![("RFY_SMOKE".into(), "1".into())],
        ..Default::default()
    };
    nm.start_container(&container, &ctx).await.map_err(|e| format!("startContainer: {e}"))?;
    println!("started {}", container.id);
    let st = nm.get_container_statuses(&[container.id]).await.map_err(|e| format!("getContainerStatuses: {e}"))?;
    println!("status via NM: {:?}", st.statuses.first().map(|s| s.state));
    let mut first = true;
    loop {
        if Instant::now() > deadline {
            return Err("container did not complete within 90 s".into());
        }
        let r = c
            .allocate(&AllocateRequest {
                response_id,
                asks: if first { cancel.clone() } else { vec![] },
                releases: vec![],
                progress: 0.5,
            })
            .await
            .map_err(|e| format!("allocate: {e}"))?;
        first = false;
        response_id = r.response_id;
        if let Some(done) = r.completed.iter().find(|s| s.container_id == container.id) {
            println!("completed: exit {} diagnostics {:?}", done.exit_status, done.diagnostics);
            if done.exit_status != 3 {
                return Err(format!("worker exit status {} (expected 3): {}", done.exit_status, done.diagnostics));
            }
            return Ok(format!("worker {} exited 3 as expected", container.id));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let conf = match HadoopConfig::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("config: {e}");
            std::process::exit(2);
        }
    };
    let c = match AmRmClient::from_container_env(&conf) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("AMRM client: {e}");
            std::process::exit(2);
        }
    };
    let outcome = run(&c).await;
    let (status, diag) = match &outcome {
        Ok(m) => (FinalStatus::Succeeded, m.clone()),
        Err(m) => (FinalStatus::Failed, m.clone()),
    };
    println!("outcome: {diag}");
    if let Err(e) = c.unregister(status, &diag, "", Duration::from_secs(30)).await {
        eprintln!("unregister: {e}");
        std::process::exit(1);
    }
    std::process::exit(if outcome.is_ok() { 0 } else { 1 });
}
