//! `rfy doctor`: checks a user's setup for running rfy on YARN and prints a
//! table of checks (`CHECK  STATUS  DETAIL`), each failure with its fix.
//! Exits non-zero when a check failed. Flink has nothing like it.
//!
//! Checks, in order (a failed one skips those that need it):
//! 1. `HADOOP_CONF_DIR`: set, and its `*-site.xml` parse.
//! 2. ResourceManager: reachable (`/ws/v1/cluster/info`), its Hadoop version, active.
//! 3. NameNode: reachable (`fs.defaultFS`).
//! 4. Staging directory: the user can create and delete a file under
//!    `yarn.staging-directory` (default `/user/<user>/.rfy`).
//! 5. Queue: `yarn.application.queue` exists in the scheduler (`/ws/v1/cluster/scheduler`).
//! 6. Container sizes: `jobmanager.memory.process.size` and
//!    `taskmanager.memory.process.size` fit YARN's maximum allocation, and a
//!    running NodeManager has room for a TaskManager.
//! 7. Binaries: this executable is a Linux ELF for this machine's
//!    architecture (what is shipped to the containers). The nodes' own
//!    architecture is not visible through YARN's REST API: not checked.

use std::time::Duration;

use anyhow::Result;
use rfy_conf::{options, Configuration};
use rfy_hadoop::config::{current_user, HadoopConfig};
use rfy_hadoop::hdfs::Hdfs;
use rfy_hadoop::yarn::rest::RmRestClient;

/// One row of the table.
struct Check {
    name: &'static str,
    ok: bool,
    detail: String,
}

fn pass(name: &'static str, detail: impl Into<String>) -> Check {
    Check { name, ok: true, detail: detail.into() }
}

fn fail(name: &'static str, detail: impl Into<String>) -> Check {
    Check { name, ok: false, detail: detail.into() }
}

/// The table, columns padded to their widest cell.
fn render(checks: &[Check]) -> String {
    let w = checks.iter().map(|c| c.name.len()).max().unwrap_or(0).max(5);
    let mut out = format!("{:<w$}  {:<6}  DETAIL\n", "CHECK", "STATUS");
    for c in checks {
        out.push_str(&format!("{:<w$}  {:<6}  {}\n", c.name, if c.ok { "ok" } else { "FAILED" }, c.detail));
    }
    out
}

/// Runs the checks against `conf`; prints the table; returns whether all passed.
///
/// Errors: none of its own: every problem is a failed row.
pub async fn run(conf: &Configuration) -> Result<bool> {
    let checks = checks(conf).await;
    print!("{}", render(&checks));
    let failed = checks.iter().filter(|c| !c.ok).count();
    if failed > 0 {
        println!("{failed} check(s) failed.");
    } else {
        println!("All checks passed.");
    }
    Ok(failed == 0)
}

