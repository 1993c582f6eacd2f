//! Issue 4, "done when" #3 on YARN: with the newest checkpoint's
//! `_metadata` on HDFS corrupted (round 1), then removed (round 2), a
//! TaskManager container killed right after (`yarn container -signal`)
//! makes the job recover from the previous checkpoint, and the exception
//! history (through the RM proxy) names the skipped and the used one.

use std::time::Duration;

use rfy_itests::local::{reference_counts, repeated_kjv};
use rfy_itests::yarn::*;
use rfy_itests::Cluster;

/// The newest `chk-<n>` under `job_dir` (HDFS path) that has a `_metadata`.
async fn newest_checkpoint(c: &Cluster, job_dir: &str) -> Option<(u64, String)> {
    let mut best: Option<(u64, String)> = None;
    for e in c.fs.list(job_dir).await.ok()? {
        let name = e.path.rsplit('/').next().unwrap_or_default().to_string();
        let Some(id) = name.strip_prefix("chk-").and_then(|s| s.parse::<u64>().ok()) else { continue };
        let dir = format!("{job_dir}/{name}");
        if best.as_ref().is_some_and(|(b, _)| *b >= id) {
            continue;
        }
        if c.fs.exists(&format!("{dir}/_metadata")).await.unwrap_or(false) {
            best = Some((id, dir));
        }
    }
    best
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn yarn_damaged_newest_checkpoint_falls_back_to_the_previous_one() {
    let Some(c) = Cluster::get("yarn_damaged_newest_checkpoint_falls_back_to_the_previous_one") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (input, _) = repeated_kjv(tmp.path(), 1);
    let expected = reference_counts(&input);
    let dir = c.test_dir("ckpt-dmg").await;
    let input_uri = upload(&c, &input, &format!("{dir}/input.txt")).await;
    let out_path = format!("{dir}/out");
    let output = format!("hdfs://{out_path}");
    let ckpt_path = format!("{dir}/checkpoints");
    let conf = [
        // Long enough between checkpoints to damage one and kill before the next.
        ("execution.checkpointing.interval", "4 s".to_string()),
        ("state.checkpoints.dir", format!("{}{ckpt_path}", c.conf.default_fs().trim_end_matches('/'))),
        ("state.checkpoints.num-retained", "3".into()),
        ("restart-strategy.type", "fixed-delay".into()),
        ("restart-strategy.fixed-delay.attempts", "10".into()),
        ("restart-strategy.fixed-delay.delay", "200 ms".into()),
    ];
    let mut j = start_wordcount(
        &c,
        2,
        &conf,
        None,
        &["--input", &input_uri, "--output", &output, "--mode", "updates", "--rate", "800"],
    );
    let job_dir = format!("{ckpt_path}/{}", j.job);

    for damage in ["corrupt", "remove"] {
        let before = completed(&j.rest, &j.job).await;
        wait_completed_over(&j.rest, &j.job, before + 1, Duration::from_secs(60)).await.unwrap();
        let (newest, cdir) = newest_checkpoint(&c, &job_dir).await.expect("a checkpoint on HDFS");
        let meta = format!("{cdir}/_metadata");
        match damage {
            "corrupt" => {
                let mut bytes = c.fs.read(&meta).await.unwrap();
                let i = bytes.len() / 2;
                bytes[i] ^= 0x55;
                c.fs.write(&meta, &bytes, 0o644, true).await.unwrap();
            }
            _ => {
                c.fs.delete(&meta, false).await.unwrap();
            }
        }
        let victim = task_manager_containers(&j.rest).await.unwrap()[0].clone();
        eprintln!("{damage}: damaged checkpoint {newest} ({meta}), killing {victim}");
        let took = kill_and_wait_recovery(&j.rest, &j.job, &victim, 2, Duration::from_secs(60)).await.unwrap();
        eprintln!("{damage}: running again after {:.2} s", took.as_secs_f64());
        let cps = j.rest.get(&format!("/jobs/{}/checkpoints", j.job)).await.unwrap();
        let restored = cps["latest"]["restored"]["id"].as_u64().unwrap_or(0);
        assert!(restored > 0 && restored < newest, "{damage}: restored {restored}, damaged {newest}: {cps:#}");
        let exceptions = j.rest.get(&format!("/jobs/{}/exceptions", j.job)).await.unwrap();
        let text = exceptions.to_string();
        assert!(
            text.contains(&format!("checkpoint {newest} at")) && text.contains(&format!("falling back to checkpoint {restored}")),
            "{damage}: the exception history names the skipped ({newest}) and the used ({restored}) checkpoint: {exceptions:#}"
        );
    }
    let (st, out, _) = j.finish(Duration::from_secs(300));
    assert!(st.success(), "rfy exited {st}:\n{out}");
    let r = c.wait_final(&j.app, Duration::from_secs(60)).await;
    assert_eq!((r.state.as_str(), r.final_status.as_str()), ("FINISHED", "SUCCEEDED"), "{}", r.diagnostics);
    // Output committed for a damaged checkpoint is written again after the
    // fallback (it cannot be taken back), but nothing is lost and the final
    // counts are right.
    let (got, leftovers) = hdfs_committed_updates(&c, &out_path).await.unwrap();
    assert!(leftovers.is_empty(), "uncommitted files left: {leftovers:?}");
    for (word, &n) in &expected {
        let mut counts = got.get(word).cloned().unwrap_or_default();
        counts.sort_unstable();
        counts.dedup();
        assert_eq!(counts.len() as u64, n, "{word}: distinct counts 1..{n} expected");
        assert_eq!(counts.last(), Some(&n), "{word}");
    }
    c.fs.delete(&dir, true).await.unwrap();
}
