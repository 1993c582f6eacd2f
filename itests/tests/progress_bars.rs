//! Issue 10, progress bars: `rfy run -m yarn-per-job` in a pseudo-terminal
//! (util-linux `script`) draws its bars on stderr, each naming its stage: the
//! upload into the HDFS bundle cache (a fresh staging directory, so the bundle
//! is uploaded; `client.progress-bar.delay=0 s` draws every bar at once, as a
//! quiet machine uploads faster than the 1 s default), the wait for YARN
//! (`ACCEPTED → RUNNING`),
//! and the wait for TaskManagers (containers granted, TaskManagers
//! registered). Without a terminal the same run prints no bar (every other
//! YARN test reads rfy's output through pipes and sees none).

use std::process::Command;
use std::time::Duration;

use rfy_itests::yarn::SMALL;
use rfy_itests::{rfy_bin, Cluster};

/// `'text'` for sh.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[tokio::test(flavor = "multi_thread")]
async fn yarn_run_in_a_terminal_shows_each_stage_in_its_bar() {
    let Some(c) = Cluster::get("yarn_run_in_a_terminal_shows_each_stage_in_its_bar") else { return };
    let dir = c.test_dir("progress").await;
    let input = c.put_kjv(&dir).await;
    let output = format!("hdfs://{dir}/out");
    let staging = format!("yarn.staging-directory={dir}/staging");
    let mut args = vec!["run", "-m", "yarn-per-job", "-p", "1", "-D", &staging, "-D", "client.progress-bar.delay=0 s"];
    args.extend_from_slice(&SMALL);
    args.extend(["wordcount", "--input", &input, "--output", &output]);
    let rfy = rfy_bin();
    let command = std::iter::once(rfy.to_str().unwrap()).chain(args).map(quote).collect::<Vec<_>>().join(" ");
    // A wide terminal: indicatif cuts a bar's line at the terminal's width.
    let script = format!("stty cols 400 rows 50; exec {command}");
    let run = tokio::task::spawn_blocking(move || {
        Command::new("script").args(["-qfec", &script, "/dev/null"]).env("RUST_LOG", "error").output()
    });
    let out = tokio::time::timeout(Duration::from_secs(300), run)
        .await
        .expect("rfy run within 300 s")
        .unwrap()
        .expect("util-linux script installed");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "rfy run failed:\n{text}");
    for stage in [
        "putting the bundle into the HDFS cache",
        "waiting for YARN: application application_",
        "ACCEPTED → RUNNING",
        "waiting for TaskManagers: containers granted",
        "TaskManagers registered",
    ] {
        assert!(text.contains(stage), "no bar showed '{stage}':\n{text}");
    }
    c.fs.delete(&dir, true).await.unwrap();
}