async fn checks(conf: &Configuration) -> Vec<Check> {
    let mut out = Vec::new();
    out.push(binary_check());
    let hconf = match HadoopConfig::from_env() {
        Ok(h) => {
            let dir = h.dir().map(|d| d.display().to_string()).unwrap_or_default();
            out.push(pass("HADOOP_CONF_DIR", dir));
            h
        }
        Err(e) => {
            out.push(fail(
                "HADOOP_CONF_DIR",
                format!("{e}. Fix: export HADOOP_CONF_DIR=<dir with core-site.xml and yarn-site.xml>"),
            ));
            return out;
        }
    };
    let user = current_user();
    let rm = match RmRestClient::from_config(&hconf, &user) {
        Ok(rm) => Some(rm),
        Err(e) => {
            out.push(fail(
                "ResourceManager",
                format!("{e}. Fix: set yarn.resourcemanager.webapp.address in yarn-site.xml"),
            ));
            None
        }
    };
    if let Some(rm) = &rm {
        match rm.cluster_info().await {
            Ok(i) if i.state == "STARTED" && i.ha_state != "STANDBY" => out.push(pass(
                "ResourceManager",
                format!("{} (Hadoop {}, {})", rm.base_url(), i.hadoop_version, i.ha_state),
            )),
            Ok(i) => out.push(fail(
                "ResourceManager",
                format!("{} is {} / {}. Fix: use the active ResourceManager", rm.base_url(), i.state, i.ha_state),
            )),
            Err(e) => out.push(fail(
                "ResourceManager",
                format!("{e}. Fix: start YARN, or correct yarn.resourcemanager.webapp.address"),
            )),
        }
    }
    match Hdfs::from_config(&hconf, Some(&user)) {
        Err(e) => out.push(fail("NameNode", format!("{e}. Fix: set fs.defaultFS in core-site.xml"))),
        Ok(fs) => match fs.probe().await {
            Err(e) => out.push(fail("NameNode", format!("{e}. Fix: start HDFS, or correct fs.defaultFS"))),
            Ok(()) => {
                out.push(pass("NameNode", fs.namenode().to_string()));
                out.push(staging_check(&fs, conf, &user).await);
            }
        },
    }
    if let Some(rm) = &rm {
        if out.iter().any(|c| c.name == "ResourceManager" && c.ok) {
            out.push(queue_check(rm, conf).await);
            out.extend(memory_checks(rm, conf).await);
        }
    }
    out
}

fn binary_check() -> Check {
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => return fail("binaries", format!("cannot find this executable: {e}")),
    };
    let head = std::fs::read(&exe).map(|b| b.get(..20).map(<[u8]>::to_vec).unwrap_or_default()).unwrap_or_default();
    let machine = head.get(18..20).map(|m| u16::from_le_bytes([m[0], m[1]]));
    let arch = match machine {
        Some(0x3e) => "x86_64",
        Some(0xb7) => "aarch64",
        _ => "unknown",
    };
    if !head.starts_with(b"\x7fELF") {
        return fail("binaries", format!("{} is not an ELF executable: containers cannot run it", exe.display()));
    }
    if arch != std::env::consts::ARCH {
        return fail(
            "binaries",
            format!("{} is built for {arch}, this machine is {}", exe.display(), std::env::consts::ARCH),
        );
    }
    pass("binaries", format!("{} ({arch} Linux ELF; the nodes' architecture is not checked)", exe.display()))
}

async fn staging_check(fs: &Hdfs, conf: &Configuration, user: &str) -> Check {
    let root = crate::yarn::staging_root(conf, user);
    let probe = format!("{root}/.doctor-{}", std::process::id());
    let fix = format!("Fix: hdfs dfs -mkdir -p {root} && hdfs dfs -chown {user} {root}, or set yarn.staging-directory");
    if let Err(e) = fs.mkdirs(&root, 0o700).await {
        return fail("staging directory", format!("cannot create {root}: {e}. {fix}"));
    }
    if let Err(e) = fs.put(&probe, b"rfy doctor", 0o600, true).await {
        return fail("staging directory", format!("cannot write {probe}: {e}. {fix}"));
    }
    match fs.delete(&probe, false).await {
        Ok(_) => pass("staging directory", format!("{} writable", fs.qualify(&root))),
        Err(e) => fail("staging directory", format!("wrote but cannot delete {probe}: {e}. {fix}")),
    }
}

async fn queue_check(rm: &RmRestClient, conf: &Configuration) -> Check {
    let queue = conf.get(&options::YARN_APPLICATION_QUEUE);
    let url = format!("{}/ws/v1/cluster/scheduler", rm.base_url());
    let got = async {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
        let v: serde_json::Value = http.get(&url).header("Accept", "application/json").send().await?.json().await?;
        anyhow::Ok(v)
    }
    .await;
    let v = match got {
        Ok(v) => v,
        Err(e) => return fail("queue", format!("cannot read {url}: {e}")),
    };
    let mut names = Vec::new();
    collect_queue_names(&v, &mut names);
    let leaf = queue.rsplit('.').next().unwrap_or(&queue).to_string();
    if names.is_empty() {
        // The FIFO scheduler has no queues: every application runs in "default".
        return pass("queue", format!("{queue} (the scheduler lists no queues)"));
    }
    if names.iter().any(|n| *n == queue || *n == leaf) {
        pass("queue", queue)
    } else {
        names.sort();
        names.dedup();
        fail(
            "queue",
            format!("no queue '{queue}' (queues: {}). Fix: -D yarn.application.queue=<one of them>", names.join(", ")),
        )
    }
}

