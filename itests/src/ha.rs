//! Helpers of the HA tests (`tests/ha_*.rs`, issue 21): the HA stack of
//! `scripts/ha-hadoop` (name service `ns1` = NameNodes nn1/nn2, ResourceManagers
//! rm1/rm2, manual failover), its daemons' HA states, and Hadoop's own admin
//! CLIs (`hdfs haadmin`, `yarn rmadmin`) to fail them over.
//!
//! Environment (from `scripts/ha-hadoop test-env`): `RFY_HA_HADOOP_HOME` (its
//! state dir: `bin/hdfs`, `bin/yarn` run Hadoop's CLIs on the stack) and
//! `RFY_HA_HADOOP_CONF_DIR` (its client configuration). Without them the
//! tests print SKIPPED, unless `RFY_REQUIRE_HA=1` (`scripts/test`), which
//! makes them fail.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::Cluster;

/// The HA stack.
pub struct HaStack {
    /// `RFY_HA_HADOOP_HOME`.
    pub home: String,
    /// The stack as a [`Cluster`] (its configuration directory passed to every `rfy` run).
    pub cluster: Cluster,
}

impl HaStack {
    /// The HA stack from the environment; `None` (after printing SKIPPED)
    /// when it is not set and `RFY_REQUIRE_HA` is not `1`.
    pub fn get(test: &str) -> Option<HaStack> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let (Some(home), Some(conf_dir)) = (var("RFY_HA_HADOOP_HOME"), var("RFY_HA_HADOOP_CONF_DIR")) else {
            let why = "RFY_HA_HADOOP_HOME / RFY_HA_HADOOP_CONF_DIR not set: start the HA stack \
                       (scripts/ha-hadoop start) and eval \"$(scripts/ha-hadoop test-env)\"";
            if std::env::var("RFY_REQUIRE_HA").as_deref() == Ok("1") {
                panic!("{test}: {why} (RFY_REQUIRE_HA=1)");
            }
            println!("SKIPPED {test}: {why}");
            eprintln!("SKIPPED {test}: {why}");
            return None;
        };
        Some(HaStack { cluster: Cluster::from_dir(&conf_dir), home })
    }

    /// Runs the stack's `hdfs` or `yarn` CLI (`<home>/bin/<cmd> <args>`); panics with its output if it fails.
    pub fn cli(&self, cmd: &str, args: &[&str]) -> String {
        let bin = format!("{}/bin/{cmd}", self.home);
        let out = Command::new(&bin).args(args).output().unwrap_or_else(|e| panic!("cannot run {bin}: {e}"));
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{bin} {} failed: {text}", args.join(" "));
        text
    }

    /// The HA state of NameNode `id` (`active`, `standby`) from its JMX
    /// (`Hadoop:service=NameNode,name=NameNodeStatus`); `None` if it does not answer.
    pub async fn namenode_state(&self, id: &str) -> Option<String> {
        let key = format!("dfs.namenode.http-address.ns1.{id}");
        let addr = self.cluster.conf.get(&key).unwrap_or_else(|| panic!("{key} is not set"));
        let url = format!("http://{addr}/jmx?qry=Hadoop:service=NameNode,name=NameNodeStatus");
        let v: serde_json::Value = reqwest::get(&url).await.ok()?.json().await.ok()?;
        v["beans"][0]["State"].as_str().map(str::to_string)
    }

    /// The active NameNode and the other one, as (active, standby) ids; waits up to 30 s for an active one.
    pub async fn namenodes(&self) -> (String, String) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            for (a, b) in [("nn1", "nn2"), ("nn2", "nn1")] {
                if self.namenode_state(a).await.as_deref() == Some("active") {
                    return (a.to_string(), b.to_string());
                }
            }
            assert!(Instant::now() < deadline, "no active NameNode in ns1 within 30 s");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The HA state of ResourceManager `id` (`ACTIVE`, `STANDBY`) from its
    /// `/ws/v1/cluster/info`; `None` if it does not answer.
    pub async fn rm_state(&self, id: &str) -> Option<String> {
        let key = format!("yarn.resourcemanager.webapp.address.{id}");
        let addr = self.cluster.conf.get(&key).unwrap_or_else(|| panic!("{key} is not set"));
        let v: serde_json::Value =
            reqwest::get(format!("http://{addr}/ws/v1/cluster/info")).await.ok()?.json().await.ok()?;
        v["clusterInfo"]["haState"].as_str().map(str::to_string)
    }

    /// The active ResourceManager and the other one, as (active, standby) ids; waits up to 30 s for an active one.
    pub async fn resourcemanagers(&self) -> (String, String) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            for (a, b) in [("rm1", "rm2"), ("rm2", "rm1")] {
                if self.rm_state(a).await.as_deref() == Some("ACTIVE") {
                    return (a.to_string(), b.to_string());
                }
            }
            assert!(Instant::now() < deadline, "no active ResourceManager within 30 s");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
