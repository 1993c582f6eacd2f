//! Tests against a real Hadoop (HDFS + YARN) named by `HADOOP_CONF_DIR`,
//! e.g. the one `scripts/hadoop start` runs (`eval "$(scripts/hadoop env)"`).
//! Without `HADOOP_CONF_DIR` each test prints why and passes without doing anything.
//!
//! - REST: cluster info, nodes; HDFS: mkdirs, write, stat, read, list, upload, delete.
//! - Submission over REST with an HDFS local resource whose AM command checks
//!   that the resource was localized (exit 7), proving the JSON shape and the
//!   exact size/timestamp.
//! - The `am_smoke` example as a real ApplicationMaster: AMRM over SASL
//!   DIGEST-MD5, one container started through the NodeManager with its NMToken.

use std::time::{Duration, Instant};

use rfy_hadoop::config::{current_user, HadoopConfig};
use rfy_hadoop::hdfs::Hdfs;
use rfy_hadoop::yarn::rest::{AppReport, ApplicationSubmission, ResourceInfo, RmRestClient};
use rfy_hadoop::yarn::{LocalResourceType, LocalResourceVisibility};

fn conf_or_skip(test: &str) -> Option<HadoopConfig> {
    match std::env::var_os("HADOOP_CONF_DIR") {
        None => {
            // scripts/test sets RFY_REQUIRE_HADOOP: there a skip would hide a broken setup.
            assert!(
                std::env::var_os("RFY_REQUIRE_HADOOP").is_none(),
                "{test}: HADOOP_CONF_DIR is not set but RFY_REQUIRE_HADOOP is"
            );
            println!("{test}: skipped: HADOOP_CONF_DIR is not set (eval \"$(scripts/hadoop env)\" after scripts/hadoop start)");
            None
        }
        Some(_) => Some(HadoopConfig::from_env().expect("HADOOP_CONF_DIR readable")),
    }
}

