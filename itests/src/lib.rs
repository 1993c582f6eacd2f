//! Helpers for rfy's integration tests (the tests are in `tests/`).
//!
//! The tests run against the real Hadoop named by `HADOOP_CONF_DIR` (e.g.
//! `eval "$(scripts/hadoop env)"` after `scripts/hadoop start`) and the rfy
//! binaries cargo built next to the test executable (`target/debug/rfy`,
//! `rfy-am`, `rfy-worker`: `cargo build -p rfy-client -p rfy-am -p rfy-worker`
//! first). Without `HADOOP_CONF_DIR` a test FAILS with a message saying so,
//! unless `RFY_ITESTS_SKIP_YARN=1`, which makes it print "SKIPPED" and return
//! (ignored when `RFY_REQUIRE_HADOOP=1`, as `scripts/test` sets).

pub mod browser;
pub mod flink;
pub mod ha;
pub mod kafka;
pub mod local;
pub mod nexmark;
pub mod yarn;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use rfy_hadoop::config::{current_user, HadoopConfig};
pub use rfy_hadoop::hdfs::Hdfs;
pub use rfy_hadoop::yarn::rest::{AppReport, RmRestClient};

/// The Hadoop stack a test runs against.
pub struct Cluster {
    /// The Hadoop configuration (`HADOOP_CONF_DIR`).
    pub conf: HadoopConfig,
    /// RM REST client acting as the current user.
    pub rm: RmRestClient,
    /// HDFS client.
    pub fs: Hdfs,
    /// The user.
    pub user: String,
    /// The configuration directory when it is not `HADOOP_CONF_DIR`
    /// ([`Cluster::from_dir`]): `rfy` runs of the YARN helpers get it as theirs.
    pub conf_dir: Option<String>,
}

impl Cluster {
    /// The cluster from `HADOOP_CONF_DIR`; `None` (after printing SKIPPED)
    /// only when `RFY_ITESTS_SKIP_YARN=1`. Panics with a clear message otherwise.
    pub fn get(test: &str) -> Option<Cluster> {
        if std::env::var_os("HADOOP_CONF_DIR").is_none() {
            // scripts/test sets RFY_REQUIRE_HADOOP=1: no skipping there.
            let required = std::env::var("RFY_REQUIRE_HADOOP").as_deref() == Ok("1");
            if !required && std::env::var("RFY_ITESTS_SKIP_YARN").as_deref() == Ok("1") {
                println!("SKIPPED {test}: HADOOP_CONF_DIR is not set and RFY_ITESTS_SKIP_YARN=1");
                eprintln!("SKIPPED {test}: HADOOP_CONF_DIR is not set and RFY_ITESTS_SKIP_YARN=1");
                return None;
            }
            panic!(
                "{test}: HADOOP_CONF_DIR is not set. These tests need a running Hadoop: \
                 scripts/hadoop start && eval \"$(scripts/hadoop env)\" (or set RFY_ITESTS_SKIP_YARN=1 to skip them explicitly)"
            );
        }
        let conf = HadoopConfig::from_env().expect("HADOOP_CONF_DIR is readable");
        let user = current_user();
        let rm = RmRestClient::from_config(&conf, &user).expect("RM REST client");
        let fs = Hdfs::from_config(&conf, None).expect("HDFS client");
        Some(Cluster { conf, rm, fs, user, conf_dir: None })
    }

    /// The cluster of the Hadoop configuration in `dir` (another stack than
    /// `HADOOP_CONF_DIR`'s, e.g. the HA one of `scripts/ha-hadoop`).
    pub fn from_dir(dir: &str) -> Cluster {
        let conf = HadoopConfig::load_dir(dir).unwrap_or_else(|e| panic!("Hadoop configuration {dir}: {e}"));
        let user = current_user();
        let rm = RmRestClient::from_config(&conf, &user).expect("RM REST client");
        let fs = Hdfs::from_config(&conf, None).expect("HDFS client");
        Cluster { conf, rm, fs, user, conf_dir: Some(dir.to_string()) }
    }

    /// A fresh HDFS directory for one test: `/user/<user>/rfy-itests/<tag>-<uuid>`.
    pub async fn test_dir(&self, tag: &str) -> String {
        let d = format!("/user/{}/rfy-itests/{tag}-{}", self.user, uuid::Uuid::new_v4().simple());
        self.fs.mkdirs(&d, 0o755).await.expect("mkdirs test dir");
        d
    }

