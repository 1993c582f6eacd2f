//! Issue 23, parts 4 and 5 on the local cluster (real REST, real CLI):
//!
//! * `rfy stop --drain`: Flink's stop-with-savepoint with drain. Nexmark q5
//!   (sliding event-time windows of 10 s every 2 s) and q7 (tumbling 10 s
//!   windows made of keyed event-time timers) run on an endless,
//!   rate-limited generator; `rfy stop --drain` makes every open window and
//!   timer fire: the committed rows equal those of a bounded run over the
//!   same events (whose end of input fires everything), every task
//!   FINISHES, the job FINISHES and the CLI prints the savepoint's path. A
//!   plain `rfy stop` leaves the open windows unfired: its rows are a strict
//!   subset of the bounded run's over its events.
//! * `numLateRecordsDropped` over REST (`/jobs/:id/vertices/:vid/metrics`): Nexmark
//!   q8 (tumbling windows) over an event file up to 2 s out of order
//!   (`rfy nexmark-gen --max-delay 2s`): with `--max-out-of-orderness 0ms`
//!   windows drop late events and the metric says how many (> 0); with
//!   `2002ms` nothing is late and it says 0.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use rfy_client::follow::RestClient;
use rfy_client::local::LocalCluster;
use rfy_itests::local::*;
use rfy_itests::nexmark::committed_rows;

/// Events the source made (the source vertex's read-records), final once the job ended.
async fn events_made(client: &RestClient, job: &str) -> Result<u64> {
    let d = client.get(&format!("/jobs/{job}")).await?;
    let vertices = d["vertices"].as_array().cloned().unwrap_or_default();
    let source = vertices.iter().find(|v| v["name"].as_str().is_some_and(|n| n.starts_with("Source: Nexmark")));
    source.and_then(|v| v["metrics"]["read-records"].as_u64()).context("no Source: Nexmark vertex")
}

/// The statuses of the job's vertices.
async fn vertex_statuses(client: &RestClient, job: &str) -> Result<Vec<String>> {
    let d = client.get(&format!("/jobs/{job}")).await?;
    let vertices = d["vertices"].as_array().cloned().unwrap_or_default();
    Ok(vertices.iter().map(|v| v["status"].as_str().unwrap_or_default().to_string()).collect())
}

/// Runs the `rfy` binary with `args`; its exit status must be success. Returns stdout + stderr.
async fn rfy(args: Vec<String>) -> Result<String> {
    let out = tokio::task::spawn_blocking(move || Command::new(rfy_itests::rfy_bin()).args(&args).output()).await??;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    ensure!(out.status.success(), "rfy exited {}: {text}", out.status);
    Ok(text)
}

/// Nexmark query `q` over `events` generated events (0: endless) at `rate` events/s of wall time.
fn nexmark_args(q: &str, out: &Path, events: u64, rate: Option<&str>) -> Vec<String> {
    let mut a: Vec<String> = ["--query", q, "--seed", "42", "--event-rate", "1000", "--events", &events.to_string()]
        .iter()
        .map(|s| s.to_string())
        .collect();
    a.extend(["--output".into(), out.display().to_string()]);
    if let Some(r) = rate {
        a.extend(["--rate".into(), r.to_string()]);
    }
    a
}

async fn submit(client: &RestClient, conf: &rfy_conf::Configuration, args: &[String]) -> Result<String> {
    let graph = plan(conf, "nexmark", 1, &args.iter().map(String::as_str).collect::<Vec<_>>())?;
    Ok(client.submit(&graph, &BTreeMap::new()).await?)
}

/// What a stopped run left: its committed rows and the events its source made.
struct Stopped {
    rows: Vec<String>,
    events: u64,
}

