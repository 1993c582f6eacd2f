//! Fails a job fast when its YARN queue can never give it the
//! TaskManagers it needs (issue 8, bad input), instead of after
//! `slot.request.timeout`: the job's slots (its largest vertex parallelism,
//! with slot sharing) become TaskManager containers of the session's size
//! (`taskmanager.numberOfTaskSlots`, `taskmanager.memory.process.size`), and
//! these plus the JobManager's container (`jobmanager.memory.process.size`)
//! must fit the queue's maximum (`GET /ws/v1/cluster/scheduler`:
//! `maxEffectiveCapacity`, or the Fair Scheduler's `maxResources`). In a
//! session the sizes are the session's; in application and per-job mode
//! the job's own configuration's, checked before the deployment.
//!
//! Memory only: YARN's Capacity Scheduler counts vcores only with the
//! `DominantResourceCalculator`, which is not its default.

use rfy_conf::{options, Configuration, Source};
use rfy_hadoop::yarn::rest::{ResourceInfo, RmRestClient};
use rfy_rest_api::ConfigurationInfoEntry;

use crate::follow::RestClient;

/// What one session gives a job: TaskManager size and the JobManager's share of the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionShape {
    /// Slots per TaskManager (≥ 1).
    pub slots_per_tm: u32,
    /// One TaskManager container, MiB.
    pub tm_mib: i64,
    /// The JobManager's (AM's) container, MiB.
    pub jm_mib: i64,
}

impl SessionShape {
    /// The shape from a JobManager's configuration (`GET /jobmanager/config`,
    /// Flink's list of `{"key", "value"}`); defaults for keys it does not list.
    ///
    /// Errors: a listed value that does not parse (names the key).
    pub fn from_config_list(list: &[ConfigurationInfoEntry]) -> Result<Self, rfy_conf::ConfError> {
        let mut conf = Configuration::new();
        for ConfigurationInfoEntry { key: k, value: v } in list {
            let (k, v) = (k.as_str(), v.as_str());
            let wanted = [
                options::TASKMANAGER_NUMBER_OF_TASK_SLOTS.key,
                options::TASKMANAGER_MEMORY_PROCESS_SIZE.key,
                options::JOBMANAGER_MEMORY_PROCESS_SIZE.key,
            ];
            if wanted.contains(&k) {
                conf.set(k, v, Source::Dynamic)?;
            }
        }
        Ok(SessionShape {
            slots_per_tm: conf.get(&options::TASKMANAGER_NUMBER_OF_TASK_SLOTS).max(1),
            tm_mib: rfy_am::bundle::mebibytes(conf.get(&options::TASKMANAGER_MEMORY_PROCESS_SIZE).0),
            jm_mib: rfy_am::bundle::mebibytes(conf.get(&options::JOBMANAGER_MEMORY_PROCESS_SIZE).0),
        })
    }
}

/// `Err` when `slots` can never be had in a queue of at most `queue_max`.
/// `Ok` when the JobManager alone exceeds the queue (the deployment reports that).
///
/// Errors: [`QueueTooSmall`], naming the slots, the TaskManagers and memory
/// they need and what the queue can give.
pub fn check(slots: u32, shape: SessionShape, queue: &str, queue_max: ResourceInfo) -> Result<(), QueueTooSmall> {
    let tms = slots.div_ceil(shape.slots_per_tm) as i64;
    let need = tms * shape.tm_mib;
    let room = queue_max.memory - shape.jm_mib;
    // A JobManager larger than the queue: the deployment's own check names that.
    if need <= room || room <= 0 {
        return Ok(());
    }
    Err(QueueTooSmall { slots, shape, queue: queue.to_string(), queue_max, room })
}

/// A job whose slots can never be had in its YARN queue.
#[derive(Debug, thiserror::Error)]
#[error(
    "the job asks for {slots} slots = {} TaskManager(s) of {} MiB ({} slot(s) each), {} MiB, but YARN queue '{queue}' can give at most {} MiB ({} vcores), {room} MiB of it beside the JobManager's {} MiB: at most {} slots; lower the parallelism (-p) or use a larger queue (yarn.application.queue)",
    self.task_managers(), shape.tm_mib, shape.slots_per_tm, self.task_managers() * shape.tm_mib,
    queue_max.memory, queue_max.vcores, shape.jm_mib, self.fitting_slots()
)]
pub struct QueueTooSmall {
    /// The slots the job needs.
    pub slots: u32,
    /// The TaskManager and JobManager sizes.
    pub shape: SessionShape,
    /// The queue.
    pub queue: String,
    /// The queue's maximum resources.
    pub queue_max: ResourceInfo,
    /// MiB of the queue beside the JobManager (positive).
    pub room: i64,
}