    /// Uploads `data/kjv.txt` to `<dir>/kjv.txt`; returns its `hdfs://` URI.
    pub async fn put_kjv(&self, dir: &str) -> String {
        let path = format!("{dir}/kjv.txt");
        self.fs.upload(&repo_root().join("data/kjv.txt"), &path, 0o644, true).await.expect("upload kjv.txt");
        format!("hdfs://{path}")
    }

    /// The staging directory of `app`.
    pub fn staging_dir(&self, app: &str) -> String {
        format!("/user/{}/.rfy/{app}", self.user)
    }

    /// Concatenated part files of an output directory, lines sorted.
    pub async fn read_output(&self, dir: &str) -> Vec<String> {
        let mut lines = Vec::new();
        for e in self.fs.list(dir).await.expect("list output") {
            let name = e.path.rsplit('/').next().unwrap_or_default().to_string();
            if name.starts_with("part-") {
                let data = self.fs.read(&e.path).await.expect("read part file");
                lines.extend(String::from_utf8(data).expect("utf-8 output").lines().map(str::to_string));
            }
        }
        lines.sort();
        lines
    }

    /// Waits for the application's final report, at most `limit`.
    pub async fn wait_final(&self, app: &str, limit: Duration) -> AppReport {
        let deadline = Instant::now() + limit;
        loop {
            let r = self.rm.app_report(app).await.expect("app report");
            if r.is_final() {
                return r;
            }
            assert!(Instant::now() < deadline, "{app} not final after {limit:?}: {} {}", r.state, r.diagnostics);
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Waits until YARN reports no running container for `app` (after it ended).
    pub async fn wait_no_containers(&self, app: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let r = self.rm.app_report(app).await.expect("app report");
            let nm = nm_containers(&self.conf, app).await;
            if r.is_final() && r.running_containers <= 0 && nm.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{app}: containers still running after {limit:?}: RM says {}, NodeManagers list {nm:?}",
                r.running_containers
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// An HTTP client for tests: rfy's reqwest set-up (`rfy_hadoop::tls`, which
/// installs the ring crypto provider; a bare `reqwest::Client::new()` panics
/// without it).
pub fn http() -> reqwest::Client {
    rfy_hadoop::tls::http_client_builder().build().expect("an HTTP client")
}

/// `GET url` with [`http`] (what `reqwest::get` does with reqwest's own default client).
pub async fn http_get(url: impl reqwest::IntoUrl) -> reqwest::Result<reqwest::Response> {
    http().get(url).send().await
}

/// Container ids of `app` that the cluster's NodeManagers still list
/// (`GET http://<nm>/ws/v1/node/containers`), with their state.
pub async fn nm_containers(conf: &HadoopConfig, app: &str) -> Vec<String> {
    let rm = RmRestClient::from_config(conf, &current_user()).expect("RM client");
    let suffix = app.trim_start_matches("application_");
    let mut out = Vec::new();
    for n in rm.nodes().await.unwrap_or_default() {
        let url = format!("http://{}/ws/v1/node/containers", n.node_http_address);
        let Ok(resp) = http().get(&url).header("Accept", "application/json").send().await else {
            continue;
        };
        let Ok(v) = resp.json::<serde_json::Value>().await else { continue };
        for c in v["containers"]["container"].as_array().cloned().unwrap_or_default() {
            let id = c["id"].as_str().unwrap_or_default();
            let state = c["state"].as_str().unwrap_or_default();
            if id.contains(suffix) && !matches!(state, "COMPLETE" | "DONE") {
                out.push(format!("{id} {state}"));
            }
        }
    }
    out
}

/// The repository root (this crate's parent directory).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repo root").to_path_buf()
}

/// The `rfy` binary built next to this test (`$RFY_BIN` overrides).
pub fn rfy_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("RFY_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = dir.join("rfy");
    for b in ["rfy", "rfy-am", "rfy-worker"] {
        assert!(
            dir.join(b).is_file(),
            "{} is missing: build the binaries first: cargo build -p rfy-client -p rfy-am -p rfy-worker",
            dir.join(b).display()
        );
    }
    bin
}

/// Runs a Hadoop CLI (`yarn`, `hdfs`) from `PATH` (as `scripts/hadoop env` sets it up).
pub fn hadoop_cli(cmd: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(cmd).args(args).output().unwrap_or_else(|e| {
        panic!("cannot run Hadoop's `{cmd}` CLI ({e}): put it on PATH with eval \"$(scripts/hadoop env)\"")
    });
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// A running `rfy` command whose output (stdout and stderr, by line) is collected.
pub struct RfyRun {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    started: Instant,
}

impl RfyRun {
    /// Starts `rfy <args>` with extra environment.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> RfyRun {
        Self::start_bin(&rfy_bin(), args, env)
    }

    /// Starts `<bin> <args>` (an `rfy` binary) with extra environment.
    pub fn start_bin(bin: &Path, args: &[&str], env: &[(&str, &str)]) -> RfyRun {
        let mut cmd = Command::new(bin);
        cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn rfy");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().expect("stdout");
        let err = child.stderr.take().expect("stderr");
        for pipe in [Box::new(out) as Box<dyn std::io::Read + Send>, Box::new(err)] {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for l in BufReader::new(pipe).lines().map_while(Result::ok) {
                    eprintln!("  | {l}");
                    lines.lock().unwrap().push(l);
                }
            });
        }
        RfyRun { child, lines, started: Instant::now() }
    }

    /// Everything printed so far.
    pub fn output(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// The first application id printed.
    pub fn application_id(&self) -> Option<String> {
        let out = self.output();
        let i = out.find("application_")?;
        Some(out[i..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect())
    }

    /// Waits until the client reports the job RUNNING (`Job <id> is RUNNING`).
    pub fn wait_for_job_running(&mut self, limit: Duration) {
        self.wait_for_line("Job ", " is RUNNING (", limit)
    }

    /// Waits until a printed line starts with `prefix` and contains `needle`;
    /// panics after `limit` or when the process ends first.
    pub fn wait_for_line(&mut self, prefix: &str, needle: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        let seen = |lines: &Vec<String>| lines.iter().any(|l| l.starts_with(prefix) && l.contains(needle));
        loop {
            if seen(&self.lines.lock().unwrap()) {
                return;
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                std::thread::sleep(Duration::from_millis(200));
                if seen(&self.lines.lock().unwrap()) {
                    return;
                }
                panic!("rfy ended ({st}) before printing {needle:?}; output:\n{}", self.output());
            }
            assert!(
                Instant::now() < deadline,
                "rfy did not print {needle:?} within {limit:?}; output:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The exit status if the process has ended (it is not waited for).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits for the process to end (killing it after `limit`); returns its
    /// exit status, output and run time.
    pub fn finish(mut self, limit: Duration) -> (ExitStatus, String, Duration) {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                std::thread::sleep(Duration::from_millis(200)); // let the readers drain
                return (st, self.output(), self.started.elapsed());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("rfy did not end within {limit:?}; output:\n{}", self.output());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Runs `rfy <args>` to its end (at most `limit`).
pub fn rfy(args: &[&str], env: &[(&str, &str)], limit: Duration) -> (ExitStatus, String, Duration) {
    RfyRun::start(args, env).finish(limit)
}

/// A headless Chromium binary (`chromium`, `chromium-browser`,
/// `google-chrome`, or `$RFY_CHROMIUM`); panics with how to install it.
pub fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("RFY_CHROMIUM") {
        return PathBuf::from(p);
    }
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Some(dir) = std::env::var_os("PATH") {
            for d in std::env::split_paths(&dir) {
                let p = d.join(name);
                if p.is_file() {
                    return p;
                }
            }
        }
    }
    panic!("headless Chromium is not installed (needed to check the web UI through the YARN proxy): apt-get install -y chromium");
}

/// Loads `url` in headless Chromium (a 1280×900 window) and saves a PNG of
/// the page after `budget_ms` of virtual time to `png`. Panics if Chromium
/// wrote no file.
pub fn chromium_screenshot(url: &str, budget_ms: u32, png: &std::path::Path) {
    let profile = tempfile::tempdir().expect("profile dir");
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1280,900",
            &format!("--user-data-dir={}", profile.path().display()),
            &format!("--virtual-time-budget={budget_ms}"),
            &format!("--screenshot={}", png.display()),
            url,
        ])
        .output()
        .expect("run chromium");
    assert!(png.is_file(), "chromium wrote no screenshot of {url}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Loads `url` in headless Chromium and returns the DOM after scripts ran.
pub fn chromium_dump_dom(url: &str) -> String {
    chromium_dump_dom_after(url, 5000)
}

/// The DOM of `url` in headless Chromium after `budget_ms` of virtual time
/// (the web UI renders from REST answers it fetches after loading).
pub fn chromium_dump_dom_after(url: &str, budget_ms: u32) -> String {
    let profile = tempfile::tempdir().expect("profile dir");
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-sync",
            &format!("--user-data-dir={}", profile.path().display()),
            &format!("--virtual-time-budget={budget_ms}"),
            "--dump-dom",
            url,
        ])
        .output()
        .expect("run chromium");
    String::from_utf8_lossy(&out.stdout).into_owned()
}
