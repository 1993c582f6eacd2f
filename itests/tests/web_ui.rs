//! Issue 10, web UI: the JobManager's pages (overview, job with its JobGraph
//! drawn as a DAG, a vertex with backpressure and watermarks, a TaskManager
//! with its log files and log viewer, JobManager configuration and log) load
//! in headless Chromium from the embedded local cluster and show the job's
//! content. The test drives Chromium over the DevTools protocol
//! (`rfy_itests::browser`, the `headless_chrome` crate) and clicks job →
//! vertex → TaskManager → log with real mouse clicks, checking each page's
//! content after each click, and saves a screenshot of each page when
//! `RFY_SCREENSHOTS=<dir>` is set (how `web/screenshots/` was made).
//! (The same click-through via YARN's proxy: `yarn_logs.rs`.)

use std::time::Duration;

use rfy_client::follow::RestClient;
use rfy_client::local::LocalCluster;
use rfy_itests::browser::{click_through, ClickThrough};
use rfy_itests::chromium_dump_dom_after;
use rfy_itests::local::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_ui_pages_render_in_chromium() {
    let _ = rfy_itests::chromium(); // fail early with the install hint
                                    // rfy's own logger (stderr, and the log file once the cluster sets one), so the log viewer has content.
    rfy_conf::logging::init(rfy_conf::logging::LogRole::JobManager);
    let tmp = tempfile::tempdir().unwrap();
    let log_dir = tmp.path().join("log");
    let conf =
        conf(&[("metrics.reporter.prom.port", "19250-19350".into()), ("env.log.dir", log_dir.display().to_string())]);
    let (input, out) = (repo_file("data/kjv.txt"), tmp.path().join("out"));
    let args =
        ["--input", input.to_str().unwrap(), "--output", out.to_str().unwrap(), "--mode", "updates", "--rate", "1000"];
    let graph = plan(&conf, "wordcount", 2, &args).unwrap();
    let cluster = LocalCluster::start(&conf, graph.required_slots()).await.unwrap();
    let client = RestClient::new(cluster.rest_url()).unwrap();
    let job = client.submit(&graph, &Default::default()).await.unwrap();
    wait_until("all tasks running", Duration::from_secs(30), || async { fully_running(&client, &job).await })
        .await
        .unwrap();
    let base = format!("{}/", cluster.rest_url());
    let vertex_names: Vec<String> = client.get(&format!("/jobs/{job}")).await.unwrap()["vertices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect();

    // The log routes, Flink's shapes.
    let logs = client.get("/jobmanager/logs").await.unwrap();
    assert_eq!(logs["logs"][0]["name"], "jobmanager.log", "{logs}");
    let logs = client.get("/taskmanagers/local-tm-0/logs").await.unwrap();
    assert_eq!(logs["logs"][0]["name"], "jobmanager.log", "local TaskManagers share the process's log: {logs}");
    let http = rfy_itests::http();
    let text = http.get(format!("{base}taskmanagers/local-tm-0/log")).send().await.unwrap().text().await.unwrap();
    assert!(text.contains("TaskManager registered"), "{text}");
    let bad = http.get(format!("{base}jobmanager/logs/..%2Fx")).send().await.unwrap();
    assert_eq!(bad.status(), 400, "a name outside the log directory is refused");
    let bad = http.get(format!("{base}taskmanagers/nope/log")).send().await.unwrap();
    assert_eq!(bad.status(), 404);

    // `rfy logs HOST:PORT`: the JobManager's log, a TaskManager's, and a clear error for an unknown one.
    let target = cluster.rest_url().trim_start_matches("http://").to_string();
    let rfy_logs = |args: &[&str]| {
        let out =
            std::process::Command::new(rfy_itests::rfy_bin()).arg("logs").arg(&target).args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = rfy_logs(&[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("job submitted"), "{stdout}");
    let (code, stdout, _) = rfy_logs(&["--taskmanager", "local-tm-0"]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains("TaskManager registered"), "{stdout}");
    let (code, _, stderr) = rfy_logs(&["--taskmanager", "tm-nope"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("TaskManager tm-nope is not registered") && !stderr.contains("panicked"), "{stderr}");

    let shots = std::env::var_os("RFY_SCREENSHOTS").map(std::path::PathBuf::from);
    let (pages, jm) = tokio::task::spawn_blocking({
        let (base, job) = (base.clone(), job.clone());
        move || {
            let pages = click_through(&base, &job, "TaskManager registered", shots.as_deref());
            let jm = chromium_dump_dom_after(&format!("{base}#/jobmanager/log"), 4000);
            (pages, jm)
        }
    })
    .await
    .unwrap();
    let ClickThrough {
        overview,
        job: job_page,
        vertex,
        vertex_route,
        taskmanager: tm,
        taskmanager_route: tm_route,
        log,
        log_route,
    } = pages;
    assert!(overview.contains(&job) && overview.contains("WordCount"), "overview lists the job:\n{overview}");
    assert!(!overview.contains("needs JavaScript"), "the app replaced the no-JavaScript fallback:\n{overview}");
    assert!(overview.contains("Slots free / total") && overview.contains("local-tm-0"), "{overview}");
    assert!(job_page.contains("class=\"dag\""), "the JobGraph drawn as an SVG DAG:\n{job_page}");
    // dagre placed one node per vertex and an edge between them.
    assert_eq!(job_page.matches("class=\"node\"").count(), vertex_names.len(), "{job_page}");
    assert!(job_page.contains("class=\"edge\""), "{job_page}");
    for name in &vertex_names {
        let shown = name.chars().take(30).collect::<String>().replace('>', "&gt;");
        assert!(job_page.contains(&shown), "vertex {name} on the job page:\n{job_page}");
    }
    assert!(job_page.contains("RUNNING") && job_page.contains("Trigger savepoint"), "{job_page}");
    assert!(vertex_route.starts_with(&format!("#/job/{job}/vertex/")), "{vertex_route}");
    for column in ["Backpressure:", "Busy", "Backpressured", "Idle", "In buffers", "Watermark"] {
        assert!(vertex.contains(column), "the vertex page shows {column}:\n{vertex}");
    }
    assert!(tm_route.starts_with("#/taskmanager/local-tm-"), "{tm_route}");
    assert!(tm.contains("Log files") && tm.contains("jobmanager.log") && tm.contains("CPU cores"), "{tm}");
    assert_eq!(log_route, format!("{tm_route}/log"));
    assert!(log.contains("id=\"logview\"") && log.contains("TaskManager registered"), "the log viewer:\n{log}");
    assert!(jm.contains("metrics.reporter.prom.port") && jm.contains("19250-19350"), "{jm}");
    assert!(jm.contains("job submitted"), "the JobManager's log viewer:\n{jm}");
    client.cancel(&job).await.ok();
    cluster.shutdown().await;
}
