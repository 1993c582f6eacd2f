//! Issue 23 part 1, "done when" on YARN: the built-in `kafka-to-parquet` at
//! `-p 2` in its own YARN application (2 TaskManager containers, a
//! checkpoint every second to HDFS) reads N JSON events with unique ids and
//! four hours of event time from a 4-partition topic of the real broker and
//! writes hourly Parquet partitions into HDFS, while a TaskManager container
//! is killed twice. The HDFS directory is then copied to a local directory
//! and read by an independent reader, pyarrow (`.cache/pyarrow-venv`,
//! installed by `scripts/test`): every event is in its hour's partition
//! exactly once, every partition has `_SUCCESS`, and no in-progress or
//! pending file is left.
//!
//! Needs HADOOP_CONF_DIR, the rfy binaries built (see `rfy_itests`),
//! RFY_KAFKA_BOOTSTRAP and pyarrow (RFY_PYARROW_PYTHON, default
//! `.cache/pyarrow-venv/bin/python`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rfy_itests::kafka::*;
use rfy_itests::local::seeded_rng;
use rfy_itests::yarn::*;
use rfy_itests::{repo_root, Cluster, Hdfs};

/// 2024-01-01T00:00:00Z.
const T0: i64 = 1_704_067_200_000;
const HOUR: i64 = 3_600_000;

/// Rows (ids) per partition and the partitions with `_SUCCESS`, as pyarrow
/// reads them from a local directory; hidden files are counted apart.
const READER: &str = r#"
import json, os, sys
import pyarrow.parquet as pq
root = sys.argv[1]
rows, success, hidden = {}, [], []
for dirpath, dirs, files in os.walk(root):
    dirs[:] = [d for d in dirs if not d.startswith(('.', '_'))]
    rel = os.path.relpath(dirpath, root)
    for f in files:
        if f == '_SUCCESS':
            success.append(rel)
        elif f.startswith(('.', '_')):
            hidden.append(os.path.join(rel, f))
        else:
            ids = pq.read_table(os.path.join(dirpath, f), columns=['id']).column('id').to_pylist()
            rows.setdefault(rel, []).extend(ids)
print(json.dumps({'rows': rows, 'success': sorted(success), 'hidden': hidden}))
"#;

