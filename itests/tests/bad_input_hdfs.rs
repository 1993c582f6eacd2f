//! Bad input, HDFS permissions and quota (issue 11), on the real HDFS of
//! `HADOOP_CONF_DIR`. The tests run as the HDFS superuser; the permission
//! cases run `rfy` as a second user (`HADOOP_USER_NAME=otheruser`, SIMPLE
//! authentication) against directories the superuser made mode 700. Each
//! case: exit 1, one line on stderr starting with `error: ` that names the
//! path and says `Permission denied` (no Java stack trace), no panic, and
//! nothing submitted or written.
//!
//! | case | what otheruser runs | expected message (part) |
//! |---|---|---|
//! | input | `wordcount --input hdfs://<700 dir>/kjv.txt` | `input file hdfs://<dir>/kjv.txt cannot be read: AccessControlException: Permission denied: user=otheruser` |
//! | output | `--output hdfs://<700 dir>/out` | `cannot check output directory hdfs://<dir>/out: AccessControlException: Permission denied` |
//! | checkpoint dir | `-D state.checkpoints.dir=hdfs://<700 dir>/cp` | `checkpoint directory hdfs://<dir>/cp (state.checkpoints.dir) cannot be created: AccessControlException: Permission denied` |
//! | staging dir | `-m yarn-per-job` with `/user/otheruser` mode 700, owned by the superuser | `HDFS mkdirs of /user/otheruser/.rfy/<app> ... failed: ... AccessControlException Permission denied` |
//!
//! Quota during a checkpoint: a running job checkpoints into HDFS; the
//! checkpoint directory gets a space quota (`hdfs dfsadmin -setSpaceQuota`)
//! too small for one block. Checkpoints are declined (the failure names the
//! quota), the job goes on RUNNING; once the quota is cleared, checkpoints
//! complete again and the job finishes with the right output.

use std::process::Command;
use std::time::{Duration, Instant};

use rfy_client::follow::RestClient;
use rfy_client::local::LocalCluster;
use rfy_itests::local::*;
use rfy_itests::{hadoop_cli, repo_root, rfy_bin, Cluster};

const OTHER: &str = "otheruser";

