//! Where a producer task and a consumer (a local task, or the data service
//! serving a remote one) meet: each side takes its end of a subpartition's
//! channel by `(partition id, subpartition)`, whichever comes first.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{channel, ChannelReceiver, ChannelSender};

#[derive(Default)]
struct Ends {
    sender: Option<ChannelSender>,
    receiver: Option<ChannelReceiver>,
    sender_taken: bool,
    receiver_taken: bool,
}

/// The result partitions of one TaskManager.
#[derive(Default)]
pub struct PartitionRegistry {
    channels: Mutex<HashMap<(String, u32), Ends>>,
}

impl PartitionRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    fn take<R>(
        &self,
        partition_id: &str,
        subpartition: u32,
        capacity: usize,
        pick: impl FnOnce(&mut Ends) -> Option<R>,
    ) -> Option<R> {
        let mut map = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        let key = (partition_id.to_string(), subpartition);
        let ends = map.entry(key.clone()).or_insert_with(|| {
            let (s, r) = channel(capacity);
            Ends { sender: Some(s), receiver: Some(r), ..Default::default() }
        });
        let got = pick(ends);
        if ends.sender_taken && ends.receiver_taken {
            map.remove(&key);
        }
        got
    }

    /// The producer's end; `None` if it was taken already.
    pub fn take_sender(&self, partition_id: &str, subpartition: u32, capacity: usize) -> Option<ChannelSender> {
        self.take(partition_id, subpartition, capacity, |e| {
            e.sender_taken = true;
            e.sender.take()
        })
    }

    /// The consumer's end; `None` if it was taken already.
    pub fn take_receiver(&self, partition_id: &str, subpartition: u32, capacity: usize) -> Option<ChannelReceiver> {
        self.take(partition_id, subpartition, capacity, |e| {
            e.receiver_taken = true;
            e.receiver.take()
        })
    }

    /// Drops every channel end not yet taken whose partition id starts with
    /// `prefix` (a job id): for cleanup when a job ends.
    pub fn release(&self, prefix: &str) {
        let mut map = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|(pid, _), _| !pid.starts_with(prefix));
    }

    /// Number of channels with an end not yet taken.
    pub fn pending(&self) -> usize {
        self.channels.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}
