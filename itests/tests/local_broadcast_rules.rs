//! Issue 23 §2, broadcast state, on the embedded local cluster: the
//! built-in `rules` job (dynamic alert rules from one file, broadcast to
//! every subtask, applied to keyed events of another) with the exactly-once
//! file sink.
//!
//! * `taskmanager_kills_lose_and_duplicate_nothing`: at `-p 3` with a
//!   checkpoint every second, a TaskManager is killed twice mid-run; the
//!   committed alerts equal, as a multiset, the alerts computed here from
//!   the two files (nothing lost, nothing duplicated), every subtask wrote
//!   alerts of every rule (the rules reached each of them), and the plan
//!   shows the broadcast input's ship strategy as `BROADCAST`.
//! * `savepoint_at_p2_restored_at_p3_keeps_the_rules`: stopped with a
//!   savepoint at `-p 2` part way, restored at `-p 3` (the rules read before
//!   the savepoint come back on the new third subtask only from state),
//!   the committed alerts of both runs equal the expectation.
//!
//! Paced to run about 30 s (kills) and 15 s (rescale); override the first
//! with RFY_ITEST_SECONDS.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use rfy_client::follow::RestClient;
use rfy_client::local::LocalCluster;
use rfy_itests::local::*;

const EVENTS: usize = 30_000;
const RULES: usize = 40;

/// Writes the events file (`time,key,value`, 10 ms apart, 97 keys) and the
/// rules file (`time,rule,threshold|-`, 6 rules, versions spread over the
/// events' time range, some deletions) into `dir`.
fn write_inputs(dir: &Path, rng: &mut fastrand::Rng) -> (std::path::PathBuf, std::path::PathBuf) {
    let events: String =
        (0..EVENTS).map(|i| format!("{},k{},{}\n", i * 10, (i * 7919) % 97, rng.u64(0..100))).collect();
    let span = EVENTS * 10 / RULES;
    let rules: String = (0..RULES)
        .map(|j| {
            let threshold = if j >= 6 && rng.u8(0..5) == 0 { "-".to_string() } else { rng.u64(40..100).to_string() };
            format!("{},r{},{threshold}\n", j * span + 5, j % 6)
        })
        .collect();
    let (e, r) = (dir.join("events.csv"), dir.join("rules.csv"));
    std::fs::write(&e, events).unwrap();
    std::fs::write(&r, rules).unwrap();
    (e, r)
}

/// The alert lines the job must commit, computed straight from the files:
/// for each event and rule, the rule's newest version at or before the
/// event's time, if it has a threshold the value exceeds.
fn expected_alerts(events: &Path, rules: &Path) -> Vec<String> {
    let mut versions: BTreeMap<String, Vec<(i64, Option<u64>)>> = BTreeMap::new();
    for line in std::fs::read_to_string(rules).unwrap().lines() {
        let f: Vec<&str> = line.split(',').collect();
        versions.entry(f[1].to_string()).or_default().push((f[0].parse().unwrap(), f[2].parse().ok()));
    }
    let mut out = Vec::new();
    for line in std::fs::read_to_string(events).unwrap().lines() {
        let f: Vec<&str> = line.split(',').collect();
        let (t, v): (i64, u64) = (f[0].parse().unwrap(), f[2].parse().unwrap());
        for (rule, vs) in &versions {
            let threshold = vs.iter().rfind(|(vt, _)| *vt <= t).and_then(|x| x.1);
            if threshold.is_some_and(|th| v > th) {
                out.push(format!("{t}\t{}\t{rule}\t{v}", f[1]));
            }
        }
    }
    out.sort();
    out
}

/// Committed alert lines, and the rules each subtask's part files name.
fn committed(out: &Path) -> (Vec<String>, BTreeMap<u32, BTreeSet<String>>) {
    let (mut lines, mut by_subtask) = (Vec::new(), BTreeMap::<u32, BTreeSet<String>>::new());
    for entry in std::fs::read_dir(out).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("part-") else { continue };
        let subtask: u32 = rest.split('-').next().unwrap().parse().unwrap();
        for line in std::fs::read_to_string(entry.path()).unwrap().lines() {
            let rule = line.split('\t').nth(2).unwrap_or_else(|| panic!("bad line {line:?} in {name}"));
            by_subtask.entry(subtask).or_default().insert(rule.to_string());
            lines.push(line.to_string());
        }
    }
    lines.sort();
    (lines, by_subtask)
}

