//! Issue 10, `rfy doctor` against the real Hadoop cluster: a good setup
//! passes every check (exit 0), the probe container reading a node's glibc
//! and architecture included; a ResourceManager that is down, an unknown
//! queue, a TaskManager larger than YARN grants, an executable that needs a
//! newer glibc than the nodes have (a copy of `/bin/true` whose `GLIBC_2.x`
//! version needs read `GLIBC_9.x`), and no HADOOP_CONF_DIR each fail their row
//! with a fix, and the command exits 1.

use std::path::{Path, PathBuf};
use std::process::Command;

use rfy_itests::{rfy_bin, Cluster};

/// `rfy doctor <args>` with `HADOOP_CONF_DIR` = `conf` (unset for `None`): (exit code, stdout).
fn doctor(conf: Option<&Path>, args: &[&str]) -> (Option<i32>, String) {
    let mut cmd = Command::new(rfy_bin());
    cmd.arg("doctor").args(args).env("RUST_LOG", "error").env_remove("RFY_CONF_DIR");
    match conf {
        Some(c) => cmd.env("HADOOP_CONF_DIR", c),
        None => cmd.env_remove("HADOOP_CONF_DIR"),
    };
    let out = cmd.output().expect("run rfy doctor");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"), "{stdout}");
    (out.status.code(), stdout)
}

/// The row of check `name`.
fn row<'a>(table: &'a str, name: &str) -> &'a str {
    table.lines().find(|l| l.starts_with(&format!("{name}  "))).unwrap_or_else(|| panic!("no row {name}:\n{table}"))
}

fn conf_copy_with(real: &Path, dir: PathBuf, file: &str, name: &str, value: &str) -> PathBuf {
    std::fs::create_dir_all(&dir).unwrap();
    for e in std::fs::read_dir(real).unwrap().flatten() {
        if e.path().extension().is_some_and(|x| x == "xml") {
            std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
        }
    }
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let tag = format!("<name>{name}</name>");
    let i = text.find(&tag).unwrap_or_else(|| panic!("{name} not in {file}"));
    let v = i + text[i..].find("<value>").unwrap() + "<value>".len();
    let end = v + text[v..].find("</value>").unwrap();
    std::fs::write(&path, format!("{}{value}{}", &text[..v], &text[end..])).unwrap();
    dir
}

#[test]
fn doctor_passes_a_good_setup_and_names_each_problem() {
    let Some(cluster) = Cluster::get("doctor") else { return };
    let real = cluster.conf.dir().expect("HADOOP_CONF_DIR").to_path_buf();

    let (code, table) = doctor(Some(&real), &[]);
    assert_eq!(code, Some(0), "{table}");
    for name in [
        "HADOOP_CONF_DIR",
        "ResourceManager",
        "NameNode",
        "staging directory",
        "queue",
        "TaskManager memory",
        "NodeManagers",
        "binaries",
        "TaskManager memory model",
        "nodes",
    ] {
        assert!(row(&table, name).contains(" ok "), "{name}:\n{table}");
    }
    assert!(row(&table, "ResourceManager").contains("Hadoop 3."), "{table}");
    assert!(row(&table, "TaskManager memory").contains("(the queue's maximumAllocation)"), "{table}");
    let arch = std::env::consts::ARCH;
    assert!(row(&table, "binaries").contains(&format!("({arch} ELF, needs glibc 2.")), "{table}");
    let nodes = row(&table, "nodes");
    assert!(nodes.contains(&format!("the probed node: {arch}, glibc 2.")), "{table}");

    let (code, table) = doctor(Some(&real), &["--no-probe"]);
    assert_eq!(code, Some(0), "{table}");
    assert!(row(&table, "nodes").contains("ok      not probed (--no-probe)"), "{table}");

    // An executable needing glibc 9.x: the probe's node cannot run it.
    let tmp = tempfile::tempdir().unwrap();
    let exe = tmp.path().join("true-glibc9");
    let mut bytes = std::fs::read("/bin/true").expect("/bin/true");
    let mut patched = 0;
    for i in 0..bytes.len().saturating_sub(8) {
        if &bytes[i..i + 8] == b"GLIBC_2." {
            bytes[i + 6] = b'9';
            patched += 1;
        }
    }
    assert!(patched > 0, "/bin/true names no GLIBC_2.x version");
    std::fs::write(&exe, bytes).unwrap();
    let (code, table) = doctor(Some(&real), &["--executable", exe.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{table}");
    assert!(row(&table, "binaries").contains("needs glibc 9."), "{table}");
    let nodes = row(&table, "nodes");
    assert!(
        nodes.contains("FAILED")
            && nodes.contains("needs glibc 9.")
            && nodes.contains("Fix: build on a system with glibc <= 2."),
        "{table}"
    );

    let (code, table) = doctor(Some(&real), &["--no-probe", "-D", "yarn.application.queue=no-such-queue"]);
    assert_eq!(code, Some(1), "{table}");
    assert!(row(&table, "queue").contains("FAILED  no queue 'no-such-queue'"), "{table}");

    let (code, table) = doctor(Some(&real), &["--no-probe", "-D", "taskmanager.memory.process.size=4096g"]);
    assert_eq!(code, Some(1), "{table}");
    let tm = row(&table, "TaskManager memory");
    assert!(tm.contains("FAILED") && tm.contains("yarn.scheduler.maximum-allocation-mb"), "{table}");

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let rm_down = conf_copy_with(
        &real,
        tmp.path().join("rm-down"),
        "yarn-site.xml",
        "yarn.resourcemanager.webapp.address",
        &format!("127.0.0.1:{port}"),
    );
    let (code, table) = doctor(Some(&rm_down), &[]);
    assert_eq!(code, Some(1), "{table}");
    assert!(row(&table, "ResourceManager").contains("FAILED  YARN ResourceManager at http://127.0.0.1:"), "{table}");
    assert!(row(&table, "NameNode").contains(" ok "), "HDFS is still checked: {table}");

    let (code, table) = doctor(None, &[]);
    assert_eq!(code, Some(1), "{table}");
    assert!(
        row(&table, "HADOOP_CONF_DIR").contains("FAILED") && table.contains("Fix: export HADOOP_CONF_DIR"),
        "{table}"
    );
}
