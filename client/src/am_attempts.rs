//! ApplicationMaster attempts as the client sees them: how many it asks YARN
//! for (`yarn.application-attempts`, capped by the ResourceManager's
//! `yarn.resourcemanager.am.max-attempts`) and which attempt an application
//! report shows (so an attached client notices a failover and follows the
//! job to the new attempt; see ARCHITECTURE.md, "ApplicationMaster failover").

use anyhow::{bail, Result};
use rfy_conf::{options, Configuration};
use rfy_hadoop::config::HadoopConfig;
use rfy_hadoop::yarn::rest::{AppReport, RmRestClient};

/// `yarn.application-attempts`, capped by the ResourceManager's
/// `yarn.resourcemanager.am.max-attempts` (asked from the RM's `/conf`
/// servlet; if it does not answer, the client's Hadoop configuration, default
/// 2, as YARN's). YARN caps the value itself; the client says so when it does.
///
/// Errors: `yarn.application-attempts` is 0.
pub(crate) async fn application_attempts(conf: &Configuration, hconf: &HadoopConfig, rm: &RmRestClient) -> Result<i32> {
    const RM_KEY: &str = "yarn.resourcemanager.am.max-attempts";
    let requested = conf.get(&options::YARN_APPLICATION_ATTEMPTS);
    if requested == 0 {
        bail!("{} is 0: it must be at least 1", options::YARN_APPLICATION_ATTEMPTS.key);
    }
    let rm_max = match rm.daemon_conf(RM_KEY).await {
        Ok(Some(v)) => v.trim().parse::<u32>().ok(),
        Ok(None) => None,
        Err(e) => {
            tracing::debug!("{RM_KEY} from the ResourceManager: {e}");
            None
        }
    };
    let rm_max = match rm_max {
        Some(m) => m,
        None => hconf.get_i64(RM_KEY, 2)?.clamp(1, u32::MAX as i64) as u32,
    };
    if requested > rm_max {
        eprintln!(
            "note: {} is {requested} but the ResourceManager allows {rm_max} ({RM_KEY}): YARN makes {rm_max} attempt(s)",
            options::YARN_APPLICATION_ATTEMPTS.key
        );
    }
    Ok(requested.min(rm_max) as i32)
}

/// Which ApplicationMaster attempt an application report shows: the AM
/// container (from `amContainerLogs`, `.../containerlogs/<container>/<user>`)
/// and the attempt number inside its id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AmIdentity {
    /// The AM's container id.
    pub container: Option<String>,
    /// Its application attempt number.
    pub attempt: Option<u32>,
}

impl AmIdentity {
    /// From an application report.
    pub fn of(r: &AppReport) -> AmIdentity {
        let container = r
            .am_container_logs
            .as_deref()
            .and_then(|u| u.split('/').find(|p| p.starts_with("container_")))
            .map(str::to_string);
        let attempt = container.as_deref().and_then(rfy_am::job_store::attempt_of_container);
        AmIdentity { container, attempt }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn am_identity_from_the_report() {
        let r: AppReport = serde_json::from_value(serde_json::json!({
            "id": "application_1_0001", "state": "RUNNING",
            "amContainerLogs": "http://nm:8042/node/containerlogs/container_1_0001_02_000001/alice"
        }))
        .unwrap();
        let id = AmIdentity::of(&r);
        assert_eq!(id.container.as_deref(), Some("container_1_0001_02_000001"));
        assert_eq!(id.attempt, Some(2));
        let r: AppReport =
            serde_json::from_value(serde_json::json!({"id": "application_1_0001", "state": "ACCEPTED"})).unwrap();
        assert_eq!(AmIdentity::of(&r), AmIdentity::default());
    }
}
