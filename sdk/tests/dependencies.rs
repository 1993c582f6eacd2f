//! What a job executable compiles on its first build: the SDK's dependency
//! tree (`cargo tree -p rfy`, normal and build edges, the SDK's default
//! features) holds none of the crates that once made that build slow
//! (issue 23 part 6): aws-lc (rustls's default crypto provider, a C build;
//! rfy uses ring), the protobuf code generators and protoc (their output is
//! checked in), and librdkafka and rfy's built-in jobs (behind features).

use std::process::Command;

/// Crates a job executable must not build unless it asks for them.
const HEAVY: [&str; 9] = [
    "aws-lc-rs",
    "aws-lc-sys",
    "prost-build",
    "tonic-build",
    "tonic-prost-build",
    "protoc-bin-vendored",
    "rdkafka-sys",
    "openssl-sys",
    "rfy-jobs",
];

/// The package names in the SDK's tree with `features`.
fn tree(features: &[&str]) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["tree", "--locked", "-p", "rfy", "-e", "normal,build", "--prefix", "none", "--format", "{p}"]);
    if !features.is_empty() {
        cmd.arg("--features").arg(features.join(","));
    }
    let out = cmd.current_dir(env!("CARGO_MANIFEST_DIR")).output().expect("cargo runs");
    assert!(out.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines().filter_map(|l| l.split_whitespace().next()).map(str::to_string).collect()
}

#[test]
fn a_job_executable_builds_no_heavy_dependency_it_did_not_ask_for() {
    let names = tree(&[]);
    assert!(names.iter().any(|n| n == "rustls") && names.iter().any(|n| n == "ring"), "TLS is rustls with ring");
    let heavy: Vec<&str> = HEAVY.into_iter().filter(|h| names.iter().any(|n| n == h)).collect();
    assert!(heavy.is_empty(), "the rfy SDK's default dependency tree holds {heavy:?}");
    // The check sees what a feature brings in.
    assert!(tree(&["kafka"]).iter().any(|n| n == "rdkafka-sys"), "the kafka feature builds librdkafka");
}
