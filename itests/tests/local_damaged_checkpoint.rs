//! Issue 4, "done when" #3 in local mode: with the newest checkpoint's
//! `_metadata` corrupted, then removed, and then one of its state files
//! corrupted (same size: only its checksum tells), recovery after a
//! TaskManager kill uses the previous checkpoint, and the exception history
//! says so.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rfy_client::follow::RestClient;
use rfy_client::local::LocalCluster;
use rfy_itests::local::*;

/// The newest checkpoint directory with a `_metadata`, and its id.
fn newest_checkpoint(job_dir: &Path) -> Option<(u64, PathBuf)> {
    std::fs::read_dir(job_dir)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let id: u64 = e.file_name().to_string_lossy().strip_prefix("chk-")?.parse().ok()?;
            e.path().join("_metadata").exists().then_some((id, e.path()))
        })
        .max_by_key(|(id, _)| *id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn damaged_newest_checkpoint_falls_back_to_the_previous_one() -> anyhow::Result<()> {
    init_logging();
    let tmp = tempfile::tempdir()?;
    let (input, _) = repeated_kjv(tmp.path(), 1);
    let expected = reference_counts(&input);
    let (out, ckpt) = (tmp.path().join("out"), tmp.path().join("checkpoints"));
    let conf = conf(&[
        ("execution.checkpointing.interval", "1500 ms".into()),
        ("state.checkpoints.dir", ckpt.display().to_string()),
        ("state.checkpoints.num-retained", "3".into()),
        ("local.number-taskmanager", "2".into()),
        ("restart-strategy.type", "fixed-delay".into()),
        ("restart-strategy.fixed-delay.attempts", "10".into()),
        ("restart-strategy.fixed-delay.delay", "200 ms".into()),
    ]);
    let graph = plan(
        &conf,
        "wordcount",
        2,
        &["--input", input.to_str().unwrap(), "--output", out.to_str().unwrap(), "--mode", "updates", "--rate", "1500"],
    )?;
    let cluster = LocalCluster::start(&conf, graph.required_slots()).await?;
    let client = RestClient::new(cluster.rest_url())?;
    let job = client.submit(&graph, &Default::default()).await?;
    let job_dir = ckpt.join(&job);

    for (round, damage) in ["corrupt", "remove", "state"].into_iter().enumerate() {
        let before = completed_checkpoints(&client, &job).await?;
        wait_until("two more checkpoints", Duration::from_secs(30), || async {
            Ok(completed_checkpoints(&client, &job).await? >= before + 2)
        })
        .await?;
        // Act right after a completion, well before the next one.
        let (newest, dir) = newest_checkpoint(&job_dir).expect("a checkpoint");
        let meta = dir.join("_metadata");
        match damage {
            "corrupt" => {
                let mut bytes = std::fs::read(&meta)?;
                let i = bytes.len() / 2;
                bytes[i] ^= 0x55;
                std::fs::write(&meta, bytes)?;
            }
            "remove" => std::fs::remove_file(&meta)?,
            _ => {
                // Flip one byte in the middle of the biggest state file.
                let file = std::fs::read_dir(&dir)?
                    .flatten()
                    .filter(|e| e.file_name() != "_metadata")
                    .max_by_key(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
                    .expect("a state file")
                    .path();
                let mut bytes = std::fs::read(&file)?;
                let i = bytes.len() / 2;
                bytes[i] ^= 0x01;
                std::fs::write(&file, bytes)?;
            }
        }
        let victim = cluster.task_manager_ids()[0].clone();
        assert!(cluster.kill_task_manager(&victim));
        wait_until("the job to leave RUNNING", Duration::from_secs(30), || async {
            Ok(!fully_running(&client, &job).await?)
        })
        .await?;
        wait_until("the job to run again", Duration::from_secs(60), || async { fully_running(&client, &job).await })
            .await?;
        let cps = client.get(&format!("/jobs/{job}/checkpoints")).await?;
        let restored = cps["latest"]["restored"]["id"].as_u64().unwrap_or(0);
        assert!(
            restored > 0 && restored < newest,
            "round {round} ({damage}): restored {restored}, damaged {newest}: {cps:#}"
        );
        let exceptions = client.get(&format!("/jobs/{job}/exceptions")).await?;
        let text = exceptions.to_string();
        if damage == "state" {
            assert!(
                text.contains("could not read its state") && text.contains("corrupt checkpoint file"),
                "the exception history says which checkpoint a task could not read: {exceptions:#}"
            );
        } else {
            assert!(
                text.contains(&format!("checkpoint {newest} at"))
                    && text.contains(&format!("falling back to checkpoint {restored}")),
                "the exception history names the skipped and the used checkpoint: {exceptions:#}"
            );
        }
    }
    let state = wait_terminal(&client, &job, Duration::from_secs(300)).await?;
    cluster.shutdown().await;
    assert_eq!(state, "FINISHED");
    // Output committed for the damaged checkpoints is written again after
    // the fallback (it cannot be taken back), but nothing is lost and the
    // final counts are right.
    let got = committed_updates(&out);
    for (word, &n) in &expected {
        let mut counts = got.get(word).cloned().unwrap_or_default();
        counts.sort_unstable();
        counts.dedup();
        assert_eq!(counts.len() as u64, n, "{word}: distinct counts 1..{n} expected");
        assert_eq!(counts.last(), Some(&n), "{word}");
    }
    Ok(())
}
