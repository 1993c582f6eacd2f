//! A job built with the SDK (examples/wordcount) on YARN:
//! `rfy-example-wordcount run -m yarn-application` ships the executable
//! itself as the ApplicationMaster's and the TaskManagers' binary (uploaded
//! once, run as `rfy-am` and `rfy-worker`); its HDFS output equals Flink's
//! counts. Needs HADOOP_CONF_DIR (see `rfy_itests::Cluster::get`).

use std::process::Command;

use rfy_itests::{repo_root, Cluster};

#[tokio::test(flavor = "multi_thread")]
async fn sdk_wordcount_on_yarn_ships_its_executable() {
    let Some(c) = Cluster::get("sdk_wordcount_on_yarn_ships_its_executable") else { return };
    let exe = std::env::current_exe().unwrap().parent().unwrap().parent().unwrap().join("rfy-example-wordcount");
    assert!(exe.is_file(), "{} is missing: cargo build -p rfy-example-wordcount", exe.display());
    let dir = c.test_dir("sdk-yarn").await;
    c.put_kjv(&dir).await;
    let (input, output) = (format!("hdfs://{dir}/kjv.txt"), format!("hdfs://{dir}/out"));
    let out = Command::new(&exe)
        .args(["run", "-m", "yarn-application", "-p", "2"])
        .args(["-D", "jobmanager.memory.process.size=512m", "-D", "taskmanager.memory.process.size=512m"])
        .args(["-D", "taskmanager.numberOfTaskSlots=1", "-D", "yarn.application.name=sdk-example-wordcount"])
        .arg(&exe)
        .args(["--input", &input, "--output", &output])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let got = c.read_output(&format!("{dir}/out")).await;
    let mut expected: Vec<String> = std::fs::read_to_string(repo_root().join("data/kjv.flink-counts.tsv"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    expected.sort();
    assert!(
        got == expected,
        "SDK word count on YARN differs from Flink's counts ({} vs {} lines)",
        got.len(),
        expected.len()
    );
    c.fs.delete(&dir, true).await.unwrap();
}
