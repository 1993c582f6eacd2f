//! Apache Flink's own command-line client (`flink` = `CliFrontend` from
//! `org.apache.flink:flink-clients`) and a checker that parses rfy's REST
//! answers with Flink's REST client classes (`itests/flink-cli/RestShapes.java`).
//! Flink's jars come from Maven Central: the classpath is resolved once with
//! `mvn dependency:build-classpath` on `itests/flink-cli/pom.xml` (cached in
//! `.cache/flink-cli.classpath`; `scripts/test` resolves it ahead of time).

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use crate::local::repo_file;

/// The classpath of Flink's CLI (colon-separated jar paths).
///
/// Panics: `mvn` fails (the message says how to fix it).
pub fn classpath() -> String {
    static CP: OnceLock<String> = OnceLock::new();
    CP.get_or_init(|| {
        let out = repo_file(".cache/flink-cli.classpath");
        if !out.exists() {
            std::fs::create_dir_all(out.parent().expect("parent")).expect(".cache directory");
            let pom = repo_file("itests/flink-cli/pom.xml");
            let st = Command::new("mvn")
                .args(["-q", "-B", "-f"])
                .arg(&pom)
                .arg("dependency:build-classpath")
                .arg(format!("-Dmdep.outputFile={}", out.display()))
                .status()
                .expect("mvn runs (Flink's CLI jars come from Maven Central; install Maven)");
            assert!(st.success(), "mvn dependency:build-classpath -f {} failed ({st})", pom.display());
        }
        std::fs::read_to_string(&out).expect("classpath file").trim().to_string()
    })
    .clone()
}

/// A `FLINK_CONF_DIR` with an empty `config.yaml` (Flink's CLI needs one).
fn conf_dir() -> PathBuf {
    let dir = repo_file(".cache/flink-cli-conf");
    std::fs::create_dir_all(&dir).expect("flink conf dir");
    let file = dir.join("config.yaml");
    if !file.exists() {
        std::fs::write(&file, "# Flink CLI configuration for rfy's tests: everything from the command line\n")
            .expect("config.yaml");
    }
    dir
}

/// Output of one command: success, stdout and stderr together.
pub struct Output {
    /// Exit status 0.
    pub ok: bool,
    /// stdout then stderr.
    pub text: String,
}

/// Runs `flink ARGS` (Flink's `CliFrontend`).
pub fn flink(args: &[&str]) -> Output {
    let out = Command::new("java")
        .env("FLINK_CONF_DIR", conf_dir())
        .arg("-cp")
        .arg(classpath())
        .arg("org.apache.flink.client.cli.CliFrontend")
        .args(args)
        .output()
        .expect("java runs (Java 17)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    Output { ok: out.status.success(), text }
}

/// Parses `base_url + "/v1" + path` with the response class of Flink's
/// `MessageHeaders` for each `(path, headers class)`: see `RestShapes.java`.
pub fn check_rest_shapes(base_url: &str, routes: &[(String, &str)]) -> Output {
    let out = Command::new("java")
        .arg("-cp")
        .arg(classpath())
        .arg(repo_file("itests/flink-cli/RestShapes.java"))
        .arg(base_url)
        .args(routes.iter().map(|(p, h)| format!("{p}={h}")))
        .output()
        .expect("java runs (Java 17)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    Output { ok: out.status.success(), text }
}