/// Runs `rfy <args>` as [`OTHER`]; checks the contract and returns the error line.
fn fails_as_other(args: &[&str]) -> String {
    let started = Instant::now();
    let out = Command::new(rfy_bin())
        .args(args)
        .env("HADOOP_USER_NAME", OTHER)
        .env("RUST_LOG", "warn")
        .env_remove("RFY_CONF_DIR")
        .output()
        .expect("run rfy");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "rfy {args:?}: exit {:?}: {stderr}", out.status);
    assert!(!stderr.contains("panicked"), "rfy {args:?} panicked: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty() && !l.contains(" WARN ")).collect();
    assert_eq!(lines.len(), 1, "rfy {args:?}: one line expected, got: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(!lines[0].contains("\tat ") && !lines[0].contains("FSPermissionChecker"), "a stack trace: {stderr}");
    assert!(lines[0].contains("Permission denied") && lines[0].contains("user=otheruser"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(60), "took {:?}", started.elapsed());
    lines[0].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hdfs_permission_denied_is_one_line_naming_the_path() {
    let Some(c) = Cluster::get("hdfs_permission_denied_is_one_line_naming_the_path") else { return };
    let dir = c.test_dir("perm").await;
    let (private, open) = (format!("{dir}/private"), format!("{dir}/open"));
    c.fs.mkdirs(&private, 0o755).await.unwrap();
    c.fs.mkdirs(&open, 0o777).await.unwrap();
    let kjv = repo_root().join("data/kjv.txt");
    c.fs.upload(&kjv, &format!("{private}/kjv.txt"), 0o644, true).await.unwrap();
    c.fs.upload(&kjv, &format!("{open}/kjv.txt"), 0o644, true).await.unwrap();
    let (ok, out) = hadoop_cli("hdfs", &["dfs", "-chmod", "700", &private]);
    assert!(ok, "{out}");
    let (ok, out) = hadoop_cli("hdfs", &["dfs", "-chmod", "777", &open]);
    assert!(ok, "{out}");
    let tmp = tempfile::tempdir().unwrap();
    let local_out = tmp.path().join("out").display().to_string();
    let open_in = format!("hdfs://{open}/kjv.txt");

    let line =
        fails_as_other(&["run", "wordcount", "--input", &format!("hdfs://{private}/kjv.txt"), "--output", &local_out]);
    assert!(
        line.contains(&format!("input file hdfs://{private}/kjv.txt cannot be read: AccessControlException")),
        "{line}"
    );

    let line = fails_as_other(&["run", "wordcount", "--input", &open_in, "--output", &format!("hdfs://{private}/out")]);
    assert!(
        line.contains(&format!("cannot check output directory hdfs://{private}/out: AccessControlException")),
        "{line}"
    );

    let cp = format!("hdfs://{private}/cp");
    let line = fails_as_other(&[
        "run",
        "-D",
        "execution.checkpointing.interval=1s",
        "-D",
        &format!("state.checkpoints.dir={cp}"),
        "wordcount",
        "--input",
        &open_in,
        "--output",
        &local_out,
    ]);
    assert!(line.contains(&format!("checkpoint directory {cp} (state.checkpoints.dir) cannot be created")), "{line}");

    // Staging: the second user's home belongs to the superuser, mode 700.
    let home = format!("/user/{OTHER}");
    if !c.fs.exists(&home).await.unwrap() {
        c.fs.mkdirs(&home, 0o700).await.unwrap();
    }
    let (ok, out) = hadoop_cli("hdfs", &["dfs", "-chmod", "700", &home]);
    assert!(ok, "{out}");
    let line = fails_as_other(&[
        "run",
        "-m",
        "yarn-per-job",
        "-D",
        "yarn.application.name=reliability-staging-denied",
        "wordcount",
        "--input",
        &open_in,
        "--output",
        &format!("hdfs://{open}/out"),
    ]);
    assert!(line.contains(&format!("mkdirs of {home}/.rfy/")), "{line}");
    assert!(!std::path::Path::new(&local_out).exists(), "a local output was written");
    assert!(!c.fs.exists(&format!("{open}/out")).await.unwrap(), "an HDFS output was written");
    c.fs.delete(&dir, true).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_over_quota_is_declined_and_the_job_goes_on() -> anyhow::Result<()> {
    let Some(c) = Cluster::get("a_checkpoint_over_quota_is_declined_and_the_job_goes_on") else { return Ok(()) };
    init_logging();
    let dir = c.test_dir("quota").await;
    let cp_dir = format!("{dir}/cp");
    c.fs.mkdirs(&cp_dir, 0o755).await.unwrap();
    let tmp = tempfile::tempdir()?;
    let (input, lines) = repeated_kjv(tmp.path(), 1);
    let expected = reference_counts(&input);
    let out = tmp.path().join("out");
    let conf = conf(&[
        ("execution.checkpointing.interval", "500 ms".into()),
        ("state.checkpoints.dir", format!("hdfs://{cp_dir}")),
    ]);
    // About 12 s of input.
    let rate = (lines as f64 / 12.0).ceil().to_string();
    let (input_arg, out_arg) = (input.display().to_string(), out.display().to_string());
    let graph = plan(
        &conf,
        "wordcount",
        1,
        &["--input", &input_arg, "--output", &out_arg, "--mode", "updates", "--rate", &rate],
    )?;
    let cluster = LocalCluster::start(&conf, graph.required_slots()).await?;
    let client = RestClient::new(cluster.rest_url())?;
    let job = client.submit(&graph, &Default::default()).await?;
    let counts = |v: &serde_json::Value| {
        (v["counts"]["completed"].as_u64().unwrap_or(0), v["counts"]["failed"].as_u64().unwrap_or(0))
    };

    wait_until("a first completed checkpoint", Duration::from_secs(30), || async {
        Ok(completed_checkpoints(&client, &job).await? >= 1)
    })
    .await?;
    let (ok, text) = hadoop_cli("hdfs", &["dfsadmin", "-setSpaceQuota", "1k", &cp_dir]);
    assert!(ok, "setSpaceQuota: {text}");
    let before = counts(&client.get(&format!("/jobs/{job}/checkpoints")).await?);
    wait_until("two declined checkpoints", Duration::from_secs(30), || async {
        Ok(counts(&client.get(&format!("/jobs/{job}/checkpoints")).await?).1 >= before.1 + 2)
    })
    .await?;
    let stats = client.get(&format!("/jobs/{job}/checkpoints")).await?;
    let message = stats["latest"]["failed"]["failure_message"].as_str().unwrap_or("").to_string();
    assert_eq!(job_state(&client, &job).await?, "RUNNING", "the job goes on after declined checkpoints");
    let (ok, text) = hadoop_cli("hdfs", &["dfsadmin", "-clrSpaceQuota", &cp_dir]);
    assert!(ok, "clrSpaceQuota: {text}");
    let during = counts(&stats);
    wait_until("a completed checkpoint after the quota is lifted", Duration::from_secs(30), || async {
        Ok(counts(&client.get(&format!("/jobs/{job}/checkpoints")).await?).0 > during.0)
    })
    .await?;
    let state = wait_terminal(&client, &job, Duration::from_secs(120)).await?;
    cluster.shutdown().await;
    eprintln!("quota: checkpoints completed/failed before {before:?}, during {during:?}; failure: {message}");
    assert!(message.contains("Quota") || message.contains("quota"), "the failure names the quota: {stats:#}");
    assert!(!message.contains("\tat "), "a stack trace in the failure message: {message}");
    assert_eq!(state, "FINISHED");
    let problems = exactly_once_problems(&expected, &committed_updates(&out));
    assert!(problems.is_empty(), "output is not exactly-once: {problems:#?}");
    c.fs.delete(&dir, true).await.unwrap();
    Ok(())
}
