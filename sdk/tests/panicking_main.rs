//! A job executable whose main panics prints only rfy's one-line error
//! (naming the job, where it panicked and the message), not Rust's default
//! `thread 'main' panicked at ...` lines, and exits with a failure.
//!
//! This test binary is itself a job executable (`harness = false`): run
//! without `RFY_PANIC_TEST_CHILD` it starts itself as the job (directly, as a
//! user runs `./myjob --input x`) and checks what that printed.

use std::process::Command;

use rfy::{JobError, JobProgram, StreamExecutionEnvironment};

fn doomed(_: &StreamExecutionEnvironment, args: &[String]) -> Result<(), JobError> {
    let n: usize = args.len();
    panic!("{n} arguments are too many for me")
}

static PROGRAMS: &[JobProgram] = &[JobProgram { name: "doomed", description: "panics in its main", build: doomed }];

const CHILD: &str = "RFY_PANIC_TEST_CHILD";

fn main() {
    if std::env::var_os(CHILD).is_some() {
        rfy::run(PROGRAMS)
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .env(CHILD, "1")
        .env_remove("RUST_BACKTRACE")
        .args(["--input", "x"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a panicking main must fail: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "want exactly rfy's one line, got:\n{stderr}");
    let line = lines[0];
    assert!(line.starts_with("error: job 'doomed' panicked in its main at sdk/tests/panicking_main.rs:"), "{line}");
    assert!(line.ends_with(": 2 arguments are too many for me"), "{line}");
    assert!(!stderr.contains("thread 'main' panicked") && !stderr.contains("RUST_BACKTRACE"), "{stderr}");
    println!("panicking_main: ok ({line})");
}
