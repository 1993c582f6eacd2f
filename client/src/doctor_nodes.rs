//! `rfy doctor`'s node checks: would the executable run in the cluster's
//! containers? What the executable needs is read from its ELF header
//! (machine) and `.gnu.version_r` (the highest `GLIBC_x.y` symbol version it
//! requires); what a node has is read by a probe: a one-container YARN
//! application whose command prints `getconf GNU_LIBC_VERSION` and
//! `uname -m` to stderr and exits 7. YARN keeps the last 4 KiB of a failed
//! container's stderr in the application's diagnostics
//! (`yarn.nodemanager.container.stderr.tail.bytes`), so the answer needs
//! neither log aggregation nor an upload; the probe application
//! (`rfy-doctor-probe`) therefore ends FAILED on purpose.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use object::read::elf::{FileHeader, SectionTable};
use rfy_hadoop::yarn::rest::{ApplicationSubmission, ResourceInfo, RestError, RmRestClient};

/// How long the probe may take from submission to its end (a busy queue can hold it ACCEPTED).
pub(crate) const PROBE_TIMEOUT: Duration = Duration::from_secs(90);

/// The line the probe prints; `glibc=` is empty on a node without glibc.
const PROBE_MARK: &str = "RFY_NODE_PROBE";

/// What an executable needs of the machine it runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExecutableNeeds {
    /// `uname -m` spelling of its ELF machine (`x86_64`, `aarch64`, or `EM_<n>`).
    pub(crate) arch: String,
    /// The highest `GLIBC_x.y` version it requires; `None`: no glibc symbol versions (static, or musl).
    pub(crate) glibc: Option<(u32, u32)>,
}

/// What a node offers, from the probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NodeFacts {
    /// `uname -m`.
    pub(crate) arch: String,
    /// `getconf GNU_LIBC_VERSION`; `None`: the node has no glibc.
    pub(crate) glibc: Option<(u32, u32)>,
}

/// `"2.34"` → `(2, 34)`.
fn parse_version(v: &str) -> Option<(u32, u32)> {
    let (major, minor) = v.split_once('.')?;
    let minor: String = minor.chars().take_while(char::is_ascii_digit).collect();
    Some((major.parse().ok()?, minor.parse().ok()?))
}

pub(crate) fn show((major, minor): (u32, u32)) -> String {
    format!("{major}.{minor}")
}

/// Why an executable's needs could not be read; each names the file.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ExecutableError {
    /// This process's own executable cannot be found.
    #[error("cannot find this executable: {0}")]
    CurrentExe(#[source] std::io::Error),
    /// The file cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    /// The file is not a 64-bit ELF executable.
    #[error("{} is not a 64-bit ELF executable: {source}", path.display())]
    NotElf { path: PathBuf, source: object::Error },
}

/// Why the node probe gave no answer; each a one-line message.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProbeError {
    /// The ResourceManager refused a call.
    #[error(transparent)]
    Rest(#[from] RestError),
    /// The diagnostics lack the probe's line (the container did not run the
    /// command); `diagnostics`: their first 300 characters.
    #[error("the probe container printed nothing YARN kept (diagnostics: {diagnostics})")]
    NoAnswer { diagnostics: String },
    /// The probe application ended without an answer.
    #[error("{app}: {source}")]
    Ended {
        app: String,
        #[source]
        source: Box<ProbeError>,
    },
    /// The probe application did not end in time (it was killed).
    #[error("probe application {app} still {state} after {} s (queue '{queue}' full, or no NodeManager has room); killed it", PROBE_TIMEOUT.as_secs())]
    Timeout { app: String, state: String, queue: String },
}

/// The verdict on an executable's needs against a node; each says why, a misfit with a fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The executable runs on the node.
    Fits(String),
    /// It does not: why, and the fix.
    Misfit(String),
}

