//! Issue 4, "done when" #2 on YARN: savepoint, stop, and restore
//! `-p 1` → `-p 2` → `-p 1`, each run its own YARN application, savepoints
//! on HDFS, taken with the CLI as a Flink user would
//! (`rfy savepoint -m yarn-application -D yarn.application.id=<app> <job>`,
//! `rfy stop -m yarn-application --yid <app> -p <dir> <job>`, `rfy run -s`),
//! gives the same final result as an uninterrupted run: for every word the
//! committed lines `word<TAB>1` .. `word<TAB>n`, each exactly once.

use std::time::Duration;

use rfy_itests::local::{exactly_once_problems, reference_counts, repeated_kjv};
use rfy_itests::yarn::*;
use rfy_itests::{rfy, Cluster};

/// The path after "Savepoint completed. Path: " in `out`.
fn savepoint_path(out: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix("Savepoint completed. Path: "))
        .unwrap_or_else(|| panic!("no savepoint path printed:\n{out}"))
        .trim()
        .to_string()
}

/// Where a run reads, writes and saves: `hdfs://` URIs.
struct Io<'a> {
    input: &'a str,
    output: &'a str,
    savepoints: &'a str,
}

/// One run at parallelism `p`, restored from `from` if given; with `stop`
/// it is stopped with a savepoint into `io.savepoints` after a few seconds
/// (the savepoint's path is returned), else it runs to its end.
async fn run(
    c: &Cluster,
    p: u32,
    io: &Io<'_>,
    from: Option<&str>,
    stop: bool,
    plain_savepoint_first: bool,
) -> Option<String> {
    let Io { input, output, savepoints: sp } = *io;
    let conf = [("state.savepoints.dir", sp.to_string())];
    let mut j = start_wordcount(
        c,
        p,
        &conf,
        from,
        &["--input", input, "--output", output, "--mode", "updates", "--rate", "3000"],
    );
    let app_d = format!("yarn.application.id={}", j.app);
    if from.is_some() {
        let cps = j.rest.get(&format!("/jobs/{}/checkpoints", j.job)).await.unwrap();
        assert_eq!(
            cps["latest"]["restored"]["is_savepoint"], true,
            "run at -p {p} restored from the savepoint: {cps:#}"
        );
    }
    let result = if stop {
        tokio::time::sleep(Duration::from_millis(2500)).await;
        if plain_savepoint_first {
            // `rfy savepoint`: the job goes on.
            let (st, out, _) =
                rfy(&["savepoint", "-m", "yarn-application", "-D", &app_d, &j.job], &[], Duration::from_secs(120));
            assert!(st.success(), "rfy savepoint on YARN failed:\n{out}");
            let path = savepoint_path(&out);
            let meta = format!("{}/_metadata", hdfs_path(&path));
            assert!(
                path.starts_with(sp) && c.fs.exists(&meta).await.unwrap(),
                "savepoint {path} on HDFS under {sp} with {meta}"
            );
            assert!(fully_running_or_not(&j.rest, &j.job).await.unwrap(), "the job runs on after rfy savepoint");
        }
        let (st, out, _) =
            rfy(&["stop", "-m", "yarn-application", "--yid", &j.app, "-p", sp, &j.job], &[], Duration::from_secs(120));
        assert!(st.success(), "rfy stop on YARN failed:\n{out}");
        Some(savepoint_path(&out))
    } else {
        None
    };
    let (st, out, _) = j.finish(Duration::from_secs(300));
    assert!(st.success(), "run at -p {p}: rfy exited {st}:\n{out}");
    let r = c.wait_final(&j.app, Duration::from_secs(60)).await;
    assert_eq!((r.state.as_str(), r.final_status.as_str()), ("FINISHED", "SUCCEEDED"), "{}", r.diagnostics);
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn yarn_stop_with_savepoint_and_rescale_1_2_1_matches_an_uninterrupted_run() {
    let Some(c) = Cluster::get("yarn_stop_with_savepoint_and_rescale_1_2_1_matches_an_uninterrupted_run") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (input, _) = repeated_kjv(tmp.path(), 1);
    let expected = reference_counts(&input);
    let dir = c.test_dir("ckpt-sp").await;
    let input_uri = upload(&c, &input, &format!("{dir}/input.txt")).await;
    let out_path = format!("{dir}/out");
    let output = format!("hdfs://{out_path}");
    let sp = format!("{}{dir}/savepoints", c.conf.default_fs().trim_end_matches('/'));

    let io = Io { input: &input_uri, output: &output, savepoints: &sp };
    let s1 = run(&c, 1, &io, None, true, false).await.expect("savepoint 1");
    let (partial, _) = hdfs_committed_updates(&c, &out_path).await.unwrap();
    let written: usize = partial.values().map(Vec::len).sum();
    let total: u64 = expected.values().sum();
    assert!(written > 0 && (written as u64) < total, "the first run stopped part way: {written} of {total} lines");

    let s2 = run(&c, 2, &io, Some(&s1), true, true).await.expect("savepoint 2");
    assert_ne!(s1, s2);
    run(&c, 1, &io, Some(&s2), false, false).await;

    let (got, leftovers) = hdfs_committed_updates(&c, &out_path).await.unwrap();
    let problems = exactly_once_problems(&expected, &got);
    assert!(problems.is_empty(), "restored runs differ from an uninterrupted one: {problems:#?}");
    assert!(leftovers.is_empty(), "uncommitted files left: {leftovers:?}");
    c.fs.delete(&dir, true).await.unwrap();
}
