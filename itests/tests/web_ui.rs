//! Issue 10, web UI: the JobManager's pages (overview, job with its JobGraph
//! drawn as a DAG, TaskManagers, JobManager configuration) load in headless
//! Chromium from the embedded local cluster and show the job's content.
//! (Through YARN's proxy: `yarn_application.rs`.)

use std::time::Duration;

use rfy_client::follow::RestClient;
use rfy_client::local::LocalCluster;
use rfy_itests::chromium_dump_dom_after;
use rfy_itests::local::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_ui_pages_render_in_chromium() {
    let _ = rfy_itests::chromium(); // fail early with the install hint
    let tmp = tempfile::tempdir().unwrap();
    let conf = conf(&[("metrics.reporter.prom.port", "19250-19350".into())]);
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

    let dom = tokio::task::spawn_blocking({
        let base = base.clone();
        move || {
            [
                chromium_dump_dom_after(&base, 4000),
                chromium_dump_dom_after(&format!("{base}#/job/{job}"), 4000),
                chromium_dump_dom_after(&format!("{base}#/taskmanagers"), 4000),
                chromium_dump_dom_after(&format!("{base}#/jobmanager"), 4000),
                job,
            ]
        }
    })
    .await
    .unwrap();
    let [overview, job_page, tms, jm, job] = dom;
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
    assert!(tms.contains("local-tm-0") && tms.contains("Prometheus port"), "{tms}");
    assert!(jm.contains("metrics.reporter.prom.port") && jm.contains("19250-19350"), "{jm}");
    client.cancel(&job).await.ok();
    cluster.shutdown().await;
}