/// Reads an executable's machine and glibc requirement.
///
/// Errors: [`ExecutableError::Read`], [`ExecutableError::NotElf`].
pub(crate) fn executable_needs(path: &Path) -> Result<ExecutableNeeds, ExecutableError> {
    let data = std::fs::read(path).map_err(|source| ExecutableError::Read { path: path.to_path_buf(), source })?;
    let bad = |source: object::Error| ExecutableError::NotElf { path: path.to_path_buf(), source };
    let header = object::elf::FileHeader64::<object::Endianness>::parse(&*data).map_err(bad)?;
    let endian = header.endian().map_err(bad)?;
    let arch = match header.e_machine(endian) {
        object::elf::EM_X86_64 => "x86_64".to_string(),
        object::elf::EM_AARCH64 => "aarch64".to_string(),
        object::elf::EM_RISCV => "riscv64".to_string(),
        object::elf::EM_PPC64 => "ppc64le".to_string(),
        object::elf::EM_S390 => "s390x".to_string(),
        other => format!("EM_{other}"),
    };
    let sections: SectionTable<_> = header.sections(endian, &*data).map_err(bad)?;
    let mut glibc = None;
    if let Some((mut needs, link)) = sections.gnu_verneed(endian, &*data).map_err(bad)? {
        let strings = sections.strings(endian, &*data, link).map_err(bad)?;
        while let Some((_, mut aux)) = needs.next().map_err(bad)? {
            while let Some(a) = aux.next().map_err(bad)? {
                let name = a.name(endian, strings).map_err(bad)?;
                let v = std::str::from_utf8(name).ok().and_then(|n| n.strip_prefix("GLIBC_")).and_then(parse_version);
                glibc = glibc.max(v);
            }
        }
    }
    Ok(ExecutableNeeds { arch, glibc })
}

/// The probe's answer in an application's diagnostics.
///
/// Errors: [`ProbeError::NoAnswer`]: the diagnostics lack the probe's line
/// (the container did not run the command; the diagnostics are quoted).
pub(crate) fn parse_probe(diagnostics: &str) -> Result<NodeFacts, ProbeError> {
    let line = diagnostics.lines().find_map(|l| l.trim().strip_prefix(PROBE_MARK)).ok_or_else(|| {
        let short: String = diagnostics.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(300).collect();
        ProbeError::NoAnswer { diagnostics: short }
    })?;
    let field = |k: &str| line.split_whitespace().find_map(|w| w.strip_prefix(k)).unwrap_or("").to_string();
    Ok(NodeFacts { arch: field("arch="), glibc: parse_version(&field("glibc=")) })
}

