//! A Kerberized Hadoop (issue 20), the stack of
//! `scripts/secure-hadoop` (MIT KDC, realm RFY.TEST, `hadoop.rpc.protection=privacy`,
//! SASL data transfer at privacy, SPNEGO on the web endpoints):
//! - `rfy` logs in from a keytab (`security.kerberos.login.*`, with an empty
//!   ticket cache) and from the ticket cache (`kinit`);
//! - a keytab without the principal's key, a missing keytab and no ticket
//!   each fail with one line naming what to fix, before anything is submitted;
//! - `rfy` uploads its bundle to the Kerberized HDFS as the principal's user and
//!   submits over SPNEGO; YARN accepts the application, whose credentials hold
//!   the RM delegation token (service: the RM's ip:port) and the HDFS
//!   delegation token (fetched over WebHDFS on HTTPS, kind
//!   HDFS_DELEGATION_TOKEN, one copy keyed by ip:port for Java, one by the
//!   configured host:port for hdfs-native); the NodeManager localizes the
//!   ApplicationMaster's files with it and the AM starts;
//! - WebHDFS and the REST client over HTTPS check the server's certificate
//!   against the stack's CA (`rfy.ssl.client.truststore.pem`), and fail
//!   naming the certificate problem without it;
//! - a request without Kerberos is refused with an error saying so;
//! - the AM registers with the scheduler and starts TaskManager containers
//!   at `hadoop.rpc.protection=privacy` (SASL DIGEST-MD5 `auth-conf`), and
//!   word count in application mode runs to FINISHED, reading and writing
//!   HDFS with the shipped delegation tokens only; its output equals the
//!   reference counts of the input; the client follows the job through the
//!   RM's web proxy with SPNEGO.
//!
//! Environment (from `scripts/secure-hadoop test-env`): `RFY_SECURE_HADOOP_CONF_DIR`,
//! `RFY_SECURE_KRB5_CONFIG`, `RFY_SECURE_PRINCIPAL`, `RFY_SECURE_KEYTAB`,
//! `RFY_SECURE_OTHER_KEYTAB` (another principal's keytab). They are separate
//! from `HADOOP_CONF_DIR`, which stays the open Hadoop's for the other tests.
//! Without them the tests print SKIPPED, unless `RFY_REQUIRE_SECURE=1`
//! (`scripts/test`), which makes them fail. Needs `kinit` (krb5-user),
//! `strip` (binutils) and Hadoop's `hdfs` CLI on `PATH` (`scripts/hadoop env`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use rfy_hadoop::config::HadoopConfig;
use rfy_hadoop::hdfs::webhdfs::{self, WebHdfs};
use rfy_hadoop::kerberos::KerberosCredentials;
use rfy_hadoop::tls;
use rfy_hadoop::token::Credentials;
use rfy_hadoop::yarn::rest::{RestError, RmRestClient};
use rfy_itests::RfyRun;

/// The secure stack's settings, from the environment.
struct Secure {
    conf_dir: String,
    krb5_config: String,
    principal: String,
    keytab: String,
    other_keytab: String,
    conf: HadoopConfig,
}

impl Secure {
    fn get(test: &str) -> Option<Secure> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let names = [
            "RFY_SECURE_HADOOP_CONF_DIR",
            "RFY_SECURE_KRB5_CONFIG",
            "RFY_SECURE_PRINCIPAL",
            "RFY_SECURE_KEYTAB",
            "RFY_SECURE_OTHER_KEYTAB",
        ];
        let missing: Vec<&str> = names.iter().copied().filter(|k| var(k).is_none()).collect();
        if !missing.is_empty() {
            let why = format!(
                "{} not set: start the secure stack (scripts/secure-hadoop start) and eval \"$(scripts/secure-hadoop test-env)\"",
                missing.join(", ")
            );
            if std::env::var("RFY_REQUIRE_SECURE").as_deref() == Ok("1") {
                panic!("{test}: {why} (RFY_REQUIRE_SECURE=1)");
            }
            println!("SKIPPED {test}: {why}");
            eprintln!("SKIPPED {test}: {why}");
            return None;
        }
        let conf_dir = var(names[0]).unwrap_or_default();
        let conf = HadoopConfig::load_dir(&conf_dir).expect("the secure Hadoop configuration is readable");
        Some(Secure {
            krb5_config: var(names[1]).unwrap_or_default(),
            principal: var(names[2]).unwrap_or_default(),
            keytab: var(names[3]).unwrap_or_default(),
            other_keytab: var(names[4]).unwrap_or_default(),
            conf_dir,
            conf,
        })
    }

    /// `rfy <args>` against the secure stack with ticket cache `ccache`.
    fn rfy(&self, args: &[&str], ccache: &Path, limit: Duration) -> (bool, String) {
        let cc = format!("FILE:{}", ccache.display());
        let env = [
            ("HADOOP_CONF_DIR", self.conf_dir.as_str()),
            ("KRB5_CONFIG", self.krb5_config.as_str()),
            ("KRB5CCNAME", cc.as_str()),
            ("RUST_LOG", "warn"),
        ];
        let run = RfyRun::start_bin(&stripped_rfy(), args, &env);
        let (status, out, _) = run.finish(limit);
        (status.success(), out)
    }

    fn keytab_args(&self, keytab: &str) -> Vec<String> {
        vec![
            "-D".into(),
            format!("security.kerberos.login.keytab={keytab}"),
            "-D".into(),
            format!("security.kerberos.login.principal={}", self.principal),
        ]
    }
}

