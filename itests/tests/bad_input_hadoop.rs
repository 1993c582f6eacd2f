//! Bad input, Hadoop (issue 11): `rfy run -m yarn-application` against
//! broken Hadoop settings, a ResourceManager or NameNode that is not there or
//! not what it should be, and requests YARN refuses. Each case: exit 1, one
//! line on stderr starting with `error: ` that names the file, key or
//! address at fault, no panic, and it ends within seconds (no retry forever).
//! Variants of the real `HADOOP_CONF_DIR` are written to a temporary directory.
//!
//! | case | setting | expected message (part) |
//! |---|---|---|
//! | HADOOP_CONF_DIR unset | — | `HADOOP_CONF_DIR is not set` |
//! | HADOOP_CONF_DIR points at nothing | `/no/such/hadoop-conf` | `Hadoop configuration directory /no/such/hadoop-conf does not exist` |
//! | broken XML | truncated `core-site.xml` | `malformed Hadoop configuration file <dir>/core-site.xml` |
//! | RM unreachable | `yarn.resourcemanager.webapp.address` = a closed port | `cannot reach the YARN ResourceManager at http://127.0.0.1:<port> (yarn.resourcemanager.webapp.address in <dir>)` |
//! | not YARN at the RM address | an HTTP server answering HTML | `an HTML page ('Not YARN'), not YARN's REST API` |
//! | NameNode unreachable | `fs.defaultFS` = a closed port | `cannot reach the HDFS NameNode hdfs://127.0.0.1:<port>: Connection refused ... (fs.defaultFS in <dir>)` |
//! | queue that does not exist | `-D yarn.application.queue=...` | YARN's `unknown queue: <queue>` |
//! | memory above YARN's maximum | `-D jobmanager.memory.process.size=1 tb` | `jobmanager.memory.process.size is 1048576 MiB but YARN grants at most <max> MiB per container` |

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rfy_itests::{rfy_bin, Cluster};

/// A local port nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Sets property `name` to `value` in the Hadoop XML `file` (added if absent).
fn set_prop(file: &Path, name: &str, value: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    let tag = format!("<name>{name}</name>");
    let out = match text.find(&tag) {
        Some(i) => {
            let v = i + text[i..].find("<value>").unwrap() + "<value>".len();
            let end = v + text[v..].find("</value>").unwrap();
            format!("{}{value}{}", &text[..v], &text[end..])
        }
        None => text.replace(
            "</configuration>",
            &format!("<property><name>{name}</name><value>{value}</value></property></configuration>"),
        ),
    };
    std::fs::write(file, out).unwrap();
}

/// A copy of the real Hadoop configuration directory under `tmp/name`.
fn conf_copy(real: &Path, tmp: &Path, name: &str) -> PathBuf {
    let dir = tmp.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for e in std::fs::read_dir(real).unwrap().flatten() {
        if e.path().extension().is_some_and(|x| x == "xml") {
            std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
        }
    }
    dir
}

/// Runs `rfy run -m yarn-application <extra> wordcount ...` with
/// `HADOOP_CONF_DIR` = `conf` (unset for `None`); checks the contract and
/// that each part is in the error line.
fn expect(conf: Option<&Path>, extra: &[&str], parts: &[&str]) {
    let mut cmd = Command::new(rfy_bin());
    cmd.args(["run", "-m", "yarn-application", "-D", "yarn.application.name=reliability-bad-input"]);
    cmd.args(extra).args(["wordcount", "--input", "hdfs:///tmp/reliability-none.txt", "--discard"]);
    cmd.env("RUST_LOG", "error").env_remove("RFY_CONF_DIR");
    match conf {
        Some(c) => cmd.env("HADOOP_CONF_DIR", c),
        None => cmd.env_remove("HADOOP_CONF_DIR"),
    };
    let started = Instant::now();
    let out = cmd.output().expect("run rfy");
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let what = format!("HADOOP_CONF_DIR={conf:?} {extra:?}");
    assert_eq!(out.status.code(), Some(1), "{what}: exit {:?}: {stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{what} panicked: {stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "{what}: one error line expected: {stderr}");
    for p in parts {
        assert!(errors[0].contains(p), "{what}: {:?} lacks {p:?}", errors[0]);
    }
    assert!(took < Duration::from_secs(30), "{what} took {took:?}: {stderr}");
}

#[test]
fn hadoop_mistakes_get_one_clear_line_each() {
    let Some(cluster) = Cluster::get("bad_input_hadoop") else { return };
    let real = cluster.conf.dir().expect("HADOOP_CONF_DIR").to_path_buf();
    let tmp = tempfile::tempdir().unwrap();

    expect(None, &[], &["HADOOP_CONF_DIR is not set"]);
    expect(
        Some(Path::new("/no/such/hadoop-conf")),
        &[],
        &["Hadoop configuration directory /no/such/hadoop-conf does not exist"],
    );

    let broken = conf_copy(&real, tmp.path(), "broken");
    let core = broken.join("core-site.xml");
    let text = std::fs::read_to_string(&core).unwrap();
    std::fs::write(&core, &text[..text.len() / 2]).unwrap();
    expect(Some(&broken), &[], &["malformed Hadoop configuration file", &core.display().to_string()]);

    let port = closed_port();
    let rm_down = conf_copy(&real, tmp.path(), "rm-down");
    set_prop(&rm_down.join("yarn-site.xml"), "yarn.resourcemanager.webapp.address", &format!("127.0.0.1:{port}"));
    expect(
        Some(&rm_down),
        &[],
        &[
            &format!("cannot reach the YARN ResourceManager at http://127.0.0.1:{port}"),
            "yarn.resourcemanager.webapp.address",
            &rm_down.display().to_string(),
        ],
    );

    // An HTTP server that is not YARN, answering every request with an HTML page.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let web = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let body = "<!DOCTYPE html><html><head><title>Not YARN</title></head><body>hello</body></html>";
            let _ = write!(s, "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        }
    });
    let not_yarn = conf_copy(&real, tmp.path(), "not-yarn");
    set_prop(&not_yarn.join("yarn-site.xml"), "yarn.resourcemanager.webapp.address", &web.to_string());
    expect(Some(&not_yarn), &[], &["answered 404", "an HTML page ('Not YARN'), not YARN's REST API"]);

    let port = closed_port();
    let nn_down = conf_copy(&real, tmp.path(), "nn-down");
    set_prop(&nn_down.join("core-site.xml"), "fs.defaultFS", &format!("hdfs://127.0.0.1:{port}"));
    expect(
        Some(&nn_down),
        &[],
        &[&format!("cannot reach the HDFS NameNode hdfs://127.0.0.1:{port}"), "fs.defaultFS in"],
    );

    // Requests the real YARN refuses.
    expect(Some(&real), &["-D", "yarn.application.queue=reliability-nosuch"], &["unknown queue", "reliability-nosuch"]);
    expect(
        Some(&real),
        &["-D", "jobmanager.memory.process.size=1 tb"],
        &["jobmanager.memory.process.size is 1048576 MiB but YARN grants at most", "MiB per container"],
    );
}
