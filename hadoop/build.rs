//! Compiles rfy's own Hadoop/YARN protobuf schemas (`proto/`) with prost,
//! using the protoc binary shipped by `protoc-bin-vendored`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // prost-build reads PROTOC; build scripts are single-threaded.
    std::env::set_var("PROTOC", protoc);
    println!("cargo:rerun-if-changed=proto");
    prost_build::Config::new().compile_protos(&["proto/hadoop_common.proto", "proto/hadoop_yarn.proto"], &["proto"])?;
    Ok(())
}
