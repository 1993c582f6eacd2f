//! Generates the gRPC code from `proto/rfy.proto` with the vendored protoc
//! (the machines have no system protoc).
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY-free: build scripts are single-threaded; prost-build reads PROTOC.
    unsafe { std::env::set_var("PROTOC", protoc) };
    println!("cargo:rerun-if-changed=proto/rfy.proto");
    tonic_prost_build::configure().compile_protos(&["proto/rfy.proto"], &["proto"])?;
    Ok(())
}
