//! The `hdfs://` text source and sink (rfy-connectors) on the embedded local
//! cluster: byte-range splits at an odd parallelism read every line once, and
//! the planning checks name a missing input and a non-empty output directory.
//! Needs HADOOP_CONF_DIR (see `rfy_itests::Cluster::get`).

use std::time::Duration;

use rfy_itests::{repo_root, rfy, Cluster};

#[tokio::test(flavor = "multi_thread")]
async fn hdfs_source_and_sink_in_local_mode() {
    let Some(c) = Cluster::get("hdfs_source_and_sink_in_local_mode") else { return };
    let dir = c.test_dir("conn").await;
    let input = c.put_kjv(&dir).await;
    let output = format!("hdfs://{dir}/out");
    let (st, out, _) =
        rfy(&["run", "-p", "3", "wordcount", "--input", &input, "--output", &output], &[], Duration::from_secs(180));
    assert!(st.success(), "{out}");
    let got = c.read_output(&format!("{dir}/out")).await;
    let mut expected: Vec<String> = std::fs::read_to_string(repo_root().join("data/kjv.flink-counts.tsv"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    expected.sort();
    assert!(
        got == expected,
        "hdfs output at -p 3 differs from data/kjv.flink-counts.tsv ({} vs {} lines)",
        got.len(),
        expected.len()
    );
    let names: Vec<String> =
        c.fs.list(&format!("{dir}/out"))
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.path.rsplit('/').next().unwrap().to_string())
            .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(names.iter().all(|n| n.starts_with("part-")), "in-progress files left: {names:?}");

    // The output directory is now not empty: the planning check refuses it.
    let (st, out, _) = rfy(&["run", "wordcount", "--input", &input, "--output", &output], &[], Duration::from_secs(60));
    assert!(!st.success() && out.contains("not empty") && out.contains(&output), "{out}");
    // A missing input is named.
    let missing = format!("hdfs://{dir}/missing.txt");
    let (st, out, _) = rfy(
        &["run", "wordcount", "--input", &missing, "--output", &format!("hdfs://{dir}/out2")],
        &[],
        Duration::from_secs(60),
    );
    assert!(!st.success() && out.contains("does not exist") && out.contains(&missing), "{out}");
    c.fs.delete(&dir, true).await.unwrap();
}
