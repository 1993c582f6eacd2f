//! `rfy-am`: rfy's YARN ApplicationMaster. Started by YARN in the AM
//! container (see `rfy_am::bundle::am_command`); logs to stderr, which the
//! container command redirects to `<LOG_DIR>/jobmanager.log`.

use std::process::ExitCode;

use rfy_hadoop::yarn::amrm::FinalStatus;

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(false).init();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(rfy_am::app::run());
    // Task threads may still be finishing; do not wait for them.
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    match result {
        Ok(o) if o.status == FinalStatus::Succeeded => ExitCode::SUCCESS,
        Ok(_) => ExitCode::SUCCESS, // the outcome is reported to YARN; exit 0 so YARN does not retry
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
