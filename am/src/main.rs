//! `rfy-am`: rfy's YARN ApplicationMaster with the built-in job programs.
//! Started by YARN in the AM container (see `rfy_am::bundle::am_command`);
//! logs to stderr, which the container command redirects to
//! `<LOG_DIR>/jobmanager.log`.

fn main() -> std::process::ExitCode {
    rfy_am::main(rfy_jobs::BUILTIN)
}
