//! The JobMaster's CREATED phase (and the one between attempts): taking the
//! job's slots. The ResourceManager records the job's demand while it waits,
//! so the driver asks for TaskManagers; the demand is withdrawn when the job
//! gets its slots, is canceled, or gives up after `slot.request.timeout`.

use std::time::{Duration, Instant};

use super::JobMaster;
use crate::checkpoint::Coordinator;
use crate::resource_manager::SlotAssignment;

/// How often a waiting job looks at the slots again (and reads its messages).
const POLL: Duration = Duration::from_millis(50);

impl JobMaster {
    /// `needed` slots, all at once; `None` if the job was canceled or failed
    /// (no room in a fixed cluster, or not within `slot.request.timeout`).
    /// The mailbox is served meanwhile (`on_idle_message`).
    pub(super) async fn acquire_slots(&mut self, needed: u32, coord: &mut Coordinator) -> Option<Vec<SlotAssignment>> {
        let started = Instant::now();
        let rm = self.services.rm.clone();
        let job_id = self.st.job_id.clone();
        let timeout = self.services.slot_request_timeout;
        // The executable whose TaskManagers the job runs on (`pipeline.jars`; "": the cluster's own worker).
        let executable = self.conf_map.get(rfy_conf::options::PIPELINE_JARS.key).cloned().unwrap_or_default();
        loop {
            if let Some(slots) = rm.allocate(&job_id, &executable, needed) {
                return Some(slots);
            }
            let (total, free) = rm.slot_counts();
            if !rm.can_add_task_managers() {
                rm.withdraw(&job_id);
                self.fail_now(format!(
                    "the job needs {needed} slots (its highest parallelism) but the {} cluster has {free} free of {total}: \
                     raise taskmanager.numberOfTaskSlots or the number of TaskManagers, or lower the parallelism",
                    rm.driver_name()
                ));
                return None;
            }
            if started.elapsed() > timeout {
                rm.withdraw(&job_id);
                let summary = rm.allocation_summary();
                self.fail_now(format!(
                    "could not get {needed} slots within {:.1} s (slot.request.timeout): {free} free of {total} registered{}{summary}",
                    timeout.as_secs_f64(),
                    if summary.is_empty() { "" } else { "; " },
                ));
                return None;
            }
            if let Ok(msg) = self.next(POLL).await {
                if !self.on_idle_message(coord, msg, "the job has no slots yet") {
                    rm.withdraw(&job_id);
                    return None;
                }
            }
        }
    }
}
