//! SIGTERM in the AM container (YARN kills the container, `yarn application
//! -kill`, or the RM ends the attempt): what it means for this attempt. The
//! lifecycle ([`crate::app`]) selects on [`SigtermWatch::received`] beside
//! the running job or session and acts on the [`Sigterm`] it returns.

use std::time::Duration;

use rfy_hadoop::hdfs::Hdfs;
use rfy_hadoop::yarn::rest::RmRestClient;
use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::failover::AttemptInfo;

/// How long the AM asks the RM whether the whole application is being killed
/// (SIGKILL follows SIGTERM within `yarn.nodemanager.sleep-delay-before-sigkill.ms`,
/// 250 ms by default).
const APP_REPORT_BUDGET: Duration = Duration::from_millis(100);

/// What a SIGTERM means for this attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sigterm {
    /// YARN may start another attempt, which needs the staging directory and
    /// the job store: leave at once, as if killed, without canceling the
    /// jobs, removing anything or unregistering (the attached client removes
    /// the staging directory once the application is final).
    LeaveForNextAttempt,
    /// The application is being killed (the last attempt, or the RM reports
    /// it final): the staging directory is already removed; cancel the jobs
    /// and unregister KILLED.
    ApplicationKilled,
}

/// The AM's SIGTERM handler, installed once the AM registered.
pub struct SigtermWatch {
    /// `None` if the handler could not be installed: then SIGTERM keeps its
    /// default action (the process ends at once), as on `LeaveForNextAttempt`.
    signal: Option<Signal>,
    attempt: AttemptInfo,
    rm: Option<RmRestClient>,
    app_id: String,
    hdfs: Hdfs,
    staging_dir: String,
}

impl SigtermWatch {
    /// Installs the handler. `rm` asks whether the application is final
    /// (`None`: cannot ask, treated as not final); `hdfs` and `staging_dir`:
    /// the staging directory to remove when the application is being killed.
    pub fn install(
        attempt: AttemptInfo,
        rm: Option<RmRestClient>,
        app_id: &str,
        hdfs: Hdfs,
        staging_dir: &str,
    ) -> Self {
        let signal = match signal(SignalKind::terminate()) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!("cannot install a SIGTERM handler (SIGTERM then ends the AM at once): {e}");
                None
            }
        };
        SigtermWatch { signal, attempt, rm, app_id: app_id.to_string(), hdfs, staging_dir: staging_dir.to_string() }
    }

    /// Waits for SIGTERM, then decides what it means: on an attempt YARN may
    /// follow with another, asks the RM (within 100 ms) whether the whole
    /// application is final. When it is (or on the last attempt) removes the
    /// staging directory at once, before SIGKILL can come. Never returns
    /// without a handler.
    pub async fn received(&mut self) -> Sigterm {
        match &mut self.signal {
            Some(s) => {
                s.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
        let last = self.attempt.is_last();
        let app_final = match &self.rm {
            Some(rm) if !last => {
                matches!(tokio::time::timeout(APP_REPORT_BUDGET, rm.app_report(&self.app_id)).await,
                    Ok(Ok(r)) if r.is_final())
            }
            _ => false,
        };
        if !last && !app_final {
            tracing::warn!(
                "SIGTERM on attempt {} of {}: exiting without unregistering; YARN may start another attempt",
                self.attempt.number,
                self.attempt.max
            );
            return Sigterm::LeaveForNextAttempt;
        }
        tracing::warn!("SIGTERM: the application is being killed; removing the staging directory {}", self.staging_dir);
        let budget = Duration::from_millis(if app_final { 120 } else { 200 });
        let _ = tokio::time::timeout(budget, self.hdfs.delete(&self.staging_dir, true)).await;
        Sigterm::ApplicationKilled
    }
}
