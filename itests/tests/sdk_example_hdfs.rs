//! A job built with the SDK (examples/wordcount) on the embedded local
//! cluster with everything in HDFS by `hdfs:///` URIs (the NameNode of
//! `fs.defaultFS`): input, output and `state.checkpoints.dir`, through the
//! one file-system abstraction (runtime `fs`, HDFS registered by
//! rfy-connectors at the entry point). The output equals Flink's counts and
//! checkpoints were written (the job's checkpoint directory exists).
//! Needs HADOOP_CONF_DIR (see `rfy_itests::Cluster::get`).

use std::process::Command;

use rfy_itests::{repo_root, Cluster};

#[tokio::test(flavor = "multi_thread")]
async fn sdk_wordcount_with_hdfs_input_output_and_checkpoints() {
    let Some(c) = Cluster::get("sdk_wordcount_with_hdfs_input_output_and_checkpoints") else { return };
    let exe = std::env::current_exe().unwrap().parent().unwrap().parent().unwrap().join("rfy-example-wordcount");
    assert!(exe.is_file(), "{} is missing: cargo build -p rfy-example-wordcount", exe.display());
    let dir = c.test_dir("sdk-hdfs").await;
    c.put_kjv(&dir).await;
    let (input, output, checkpoints) =
        (format!("hdfs://{dir}/kjv.txt"), format!("hdfs://{dir}/out"), format!("hdfs://{dir}/chk"));
    assert!(input.starts_with("hdfs:///"), "{input}");
    let out = Command::new(&exe)
        .args(["run", "-p", "2", "-D", "execution.checkpointing.interval=200 ms"])
        .args(["-D", &format!("state.checkpoints.dir={checkpoints}"), "-D", "restart-strategy.type=none"])
        .arg(&exe)
        .args(["--input", &input, "--output", &output, "--rate", "40000"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let got = c.read_output(&format!("{dir}/out")).await;
    let mut expected: Vec<String> = std::fs::read_to_string(repo_root().join("data/kjv.flink-counts.tsv"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    expected.sort();
    assert!(
        got == expected,
        "SDK word count on HDFS differs from Flink's counts ({} vs {} lines)",
        got.len(),
        expected.len()
    );
    let jobs = c.fs.list(&format!("{dir}/chk")).await.expect("the checkpoint directory exists in HDFS");
    assert_eq!(jobs.len(), 1, "one job directory under {checkpoints}: {jobs:?}");
    c.fs.delete(&dir, true).await.unwrap();
}
