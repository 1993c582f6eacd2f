//! How an application ends: the end of its job (or of its session) as a
//! typed [`JobEnd`], mapped to YARN's final application status in one place
//! ([`JobEnd::final_status`]). The bottom of the AM's module graph: it names
//! no other module of the crate.

use rfy_hadoop::yarn::amrm::FinalStatus;
use rfy_jobmanager::JobState;
use serde::{Deserialize, Serialize};

/// How a job, a session, or the AM's wait for them ended: Flink's globally
/// terminal job states (`JobStatus.FINISHED`, `FAILED`, `CANCELED`). Stored
/// in the job store by name (`"FINISHED"`...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobEnd {
    /// Ended successfully (a session: stopped by a client).
    Finished,
    /// Failed (the job, or the AM around it: containers too big, allocation failed...).
    Failed,
    /// Canceled or killed (by a user, by YARN, or by SIGTERM).
    Canceled,
}

impl JobEnd {
    /// The final application status the AM reports to YARN for this end
    /// (FINISHED → SUCCEEDED, FAILED → FAILED, CANCELED → KILLED, as Flink's
    /// `YarnResourceManagerDriver#getYarnStatus`).
    pub fn final_status(self) -> FinalStatus {
        match self {
            JobEnd::Finished => FinalStatus::Succeeded,
            JobEnd::Failed => FinalStatus::Failed,
            JobEnd::Canceled => FinalStatus::Killed,
        }
    }

    /// The end a terminal job state stands for; `None` while the job is not terminal.
    pub fn of_state(state: JobState) -> Option<JobEnd> {
        match state {
            JobState::Finished => Some(JobEnd::Finished),
            JobState::Failed => Some(JobEnd::Failed),
            JobState::Canceled => Some(JobEnd::Canceled),
            _ => None,
        }
    }
}

/// How the application ended: what the AM reports to YARN when it unregisters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// How the job (or session) ended.
    pub end: JobEnd,
    /// The diagnostic message for YARN (one line or a few: a failure's cause).
    pub diagnostics: String,
}

impl Outcome {
    /// An outcome of `end` with `diagnostics`.
    pub fn new(end: JobEnd, diagnostics: impl Into<String>) -> Outcome {
        Outcome { end, diagnostics: diagnostics.into() }
    }

    /// A failure with `diagnostics`.
    pub fn failed(diagnostics: impl Into<String>) -> Outcome {
        Outcome::new(JobEnd::Failed, diagnostics)
    }

    /// The final application status for YARN (see [`JobEnd::final_status`]).
    pub fn status(&self) -> FinalStatus {
        self.end.final_status()
    }
}

/// A request to end the AM's job or session early: from the container
/// allocator (the RM asked the AM to shut down, or allocation failed) or from
/// SIGTERM. Sent over a `watch` channel the running mode selects on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopRequest {
    /// How the application ends because of it.
    pub end: JobEnd,
    /// Why, for the diagnostics.
    pub reason: String,
}

/// The receiving end of [`StopRequest`]s (`None` until one is sent).
pub type StopReceiver = tokio::sync::watch::Receiver<Option<StopRequest>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_end_maps_to_its_yarn_status() {
        assert_eq!(JobEnd::Finished.final_status(), FinalStatus::Succeeded);
        assert_eq!(JobEnd::Failed.final_status(), FinalStatus::Failed);
        assert_eq!(JobEnd::Canceled.final_status(), FinalStatus::Killed);
        assert_eq!(JobEnd::of_state(JobState::Running), None);
        assert_eq!(JobEnd::of_state(JobState::Canceled), Some(JobEnd::Canceled));
    }

    #[test]
    fn an_end_is_stored_by_its_flink_name() {
        let json = serde_json::to_string(&Outcome::failed("boom")).unwrap();
        assert_eq!(json, r#"{"end":"FAILED","diagnostics":"boom"}"#);
        let back: Outcome = serde_json::from_str(&json).unwrap();
        assert_eq!(back.status(), FinalStatus::Failed);
    }
}
