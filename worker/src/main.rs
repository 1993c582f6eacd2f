//! `rfy-worker`: a TaskManager in a YARN container, with the built-in job
//! programs (see the `rfy_worker` library).

fn main() -> std::process::ExitCode {
    rfy_worker::run(rfy_jobs::BUILTIN, std::env::args_os().skip(1))
}