async fn wait_final(rm: &RmRestClient, app: &str, limit: Duration) -> AppReport {
    let deadline = Instant::now() + limit;
    loop {
        let r = rm.app_report(app).await.expect("app report");
        if r.is_final() {
            return r;
        }
        if Instant::now() > deadline {
            let _ = rm.kill(app).await;
            panic!("{app} not final after {limit:?}: state {} diagnostics {}", r.state, r.diagnostics);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn test_dir(tag: &str) -> String {
    format!("/user/{}/.rfy-hadoop-test/{tag}-{}", current_user(), uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn rest_and_hdfs_basics() {
    let Some(conf) = conf_or_skip("rest_and_hdfs_basics") else {
        return;
    };
    let rm = RmRestClient::from_config(&conf, &current_user()).unwrap();
    let info = rm.cluster_info().await.unwrap();
    assert_eq!(info.state, "STARTED");
    assert!(!rm.nodes().await.unwrap().is_empty(), "no NodeManager registered");

    let fs = Hdfs::from_config(&conf, None).unwrap();
    let dir = test_dir("basics");
    fs.mkdirs(&dir, 0o700).await.unwrap();
    let listing = fs.list(&dir).await.unwrap();
    assert!(listing.is_empty());
    let f = format!("{dir}/a.bin");
    let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7) as u8).collect();
    let stamp = fs.write(&f, &data, 0o600, false).await.unwrap();
    assert_eq!(stamp.size, data.len() as u64);
    assert!(stamp.modification_time > 1_600_000_000_000);
    assert_eq!(fs.read(&f).await.unwrap(), data);
    assert!(fs.exists(&f).await.unwrap());
    let local = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(local.path(), b"hello hdfs").unwrap();
    let up = fs.upload(local.path(), &format!("{dir}/b.txt"), 0o644, true).await.unwrap();
    assert_eq!(up.size, 10);
    let names: Vec<String> = fs.list(&dir).await.unwrap().into_iter().map(|e| e.path).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    let e = fs.read(&format!("{dir}/missing")).await.unwrap_err().to_string();
    assert!(e.contains("missing") && e.contains("hdfs://"), "{e}");
    assert!(fs.delete(&dir, true).await.unwrap());
    assert!(!fs.exists(&dir).await.unwrap());
}

#[tokio::test]
async fn rest_submission_localizes_hdfs_resource() {
    let Some(conf) = conf_or_skip("rest_submission_localizes_hdfs_resource") else {
        return;
    };
    let user = current_user();
    let rm = RmRestClient::from_config(&conf, &user).unwrap();
    let fs = Hdfs::from_config(&conf, None).unwrap();
    let dir = test_dir("submit");
    fs.mkdirs(&dir, 0o700).await.unwrap();
    let local = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(local.path(), b"payload").unwrap();
    let res = fs
        .upload_local_resource(
            local.path(),
            &format!("{dir}/payload"),
            LocalResourceType::File,
            LocalResourceVisibility::Application,
        )
        .await
        .unwrap();
    let app = rm.new_application().await.unwrap();
    let sub = ApplicationSubmission::new(
        &app.application_id,
        "rfy-hadoop-test-localize",
        "rfy-test",
        None,
        1,
        false,
        ResourceInfo { memory: 256, vcores: 1 },
        &[("payload".into(), res)],
        &[("RFY_TEST".into(), "1".into())],
        &["test -s payload && test \"$RFY_TEST\" = 1 && grep -q rfy-test-alias \"$HADOOP_TOKEN_FILE_LOCATION\" && exit 7; exit 9".into()],
    );
    let mut creds = rfy_hadoop::token::Credentials::new();
    creds.add_token(
        "rfy-test-alias",
        rfy_hadoop::token::Token {
            identifier: vec![1, 2, 3],
            password: vec![4, 5],
            kind: "RFY_TEST_TOKEN".into(),
            service: "nowhere:1".into(),
        },
    );
    let sub = sub.with_credentials(&creds);
    rm.submit(&sub).await.unwrap();
    let r = wait_final(&rm, &app.application_id, Duration::from_secs(120)).await;
    assert_eq!(r.user, user);
    assert_eq!(r.application_type, "rfy-test");
    assert!(r.diagnostics.contains("exitCode: 7"), "state {} diagnostics: {}", r.state, r.diagnostics);
    fs.delete(&dir, true).await.unwrap();
}

#[tokio::test]
async fn rest_kill() {
    let Some(conf) = conf_or_skip("rest_kill") else {
        return;
    };
    let rm = RmRestClient::from_config(&conf, &current_user()).unwrap();
    let app = rm.new_application().await.unwrap();
    let sub = ApplicationSubmission::new(
        &app.application_id,
        "rfy-hadoop-test-kill",
        "rfy-test",
        None,
        1,
        false,
        ResourceInfo { memory: 256, vcores: 1 },
        &[],
        &[],
        &["sleep 120".into()],
    );
    rm.submit(&sub).await.unwrap();
    rm.kill(&app.application_id).await.unwrap();
    let r = wait_final(&rm, &app.application_id, Duration::from_secs(60)).await;
    assert_eq!(r.state, "KILLED");
    assert_eq!(rm.app_state(&app.application_id).await.unwrap(), "KILLED");
}

/// The `am_smoke` example binary, built by `cargo test` next to this test's executable.
fn am_smoke_binary() -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let p = exe.parent()?.parent()?.join("examples").join("am_smoke");
    p.is_file().then_some(p)
}

#[tokio::test]
async fn am_smoke_as_real_application_master() {
    let Some(conf) = conf_or_skip("am_smoke_as_real_application_master") else {
        return;
    };
    let Some(bin) = am_smoke_binary() else {
        println!("am_smoke_as_real_application_master: skipped: examples/am_smoke not built");
        return;
    };
    let user = current_user();
    let rm = RmRestClient::from_config(&conf, &user).unwrap();
    let fs = Hdfs::from_config(&conf, None).unwrap();
    let dir = test_dir("am");
    fs.mkdirs(&dir, 0o700).await.unwrap();
    let res = fs
        .upload_local_resource(
            &bin,
            &format!("{dir}/am_smoke"),
            LocalResourceType::File,
            LocalResourceVisibility::Application,
        )
        .await
        .unwrap();
    let conf_dir = conf.dir().unwrap().display().to_string();
    let app = rm.new_application().await.unwrap();
    let sub = ApplicationSubmission::new(
        &app.application_id,
        "rfy-hadoop-am-smoke",
        "rfy-test",
        None,
        1,
        false,
        ResourceInfo { memory: 256, vcores: 1 },
        &[("am_smoke".into(), res)],
        &[("HADOOP_CONF_DIR".into(), conf_dir), ("RUST_BACKTRACE".into(), "1".into())],
        &["./am_smoke 1><LOG_DIR>/am.stdout 2><LOG_DIR>/am.stderr".into()],
    );
    rm.submit(&sub).await.unwrap();
    let r = wait_final(&rm, &app.application_id, Duration::from_secs(180)).await;
    assert_eq!(
        r.final_status, "SUCCEEDED",
        "state {} diagnostics {:?} AM logs {:?}",
        r.state, r.diagnostics, r.am_container_logs
    );
    assert!(r.diagnostics.contains("exited 3 as expected"), "{}", r.diagnostics);
    fs.delete(&dir, true).await.unwrap();
}
