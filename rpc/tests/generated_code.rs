//! The gRPC code checked in as `generated/rfy.v1.rs` is what tonic-prost-build
//! makes of `proto/rfy.proto`, byte for byte: a schema change without a
//! regenerated file fails here. `RFY_BLESS=1 cargo test -p rfy-rpc --test
//! generated_code` rewrites it. (It is checked in so that no build, a job
//! executable's first one in particular, compiles the code generator.)

use std::path::Path;

#[test]
fn checked_in_code_is_what_the_schema_generates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::tempdir().unwrap();
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path().unwrap());
    tonic_prost_build::configure()
        .out_dir(out.path())
        .compile_with_config(config, &[dir.join("proto/rfy.proto")], &[dir.join("proto")])
        .unwrap();
    let fresh = std::fs::read_to_string(out.path().join("rfy.v1.rs")).unwrap();
    let checked_in = dir.join("generated/rfy.v1.rs");
    if std::env::var_os("RFY_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&checked_in, &fresh).unwrap();
    }
    let old = std::fs::read_to_string(&checked_in).unwrap_or_default();
    assert!(
        old == fresh,
        "{} differs from what proto/rfy.proto generates: RFY_BLESS=1 cargo test -p rfy-rpc --test generated_code",
        checked_in.display()
    );
}