/// Every `queueName` in the scheduler's answer.
fn collect_queue_names(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            if let Some(n) = m.get("queueName").and_then(|n| n.as_str()) {
                out.push(n.to_string());
            }
            m.values().for_each(|x| collect_queue_names(x, out));
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_queue_names(x, out)),
        _ => {}
    }
}

async fn memory_checks(rm: &RmRestClient, conf: &Configuration) -> Vec<Check> {
    let mib = |o: &rfy_conf::ConfigOption<rfy_conf::MemorySize>| conf.get(o).bytes() / (1 << 20);
    let (jm, tm) = (mib(&options::JOBMANAGER_MEMORY_PROCESS_SIZE), mib(&options::TASKMANAGER_MEMORY_PROCESS_SIZE));
    let mut out = Vec::new();
    // The scheduler's maximum allocation, as `rfy run` learns it (a new application id, never submitted).
    match rm.new_application().await {
        Err(e) => out.push(fail("max allocation", format!("cannot ask the ResourceManager: {e}"))),
        Ok(app) => {
            let max = app.maximum_resource_capability.memory.max(0) as u64;
            for (name, key, v) in [
                ("JobManager memory", options::JOBMANAGER_MEMORY_PROCESS_SIZE.key, jm),
                ("TaskManager memory", options::TASKMANAGER_MEMORY_PROCESS_SIZE.key, tm),
            ] {
                out.push(if max == 0 || v <= max {
                    pass(name, format!("{key} = {v} MiB, YARN grants up to {max} MiB per container"))
                } else {
                    fail(name, format!("{key} = {v} MiB > YARN's maximum {max} MiB per container. Fix: -D {key}={max}m, or raise yarn.scheduler.maximum-allocation-mb"))
                });
            }
        }
    }
    match rm.nodes().await {
        Err(e) => out.push(fail("NodeManagers", format!("cannot list nodes: {e}"))),
        Ok(nodes) => {
            let running: Vec<_> = nodes.iter().filter(|n| n.state == "RUNNING").collect();
            let room = running.iter().map(|n| n.avail_memory_mb.max(0) as u64).max().unwrap_or(0);
            let cores: i64 = running.iter().map(|n| n.available_virtual_cores).sum();
            out.push(if running.is_empty() {
                fail("NodeManagers", format!("no RUNNING NodeManager ({} known). Fix: start a NodeManager", nodes.len()))
            } else if room < tm {
                fail("NodeManagers", format!("{} running, the most free memory on one is {room} MiB < a TaskManager's {tm} MiB. Fix: lower taskmanager.memory.process.size or free the nodes", running.len()))
            } else {
                pass("NodeManagers", format!("{} running, up to {room} MiB and {cores} vcores free", running.len()))
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_pads_columns_and_marks_failures() {
        let t = render(&[pass("queue", "default"), fail("NameNode", "down. Fix: start HDFS")]);
        assert_eq!(t, "CHECK     STATUS  DETAIL\nqueue     ok      default\nNameNode  FAILED  down. Fix: start HDFS\n");
    }

    #[test]
    fn queue_names_are_found_at_any_depth() {
        let v = serde_json::json!({"scheduler": {"schedulerInfo": {"queueName": "root", "queues": {"queue": [{"queueName": "default"}, {"queueName": "etl"}]}}}});
        let mut names = Vec::new();
        collect_queue_names(&v, &mut names);
        assert_eq!(names, ["root", "default", "etl"]);
    }
}
