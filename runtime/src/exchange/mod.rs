//! Record exchange between tasks: bounded channels of network buffers, the
//! writers that partition a task's output into them, and the input gate that
//! reads them. The same channels serve tasks in one TaskManager and, bridged
//! by the TaskManager's data service, tasks in different ones.

mod batch;
pub(crate) mod gate;
mod registry;
pub(crate) mod writer;

pub(crate) use batch::TypedBatch;
pub use batch::{record_batch, RecordBatch};
pub use registry::PartitionRegistry;

use std::time::Duration;

use crate::event::Event;

/// What travels through a channel: a batch of records (typed between tasks of
/// one process, encoded after crossing the network), or one event.
#[derive(Debug)]
pub enum NetMessage {
    /// Records as the producer made them, not encoded: what writers send. The
    /// TaskManager's data service encodes it ([`RecordBatch::encode`]) into
    /// [`NetMessage::Data`] for a consumer in another TaskManager.
    Records(Box<dyn RecordBatch>),
    /// `records` records, each postcard-encoded, back to back in `bytes`: a
    /// batch that came over the network.
    Data {
        /// The encoded records (at most about one segment, see [`ExchangeSettings`]).
        bytes: Vec<u8>,
        /// How many records `bytes` holds.
        records: u32,
    },
    /// An event, after every record sent before it.
    Event(Event),
    /// Local only: the bridge that pulls a remote subpartition lost it; the
    /// text names the producer's TaskManager and the cause. Fails the consumer.
    Failed(String),
}

/// Sending end of one channel (one subpartition of a result partition).
pub type ChannelSender = flume::Sender<NetMessage>;
/// Receiving end of one channel.
pub type ChannelReceiver = flume::Receiver<NetMessage>;

/// Makes a channel holding at most `capacity` batches: the credit a consumer
/// gives its producer. A full channel blocks the producer (backpressure).
pub fn channel(capacity: usize) -> (ChannelSender, ChannelReceiver) {
    flume::bounded(capacity.max(1))
}

/// Tunables of the exchange, from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct ExchangeSettings {
    /// A batch is sent once its records take this many bytes in memory
    /// (records × `size_of::<T>()`, at most 4,096 records;
    /// `taskmanager.memory.segment-size`).
    pub segment_size: usize,
    /// Partly filled buffers are sent after at most this long
    /// (`execution.buffer-timeout.interval`).
    pub flush_interval: Duration,
    /// Batches a channel holds before its producer blocks
    /// (`taskmanager.network.memory.buffers-per-channel`).
    pub buffers_per_channel: usize,
}

impl Default for ExchangeSettings {
    fn default() -> Self {
        ExchangeSettings { segment_size: 32 * 1024, flush_interval: Duration::from_millis(100), buffers_per_channel: 2 }
    }
}