/// Copies of the rfy binaries without symbols and debug info (under half the size):
/// every byte to the Kerberized HDFS goes through SASL privacy wrapping.
fn stripped_rfy() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let rfy = rfy_itests::rfy_bin();
        let dir = rfy.parent().expect("bin dir").join("secure-itest-bin");
        std::fs::create_dir_all(&dir).expect("create stripped binaries dir");
        for b in ["rfy", "rfy-am", "rfy-worker"] {
            let st = Command::new("strip")
                .arg("--strip-all")
                .arg("-o")
                .arg(dir.join(b))
                .arg(rfy.with_file_name(b))
                .status()
                .expect("run strip (binutils)");
            assert!(st.success(), "strip {b} failed");
        }
        dir.join("rfy")
    })
    .clone()
}

/// `kinit -kt keytab principal` into `ccache`.
fn kinit(s: &Secure, ccache: &Path) {
    let out = Command::new("kinit")
        .env("KRB5_CONFIG", &s.krb5_config)
        .arg("-c")
        .arg(format!("FILE:{}", ccache.display()))
        .args(["-kt", &s.keytab, &s.principal])
        .output()
        .expect("run kinit (krb5-user)");
    assert!(out.status.success(), "kinit failed: {}", String::from_utf8_lossy(&out.stderr));
}

fn error_lines(out: &str) -> Vec<&str> {
    out.lines().filter(|l| l.starts_with("error:")).collect()
}

/// Hadoop's `hdfs dfs <args>` (the open stack's jars, on `PATH` from
/// `scripts/hadoop env`) against the secure stack, with the ticket in `ccache`.
fn secure_hdfs_dfs(s: &Secure, ccache: &Path, args: &[&str]) -> String {
    let out = Command::new("hdfs")
        .arg("dfs")
        .args(args)
        .env("HADOOP_CONF_DIR", &s.conf_dir)
        .env("KRB5CCNAME", format!("FILE:{}", ccache.display()))
        .env("HADOOP_CLIENT_OPTS", format!("-Djava.security.krb5.conf={}", s.krb5_config))
        .output()
        .unwrap_or_else(|e| panic!("cannot run Hadoop's `hdfs` CLI ({e}): eval \"$(scripts/hadoop env)\""));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "hdfs dfs {args:?} failed:\n{text}{}", String::from_utf8_lossy(&out.stderr));
    text
}

