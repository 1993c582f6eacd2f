//! Job executables: `rfy run PATH` / `rfy info PATH` with PATH a program
//! built with the rfy SDK (a user's job), not a built-in job name.
//!
//! rfy first asks the executable who it is (the handshake: it runs with
//! [`HANDSHAKE_ENV`] set and must print one line
//! `rfy-job-executable protocol=<P> jobgraph=<J> programs=<names>`), checks
//! that it speaks this rfy's RPC protocol and JobGraph versions, and then
//! hands the command over to it: the executable is itself an rfy client
//! with its own job programs, so in local mode it hosts the embedded cluster
//! whose TaskManagers run its operators (why: the operators are Rust code
//! compiled into that executable and nowhere else; running them in its
//! process needs no second process per TaskManager, and it is exactly what
//! the executable does when its user runs it directly).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Set (to `1`) in the environment of a job executable asked for its handshake line.
pub const HANDSHAKE_ENV: &str = "RFY_HANDSHAKE";
/// First word of the handshake line.
pub const HANDSHAKE_PREFIX: &str = "rfy-job-executable";
/// How long an executable may take to answer the handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a job executable cannot be used; each message names the file.
#[derive(Debug, thiserror::Error)]
pub enum ExecutableError {
    /// The file does not exist or cannot be read.
    #[error("job executable {path}: {error}")]
    Missing {
        /// The path given.
        path: String,
        /// The cause.
        error: std::io::Error,
    },
    /// The file is not an executable program.
    #[error("job executable {path}: not an executable file ({why})")]
    NotExecutable {
        /// The path given.
        path: String,
        /// What is wrong.
        why: String,
    },
    /// The program did not answer the handshake.
    #[error("{path} is not an rfy job executable (it did not answer rfy's handshake: {why}); build jobs with the rfy SDK and `fn main() {{ rfy::run(&[MY_JOB]) }}`")]
    NotRfy {
        /// The path given.
        path: String,
        /// What it did instead.
        why: String,
    },
    /// It was built against another rfy.
    #[error("{path} was built for rfy protocol {their_protocol} / JobGraph {their_graph}, this rfy speaks protocol {our_protocol} / JobGraph {our_graph}: rebuild it against this rfy's SDK")]
    VersionSkew {
        /// The path given.
        path: String,
        /// The executable's RPC protocol version.
        their_protocol: u32,
        /// The executable's JobGraph version.
        their_graph: u32,
        /// This rfy's RPC protocol version.
        our_protocol: u32,
        /// This rfy's JobGraph version.
        our_graph: u32,
    },
}

/// What a job executable said in its handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    /// Its RPC protocol version.
    pub protocol: u32,
    /// Its JobGraph version.
    pub jobgraph: u32,
    /// Names of its job programs (the first is its default job).
    pub programs: Vec<String>,
}

impl Handshake {
    /// This process's handshake line for `programs`.
    pub fn line(programs: &[rfy_runtime::JobProgram]) -> String {
        let names: Vec<&str> = programs.iter().map(|p| p.name).collect();
        format!(
            "{HANDSHAKE_PREFIX} protocol={} jobgraph={} programs={}",
            rfy_rpc::PROTOCOL_VERSION,
            rfy_runtime::graph::JOB_GRAPH_VERSION,
            names.join(",")
        )
    }

    /// Parses a handshake line; `None` if it is not one.
    pub fn parse(line: &str) -> Option<Handshake> {
        let mut words = line.split_whitespace();
        if words.next()? != HANDSHAKE_PREFIX {
            return None;
        }
        let (mut protocol, mut jobgraph, mut programs) = (None, None, Vec::new());
        for w in words {
            match w.split_once('=')? {
                ("protocol", v) => protocol = v.parse().ok(),
                ("jobgraph", v) => jobgraph = v.parse().ok(),
                ("programs", v) => programs = v.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
                _ => {}
            }
        }
        Some(Handshake { protocol: protocol?, jobgraph: jobgraph?, programs })
    }
}

/// True if the job argument names a file rather than a built-in job: it
/// holds a `/` (as `./myjob`, `target/release/myjob`).
pub fn is_path(job: &str) -> bool {
    job.contains('/')
}

