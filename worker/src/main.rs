//! `rfy-worker`: a TaskManager in a YARN container, with the built-in job
//! programs (see the `rfy_worker` library).

/// mimalloc instead of glibc malloc: records (batch `Vec`s, spilled `Word`s) are
/// allocated by one task's thread and freed by another's, which glibc handles
/// with contended arena locks; mimalloc frees them to the owning thread's heap
/// without a lock.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    rfy_worker::run(rfy_jobs::BUILTIN, std::env::args_os().skip(1))
}