/// What differs between two sorted multisets of lines (a few examples each way).
fn differences(expected: &[String], got: &[String]) -> String {
    let count = |v: &[String]| {
        let mut m: BTreeMap<String, i64> = BTreeMap::new();
        v.iter().for_each(|l| *m.entry(l.clone()).or_default() += 1);
        m
    };
    let (e, g) = (count(expected), count(got));
    let missing: Vec<_> = e.iter().filter(|(l, n)| g.get(*l).copied().unwrap_or(0) < **n).take(5).collect();
    let extra: Vec<_> = g.iter().filter(|(l, n)| e.get(*l).copied().unwrap_or(0) < **n).take(5).collect();
    format!(
        "{} expected, {} committed; missing e.g. {missing:?}; extra (duplicates) e.g. {extra:?}",
        expected.len(),
        got.len()
    )
}

fn rules_args<'a>(events: &'a str, rules: &'a str, out: &'a str, seconds: f64) -> Vec<String> {
    let rate = |n: usize| format!("{:.3}", n as f64 / seconds);
    [
        "--events",
        events,
        "--rules",
        rules,
        "--output",
        out,
        "--events-rate",
        &rate(EVENTS),
        "--rules-rate",
        &rate(RULES),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn taskmanager_kills_lose_and_duplicate_nothing() -> anyhow::Result<()> {
    init_logging();
    let seconds: f64 = std::env::var("RFY_ITEST_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(30.0);
    let tmp = tempfile::tempdir()?;
    let mut rng = seeded_rng();
    let (events, rules) = write_inputs(tmp.path(), &mut rng);
    let expected = expected_alerts(&events, &rules);
    assert!(expected.len() > 10_000, "a fair share of events alert: {}", expected.len());
    let out = tmp.path().join("out");
    let conf = conf(&[
        ("execution.checkpointing.interval", "1 s".into()),
        ("state.checkpoints.dir", tmp.path().join("checkpoints").display().to_string()),
        ("state.checkpoints.num-retained", "2".into()),
        ("local.number-taskmanager", "2".into()),
        ("restart-strategy.exponential-delay.initial-backoff", "500 ms".into()),
    ]);
    let args = rules_args(events.to_str().unwrap(), rules.to_str().unwrap(), out.to_str().unwrap(), seconds);
    let graph = plan(&conf, "rules", 3, &args.iter().map(String::as_str).collect::<Vec<_>>())?;
    let cluster = LocalCluster::start(&conf, graph.required_slots()).await?;
    let client = RestClient::new(cluster.rest_url())?;
    let job = client.submit(&graph, &Default::default()).await?;
    let started = Instant::now();

    let plan_json = client.get(&format!("/jobs/{job}/plan")).await?;
    let strategies: Vec<String> = plan_json["plan"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|n| n["inputs"].as_array().cloned().unwrap_or_default())
        .filter_map(|i| i["ship_strategy"].as_str().map(str::to_string))
        .collect();
    assert!(strategies.iter().any(|s| s == "BROADCAST") && strategies.iter().any(|s| s == "HASH"), "{plan_json:#}");

    let mut recoveries = Vec::new();
    while recoveries.len() < 2 {
        recoveries.push(kill_and_recover(&cluster, &client, &job, &mut rng, 200..2000, started, seconds * 0.8).await?);
    }
    let state = wait_terminal(&client, &job, Duration::from_secs_f64(seconds * 4.0 + 120.0)).await?;
    let exceptions = client.get(&format!("/jobs/{job}/exceptions")).await?;
    let checkpoints = client.get(&format!("/jobs/{job}/checkpoints")).await?;
    cluster.shutdown().await;
    assert_eq!(state, "FINISHED", "exceptions: {exceptions:#}");
    assert!(checkpoints["counts"]["restored"].as_u64().unwrap_or(0) >= 2, "{checkpoints:#}");

    let (got, by_subtask) = committed(&out);
    assert!(got == expected, "alerts are not exactly-once: {}", differences(&expected, &got));
    let all_rules: BTreeSet<String> = expected.iter().map(|l| l.split('\t').nth(2).unwrap().to_string()).collect();
    assert_eq!(by_subtask.keys().copied().collect::<Vec<_>>(), vec![0, 1, 2], "every subtask alerts");
    for (sub, rules) in &by_subtask {
        assert_eq!(rules, &all_rules, "subtask {sub} applied every rule");
    }
    eprintln!(
        "rules: {} alerts exactly once over {} kills; recovery: {:?}",
        got.len(),
        recoveries.len(),
        recoveries.iter().map(|d| format!("{:.2} s", d.as_secs_f64())).collect::<Vec<_>>()
    );
    Ok(())
}

/// Runs the rules job at parallelism `p` (from savepoint `from` if given);
/// with `stop_after`, stops it with a savepoint then and returns its path.
async fn run(
    p: u32,
    args: &[String],
    savepoints: &Path,
    from: Option<&str>,
    stop_after: Option<Duration>,
) -> anyhow::Result<Option<String>> {
    let mut pairs =
        vec![("state.savepoints.dir", savepoints.display().to_string()), ("local.number-taskmanager", "2".to_string())];
    if let Some(f) = from {
        pairs.push(("execution.savepoint.path", f.to_string()));
    }
    let conf = conf(&pairs);
    let graph = plan(&conf, "rules", p, &args.iter().map(String::as_str).collect::<Vec<_>>())?;
    let cluster = LocalCluster::start(&conf, graph.required_slots()).await?;
    let client = RestClient::new(cluster.rest_url())?;
    let job = client.submit(&graph, &Default::default()).await?;
    wait_until("all tasks running", Duration::from_secs(30), || async { fully_running(&client, &job).await }).await?;
    let result = match stop_after {
        Some(d) => {
            tokio::time::sleep(d).await;
            let trigger = client.trigger_savepoint(&job, None, true).await?;
            let location = client.wait_savepoint(&job, &trigger, Duration::from_secs(60)).await?;
            assert_eq!(wait_terminal(&client, &job, Duration::from_secs(60)).await?, "FINISHED");
            Some(location)
        }
        None => {
            let state = wait_terminal(&client, &job, Duration::from_secs(300)).await?;
            assert_eq!(state, "FINISHED", "{:#}", client.get(&format!("/jobs/{job}/exceptions")).await?);
            None
        }
    };
    if from.is_some() {
        let cps = client.get(&format!("/jobs/{job}/checkpoints")).await?;
        assert_eq!(cps["latest"]["restored"]["is_savepoint"], true, "{cps:#}");
    }
    cluster.shutdown().await;
    Ok(result)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn savepoint_at_p2_restored_at_p3_keeps_the_rules() -> anyhow::Result<()> {
    init_logging();
    let tmp = tempfile::tempdir()?;
    let mut rng = seeded_rng();
    let (events, rules) = write_inputs(tmp.path(), &mut rng);
    let expected = expected_alerts(&events, &rules);
    let (out, sp) = (tmp.path().join("out"), tmp.path().join("savepoints"));
    let args = rules_args(events.to_str().unwrap(), rules.to_str().unwrap(), out.to_str().unwrap(), 15.0);

    let s1 = run(2, &args, &sp, None, Some(Duration::from_secs(5))).await?.expect("savepoint");
    let (partial, _) = committed(&out);
    assert!(
        !partial.is_empty() && partial.len() < expected.len(),
        "stopped part way: {} of {}",
        partial.len(),
        expected.len()
    );
    run(3, &args, &sp, Some(&s1), None).await?;

    let (got, by_subtask) = committed(&out);
    assert!(got == expected, "restored at -p 3 differs: {}", differences(&expected, &got));
    // The third subtask exists only in the second run: its alerts used rules it got from the savepoint.
    let all_rules: BTreeSet<String> = expected.iter().map(|l| l.split('\t').nth(2).unwrap().to_string()).collect();
    assert_eq!(by_subtask.get(&2), Some(&all_rules), "the new subtask applied every rule");
    Ok(())
}
