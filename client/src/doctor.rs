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
//!    `taskmanager.memory.process.size` fit YARN's maximum allocation (read
//!    from `/ws/v1/cluster/scheduler`: the queue's `maximumAllocation`
//!    (Capacity Scheduler) or `maxContainerAllocation` (Fair Scheduler), else
//!    the scheduler's `maximumAllocation`, or the FIFO scheduler's
//!    `maxQueueMemoryCapacity`), and a running NodeManager has room for a
//!    TaskManager.
//! 7. Binaries: the executable (`--executable`, default this rfy) is a
//!    64-bit ELF; its machine and the highest glibc version it requires.
//! 8. Nodes: a probe container (see `doctor_nodes`) reports a node's
//!    architecture and glibc, which must satisfy the executable (skipped with
//!    `--no-probe`). One container probes one node: the one YARN picks.

use std::time::Duration;

use anyhow::Result;
use rfy_conf::{options, Configuration};
use rfy_hadoop::config::{current_user, HadoopConfig};
use rfy_hadoop::hdfs::Hdfs;
use rfy_hadoop::yarn::rest::RmRestClient;
use serde_json::Value;

use crate::doctor_nodes::{self, ExecutableNeeds};

/// What `rfy doctor` checks beyond the configuration.
#[derive(Debug, Clone, Default)]
pub struct DoctorOptions {
    /// The executable shipped to the containers; `None`: this one.
    pub executable: Option<std::path::PathBuf>,
    /// Run the probe container that reads a node's glibc and architecture.
    pub probe: bool,
}

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
pub async fn run(conf: &Configuration, options: &DoctorOptions) -> Result<bool> {
    let checks = checks(conf, options).await;
    print!("{}", render(&checks));
    let failed = checks.iter().filter(|c| !c.ok).count();
    if failed > 0 {
        println!("{failed} check(s) failed.");
    } else {
        println!("All checks passed.");
    }
    Ok(failed == 0)
}

async fn checks(conf: &Configuration, options: &DoctorOptions) -> Vec<Check> {
    let mut out = Vec::new();
    let exe = match &options.executable {
        Some(p) => Ok(p.clone()),
        None => std::env::current_exe().map_err(doctor_nodes::ExecutableError::CurrentExe),
    };
    let needs = exe.and_then(|p| doctor_nodes::executable_needs(&p).map(|n| (p, n)));
    out.push(match &needs {
        Ok((path, n)) => pass("binaries", binary_detail(path, n)),
        Err(e) => fail("binaries", format!("{e}. Fix: give --executable a Linux executable (rfy, or your job's)")),
    });
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
            let queue = conf.get(&options::YARN_APPLICATION_QUEUE);
            match scheduler(rm).await {
                Ok(info) => {
                    out.push(queue_check(&info, &queue));
                    out.extend(memory_checks(rm, &info, &queue, conf).await);
                }
                Err(e) => out.push(fail("queue", e)),
            }
            out.push(nodes_check(rm, &queue, needs.as_ref().ok(), options.probe).await);
        }
    }
    out
}

fn binary_detail(path: &std::path::Path, n: &ExecutableNeeds) -> String {
    let glibc = n.glibc.map(|v| format!("needs glibc {}", doctor_nodes::show(v))).unwrap_or("no glibc versions".into());
    format!("{} ({} ELF, {glibc})", path.display(), n.arch)
}

/// Row "nodes": the probe's answer against the executable's needs.
async fn nodes_check(
    rm: &RmRestClient,
    queue: &str,
    needs: Option<&(std::path::PathBuf, ExecutableNeeds)>,
    probe: bool,
) -> Check {
    let Some((path, needs)) = needs else {
        return fail("nodes", "not probed: the executable could not be read (see binaries)");
    };
    if !probe {
        return pass("nodes", "not probed (--no-probe): the nodes' architecture and glibc are unchecked");
    }
    match doctor_nodes::probe(rm, queue).await {
        Err(e) => fail("nodes", format!("{e}. Fix: run with --no-probe to skip, or free queue '{queue}'")),
        Ok(node) => match doctor_nodes::compare(path, needs, &node) {
            doctor_nodes::Verdict::Fits(detail) => pass("nodes", detail),
            doctor_nodes::Verdict::Misfit(detail) => fail("nodes", detail),
        },
    }
}

/// `GET /ws/v1/cluster/scheduler` → `scheduler.schedulerInfo`.
async fn scheduler(rm: &RmRestClient) -> Result<Value, String> {
    let url = format!("{}/ws/v1/cluster/scheduler", rm.base_url());
    let got = async {
        let http = rfy_hadoop::tls::http_client_builder().timeout(Duration::from_secs(10)).build()?;
        let v: Value = http.get(&url).header("Accept", "application/json").send().await?.json().await?;
        anyhow::Ok(v)
    }
    .await;
    got.map(|v| v["scheduler"]["schedulerInfo"].clone()).map_err(|e| format!("cannot read {url}: {e}"))
}