/// Runs query `q` on the endless generator, stops it with `rfy stop`
/// (`--drain` when `drain`) once it made 15,000 events (15 s of event time:
/// windows closed and open), and checks the stop's outcome.
async fn run_and_stop(
    client: &RestClient,
    conf: &rfy_conf::Configuration,
    rest: &str,
    q: &str,
    dir: &Path,
    drain: bool,
) -> Result<Stopped> {
    let what = if drain { format!("{q} stop --drain") } else { format!("{q} stop") };
    let out = dir.join("out");
    let job = submit(client, conf, &nexmark_args(q, &out, 0, Some("6000"))).await?;
    wait_until(&format!("{what}: 15,000 events made"), Duration::from_secs(60), || async {
        ensure!(job_state(client, &job).await? != "FAILED", "{what}: the job failed");
        Ok(events_made(client, &job).await? >= 15_000)
    })
    .await?;
    let mut args: Vec<String> = vec!["stop".into(), "-m".into(), rest.into(), "-p".into()];
    args.push(dir.join("savepoints").display().to_string());
    if drain {
        args.push("--drain".into());
    }
    args.push(job.clone());
    let printed = rfy(args).await.context(what.clone())?;
    let path = printed
        .lines()
        .find_map(|l| l.split_once("Savepoint completed. Path:").map(|(_, p)| p.trim().to_string()))
        .with_context(|| format!("{what}: no savepoint path printed: {printed}"))?;
    ensure!(Path::new(&path).join("_metadata").is_file(), "{what}: no _metadata in {path}");
    let state = wait_terminal(client, &job, Duration::from_secs(60)).await?;
    ensure!(state == "FINISHED", "{what}: the job ended {state}: {}", job_diagnosis(client, &job).await?);
    if drain {
        let statuses = vertex_statuses(client, &job).await?;
        ensure!(statuses.iter().all(|s| s == "FINISHED"), "{what}: vertices {statuses:?}, not all FINISHED");
    }
    let events = events_made(client, &job).await?;
    Ok(Stopped { rows: committed_rows(&out), events })
}

/// The rows of query `q` over the first `events` events, run to their end (every window fires).
async fn bounded_rows(
    client: &RestClient,
    conf: &rfy_conf::Configuration,
    q: &str,
    dir: &Path,
    events: u64,
) -> Result<Vec<String>> {
    let out = dir.join("bounded");
    let job = submit(client, conf, &nexmark_args(q, &out, events, None)).await?;
    let state = wait_terminal(client, &job, Duration::from_secs(120)).await?;
    ensure!(
        state == "FINISHED",
        "{q}: bounded run of {events} events: {state}: {}",
        job_diagnosis(client, &job).await?
    );
    Ok(committed_rows(&out))
}

