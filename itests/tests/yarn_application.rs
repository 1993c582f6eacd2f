//! `rfy run -m yarn-application` end to end on a real Hadoop (issue 3).
//!
//! Needs: HADOOP_CONF_DIR and Hadoop's `yarn` CLI on PATH
//! (`eval "$(scripts/hadoop env)"`), the binaries built
//! (`cargo build -p rfy-client -p rfy-am -p rfy-worker`), and for the web
//! page test headless Chromium (`apt-get install -y chromium`).

use std::time::{Duration, Instant};

use rfy_itests::yarn::SMALL;
use rfy_itests::{chromium_dump_dom, hadoop_cli, repo_root, rfy, Cluster, RfyRun};

fn args<'a>(head: &[&'a str], tail: &[&'a str]) -> Vec<&'a str> {
    let mut v: Vec<&str> = vec!["run", "-m", "yarn-application"];
    v.extend_from_slice(head);
    v.extend_from_slice(&SMALL);
    v.extend_from_slice(tail);
    v
}

/// Word count over kjv.txt with -p 2 on 2 TaskManager containers of 1 slot
/// each: the HDFS output equals the local run's; while it runs YARN's own CLI
/// shows it RUNNING with type rfy and a tracking URL, and the Dispatcher's
/// JSON answers through the RM proxy; afterwards FINISHED/SUCCEEDED, no
/// container left, staging directory gone, and `yarn logs` holds the
/// JobManager's and both TaskManagers' logs.
#[tokio::test(flavor = "multi_thread")]
async fn wordcount_p2_on_yarn_matches_local_run() {
    let Some(c) = Cluster::get("wordcount_p2_on_yarn_matches_local_run") else { return };
    let dir = c.test_dir("wc").await;
    let input = c.put_kjv(&dir).await;
    let output = format!("hdfs://{dir}/out");

    // The local run, for reference.
    let local_out = tempfile::tempdir().unwrap();
    let local_dir = local_out.path().join("out");
    let kjv = repo_root().join("data/kjv.txt");
    let (st, out, _) = rfy(
        &["run", "-p", "2", "wordcount", "--input", kjv.to_str().unwrap(), "--output", local_dir.to_str().unwrap()],
        &[],
        Duration::from_secs(120),
    );
    assert!(st.success(), "local run failed:\n{out}");
    let mut local: Vec<String> = Vec::new();
    for e in std::fs::read_dir(&local_dir).unwrap() {
        let p = e.unwrap().path();
        if p.file_name().unwrap().to_string_lossy().starts_with("part-") {
            local.extend(std::fs::read_to_string(&p).unwrap().lines().map(str::to_string));
        }
    }
    local.sort();
    assert!(local.len() > 10_000, "local run wrote {} lines", local.len());

    // Paced so that it runs about 15 s while YARN is checked (the `yarn`
    // CLI's JVM alone can take 5 s on a loaded machine).
    let a = args(&["-p", "2"], &["wordcount", "--input", &input, "--output", &output, "--rate", "2000"]);
    let mut run = RfyRun::start(&a, &[]);
    run.wait_for_job_running(Duration::from_secs(120));
    let app = run.application_id().expect("application id printed");
    assert!(run.output().contains("tracking URL: http"), "no tracking URL printed:\n{}", run.output());

    let (ok, status) = hadoop_cli("yarn", &["application", "-status", &app]);
    assert!(ok, "yarn application -status failed:\n{status}");
    assert!(status.contains("State : RUNNING"), "{status}");
    assert!(status.contains("Application-Type : rfy"), "{status}");
    let tracking =
        status.lines().find_map(|l| l.trim().strip_prefix("Tracking-URL : ")).unwrap_or_default().to_string();
    assert!(tracking.starts_with("http://"), "no tracking URL in:\n{status}");

    let proxy = format!("{}/proxy/{app}", c.rm.base_url());
    let overview: serde_json::Value = rfy_itests::http_get(format!("{proxy}/overview"))
        .await
        .unwrap()
        .json()
        .await
        .expect("Dispatcher JSON through the proxy");
    assert!(
        overview["jobs-running"].as_u64().unwrap_or(0) + overview["jobs-finished"].as_u64().unwrap_or(0) >= 1,
        "{overview}"
    );
    let tms: serde_json::Value =
        rfy_itests::http_get(format!("{proxy}/taskmanagers")).await.unwrap().json().await.unwrap();
    let tms = tms["taskmanagers"].as_array().cloned().unwrap_or_default();
    assert_eq!(tms.len(), 2, "expected 2 TaskManager containers: {tms:?}");
    for tm in &tms {
        assert_eq!(tm["slotsNumber"].as_u64(), Some(1), "{tm}");
        assert!(tm["id"].as_str().unwrap_or_default().starts_with("container_"), "{tm}");
    }

    let (st, out, _) = run.finish(Duration::from_secs(300));
    assert!(st.success(), "rfy exited {st}:\n{out}");
    assert!(out.contains("FINISHED"), "{out}");
    let r = c.wait_final(&app, Duration::from_secs(60)).await;
    assert_eq!((r.state.as_str(), r.final_status.as_str()), ("FINISHED", "SUCCEEDED"), "{}", r.diagnostics);
    let (_, status) = hadoop_cli("yarn", &["application", "-status", &app]);
    assert!(status.contains("State : FINISHED") && status.contains("Final-State : SUCCEEDED"), "{status}");

    let yarn_lines = c.read_output(&format!("{dir}/out")).await;
    assert_eq!(yarn_lines.len(), local.len(), "number of distinct words differs from the local run");
    assert!(yarn_lines == local, "YARN output differs from the local run");
    let mut expected: Vec<String> = std::fs::read_to_string(repo_root().join("data/kjv.flink-counts.tsv"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    expected.sort();
    assert!(yarn_lines == expected, "YARN output differs from data/kjv.flink-counts.tsv");

    assert!(!c.fs.exists(&c.staging_dir(&app)).await.unwrap(), "staging directory {} left behind", c.staging_dir(&app));
    c.wait_no_containers(&app, Duration::from_secs(30)).await;

    // Aggregated logs: the JobManager's and both TaskManagers'.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, logs) = hadoop_cli("yarn", &["logs", "-applicationId", &app]);
        let count = |t: &str| logs.lines().filter(|l| *l == t).count();
        if count("LogType:jobmanager.log") == 1
            && count("LogType:taskmanager.log") == 2
            && logs.contains("TaskManager registered")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "yarn logs lacks jobmanager.log / 2 taskmanager.log:\n{}",
            &logs[..logs.len().min(4000)]
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    c.fs.delete(&dir, true).await.unwrap();
}

/// `yarn application -kill` during an attached run: the application ends
/// KILLED, the client says so and exits non-zero, no container is left
/// running, the staging directory is gone.
#[tokio::test(flavor = "multi_thread")]
async fn kill_during_run_ends_killed() {
    let Some(c) = Cluster::get("kill_during_run_ends_killed") else { return };
    let dir = c.test_dir("kill").await;
    let input = c.put_kjv(&dir).await;
    let output = format!("hdfs://{dir}/out");
    let a = args(&["-p", "2"], &["wordcount", "--input", &input, "--output", &output, "--rate", "1000"]);
    let mut run = RfyRun::start(&a, &[]);
    run.wait_for_job_running(Duration::from_secs(120));
    let app = run.application_id().unwrap();
    let (ok, out) = hadoop_cli("yarn", &["application", "-kill", &app]);
    assert!(ok, "yarn application -kill failed:\n{out}");
    let (st, out, _) = run.finish(Duration::from_secs(120));
    assert!(!st.success(), "rfy exited 0 after the kill:\n{out}");
    assert!(out.contains("KILLED"), "the client does not say KILLED:\n{out}");
    let r = c.wait_final(&app, Duration::from_secs(30)).await;
    assert_eq!(r.state, "KILLED", "{}", r.diagnostics);
    c.wait_no_containers(&app, Duration::from_secs(60)).await;
    assert!(!c.fs.exists(&c.staging_dir(&app)).await.unwrap(), "staging directory {} left behind", c.staging_dir(&app));
    let out_dir = format!("{dir}/out");
    assert!(
        !c.fs.exists(&out_dir).await.unwrap() || c.read_output(&out_dir).await.is_empty(),
        "a killed job published part files"
    );
    c.fs.delete(&dir, true).await.unwrap();
}

/// Detached: the client returns once the job runs; the JobManager's HTML
/// overview, loaded in headless Chromium through the RM proxy, lists the job
/// (relative links work behind the proxy). Then the application is killed;
/// the AM's SIGTERM handler removes the staging directory.
#[tokio::test(flavor = "multi_thread")]
async fn detached_web_page_through_proxy_in_chromium() {
    let Some(c) = Cluster::get("detached_web_page_through_proxy_in_chromium") else { return };
    let _ = rfy_itests::chromium(); // fail early with the install hint
    let dir = c.test_dir("web").await;
    let input = c.put_kjv(&dir).await;
    let output = format!("hdfs://{dir}/out");
    let a = args(
        &["-d", "-p", "1", "-D", "metrics.reporter.prom.port=19400-19500"],
        // Paced to run about 80 s: the checks below need it running (it is killed at the end).
        &["wordcount", "--input", &input, "--output", &output, "--rate", "400"],
    );
    let (st, out, took) = rfy(&a, &[], Duration::from_secs(180));
    assert!(st.success(), "detached run failed:\n{out}");
    assert!(out.contains("detached"), "{out}");
    let app = {
        let i = out.find("application_").unwrap();
        out[i..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>()
    };
    let job_id = out.split("Job ").nth(1).and_then(|s| s.split_whitespace().next()).unwrap().to_string();
    let r = c.rm.app_report(&app).await.unwrap();
    assert_eq!(r.state, "RUNNING", "detached client returned ({took:?}) but the application is {}", r.state);

    let url = format!("{}/proxy/{app}/", c.rm.base_url());
    let dom = chromium_dump_dom(&url);
    assert!(dom.contains(&job_id), "job {job_id} not listed on {url}:\n{dom}");
    assert!(dom.contains("WordCount"), "job name not on the page:\n{dom}");
    assert!(
        dom.contains("href=\"jobs/overview\"") && dom.contains("container_"),
        "relative links / TaskManagers missing:\n{dom}"
    );
    // A relative link followed through the proxy.
    let dom = chromium_dump_dom(&format!("{url}jobs/{job_id}"));
    assert!(dom.contains(&job_id), "job details through the proxy:\n{dom}");

    // Issue 10 on YARN: Flink's own CLI lists the job at the AM's REST address.
    let rest = rfy_client::yarn::rest_address_of(&r).expect("the AM's REST address");
    let list = rfy_itests::flink::flink(&["list", "-m", rest.trim_start_matches("http://")]);
    assert!(list.ok && list.text.contains(&format!("{job_id} : WordCount")), "{}", list.text);
    // Each container's Prometheus reporter is findable through REST and serves Flink's names.
    let tms: serde_json::Value =
        rfy_itests::http_get(format!("{rest}/taskmanagers")).await.unwrap().json().await.unwrap();
    let tm = &tms["taskmanagers"][0];
    let tm_id = tm["id"].as_str().unwrap().to_string();
    let host = tm["path"].as_str().unwrap().rsplit_once(':').unwrap().0.to_string();
    let port = tm["prometheusPort"].as_u64().unwrap_or_else(|| panic!("no prometheusPort: {tms}"));
    let scrape = rfy_itests::http_get(format!("http://{host}:{port}/metrics")).await.unwrap().text().await.unwrap();
    assert!(
        scrape.contains("flink_taskmanager_job_task_numRecordsOut{") && scrape.contains("idleTimeMsPerSecond"),
        "{scrape}"
    );
    // A real Prometheus server scrapes the container's reporter; PromQL sees the source reading
    // (numRecordsIn: this BATCH-mode job sends its counts only at the end).
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: rfy\n    static_configs:\n      - targets: [\"{host}:{port}\"]\n"),
    )
    .unwrap();
    let web = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let mut prometheus = std::process::Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", tmp.path().join("tsdb").display()))
        .arg(format!("--web.listen-address={web}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("prometheus runs (apt-get install prometheus)");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut rate = 0.0;
    while Instant::now() < deadline && rate <= 0.0 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let q = rfy_itests::http()
            .get(format!("http://{web}/api/v1/query"))
            .query(&[("query", "sum(rate(flink_taskmanager_job_task_numRecordsIn[5s]))")])
            .send()
            .await;
        if let Ok(v) = match q {
            Ok(r) => r.json::<serde_json::Value>().await,
            Err(e) => Err(e),
        } {
            rate = v["data"]["result"][0]["value"][1].as_str().and_then(|s| s.parse().ok()).unwrap_or(0.0);
        }
    }
    let targets = rfy_itests::http_get(format!("http://{web}/api/v1/targets")).await.ok();
    let targets = match targets {
        Some(r) => r.text().await.unwrap_or_default(),
        None => String::new(),
    };
    let raw = rfy_itests::http()
        .get(format!("http://{web}/api/v1/query"))
        .query(&[("query", "flink_taskmanager_job_task_numRecordsIn")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let _ = prometheus.kill();
    let _ = prometheus.wait();
    let job_state = rfy_itests::http_get(format!("{rest}/jobs/{job_id}")).await.unwrap().text().await.unwrap();
    assert!(
        rate > 0.0,
        "PromQL saw no records flowing from the YARN container's reporter; targets: {targets}\nseries: {raw}\njob: {}",
        &job_state[..job_state.len().min(400)]
    );
    // rfy logs: the AM's and the TaskManager container's logs, read from the container log directories.
    let rfy_logs = |extra: &[&str]| {
        let out = std::process::Command::new(rfy_itests::rfy_bin())
            .arg("logs")
            .arg(&app)
            .args(extra)
            .env("HADOOP_CONF_DIR", c.conf.dir().unwrap())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, jm_log) = rfy_logs(&[]);
    assert!(ok && jm_log.contains("job submitted"), "{jm_log}");
    let (ok, tm_log) = rfy_logs(&["--container", &tm_id]);
    assert!(ok && tm_log.contains("registered at JobManager"), "{tm_log}");

    let (ok, out) = hadoop_cli("yarn", &["application", "-kill", &app]);
    assert!(ok, "{out}");
    let r = c.wait_final(&app, Duration::from_secs(60)).await;
    assert_eq!(r.state, "KILLED");
    c.wait_no_containers(&app, Duration::from_secs(60)).await;
    assert!(
        !c.fs.exists(&c.staging_dir(&app)).await.unwrap(),
        "staging directory {} left behind after a detached kill",
        c.staging_dir(&app)
    );
    c.fs.delete(&dir, true).await.unwrap();
}

/// An unreachable ResourceManager: a clear error naming the address, within 10 s.
#[tokio::test(flavor = "multi_thread")]
async fn unreachable_resource_manager_fails_fast() {
    let Some(c) = Cluster::get("unreachable_resource_manager_fails_fast") else { return };
    let conf_dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    std::fs::write(
        conf_dir.path().join("yarn-site.xml"),
        format!("<configuration><property><name>yarn.resourcemanager.webapp.address</name><value>127.0.0.1:{port}</value></property></configuration>"),
    )
    .unwrap();
    std::fs::copy(c.conf.dir().unwrap().join("core-site.xml"), conf_dir.path().join("core-site.xml")).unwrap();
    let conf_s = conf_dir.path().display().to_string();
    let a = args(&[], &["wordcount", "--input", "hdfs:///data/kjv.txt", "--output", "hdfs:///tmp/never"]);
    let (st, out, took) = rfy(&a, &[("HADOOP_CONF_DIR", conf_s.as_str())], Duration::from_secs(60));
    assert!(!st.success(), "{out}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(
        out.contains(&format!("127.0.0.1:{port}")) && out.contains("ResourceManager"),
        "error does not name the RM address:\n{out}"
    );
}

/// Input missing in HDFS: the job fails; the reason is in YARN's diagnostics and on the CLI.
#[tokio::test(flavor = "multi_thread")]
async fn missing_input_fails_with_the_reason() {
    let Some(c) = Cluster::get("missing_input_fails_with_the_reason") else { return };
    let dir = c.test_dir("missing").await;
    let input = format!("hdfs://{dir}/no-such-file.txt");
    let output = format!("hdfs://{dir}/out");
    let a = args(&[], &["wordcount", "--input", &input, "--output", &output]);
    let (st, out, _) = rfy(&a, &[], Duration::from_secs(180));
    assert!(!st.success(), "{out}");
    assert!(out.contains(&input) && out.contains("does not exist"), "CLI does not give the reason:\n{out}");
    let app = {
        let i = out.find("application_").unwrap();
        out[i..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>()
    };
    let r = c.wait_final(&app, Duration::from_secs(60)).await;
    assert_eq!(r.final_status, "FAILED");
    assert!(
        r.diagnostics.contains(&input) && r.diagnostics.contains("does not exist"),
        "YARN diagnostics: {}",
        r.diagnostics
    );
    assert!(!c.fs.exists(&c.staging_dir(&app)).await.unwrap());
    c.fs.delete(&dir, true).await.unwrap();
}

/// An AM that cannot start (its REST server cannot bind): the CLI prints
/// YARN's diagnostics, the AM's error, and where the AM's logs are.
#[tokio::test(flavor = "multi_thread")]
async fn am_that_cannot_start_shows_diagnostics_and_logs() {
    let Some(c) = Cluster::get("am_that_cannot_start_shows_diagnostics_and_logs") else { return };
    let a = args(
        &["-D", "rest.bind-address=192.0.2.1", "-D", "yarn.application-attempts=1"],
        &["wordcount", "--input", "hdfs:///data/kjv.txt", "--output", "hdfs:///tmp/never"],
    );
    let (st, out, _) = rfy(&a, &[], Duration::from_secs(180));
    assert!(!st.success(), "{out}");
    assert!(out.contains("exit code 1") || out.contains("exitCode: 1"), "no YARN diagnostics:\n{out}");
    assert!(out.contains("192.0.2.1"), "the AM's own error is not shown:\n{out}");
    assert!(out.contains("yarn logs -applicationId application_"), "no hint where the logs are:\n{out}");
    let app = {
        let i = out.find("application_").unwrap();
        out[i..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>()
    };
    assert!(!c.fs.exists(&c.staging_dir(&app)).await.unwrap(), "staging directory left behind");
}

/// A TaskManager container killed during a run (`yarn container -signal
/// <id> FORCEFUL_SHUTDOWN`): the job fails fast, the application ends
/// FAILED with the job's failure as diagnostics, nothing is left behind.
#[tokio::test(flavor = "multi_thread")]
async fn killed_taskmanager_container_fails_the_job_fast() {
    let Some(c) = Cluster::get("killed_taskmanager_container_fails_the_job_fast") else { return };
    let dir = c.test_dir("tmkill").await;
    let input = c.put_kjv(&dir).await;
    let output = format!("hdfs://{dir}/out");
    let a = args(&["-p", "2"], &["wordcount", "--input", &input, "--output", &output, "--rate", "1000"]);
    let mut run = RfyRun::start(&a, &[]);
    run.wait_for_job_running(Duration::from_secs(120));
    let app = run.application_id().unwrap();
    let proxy = format!("{}/proxy/{app}", c.rm.base_url());
    let tms: serde_json::Value =
        rfy_itests::http_get(format!("{proxy}/taskmanagers")).await.unwrap().json().await.unwrap();
    let victim = tms["taskmanagers"][0]["id"].as_str().expect("a TaskManager").to_string();
    let killed_at = Instant::now();
    let (ok, out) = hadoop_cli("yarn", &["container", "-signal", &victim, "FORCEFUL_SHUTDOWN"]);
    assert!(ok, "yarn container -signal failed:\n{out}");
    let (st, out, _) = run.finish(Duration::from_secs(120));
    assert!(!st.success(), "{out}");
    assert!(out.contains("FAILED"), "{out}");
    let r = c.wait_final(&app, Duration::from_secs(60)).await;
    assert!(
        killed_at.elapsed() < Duration::from_secs(20),
        "the application took {:?} to end after the container was killed",
        killed_at.elapsed()
    );
    assert_eq!(r.final_status, "FAILED", "{}", r.diagnostics);
    assert!(r.diagnostics.contains("FAILED"), "{}", r.diagnostics);
    c.wait_no_containers(&app, Duration::from_secs(60)).await;
    assert!(!c.fs.exists(&c.staging_dir(&app)).await.unwrap());
    c.fs.delete(&dir, true).await.unwrap();
}

/// Issue 10, memory that fits the container: a keyed-state job (statebench,
/// about 300 MB of state) in TaskManager containers of 192 MiB. The
/// TaskManager fails its task when its resident set passes
/// `taskmanager.memory.process.size`, the client prints the message naming
/// the option, and YARN's diagnostics show no container killed for running
/// beyond its memory.
#[tokio::test(flavor = "multi_thread")]
async fn keyed_state_past_a_small_container_fails_naming_the_option() {
    let Some(c) = Cluster::get("keyed_state_past_a_small_container_fails_naming_the_option") else { return };
    let a = [
        "run",
        "-m",
        "yarn-application",
        "-p",
        "1",
        "-D",
        "jobmanager.memory.process.size=512m",
        "-D",
        "taskmanager.memory.process.size=192m",
        "-D",
        "restart-strategy.type=none",
        "statebench",
        "--keys",
        "300000",
        "--value-bytes",
        "1024",
    ];
    let (st, out, _) = rfy(&a, &[], Duration::from_secs(150));
    assert!(!st.success(), "the job must fail:\n{out}");
    assert!(
        out.contains("more than its budget taskmanager.memory.process.size = 192 MiB")
            && out.contains("raise taskmanager.memory.process.size"),
        "the failure names the option:\n{out}"
    );
    let app = {
        let i = out.find("application_").expect("application id printed");
        out[i..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>()
    };
    let r = c.wait_final(&app, Duration::from_secs(60)).await;
    assert!(
        !r.diagnostics.contains("beyond") && !out.contains("beyond the 'PHYSICAL' memory"),
        "YARN killed a container for memory: {}",
        r.diagnostics
    );
}
