//! The ApplicationMaster's process entry point.

use std::process::ExitCode;

use rfy_runtime::JobProgram;

use crate::app::AmExit;

/// The exit code of a process ended by SIGTERM (128 + 15), for an AM that
/// leaves on SIGTERM for YARN's next attempt.
const SIGTERM_EXIT: u8 = 143;

/// Runs the ApplicationMaster in this YARN container (see [`crate::app::run`])
/// with the job programs `programs`: installs the logger and the `hdfs://`
/// file system, runs the AM on a tokio runtime, and returns the process's
/// exit code (0 once an outcome was reported to YARN, 143 when it left on
/// SIGTERM for another attempt).
pub fn main(programs: &'static [JobProgram]) -> ExitCode {
    rfy_conf::logging::init(rfy_conf::logging::LogRole::JobManager);
    rfy_connectors::register_file_system();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(crate::app::run(programs));
    if matches!(result, Ok(AmExit::LeftForNextAttempt)) {
        // SIGKILL follows soon: leave at once, as if killed, without waiting for anything.
        rt.shutdown_background();
        return ExitCode::from(SIGTERM_EXIT);
    }
    // Task threads may still be finishing; do not wait for them.
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    match result {
        // The outcome is reported to YARN; exit 0 whatever it is, so YARN does not retry.
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("rfy ApplicationMaster failed to start: {e}");
            println!("rfy ApplicationMaster failed to start: {e}");
            // The NodeManager puts the tail of `*stderr*` files of a failed
            // container into YARN's diagnostics: leave the cause there too.
            if let Some(dir) = std::env::var("LOG_DIRS").ok().and_then(|d| d.split(',').next().map(str::to_string)) {
                let _ = std::fs::write(
                    format!("{dir}/jobmanager.stderr"),
                    format!("rfy ApplicationMaster failed to start: {e}\n"),
                );
            }
            ExitCode::FAILURE
        }
    }
}