/// Query `q` stopped with drain and without, each next to a bounded run over the events it made.
async fn drain_and_plain_stop(
    client: &RestClient,
    conf: &rfy_conf::Configuration,
    rest: &str,
    q: &str,
    dir: &Path,
) -> Result<String> {
    let (drained_dir, stopped_dir) = (dir.join("drain"), dir.join("plain"));
    let (drained, stopped) = tokio::try_join!(
        run_and_stop(client, conf, rest, q, &drained_dir, true),
        run_and_stop(client, conf, rest, q, &stopped_dir, false),
    )?;
    let (drained_ref, stopped_ref) = tokio::try_join!(
        bounded_rows(client, conf, q, &drained_dir, drained.events),
        bounded_rows(client, conf, q, &stopped_dir, stopped.events),
    )?;
    ensure!(!drained.rows.is_empty(), "{q}: the drained run committed no rows");
    ensure!(
        drained.rows == drained_ref,
        "{q}: stop --drain after {} events: {} rows, the bounded run over them {} (missing e.g. {:?})",
        drained.events,
        drained.rows.len(),
        drained_ref.len(),
        drained_ref.iter().find(|r| !drained.rows.contains(r))
    );
    let foreign: Vec<&String> = stopped.rows.iter().filter(|r| !stopped_ref.contains(r)).take(3).collect();
    ensure!(foreign.is_empty(), "{q}: plain stop committed rows the bounded run does not have: {foreign:?}");
    ensure!(
        stopped.rows.len() < stopped_ref.len(),
        "{q}: plain stop after {} events committed all {} rows of the bounded run: the open windows fired",
        stopped.events,
        stopped_ref.len()
    );
    Ok(format!(
        "{q}: drain: {} events, {} rows (= bounded); plain stop: {} events, {} of {} rows",
        drained.events,
        drained.rows.len(),
        stopped.events,
        stopped.rows.len(),
        stopped_ref.len()
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stop_with_drain_fires_every_open_window_and_a_plain_stop_does_not() -> Result<()> {
    init_logging();
    let tmp = tempfile::tempdir()?;
    let conf = conf(&[
        ("state.checkpoints.dir", tmp.path().join("checkpoints").display().to_string()),
        ("execution.checkpointing.interval", "1 s".into()),
        ("taskmanager.numberOfTaskSlots", "4".into()),
    ]);
    let cluster = LocalCluster::start(&conf, 4).await?;
    let client = RestClient::new(cluster.rest_url())?;
    let rest = cluster.jobmanager.rest_address.clone();
    let (q5_dir, q7_dir) = (tmp.path().join("q5"), tmp.path().join("q7"));
    let checked = tokio::try_join!(
        drain_and_plain_stop(&client, &conf, &rest, "q5", &q5_dir),
        drain_and_plain_stop(&client, &conf, &rest, "q7", &q7_dir),
    );
    cluster.shutdown().await;
    let (q5, q7) = checked?;
    eprintln!("{q5}\n{q7}");
    Ok(())
}

/// The sum over the job's vertices of `numLateRecordsDropped`, as REST's vertex metrics answer it.
async fn late_records_dropped(client: &RestClient, job: &str) -> Result<u64> {
    let d = client.get(&format!("/jobs/{job}")).await?;
    let mut total = 0;
    for v in d["vertices"].as_array().context("no vertices")? {
        let vid = v["id"].as_str().context("vertex without id")?;
        let m = client.get(&format!("/jobs/{job}/vertices/{vid}/metrics?get=numLateRecordsDropped")).await?;
        let value = m[0]["value"].as_str().with_context(|| format!("vertex {vid}: no numLateRecordsDropped: {m}"))?;
        total += value.parse::<u64>().with_context(|| format!("vertex {vid}: numLateRecordsDropped '{value}'"))?;
    }
    Ok(total)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_records_dropped_are_counted_over_rest() -> Result<()> {
    init_logging();
    let tmp = tempfile::tempdir()?;
    let file: PathBuf = tmp.path().join("events-ooo.jsonl");
    let gen = ["nexmark-gen", "--events", "20000", "--seed", "42", "--event-rate", "1000", "--max-delay", "2s"];
    let mut args: Vec<String> = gen.iter().map(|s| s.to_string()).collect();
    args.extend(["--output".into(), file.display().to_string()]);
    rfy(args).await?;
    let conf = conf(&[("taskmanager.numberOfTaskSlots", "2".into())]);
    let cluster = LocalCluster::start(&conf, 2).await?;
    let client = RestClient::new(cluster.rest_url())?;
    let mut late = Vec::new();
    for bound in ["0ms", "2002ms"] {
        let out = tmp.path().join(format!("out-{bound}"));
        let args = ["--query", "q8", "--input", file.to_str().unwrap(), "--max-out-of-orderness", bound];
        let mut args: Vec<&str> = args.to_vec();
        let out_s = out.display().to_string();
        args.extend(["--output", &out_s]);
        let graph = plan(&conf, "nexmark", 2, &args)?;
        let job = client.submit(&graph, &BTreeMap::new()).await?;
        let state = wait_terminal(&client, &job, Duration::from_secs(120)).await?;
        ensure!(state == "FINISHED", "bound {bound}: {state}: {}", job_diagnosis(&client, &job).await?);
        ensure!(!committed_rows(&out).is_empty(), "bound {bound}: no rows");
        late.push(late_records_dropped(&client, &job).await?);
    }
    cluster.shutdown().await;
    ensure!(late[0] > 0, "nothing late counted with a bound of 0 on a file 2 s out of order");
    ensure!(late[1] == 0, "{} late records counted with a bound of 2002 ms", late[1]);
    eprintln!("numLateRecordsDropped: {} with a bound of 0 ms, 0 with 2002 ms", late[0]);
    Ok(())
}
