//! Secrets in logs (issue 11): a short `rfy run -m yarn-per-job` word count
//! with the containers logging at `debug` (`RFY_CONTAINER_LOG=debug`, the most
//! rfy logs), then every log of the run is searched for the application's
//! tokens: the client's output and every file of the application's container
//! log directories (`yarn.nodemanager.log-dirs`: the JobManager's and the
//! TaskManagers' `.log` and `.out`).
//!
//! The tokens come from the containers' own credentials files (the
//! NodeManager's copies, `<yarn.nodemanager.local-dirs>/nmPrivate/<app>/<container>/<container>.tokens`,
//! and `container_tokens` in the containers' working directories while they
//! exist; kept after the run by `yarn.nodemanager.delete.debug-delay-sec`): the
//! ApplicationMaster's `YARN_AM_RM_TOKEN` and every other token given to a
//! container (an HDFS delegation token, when there is one). Each token's
//! identifier and password are searched for as hex (both cases), as standard
//! and URL-safe base64 at each of the three byte alignments (so they are also
//! found inside a larger encoded blob, e.g. a whole credentials file or
//! Hadoop's `encodeToUrlString`), and as raw bytes.
//!
//! Not covered: NMToken passwords. The ResourceManager hands them to the AM in
//! allocate responses only; they are never in a file the test can read. rfy
//! logs NMTokens only through `token::ident::describe` (no password) and
//! `Token`'s `Debug` (lengths only).
//!
//! Needs the shared Hadoop of `scripts/hadoop` (its NodeManager directories
//! are on this machine).

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use rfy_hadoop::token::{Credentials, Token, KIND_AM_RM_TOKEN};
use rfy_itests::yarn::{KillOnPanic, SMALL};
use rfy_itests::{Cluster, RfyRun};

/// Every file under `dir`, recursively.
fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// The texts under which `secret` may appear in a log.
fn needles(secret: &[u8]) -> Vec<Vec<u8>> {
    let mut n = vec![secret.to_vec()];
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    n.push(hex.clone().into_bytes());
    n.push(hex.to_uppercase().into_bytes());
    for skip in 0..3 {
        let s = &secret[skip.min(secret.len())..];
        let aligned = &s[..s.len() / 3 * 3];
        for engine in [&base64::engine::general_purpose::STANDARD, &base64::engine::general_purpose::URL_SAFE] {
            n.push(engine.encode(aligned).into_bytes());
        }
    }
    // Too short to be told from chance matches (none of YARN's are).
    n.retain(|x| x.len() >= 12);
    n
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread")]
async fn no_token_appears_in_any_log_of_a_yarn_run() {
    let Some(c) = Cluster::get("no_token_appears_in_any_log_of_a_yarn_run") else { return };
    let local_dirs = c.conf.get("yarn.nodemanager.local-dirs").expect("yarn.nodemanager.local-dirs is set");
    let log_dirs = c.conf.get("yarn.nodemanager.log-dirs").expect("yarn.nodemanager.log-dirs is set");
    let delay: u64 = c.conf.get("yarn.nodemanager.delete.debug-delay-sec").and_then(|v| v.parse().ok()).unwrap_or(0);
    assert!(
        delay >= 60,
        "yarn.nodemanager.delete.debug-delay-sec is {delay}: the containers' token files are gone too soon"
    );

    let dir = c.test_dir("secrets").await;
    let input = c.put_kjv(&dir).await;
    let output = format!("hdfs://{dir}/out");
    let mut args = vec!["run", "-m", "yarn-per-job", "-p", "2"];
    args.extend_from_slice(&SMALL);
    args.extend(["wordcount", "--input", &input, "--output", &output]);
    let mut run = RfyRun::start(&args, &[("RFY_CONTAINER_LOG", "debug"), ("RUST_LOG", "debug")]);
    run.wait_for_job_running(Duration::from_secs(180));
    let app = run.application_id().expect("application id printed");
    let _guard = KillOnPanic(app.clone());
    let (st, client_out, _) = run.finish(Duration::from_secs(300));
    assert!(st.success(), "rfy exited {st}:\n{client_out}");
    c.wait_no_containers(&app, Duration::from_secs(60)).await;

    // The tokens, from the containers' credentials files.
    let mut token_files = Vec::new();
    for d in local_dirs.split(',') {
        files_under(&Path::new(d.trim()).join("nmPrivate").join(&app), &mut token_files);
        for user_dir in std::fs::read_dir(Path::new(d.trim()).join("usercache")).into_iter().flatten().flatten() {
            files_under(&user_dir.path().join("appcache").join(&app), &mut token_files);
        }
    }
    token_files.retain(|p| {
        let name = p.file_name().unwrap_or_default().to_string_lossy();
        name == "container_tokens" || (name.starts_with("container_") && name.ends_with(".tokens"))
    });
    let mut tokens: Vec<Token> = Vec::new();
    for f in &token_files {
        let creds = Credentials::read_file(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        tokens.extend(creds.tokens.into_iter().map(|(_, t)| t));
    }
    let kinds: Vec<&str> = tokens.iter().map(|t| t.kind.as_str()).collect();
    assert!(kinds.contains(&KIND_AM_RM_TOKEN), "no AMRMToken in {token_files:?}: kinds {kinds:?}");

    // The logs.
    let mut logs: Vec<(String, Vec<u8>)> = vec![("client output".into(), client_out.into_bytes())];
    let mut log_files = Vec::new();
    for d in log_dirs.split(',') {
        files_under(&Path::new(d.trim()).join(&app), &mut log_files);
    }
    assert!(
        log_files.iter().any(|p| p.to_string_lossy().contains("jobmanager.log")),
        "no JobManager log among {log_files:?}"
    );
    for f in &log_files {
        logs.push((f.display().to_string(), std::fs::read(f).unwrap_or_default()));
    }
    let total: usize = logs.iter().map(|(_, b)| b.len()).sum();
    assert!(total > 10_000, "the debug logs are suspiciously small ({total} bytes)");

    // The search finds what is there: every token's secrets are in the
    // credentials files themselves, raw and, in a Hadoop URL string, base64.
    let files: Vec<u8> = token_files.iter().flat_map(|f| std::fs::read(f).unwrap()).collect();
    for t in &tokens {
        assert!(needles(&t.password).iter().any(|n| contains(&files, n)), "{} password not found in its file", t.kind);
        let url = t.encode_to_url_string().into_bytes();
        assert!(needles(&t.password).iter().any(|n| contains(&url, n)), "{} password not found base64", t.kind);
    }

    let mut leaks = Vec::new();
    for t in &tokens {
        for (what, secret) in [("identifier", &t.identifier), ("password", &t.password)] {
            for needle in needles(secret) {
                for (name, text) in &logs {
                    if contains(text, &needle) {
                        leaks.push(format!("{} {what} in {name}", t.kind));
                    }
                }
            }
        }
    }
    leaks.sort();
    leaks.dedup();
    assert!(leaks.is_empty(), "tokens found in logs: {leaks:#?}");
    eprintln!(
        "{} token(s) of kinds {kinds:?} searched in {} log(s), {total} bytes: none found",
        tokens.len(),
        logs.len()
    );
    c.fs.delete(&dir, true).await.unwrap();
}
