//! `rfy`: the command line with the built-in job programs (see
//! `rfy_client::main`). Plans jobs into JobGraphs, runs them on the embedded
//! local cluster or submits them to a cluster, and follows them.

/// mimalloc instead of glibc malloc: records (batch `Vec`s, spilled `Word`s) are
/// allocated by one task's thread and freed by another's, which glibc handles
/// with contended arena locks; mimalloc frees them to the owning thread's heap
/// without a lock.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    rfy_client::main(rfy_jobs::BUILTIN, std::env::args_os().skip(1).collect())
}
