//! The protobuf code checked in under `generated/` is what prost-build makes of
//! rfy's Hadoop schemas (`proto/`), byte for byte: a schema change without a
//! regenerated file fails here. `RFY_BLESS=1 cargo test -p rfy-hadoop --test
//! generated_code` rewrites the files. (They are checked in so that no build,
//! a job executable's first one in particular, compiles the code generator.)

use std::path::Path;

const FILES: [&str; 2] = ["hadoop.common.rs", "hadoop.yarn.rs"];

#[test]
fn checked_in_code_is_what_the_schemas_generate() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::tempdir().unwrap();
    prost_build::Config::new()
        .protoc_executable(protoc_bin_vendored::protoc_bin_path().unwrap())
        .out_dir(out.path())
        .compile_protos(
            &[dir.join("proto/hadoop_common.proto"), dir.join("proto/hadoop_yarn.proto")],
            &[dir.join("proto")],
        )
        .unwrap();
    let bless = std::env::var_os("RFY_BLESS").is_some_and(|v| v == "1");
    for file in FILES {
        let fresh = std::fs::read_to_string(out.path().join(file)).unwrap();
        let checked_in = dir.join("generated").join(file);
        if bless {
            std::fs::write(&checked_in, &fresh).unwrap();
        }
        let old = std::fs::read_to_string(&checked_in).unwrap_or_default();
        assert!(
            old == fresh,
            "{} differs from what proto/ generates: RFY_BLESS=1 cargo test -p rfy-hadoop --test generated_code",
            checked_in.display()
        );
    }
}