/// The largest container YARN grants in `queue` (MiB) and where that was
/// read, from the scheduler info; `None` if the scheduler reports none.
fn max_allocation(info: &Value, queue: &str) -> Option<(i64, &'static str)> {
    let leaf = queue.rsplit('.').next().unwrap_or(queue);
    // The Capacity Scheduler names a queue by its leaf (queuePath is the full path), the Fair Scheduler by its path.
    let named = |q: &Value| {
        q["queuePath"].as_str() == Some(queue) || q["queueName"].as_str().is_some_and(|n| n == leaf || n == queue)
    };
    fn find<'a>(v: &'a Value, named: &dyn Fn(&Value) -> bool) -> Option<&'a Value> {
        if named(v) && v.get("queues").is_none_or(|q| q.is_null()) {
            return Some(v);
        }
        ["queues", "childQueues"]
            .iter()
            .filter_map(|k| v[*k]["queue"].as_array())
            .flatten()
            .find_map(|q| find(q, named))
    }
    let memory = |v: &Value| v["memory"].as_i64().filter(|m| *m > 0);
    if let Some(q) = find(info, &named).or_else(|| find(&info["rootQueue"], &named)) {
        if let Some(m) = memory(&q["maximumAllocation"]) {
            return Some((m, "the queue's maximumAllocation"));
        }
        if let Some(m) = memory(&q["maxContainerAllocation"]) {
            return Some((m, "the queue's maxContainerAllocation"));
        }
    }
    if let Some(m) = memory(&info["maximumAllocation"]) {
        return Some((m, "the scheduler's maximumAllocation"));
    }
    info["maxQueueMemoryCapacity"]
        .as_i64()
        .filter(|m| *m > 0)
        .map(|m| (m, "the FIFO scheduler's maxQueueMemoryCapacity"))
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

fn queue_check(v: &Value, queue: &str) -> Check {
    let queue = queue.to_string();
    let mut names = Vec::new();
    collect_queue_names(v, &mut names);
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

async fn memory_checks(rm: &RmRestClient, info: &Value, queue: &str, conf: &Configuration) -> Vec<Check> {
    let mib = |o: &rfy_conf::ConfigOption<rfy_conf::MemorySize>| conf.get(o).bytes() / (1 << 20);
    let (jm, tm) = (mib(&options::JOBMANAGER_MEMORY_PROCESS_SIZE), mib(&options::TASKMANAGER_MEMORY_PROCESS_SIZE));
    let mut out = Vec::new();
    match max_allocation(info, queue) {
        None => out.push(fail("max allocation", "the scheduler (/ws/v1/cluster/scheduler) reports no maximum allocation. Fix: check yarn.scheduler.maximum-allocation-mb by hand")),
        Some((max, source)) => {
            let max = max as u64;
            for (name, key, v) in [
                ("JobManager memory", options::JOBMANAGER_MEMORY_PROCESS_SIZE.key, jm),
                ("TaskManager memory", options::TASKMANAGER_MEMORY_PROCESS_SIZE.key, tm),
            ] {
                out.push(if v <= max {
                    pass(name, format!("{key} = {v} MiB, YARN grants up to {max} MiB per container ({source})"))
                } else {
                    fail(name, format!("{key} = {v} MiB > YARN's maximum {max} MiB per container ({source}). Fix: -D {key}={max}m, or raise yarn.scheduler.maximum-allocation-mb"))
                });
            }
        }
    }
    out.push(match rfy_conf::TaskExecutorMemory::derive(conf) {
        Ok(m) => pass(
            "TaskManager memory model",
            format!(
                "network {} MiB, managed {} MiB, task heap {} MiB of {tm} MiB",
                m.network >> 20,
                m.managed >> 20,
                m.task_heap >> 20
            ),
        ),
        Err(e) => fail("TaskManager memory model", format!("{e}")),
    });
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
    fn the_maximum_allocation_comes_from_the_queue_else_the_scheduler() {
        let capacity = serde_json::json!({"queueName": "root", "maximumAllocation": {"memory": 8192},
            "queues": {"queue": [{"queueName": "default", "queuePath": "root.default", "maximumAllocation": {"memory": 4096}}]}});
        assert_eq!(max_allocation(&capacity, "default"), Some((4096, "the queue's maximumAllocation")));
        assert_eq!(max_allocation(&capacity, "root.default"), Some((4096, "the queue's maximumAllocation")));
        assert_eq!(max_allocation(&capacity, "etl"), Some((8192, "the scheduler's maximumAllocation")));
        let fair = serde_json::json!({"type": "fairScheduler", "rootQueue": {"queueName": "root", "childQueues": {"queue": [
            {"queueName": "root.etl", "maxContainerAllocation": {"memory": 2048}}]}}});
        assert_eq!(max_allocation(&fair, "root.etl"), Some((2048, "the queue's maxContainerAllocation")));
        let fifo = serde_json::json!({"type": "fifoScheduler", "maxQueueMemoryCapacity": 16384});
        assert_eq!(max_allocation(&fifo, "default"), Some((16384, "the FIFO scheduler's maxQueueMemoryCapacity")));
        assert_eq!(max_allocation(&serde_json::json!({}), "default"), None);
    }

    #[test]
    fn queue_names_are_found_at_any_depth() {
        let v = serde_json::json!({"scheduler": {"schedulerInfo": {"queueName": "root", "queues": {"queue": [{"queueName": "default"}, {"queueName": "etl"}]}}}});
        let mut names = Vec::new();
        collect_queue_names(&v, &mut names);
        assert_eq!(names, ["root", "default", "etl"]);
    }
}
