//! User jobs on the embedded cluster: a panicking operator fails its job
//! with the panic message and the operator's name in the exception history
//! while the TaskManager lives on; `rfy new` + `cargo build` + `rfy run`
//! of the generated project, in a temporary directory with the SDK by path.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rfy_client::follow::RestClient;
use rfy_client::local::LocalCluster;
use rfy_conf::{Configuration, Source};
use rfy_runtime::{JobError, JobProgram, StreamExecutionEnvironment};

fn explode(env: &StreamExecutionEnvironment, _: &[String]) -> Result<(), JobError> {
    env.from_collection((0..100u64).collect())
        .map(|x| if x == 42 { panic!("record 42 is cursed") } else { x })
        .name("Cursed")
        .discard();
    Ok(())
}

static PROGRAMS: &[JobProgram] = &[JobProgram { name: "explode", description: "panics", build: explode }];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_operator_fails_the_job_and_the_task_manager_survives() {
    let mut conf = Configuration::new();
    conf.set("restart-strategy.type", "none", Source::Programmatic).unwrap();
    let cluster = LocalCluster::start_with_programs(&conf, 1, PROGRAMS).await.unwrap();
    let client = RestClient::new(cluster.rest_url()).unwrap();
    let (_, graph) = rfy_am::plan::plan(PROGRAMS, "explode", &[], &conf, true).unwrap();
    for round in 0..2 {
        let job = client.submit(&graph, &Default::default()).await.unwrap();
        let started = Instant::now();
        let state = loop {
            let s = client.get(&format!("/jobs/{job}")).await.unwrap()["state"].as_str().unwrap().to_string();
            if matches!(s.as_str(), "FINISHED" | "FAILED" | "CANCELED") {
                break s;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "round {round}: job still {s}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(state, "FAILED", "round {round}");
        let ex = client.get(&format!("/jobs/{job}/exceptions")).await.unwrap();
        let root = ex["root-exception"].as_str().unwrap_or_default().to_string() + &ex.to_string();
        assert!(root.contains("record 42 is cursed") && root.contains("Cursed"), "round {round}: {ex}");
        // The same TaskManager runs the next round: it survived the panic.
        let o = client.get("/overview").await.unwrap();
        assert_eq!(o["taskmanagers"], 1, "round {round}");
    }
    cluster.shutdown().await;
}

/// Word counts the generated template computes: split on non-alphanumeric
/// characters, lowercase.
fn template_counts(text: &str) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for w in text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        *m.entry(w.to_lowercase()).or_insert(0) += 1;
    }
    m
}

fn read_counts(dir: &Path) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if !e.file_name().to_string_lossy().starts_with("part-") {
            continue;
        }
        for line in std::fs::read_to_string(e.path()).unwrap().lines() {
            let (w, n) = line.split_once('\t').unwrap_or_else(|| panic!("bad line {line:?}"));
            assert!(m.insert(w.to_string(), n.parse().unwrap()).is_none(), "{w} twice");
        }
    }
    m
}

/// The workspace's target directory: the generated project builds there
/// (with the workspace's Cargo.lock) so it reuses the compiled SDK.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

#[test]
fn rfy_new_then_cargo_build_then_rfy_run() {
    let rfy = env!("CARGO_BIN_EXE_rfy");
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("clickstats");
    let out = Command::new(rfy).arg("new").arg(&project).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock"), project.join("Cargo.lock")).unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let build = Command::new(cargo)
        .args(["build", "--quiet"])
        .current_dir(&project)
        .env("CARGO_TARGET_DIR", target_dir())
        .status()
        .unwrap();
    assert!(build.success(), "cargo build of the generated project failed");
    let exe = target_dir().join("debug/clickstats");

    let text = "Click, click: BOOM.\nthe quick brown fox clicks\n\nÜber click boom\n".repeat(50);
    std::fs::write(tmp.path().join("in.txt"), &text).unwrap();
    let output = tmp.path().join("out");
    let run = Command::new(rfy)
        .args(["run", "-p", "2"])
        .arg(&exe)
        .args(["--input", "in.txt", "--output"])
        .arg(&output)
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(stderr.contains("FINISHED"), "{stderr}");
    assert_eq!(read_counts(&output), template_counts(&text));

    // `rfy info` plans through the executable: its JobGraph names its program.
    let info = Command::new(rfy).arg("info").arg(&exe).args(["--input", "in.txt"]).current_dir(tmp.path()).output();
    let info = info.unwrap();
    let graph: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(graph["program"], "clickstats");
    let _ = std::fs::remove_file(exe);
}

#[test]
fn bad_job_executables_are_one_line_errors_naming_the_file() {
    let rfy = env!("CARGO_BIN_EXE_rfy");
    let tmp = tempfile::tempdir().unwrap();
    let not_exe = tmp.path().join("job.txt");
    std::fs::write(&not_exe, "hello").unwrap();
    let script = tmp.path().join("not-rfy.sh");
    std::fs::write(&script, "#!/bin/sh\necho hello\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    for (path, want) in [
        (not_exe, "not an executable file"),
        (script, "is not an rfy job executable"),
        (tmp.path().join("missing"), "No such file"),
    ] {
        let out = Command::new(rfy).arg("run").arg(&path).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(&path.display().to_string()) && err.contains(want), "{err}");
    }
}