fn python() -> PathBuf {
    let p = std::env::var_os("RFY_PYARROW_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".cache/pyarrow-venv/bin/python"));
    assert!(
        p.exists(),
        "{} not found: pyarrow reads the Parquet output (scripts/test installs it; or: python3 -m venv \
         .cache/pyarrow-venv && .cache/pyarrow-venv/bin/pip install pyarrow)",
        p.display()
    );
    p
}

/// Copies the HDFS directory `dir` (recursively) into `local`.
async fn copy_to_local(fs: &Hdfs, dir: &str, local: &Path) -> anyhow::Result<()> {
    let mut todo = vec![(dir.to_string(), local.to_path_buf())];
    while let Some((d, l)) = todo.pop() {
        std::fs::create_dir_all(&l)?;
        for e in fs.list(&d).await? {
            let name = e.path.rsplit('/').next().unwrap_or_default().to_string();
            if e.is_dir {
                todo.push((e.path.clone(), l.join(&name)));
            } else {
                std::fs::write(l.join(&name), fs.read(&e.path).await?)?;
            }
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kafka_to_parquet_on_yarn_loses_and_duplicates_no_row() -> anyhow::Result<()> {
    let Some(bootstrap) = bootstrap("kafka_to_parquet_yarn") else { return Ok(()) };
    let Some(c) = Cluster::get("kafka_to_parquet_on_yarn_loses_and_duplicates_no_row") else { return Ok(()) };
    let python = python();
    let seconds = itest_seconds(30.0);
    // 6000 events, 2.4 s of event time apart: hours 00..03.
    let n = 6000i64;
    let step = 4 * HOUR / n;
    let mut want: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let events: Vec<String> = (0..n)
        .map(|id| {
            let ts = T0 + id * step;
            want.entry(format!("2024-01-01--{:02}", (ts - T0) / HOUR)).or_default().push(id);
            format!(r#"{{"id":{id},"user":"u{}","amount":{}.25,"ts":{ts}}}"#, id % 17, id % 1000)
        })
        .collect();
    let topic = unique_topic("parquet-in");
    create_topic(&bootstrap, &topic, 4).await?;
    let values: Vec<&[u8]> = events.iter().map(|e| e.as_bytes()).collect();
    produce(&bootstrap, &topic, 4, &values)?;

    let dir = c.test_dir("parquet-eo").await;
    let out = format!("hdfs://{dir}/lake");
    let conf = checkpointed_restart_conf(&c, &dir, &[]);
    let rate = (n as f64 / seconds).ceil().to_string();
    let args = [
        "--bootstrap-servers",
        &bootstrap,
        "--input-topic",
        &topic,
        "--output",
        &out,
        "--schema",
        "id:int64,user:string,amount:float64,ts:timestamp",
        "--max-out-of-orderness",
        "10min",
        "--compression",
        "zstd",
        "--bounded",
        "--rate",
        &rate,
    ];
    let mut j = start_job(&c, 2, &conf, None, "kafka-to-parquet", &args);
    let started = Instant::now();
    eprintln!("job {} in {} is RUNNING", j.job, j.app);
    let mut rng = seeded_rng();
    for _ in 0..2 {
        let before = completed(&j.rest, &j.job).await;
        wait_completed_over(&j.rest, &j.job, before, Duration::from_secs(30)).await?;
        tokio::time::sleep(Duration::from_millis(rng.u64(100..1500))).await;
        assert!(
            started.elapsed().as_secs_f64() < seconds,
            "kills must happen while the job runs; raise RFY_ITEST_SECONDS"
        );
        let tms = task_manager_containers(&j.rest).await?;
        let victim = tms[rng.usize(..tms.len())].clone();
        eprintln!("{:>6.1} s: killing {victim}", started.elapsed().as_secs_f64());
        let took = kill_and_wait_recovery(&j.rest, &j.job, &victim, 2, Duration::from_secs(60)).await?;
        eprintln!("{:>6.1} s: running again after {:.2} s", started.elapsed().as_secs_f64(), took.as_secs_f64());
    }
    let (st, output, _) = j.finish(Duration::from_secs_f64(seconds * 4.0 + 180.0));
    assert!(st.success(), "rfy exited {st}:\n{output}");
    let r = c.wait_final(&j.app, Duration::from_secs(60)).await;
    assert_eq!((r.state.as_str(), r.final_status.as_str()), ("FINISHED", "SUCCEEDED"), "{}", r.diagnostics);

    let tmp = tempfile::tempdir()?;
    copy_to_local(&c.fs, &format!("{dir}/lake"), tmp.path()).await?;
    let read = std::process::Command::new(&python).args(["-c", READER]).arg(tmp.path()).output()?;
    assert!(read.status.success(), "pyarrow failed: {}", String::from_utf8_lossy(&read.stderr));
    let v: serde_json::Value = serde_json::from_slice(&read.stdout)?;
    let mut got: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (part, ids) in v["rows"].as_object().expect("rows") {
        let mut ids: Vec<i64> = ids.as_array().expect("ids").iter().map(|i| i.as_i64().expect("id")).collect();
        ids.sort_unstable();
        got.insert(part.clone(), ids);
    }
    let counts = |m: &BTreeMap<String, Vec<i64>>| m.iter().map(|(k, v)| (k.clone(), v.len())).collect::<Vec<_>>();
    eprintln!("rows per partition (pyarrow): {:?}", counts(&got));
    assert_eq!(counts(&got), counts(&want), "rows per partition");
    assert!(got == want, "some event is lost, duplicated or in the wrong partition");
    let success: Vec<String> =
        v["success"].as_array().expect("success").iter().map(|s| s.as_str().unwrap_or_default().to_string()).collect();
    assert_eq!(success, want.keys().cloned().collect::<Vec<_>>(), "_SUCCESS in every partition");
    assert_eq!(v["hidden"], serde_json::json!([]), "in-progress or pending files left");
    c.wait_no_containers(&j.app, Duration::from_secs(60)).await;
    c.fs.delete(&dir, true).await?;
    Ok(())
}