#[test]
fn keytab_login_runs_wordcount_to_finished_with_tokens_only() {
    let Some(s) = Secure::get("keytab_login_runs_wordcount_to_finished_with_tokens_only") else { return };
    let tmp = tempfile::tempdir().unwrap();
    // The input: the first 1500 lines of the KJV (small: every byte to the
    // Kerberized HDFS is wrapped at privacy), uploaded with Hadoop's own CLI.
    let text = std::fs::read_to_string(rfy_itests::repo_root().join("data/kjv.txt")).expect("data/kjv.txt");
    let local_in = tmp.path().join("in.txt");
    std::fs::write(&local_in, text.lines().take(1500).map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    let expected = rfy_itests::local::reference_counts(&local_in);
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
    let dir = format!("/tmp/rfy-secure-wc-{}-{stamp}", std::process::id());
    let (input, output) = (format!("{dir}/in.txt"), format!("{dir}/out"));
    let admin_cc = tmp.path().join("cc");
    kinit(&s, &admin_cc);
    secure_hdfs_dfs(&s, &admin_cc, &["-mkdir", "-p", &dir]);
    secure_hdfs_dfs(&s, &admin_cc, &["-put", local_in.to_str().unwrap(), &input]);

    // An empty ticket cache for rfy: the keytab is the only way in.
    let ccache = tmp.path().join("no-ticket");
    let mut args: Vec<String> =
        ["run", "-m", "yarn-application", "-D", "jobmanager.memory.process.size=512m"].map(String::from).to_vec();
    args.extend(s.keytab_args(&s.keytab));
    args.extend(
        ["wordcount", "--input", &format!("hdfs://{input}"), "--output", &format!("hdfs://{output}")].map(String::from),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, out) = s.rfy(&args, &ccache, Duration::from_secs(600));
    let user = s.principal.split('@').next().unwrap();

    // Uploaded to the Kerberized HDFS, into the principal's home.
    let nn = s.conf.default_fs();
    assert!(out.contains(&format!("({nn}/user/{user}/.rfy/cache/")), "no upload to {nn}/user/{user}:\n{out}");
    // Submitted over SPNEGO: YARN accepted the application.
    assert!(out.contains("Submitted application application_"), "not submitted:\n{out}");
    let app = out[out.find("Submitted application ").unwrap() + 22..].split_whitespace().next().unwrap().to_string();

    // The containers' credentials, as the NodeManager wrote them at launch
    // (kept after the application by the stack's
    // `yarn.nodemanager.delete.debug-delay-sec`): `nmPrivate/<app>/<container>/<container>.tokens`.
    let local_dirs = s.conf.get("yarn.nodemanager.local-dirs").expect("yarn.nodemanager.local-dirs");
    let app_private = Path::new(local_dirs.split(',').next().unwrap()).join("nmPrivate").join(&app);
    let (am, tms): (Vec<PathBuf>, Vec<PathBuf>) = std::fs::read_dir(&app_private)
        .unwrap_or_else(|e| panic!("read {}: {e}", app_private.display()))
        .flatten()
        .map(|e| e.path())
        .map(|d| d.join(format!("{}.tokens", d.file_name().unwrap().to_string_lossy())))
        .partition(|f| f.to_string_lossy().ends_with("_000001.tokens"));
    let rm = s.conf.rm_address().unwrap();
    let nn = nn.trim_start_matches("hdfs://").trim_end_matches('/').to_string();
    let nn_ip = format!("127.0.0.1:{}", nn.rsplit(':').next().unwrap());
    // The HDFS token twice: by ip:port (Java: the NodeManager's localizer) and by host:port (hdfs-native).
    let assert_hdfs_tokens_twice = |creds: &Credentials, f: &Path| {
        let hdfs: Vec<(&str, &str)> = creds
            .tokens
            .iter()
            .filter(|(_, t)| t.kind == "HDFS_DELEGATION_TOKEN")
            .map(|(alias, t)| (alias.as_str(), t.service.as_str()))
            .collect();
        assert_eq!(hdfs, [(nn_ip.as_str(), nn_ip.as_str()), (nn.as_str(), nn.as_str())], "{f:?}");
    };
    // The AM's: the RM delegation token, keyed and serviced by the RM's ip:port.
    assert_eq!(am.len(), 1, "no AM container of {app} in {}: {am:?}", app_private.display());
    let creds = Credentials::read_file(&am[0]).unwrap_or_else(|e| panic!("{}: {e}", am[0].display()));
    let token = creds.token_of_kind("RM_DELEGATION_TOKEN").unwrap_or_else(|| panic!("no RM token in {am:?}"));
    assert_eq!(token.service, format!("127.0.0.1:{}", rm.port), "{am:?}");
    assert_hdfs_tokens_twice(&creds, &am[0]);
    // The TaskManagers': the AM's tokens minus its AMRMToken. There is one at
    // least: the AM, registered with the scheduler at auth-conf, started
    // containers on the NodeManager at auth-conf.
    assert!(!tms.is_empty(), "no TaskManager container of {app} in {}:\n{out}", app_private.display());
    for f in &tms {
        let creds = Credentials::read_file(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert_hdfs_tokens_twice(&creds, f);
        assert!(creds.token_of_kind("RM_DELEGATION_TOKEN").is_some(), "{f:?}");
        assert!(creds.token_of_kind("YARN_AM_RM_TOKEN").is_none(), "the AMRMToken was given to a TaskManager: {f:?}");
    }

    // The job ran to FINISHED: the AM read and wrote HDFS with the delegation
    // token only (no component has a Kerberos ticket in its container).
    // The client followed the job through the RM's web proxy with SPNEGO.
    assert!(ok, "rfy run on the secure stack failed:\n{out}");
    assert!(out.contains(&format!(" submitted in application {app}")), "{out}");
    assert!(out.contains(&format!("YARN: application {app} FINISHED with final status SUCCEEDED")), "{out}");
    let job_line = out.lines().find(|l| l.starts_with("Job ") && l.contains(" FINISHED in ")).unwrap_or_else(|| {
        panic!("the client did not follow the job through the RM's web proxy (SPNEGO) to FINISHED:\n{out}")
    });
    assert!(job_line.contains("sources read 1500 records"), "{job_line}");
    let got = secure_hdfs_dfs(&s, &admin_cc, &["-cat", &format!("{output}/part-*")]);
    let mut counts: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    for line in got.lines() {
        let (w, c) = line.split_once('\t').unwrap_or_else(|| panic!("not word<TAB>count: {line:?}"));
        let c: u64 = c.parse().unwrap_or_else(|e| panic!("{line:?}: {e}"));
        assert!(counts.insert(w.to_string(), c).is_none(), "{w} written twice");
    }
    assert_eq!(counts.len(), expected.len(), "distinct words");
    assert!(counts == expected, "the counts differ from the reference counts of the input");
    // `rfy logs` logs in and reads HDFS as the principal. LIMIT of the test
    // stack, not of rfy: log aggregation is off (Maven Central ships no
    // libhadoop, and a Kerberized NodeManager serves container logs only with
    // it: `SecureIOUtils`, "Secure IO is not possible without native code
    // extensions"), so a finished application's logs are not in HDFS.
    let (ok, logs) = s.rfy(&["logs", &app], &admin_cc, Duration::from_secs(120));
    assert!(!ok, "{logs}");
    assert!(
        logs.contains(&format!(
            "application {app} is FINISHED and its aggregated logs are not in HDFS (log aggregation DISABLED"
        )),
        "{logs}"
    );
    secure_hdfs_dfs(&s, &admin_cc, &["-rm", "-r", "-f", "-skipTrash", &dir]);
}

#[tokio::test]
async fn https_endpoints_are_checked_against_the_configured_ca() {
    let Some(s) = Secure::get("https_endpoints_are_checked_against_the_configured_ca") else { return };
    // SPNEGO in this process needs the stack's krb5.conf. Only this test calls
    // GSSAPI in-process, and every test of this binary wants the same value;
    // Rust's own readers of the environment (Command) take std's env lock.
    std::env::set_var("KRB5_CONFIG", &s.krb5_config);
    let tmp = tempfile::tempdir().unwrap();
    let ccache = tmp.path().join("cc");
    kinit(&s, &ccache);
    let creds = KerberosCredentials {
        principal: Some(s.principal.clone()),
        keytab: None,
        cache: Some(format!("FILE:{}", ccache.display())),
    };
    // The stack's HDFS web is HTTPS-only; its CA comes from rfy.ssl.client.truststore.pem.
    let urls = webhdfs::web_urls(&s.conf).unwrap();
    assert!(urls.iter().all(|u| u.starts_with("https://")), "{urls:?}");
    let ca = tls::trust_store(&s.conf).expect("rfy.ssl.client.truststore.pem in the secure stack's core-site.xml");
    let trusted = WebHdfs::new(urls.clone(), "alice", Some(creds.clone()), Some(&ca)).unwrap();
    let token = trusted.delegation_token("rm/localhost@RFY.TEST").await.unwrap();
    assert!(token.kind.ends_with("WEBHDFS delegation"), "{token:?}");
    assert_eq!(token.password.len(), 20, "{token:?}");
    // Without the CA the server certificate is refused, and the error says why.
    let untrusted = WebHdfs::new(urls.clone(), "alice", Some(creds.clone()), None).unwrap();
    let e = untrusted.delegation_token("yarn").await.unwrap_err().to_string();
    assert!(e.contains(&urls[0]) && e.to_lowercase().contains("certificate"), "{e}");
    // The REST client over HTTPS, against the same server (the stack's RM
    // speaks HTTP): with the CA the TLS handshake and SPNEGO pass and the
    // NameNode answers (404: it has no /ws/v1/cluster); without it, no answer.
    let rest = RmRestClient::with_trust_store(&urls[0], "alice", Some(&ca)).unwrap().with_kerberos(creds.clone());
    let e = rest.cluster_info().await.unwrap_err();
    assert!(matches!(e, RestError::Status { status: 404, .. }), "{e:?}");
    let rest = RmRestClient::new(&urls[0], "alice").unwrap().with_kerberos(creds);
    let e = rest.cluster_info().await.unwrap_err();
    let RestError::Unreachable { source, .. } = &e else { panic!("{e:?}") };
    assert!(format!("{source:?}").to_lowercase().contains("certificate"), "{e:?}");
    // A bundle that is no certificate fails naming the file and the key.
    let bad = tmp.path().join("bad.pem");
    std::fs::write(&bad, "no certificate here\n").unwrap();
    let e = WebHdfs::new(urls, "alice", None, Some(&bad)).unwrap_err().to_string();
    assert!(e.contains(&bad.display().to_string()) && e.contains("rfy.ssl.client.truststore.pem"), "{e}");
}

#[test]
fn ticket_cache_login_reads_the_users_hdfs_and_yarn() {
    let Some(s) = Secure::get("ticket_cache_login_reads_the_users_hdfs_and_yarn") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let ccache = tmp.path().join("cc");
    kinit(&s, &ccache);
    let user = s.principal.split('@').next().unwrap();
    // HDFS over Kerberos (privacy RPC), as the principal's user.
    let (ok, out) = s.rfy(&["cache", "list"], &ccache, Duration::from_secs(120));
    assert!(ok, "rfy cache list with a ticket failed:\n{out}");
    assert!(out.contains(&format!("in /user/{user}/.rfy/cache")), "{out}");
    // The RM REST API over SPNEGO.
    let (ok, out) = s.rfy(&["yarn-session", "list"], &ccache, Duration::from_secs(120));
    assert!(ok, "rfy yarn-session list with a ticket failed:\n{out}");
}

#[test]
fn bad_credentials_fail_in_one_line_naming_them() {
    let Some(s) = Secure::get("bad_credentials_fail_in_one_line_naming_them") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("no-ticket");
    let run = |extra: Vec<String>| {
        let mut a: Vec<String> = ["run", "-m", "yarn-application"].map(String::from).to_vec();
        a.extend(extra);
        a.extend(["wordcount", "--input", "hdfs:///tmp/in", "--output", "hdfs:///tmp/out"].map(String::from));
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let (ok, out) = s.rfy(&a, &empty, Duration::from_secs(120));
        assert!(!ok, "rfy succeeded without valid credentials:\n{out}");
        assert!(!out.contains("Submitted application"), "submitted without valid credentials:\n{out}");
        let errors = error_lines(&out);
        assert_eq!(errors.len(), 1, "one error line expected:\n{out}");
        errors[0].to_string()
    };
    // Another principal's keytab.
    let e = run(s.keytab_args(&s.other_keytab));
    assert!(e.contains(&s.principal) && e.contains(&s.other_keytab), "{e}");
    assert!(e.contains("Kerberos login"), "{e}");
    // A keytab that does not exist.
    let missing = tmp.path().join("missing.keytab");
    let e = run(s.keytab_args(missing.to_str().unwrap()));
    assert!(e.contains(&format!("cannot read Kerberos keytab {}", missing.display())), "{e}");
    // No keytab and no ticket.
    let e = run(vec![]);
    assert!(e.contains("Kerberos login from ticket cache") && e.contains(&empty.display().to_string()), "{e}");
    // A keytab without its principal.
    let e = run(vec!["-D".into(), format!("security.kerberos.login.keytab={}", s.keytab)]);
    assert!(e.contains("security.kerberos.login.principal is not"), "{e}");
}

#[tokio::test]
async fn a_request_without_kerberos_is_refused_clearly() {
    let Some(s) = Secure::get("a_request_without_kerberos_is_refused_clearly") else { return };
    // `?user.name=` only, as on an open cluster.
    let rm = RmRestClient::new(&s.conf.rm_webapp_url().unwrap(), "alice").unwrap();
    let e = rm.new_application().await.unwrap_err();
    assert!(matches!(e, RestError::Unauthorized { status: 401, .. }), "{e:?}");
    let text = e.to_string();
    assert!(text.contains("refused the request's authentication (401)"), "{text}");
    assert!(text.contains("hadoop.security.authentication=kerberos"), "{text}");
}