/// Runs the probe application in `queue` and reads its answer, within [`PROBE_TIMEOUT`].
///
/// Errors: [`ProbeError`]: the RM refuses it, it does not end in time (it is
/// killed), or its diagnostics lack the answer.
pub(crate) async fn probe(rm: &RmRestClient, queue: &str) -> Result<NodeFacts, ProbeError> {
    let app = rm.new_application().await?;
    let id = app.application_id;
    let command = format!(
        "echo {PROBE_MARK} glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null | cut -d' ' -f2) arch=$(uname -m) 1>&2; exit 7"
    );
    let submission = ApplicationSubmission::new(
        &id,
        "rfy-doctor-probe",
        "rfy-doctor",
        Some(queue),
        1,
        false,
        ResourceInfo { memory: 128, vcores: 1 },
        &[],
        &[],
        &[command],
    );
    rm.submit(&submission).await?;
    let started = Instant::now();
    loop {
        let report = rm.app_report(&id).await?;
        if report.is_final() {
            return parse_probe(&report.diagnostics)
                .map_err(|e| ProbeError::Ended { app: id.clone(), source: Box::new(e) });
        }
        if started.elapsed() > PROBE_TIMEOUT {
            let _ = rm.kill(&id).await;
            return Err(ProbeError::Timeout { app: id, state: report.state, queue: queue.to_string() });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The verdict on an executable's needs against a node.
pub(crate) fn compare(exe: &Path, needs: &ExecutableNeeds, node: &NodeFacts) -> Verdict {
    let exe = exe.display();
    if needs.arch != node.arch {
        return Verdict::Misfit(format!(
            "{exe} is built for {}, the probed node is {}. Fix: build the executable for {} \
             (cargo build --target {}-unknown-linux-gnu)",
            needs.arch, node.arch, node.arch, node.arch
        ));
    }
    match (needs.glibc, node.glibc) {
        (None, _) => Verdict::Fits(format!("{exe}: {} without glibc symbol versions; node {} ", needs.arch, node.arch)),
        (Some(need), None) => Verdict::Misfit(format!(
            "{exe} needs glibc {}, the probed node has no glibc (musl?). Fix: build a static executable \
             (--target {}-unknown-linux-musl)",
            show(need),
            needs.arch
        )),
        (Some(need), Some(have)) if need > have => Verdict::Misfit(format!(
            "{exe} needs glibc {}, the probed node has {}. Fix: build on a system with glibc <= {} \
             (e.g. in a container of the nodes' distribution, or with cargo-zigbuild --target {}-unknown-linux-gnu.{})",
            show(need),
            show(have),
            show(have),
            needs.arch,
            show(have)
        )),
        (Some(need), Some(have)) => Verdict::Fits(format!(
            "{exe}: {} needing glibc {}; the probed node: {}, glibc {}",
            needs.arch,
            show(need),
            node.arch,
            show(have)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_test_binary_needs_a_glibc_of_this_machine() {
        let needs = executable_needs(&std::env::current_exe().unwrap()).unwrap();
        assert_eq!(needs.arch, std::env::consts::ARCH);
        let glibc = needs.glibc.expect("a glibc-linked test binary has GLIBC_ versions");
        assert!(glibc >= (2, 2) && glibc.0 == 2, "{glibc:?}");
        let e = executable_needs(Path::new("Cargo.toml")).unwrap_err().to_string();
        assert!(e.starts_with("Cargo.toml is not a 64-bit ELF executable"), "{e}");
    }

    #[test]
    fn the_probe_line_is_found_in_yarns_diagnostics() {
        let d = "Container exited with a non-zero exit code 7. Error file: prelaunch.err.\n\
                 Last 4096 bytes of prelaunch.err :\nRFY_NODE_PROBE glibc=2.36 arch=x86_64\n\n";
        assert_eq!(parse_probe(d).unwrap(), NodeFacts { arch: "x86_64".into(), glibc: Some((2, 36)) });
        let musl = parse_probe("RFY_NODE_PROBE glibc= arch=aarch64").unwrap();
        assert_eq!(musl, NodeFacts { arch: "aarch64".into(), glibc: None });
        assert!(parse_probe("Container killed").unwrap_err().to_string().contains("diagnostics: Container killed"));
    }

    #[test]
    fn the_verdict_names_what_differs_and_the_fix() {
        let exe = Path::new("/bin/job");
        let node = NodeFacts { arch: "x86_64".into(), glibc: Some((2, 31)) };
        let needs = |arch: &str, glibc| ExecutableNeeds { arch: arch.into(), glibc };
        let misfit = |v: Verdict| match v {
            Verdict::Misfit(why) => why,
            Verdict::Fits(detail) => panic!("fits: {detail}"),
        };
        assert!(matches!(compare(exe, &needs("x86_64", Some((2, 28))), &node), Verdict::Fits(_)));
        let e = misfit(compare(exe, &needs("x86_64", Some((2, 34))), &node));
        assert!(e.contains("needs glibc 2.34, the probed node has 2.31") && e.contains("Fix:"), "{e}");
        let e = misfit(compare(exe, &needs("aarch64", Some((2, 17))), &node));
        assert!(e.contains("built for aarch64, the probed node is x86_64"), "{e}");
        assert!(matches!(compare(exe, &needs("x86_64", None), &node), Verdict::Fits(_)), "static: no glibc needed");
    }
}