/// True if `path` is this very executable.
pub fn is_current_exe(path: &str) -> bool {
    match (std::env::current_exe().and_then(|p| p.canonicalize()), Path::new(path).canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Checks that `path` is an executable file built with a compatible rfy SDK.
///
/// Errors: missing, not executable, no handshake, or version skew.
pub fn check(path: &str) -> Result<Handshake, ExecutableError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|error| ExecutableError::Missing { path: path.into(), error })?;
    if !meta.is_file() {
        return Err(ExecutableError::NotExecutable { path: path.into(), why: "a directory".into() });
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(ExecutableError::NotExecutable { path: path.into(), why: "no execute permission".into() });
    }
    let not_rfy = |why: String| ExecutableError::NotRfy { path: path.into(), why };
    let mut child = Command::new(PathBuf::from(path))
        .env(HANDSHAKE_ENV, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| ExecutableError::NotExecutable { path: path.into(), why: e.to_string() })?;
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < HANDSHAKE_TIMEOUT => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(not_rfy(format!("no answer within {} s", HANDSHAKE_TIMEOUT.as_secs())));
            }
            Err(e) => return Err(not_rfy(e.to_string())),
        }
    };
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        use std::io::Read;
        let _ = stdout.read_to_string(&mut out);
    }
    let Some(h) = out.lines().find_map(Handshake::parse) else {
        return Err(not_rfy(format!("{status}, no handshake line on stdout")));
    };
    let (our_protocol, our_graph) = (rfy_rpc::PROTOCOL_VERSION, rfy_runtime::graph::JOB_GRAPH_VERSION);
    if h.protocol != our_protocol || h.jobgraph != our_graph {
        return Err(ExecutableError::VersionSkew {
            path: path.into(),
            their_protocol: h.protocol,
            their_graph: h.jobgraph,
            our_protocol,
            our_graph,
        });
    }
    if h.programs.is_empty() {
        return Err(not_rfy("it has no job programs".into()));
    }
    Ok(h)
}

/// Replaces this process with job executable `path` run with `args` (the
/// command line as this process got it, minus the program name): the
/// executable runs the same `rfy` command with its own job programs.
///
/// Errors: the exec failed (the process stays).
pub fn exec(path: &str, args: Vec<OsString>) -> ExecutableError {
    use std::os::unix::process::CommandExt;
    let e = Command::new(PathBuf::from(path)).args(args).exec();
    ExecutableError::NotExecutable { path: path.into(), why: e.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_round_trip_and_bad_lines() {
        let h = Handshake::parse("rfy-job-executable protocol=2 jobgraph=1 programs=a,b").unwrap();
        assert_eq!(h, Handshake { protocol: 2, jobgraph: 1, programs: vec!["a".into(), "b".into()] });
        assert_eq!(Handshake::parse("hello world"), None);
        assert_eq!(Handshake::parse("rfy-job-executable protocol=x jobgraph=1"), None);
        let line = Handshake::line(&[]);
        assert_eq!(Handshake::parse(&line).unwrap().protocol, rfy_rpc::PROTOCOL_VERSION);
    }

    #[test]
    fn non_executables_and_non_rfy_programs_are_one_line_errors_naming_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data.txt");
        std::fs::write(&data, "hello").unwrap();
        let e = check(&data.display().to_string()).unwrap_err().to_string();
        assert!(e.contains("data.txt") && e.contains("not an executable"), "{e}");
        let e = check("/nonexistent/rfy-job").unwrap_err().to_string();
        assert!(e.contains("/nonexistent/rfy-job"), "{e}");
        let e = check("/bin/true").unwrap_err().to_string();
        assert!(e.contains("/bin/true is not an rfy job executable") && !e.contains('\n'), "{e}");
        let skew = tmp.path().join("skew.sh");
        std::fs::write(&skew, "#!/bin/sh\necho rfy-job-executable protocol=999 jobgraph=77 programs=x\n").unwrap();
        std::fs::set_permissions(&skew, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let e = check(&skew.display().to_string()).unwrap_err().to_string();
        assert!(
            e.contains("protocol 999 / JobGraph 77") && e.contains(&format!("protocol {}", rfy_rpc::PROTOCOL_VERSION)),
            "{e}"
        );
    }
}
