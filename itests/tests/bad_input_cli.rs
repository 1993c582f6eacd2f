//! Bad input, CLI and configuration (issue 11): each case runs the real
//! `rfy` binary as a new user would, and expects a non-zero exit, exactly one
//! line on stderr starting with `error: ` that names the key, file or
//! argument at fault, no panic, and nothing written (no output directory).
//!
//! | case | command / file | expected message (part) |
//! |---|---|---|
//! | misspelled key | `-D taskmanager.numberOfTaskSlot=2` | `unknown configuration key 'taskmanager.numberOfTaskSlot' (from -D); did you mean 'taskmanager.numberOfTaskSlots'?` |
//! | unknown key | `-D foo.bar=1` | `unknown configuration key 'foo.bar' (from -D)` |
//! | misspelled key in a file | `taskmanager.numberOfTaskSlot: 2` in config.yaml | `unknown configuration key ... in <dir>/config.yaml; did you mean ...` |
//! | wrong unit | `-D execution.checkpointing.interval=5 parsecs` | `bad value '5 parsecs' for 'execution.checkpointing.interval' (from -D): expected a duration` |
//! | wrong type | `-D parallelism.default=two` | `bad value 'two' for 'parallelism.default' (from -D): expected a whole number` |
//! | not a choice | `-D execution.checkpointing.mode=EXACTLY` | `expected one of EXACTLY_ONCE, AT_LEAST_ONCE` |
//! | empty value | `-D state.checkpoints.dir=` | `empty value for 'state.checkpoints.dir' (from -D)` |
//! | empty value in a file | `state.checkpoints.dir: ""` | `empty value for 'state.checkpoints.dir' in <dir>/config.yaml` |
//! | not key=value | `-D parallelism.default` | `bad dynamic property '-D parallelism.default': expected key=value` |
//! | config.yaml not YAML | `key: [unclosed` | `invalid YAML in <dir>/config.yaml: line 2` |
//! | conf dir missing | `--conf-dir /no/such/dir` | `configuration directory /no/such/dir (--conf-dir) does not exist` |
//! | conflicting options | `wordcount --output o --discard` | `job 'wordcount': the argument '--output <OUTPUT>' cannot be used with '--discard'` |
//! | checkpointing without a directory | `-D execution.checkpointing.interval=1s` | `execution.checkpointing.interval is set but state.checkpoints.dir is not` |
//! | missing input | `--input /no/such/file.txt` | `input file /no/such/file.txt cannot be read` |
//! | unknown job | `rfy run nosuchjob` | `unknown job 'nosuchjob'; jobs in this executable: ` |
//! | unknown target | `-m yarn-cluster` | `unknown target '-m yarn-cluster'` |

use std::path::Path;
use std::process::Command;

use rfy_itests::{repo_root, rfy_bin};

/// Runs `rfy run <args>` (with `conf_dir` as `--conf-dir` if given) and
/// checks the common contract; returns the error line.
fn fails(conf_dir: Option<&Path>, args: &[&str]) -> String {
    let mut cmd = Command::new(rfy_bin());
    if let Some(d) = conf_dir {
        cmd.arg("--conf-dir").arg(d);
    }
    let out = cmd.arg("run").args(args).env_remove("RFY_CONF_DIR").env("RUST_LOG", "warn").output().expect("run rfy");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "rfy {args:?} succeeded: {stderr}");
    assert_eq!(out.status.code(), Some(1), "rfy {args:?}: exit {:?} (not a plain failure): {stderr}", out.status);
    assert!(!stderr.contains("panicked"), "rfy {args:?} panicked: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "rfy {args:?}: one line expected, got: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    lines[0].to_string()
}

fn expect(conf_dir: Option<&Path>, args: &[&str], parts: &[&str]) {
    let line = fails(conf_dir, args);
    for p in parts {
        assert!(line.contains(p), "rfy {args:?}: {line:?} lacks {p:?}");
    }
}

fn conf_dir_with(tmp: &Path, name: &str, yaml: &str) -> std::path::PathBuf {
    let dir = tmp.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.yaml"), yaml).unwrap();
    dir
}

#[test]
fn configuration_and_cli_mistakes_get_one_clear_line_each() {
    let tmp = tempfile::tempdir().unwrap();
    let kjv = repo_root().join("data/kjv.txt").display().to_string();
    let out = tmp.path().join("out");
    let out_s = out.display().to_string();
    let wc = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        v.extend(["wordcount", "--input", &kjv, "--output", &out_s].map(String::from));
        v
    };
    let run = |dir: Option<&Path>, extra: &[&str], parts: &[&str]| {
        let args = wc(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        expect(dir, &args, parts);
    };

    run(
        None,
        &["-D", "taskmanager.numberOfTaskSlot=2"],
        &[
            "unknown configuration key 'taskmanager.numberOfTaskSlot' (from -D)",
            "did you mean 'taskmanager.numberOfTaskSlots'?",
        ],
    );
    run(None, &["-D", "foo.bar=1"], &["unknown configuration key 'foo.bar' (from -D)"]);
    let typo = conf_dir_with(tmp.path(), "typo", "taskmanager.numberOfTaskSlot: 2\n");
    run(
        Some(&typo),
        &[],
        &[
            "unknown configuration key 'taskmanager.numberOfTaskSlot'",
            "config.yaml",
            "did you mean 'taskmanager.numberOfTaskSlots'?",
        ],
    );
    run(
        None,
        &["-D", "execution.checkpointing.interval=5 parsecs"],
        &["bad value '5 parsecs' for 'execution.checkpointing.interval' (from -D)", "expected a duration"],
    );
    run(None, &["-D", "parallelism.default=two"], &["bad value 'two' for 'parallelism.default' (from -D)"]);
    run(None, &["-D", "execution.checkpointing.mode=EXACTLY"], &["expected one of EXACTLY_ONCE, AT_LEAST_ONCE"]);
    run(None, &["-D", "state.checkpoints.dir="], &["empty value for 'state.checkpoints.dir' (from -D)"]);
    let empty = conf_dir_with(tmp.path(), "empty", "state.checkpoints.dir: \"\"\n");
    run(Some(&empty), &[], &["empty value for 'state.checkpoints.dir' in", "config.yaml"]);
    run(None, &["-D", "parallelism.default"], &["bad dynamic property '-D parallelism.default'", "key=value"]);
    let not_yaml = conf_dir_with(tmp.path(), "notyaml", "key: [unclosed\n  - : :\n");
    run(Some(&not_yaml), &[], &["invalid YAML in", "config.yaml", "line 2"]);
    run(
        Some(Path::new("/no/such/rfy-conf-dir")),
        &[],
        &["configuration directory /no/such/rfy-conf-dir (--conf-dir) does not exist"],
    );
    run(
        None,
        &["-D", "execution.checkpointing.interval=1 s"],
        &["execution.checkpointing.interval is set but state.checkpoints.dir is not"],
    );
    run(None, &["-m", "yarn-cluster"], &["unknown target '-m yarn-cluster'"]);
    expect(
        None,
        &["wordcount", "--input", &kjv, "--output", &out_s, "--discard"],
        &["job 'wordcount'", "cannot be used with", "'--discard'", "'--output <OUTPUT>'"],
    );
    expect(
        None,
        &["wordcount", "--input", "/no/such/rfy-input.txt", "--output", &out_s],
        &["input file /no/such/rfy-input.txt cannot be read"],
    );
    expect(None, &["nosuchjob"], &["unknown job 'nosuchjob'; jobs in this executable: "]);
    // Nothing half-written: no case created the output directory.
    assert!(!out.exists(), "a failed run created {}", out.display());
}
