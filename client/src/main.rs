//! `rfy`: the command line with the built-in job programs (see
//! `rfy_client::main`). Plans jobs into JobGraphs, runs them on the embedded
//! local cluster or submits them to a cluster, and follows them.

fn main() -> std::process::ExitCode {
    rfy_client::main(rfy_jobs::BUILTIN, std::env::args_os().skip(1).collect())
}