impl QueueTooSmall {
    /// TaskManagers the job's slots need.
    pub fn task_managers(&self) -> i64 {
        self.slots.div_ceil(self.shape.slots_per_tm) as i64
    }

    /// Slots the queue can give beside the JobManager.
    pub fn fitting_slots(&self) -> i64 {
        (self.room / self.shape.tm_mib.max(1)) * self.shape.slots_per_tm as i64
    }
}

/// Checks a job of `slots` slots against the session's shape (its REST
/// `/jobmanager/config`) and its queue's maximum (RM REST). A scheduler that
/// reports no maximum for the queue passes (the timeout still applies).
///
/// Errors: the job cannot fit (see [`check`]); the RM or the JobManager
/// does not answer.
pub async fn check_session_job(rm: &RmRestClient, queue: &str, session: &RestClient, slots: u32) -> anyhow::Result<()> {
    let Some(max) = rm.queue_max_resources(queue).await? else { return Ok(()) };
    let shape = SessionShape::from_config_list(&session.jobmanager_config().await?)?;
    Ok(check(slots, shape, queue, max)?)
}

/// Application and per-job mode: checks a job of `slots` slots, with the
/// TaskManager and JobManager sizes of `conf`, against the maximum of the
/// queue it goes to (`yarn.application.queue`), before anything is created
/// or uploaded. When the Hadoop configuration or the ResourceManager is
/// missing this check passes: the deployment right after reports that, with
/// its fuller message.
///
/// Errors: the job cannot fit (see [`check`]).
pub async fn check_before_deploy(conf: &Configuration, slots: u32) -> anyhow::Result<()> {
    let Ok(hconf) = rfy_hadoop::config::HadoopConfig::from_env() else { return Ok(()) };
    // A Kerberized cluster: the login (once per process) before the RM is asked; its error is the deployment's to report.
    if crate::kerberos::login(conf, &hconf).await.is_err() {
        return Ok(());
    }
    let Ok(rm) = RmRestClient::from_config(&hconf, &rfy_hadoop::config::current_user()) else { return Ok(()) };
    let queue = conf.get(&options::YARN_APPLICATION_QUEUE);
    let Ok(Some(max)) = rm.queue_max_resources(&queue).await else { return Ok(()) };
    let shape = SessionShape {
        slots_per_tm: conf.get(&options::TASKMANAGER_NUMBER_OF_TASK_SLOTS).max(1),
        tm_mib: rfy_am::bundle::mebibytes(conf.get(&options::TASKMANAGER_MEMORY_PROCESS_SIZE).0),
        jm_mib: rfy_am::bundle::mebibytes(conf.get(&options::JOBMANAGER_MEMORY_PROCESS_SIZE).0),
    };
    Ok(check(slots, shape, &queue, max)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entries(v: serde_json::Value) -> Vec<ConfigurationInfoEntry> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_job_fits_or_is_named_with_what_the_queue_gives() {
        let list = entries(json!([{"key": "taskmanager.numberOfTaskSlots", "value": "2"},
            {"key": "taskmanager.memory.process.size", "value": "512m"},
            {"key": "jobmanager.memory.process.size", "value": "1g"}, {"key": "other", "value": "x"}]));
        let shape = SessionShape::from_config_list(&list).unwrap();
        assert_eq!(shape, SessionShape { slots_per_tm: 2, tm_mib: 512, jm_mib: 1024 });
        let q = ResourceInfo { memory: 4096, vcores: 8 };
        assert!(check(12, shape, "root.default", q).is_ok()); // 6 × 512 = 3072 ≤ 3072
        let e = check(13, shape, "root.default", q).unwrap_err().to_string();
        assert!(e.contains("13 slots = 7 TaskManager(s) of 512 MiB") && e.contains("at most 4096 MiB"), "{e}");
        assert!(e.contains("at most 12 slots") && e.contains("'root.default'"), "{e}");
        let huge_jm = SessionShape { jm_mib: 1 << 20, ..shape };
        assert!(check(13, huge_jm, "root.default", q).is_ok(), "the deployment names a too large JobManager");
        let bad = entries(json!([{"key": "taskmanager.numberOfTaskSlots", "value": "two"}]));
        assert!(SessionShape::from_config_list(&bad).is_err());
    }
}
