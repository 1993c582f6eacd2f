//! Output writers: partition a task's records into per-channel batches of
//! typed records and send full batches (or partly filled ones after the
//! buffer timeout) downstream. Nothing is encoded here: a batch bound for
//! another TaskManager is encoded by its data service.

use std::hash::Hash;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{ChannelSender, ExchangeSettings, NetMessage, RecordBatch, TypedBatch};
use crate::error::TaskError;
use crate::event::Event;
use crate::keygroup::{key_group_for_hash, key_hash, operator_index_for_key_group};
use crate::record::Record;
use crate::task::{usage_permille, Output, TaskControl, TaskMetrics};

/// A writer samples its channels' fill (`buffers.outPoolUsage`) once per this many buffers sent.
const POOL_SAMPLE_EVERY: u32 = 16;

/// Chooses the channel of each record. Monomorphized into the writer, so the
/// per-record choice is a static call.
pub(crate) trait Partitioner<T>: 'static {
    fn select(&mut self, record: &T, channels: usize) -> usize;
}

/// Forward: one channel.
pub(crate) struct ForwardPartitioner;
impl<T> Partitioner<T> for ForwardPartitioner {
    #[inline]
    fn select(&mut self, _record: &T, _channels: usize) -> usize {
        0
    }
}

/// Rebalance: round robin over all channels, starting at the subtask index.
pub(crate) struct RebalancePartitioner {
    pub(crate) next: usize,
}
impl<T> Partitioner<T> for RebalancePartitioner {
    #[inline]
    fn select(&mut self, _record: &T, channels: usize) -> usize {
        self.next = (self.next + 1) % channels;
        self.next
    }
}

/// Hash by key into key groups, then to the subtask that owns the key group.
///
/// Routes exactly as [`key_group_for_hash`] and [`operator_index_for_key_group`]
/// do, without their two 64-bit divisions per record: a mask when the max
/// parallelism is a power of two (Flink's default 128 is), and a table from key
/// group to channel, made on the first record (the channel count is fixed).
pub(crate) struct KeyGroupPartitioner<F> {
    key_fn: Arc<F>,
    max_parallelism: u32,
    /// `max_parallelism - 1` if it is a power of two.
    mask: Option<u64>,
    /// Channel of each key group, for `owner_channels` channels.
    owner: Vec<u32>,
    owner_channels: usize,
}

impl<F> KeyGroupPartitioner<F> {
    pub(crate) fn new(key_fn: Arc<F>, max_parallelism: u32) -> Self {
        let max_parallelism = max_parallelism.max(1);
        let mask = max_parallelism.is_power_of_two().then(|| max_parallelism as u64 - 1);
        KeyGroupPartitioner { key_fn, max_parallelism, mask, owner: Vec::new(), owner_channels: 0 }
    }

    #[cold]
    fn make_table(&mut self, channels: usize) {
        self.owner = (0..self.max_parallelism)
            .map(|kg| operator_index_for_key_group(self.max_parallelism, channels as u32, kg))
            .collect();
        self.owner_channels = channels;
    }
}

impl<T, K, F> Partitioner<T> for KeyGroupPartitioner<F>
where
    K: Hash,
    F: Fn(&T) -> K + 'static,
{
    #[inline]
    fn select(&mut self, record: &T, channels: usize) -> usize {
        if self.owner_channels != channels {
            self.make_table(channels);
        }
        let hash = key_hash(&(self.key_fn)(record));
        let kg = match self.mask {
            Some(mask) => (hash & mask) as u32,
            None => key_group_for_hash(hash, self.max_parallelism),
        };
        self.owner[kg as usize] as usize
    }
}

struct ChannelOut<T> {
    tx: ChannelSender,
    records: Vec<T>,
    /// Timestamps of `records` if `timestamped`; a batch holds only one kind,
    /// so a switch sends the batch first.
    timestamps: Vec<i64>,
    timestamped: bool,
}

/// Records per batch: about one segment of in-memory records
/// (`segment_size / size_of::<T>()`), at most [`MAX_BATCH_RECORDS`], so a
/// channel's credit holds about `buffers-per-channel` segments of records.
fn batch_records<T>(segment_size: usize) -> usize {
    (segment_size / std::mem::size_of::<T>().max(1)).clamp(1, MAX_BATCH_RECORDS)
}

/// Upper bound of records per batch (for small records: keeps the latency of
/// a batch and the encoded buffer of a remote channel modest).
const MAX_BATCH_RECORDS: usize = 4096;

/// Writes a task's output for one outgoing edge: records are moved, not
/// encoded, into one batch per channel ([`TypedBatch`]); a full batch (or a
/// partly filled one after the buffer timeout, or before an event) is sent.
pub(crate) struct PartitionWriter<T, P> {
    channels: Vec<ChannelOut<T>>,
    partitioner: P,
    broadcast: bool,
    /// Records per batch.
    batch_records: usize,
    flush_interval: Duration,
    last_flush: Instant,
    control: TaskControl,
    name: String,
    /// Buffers sent since the last pool-usage sample.
    since_sample: u32,
}

impl<T: Record, P: Partitioner<T>> PartitionWriter<T, P> {
    pub(crate) fn new(
        senders: Vec<ChannelSender>,
        partitioner: P,
        broadcast: bool,
        settings: &ExchangeSettings,
        control: TaskControl,
        name: String,
    ) -> Self {
        let batch_records = batch_records::<T>(settings.segment_size);
        PartitionWriter {
            channels: senders
                .into_iter()
                .map(|tx| ChannelOut {
                    tx,
                    records: Vec::with_capacity(batch_records),
                    timestamps: Vec::new(),
                    timestamped: false,
                })
                .collect(),
            partitioner,
            broadcast,
            batch_records,
            flush_interval: settings.flush_interval,
            last_flush: Instant::now(),
            control,
            name,
            since_sample: 0,
        }
    }

    /// Sends `msg` on `channel`, waiting while the channel is full; the wait
    /// is back-pressured time.
    fn send(&mut self, channel: usize, msg: NetMessage) -> Result<(), TaskError> {
        self.since_sample += 1;
        if self.since_sample >= POOL_SAMPLE_EVERY {
            self.sample_pool_usage();
        }
        let msg = match self.channels[channel].tx.try_send(msg) {
            Ok(()) => return Ok(()),
            Err(flume::TrySendError::Full(m)) => m,
            Err(flume::TrySendError::Disconnected(_)) => {
                self.control.check()?;
                return Err(self.gone(channel));
            }
        };
        let waiting = Instant::now();
        let sent = self.send_blocking(channel, msg);
        TaskMetrics::add_time(&self.control.metrics.back_pressured_ns, waiting);
        self.control.metrics.out_pool_usage_permille.store(1000, Ordering::Relaxed);
        sent
    }

    /// Stores the output channels' fill against their capacity (Flink's `outPoolUsage`).
    #[cold]
    fn sample_pool_usage(&mut self) {
        self.since_sample = 0;
        let lens = self.channels.iter().map(|c| (c.tx.len(), c.tx.capacity().unwrap_or(1)));
        self.control.metrics.out_pool_usage_permille.store(usage_permille(lens), Ordering::Relaxed);
    }

    fn gone(&self, channel: usize) -> TaskError {
        TaskError::ChannelClosed(format!("{}: consumer of channel {channel} went away", self.name))
    }

    fn send_blocking(&self, channel: usize, mut msg: NetMessage) -> Result<(), TaskError> {
        let tx = &self.channels[channel].tx;
        loop {
            match tx.send_timeout(msg, Duration::from_millis(50)) {
                Ok(()) => return Ok(()),
                Err(flume::SendTimeoutError::Timeout(m)) => {
                    self.control.check()?;
                    msg = m;
                }
                Err(flume::SendTimeoutError::Disconnected(_)) => {
                    self.control.check()?;
                    return Err(self.gone(channel));
                }
            }
        }
    }

    /// Sends channel `channel`'s batch, if it holds records.
    fn send_buffer(&mut self, channel: usize) -> Result<(), TaskError> {
        let cap = self.batch_records;
        let ch = &mut self.channels[channel];
        if ch.records.is_empty() {
            return Ok(());
        }
        let batch = TypedBatch {
            records: std::mem::replace(&mut ch.records, Vec::with_capacity(cap)),
            timestamps: if ch.timestamped {
                std::mem::replace(&mut ch.timestamps, Vec::with_capacity(cap))
            } else {
                Vec::new()
            },
            timestamped: ch.timestamped,
        };
        self.control.metrics.bytes_out.fetch_add(batch.estimated_bytes() as u64, Ordering::Relaxed);
        self.send(channel, NetMessage::Records(Box::new(batch)))
    }

    /// Sends channel `i`'s batch if it holds records of the other kind,
    /// then makes it hold `timestamped` records.
    #[cold]
    fn switch_kind(&mut self, i: usize, timestamped: bool) -> Result<(), TaskError> {
        self.send_buffer(i)?;
        self.channels[i].timestamped = timestamped;
        Ok(())
    }

    fn flush_all(&mut self) -> Result<(), TaskError> {
        for i in 0..self.channels.len() {
            self.send_buffer(i)?;
        }
        self.last_flush = Instant::now();
        Ok(())
    }
}

impl<T: Record, P: Partitioner<T>> Output<T> for PartitionWriter<T, P> {
    fn push_batch(&mut self, batch: &mut Vec<T>) -> Result<(), TaskError> {
        let n = self.channels.len();
        self.control.metrics.records_out.fetch_add(batch.len() as u64, Ordering::Relaxed);
        if self.broadcast {
            for rec in batch.drain(..) {
                for i in 0..n {
                    if self.channels[i].timestamped {
                        self.switch_kind(i, false)?;
                    }
                    let ch = &mut self.channels[i];
                    ch.records.push(rec.clone());
                    if ch.records.len() >= self.batch_records {
                        self.send_buffer(i)?;
                    }
                }
            }
        } else {
            for rec in batch.drain(..) {
                let i = self.partitioner.select(&rec, n);
                if self.channels[i].timestamped {
                    self.switch_kind(i, false)?;
                }
                let ch = &mut self.channels[i];
                ch.records.push(rec);
                if ch.records.len() >= self.batch_records {
                    self.send_buffer(i)?;
                }
            }
        }
        if self.last_flush.elapsed() >= self.flush_interval {
            self.flush_all()?;
        }
        Ok(())
    }

    fn push_timestamped(&mut self, batch: &mut Vec<T>, timestamps: &mut Vec<i64>) -> Result<(), TaskError> {
        let n = self.channels.len();
        self.control.metrics.records_out.fetch_add(batch.len() as u64, Ordering::Relaxed);
        for (rec, t) in batch.drain(..).zip(timestamps.drain(..)) {
            if self.broadcast {
                for i in 0..n {
                    if !self.channels[i].timestamped {
                        self.switch_kind(i, true)?;
                    }
                    let ch = &mut self.channels[i];
                    ch.records.push(rec.clone());
                    ch.timestamps.push(t);
                    if ch.records.len() >= self.batch_records {
                        self.send_buffer(i)?;
                    }
                }
            } else {
                let i = self.partitioner.select(&rec, n);
                if !self.channels[i].timestamped {
                    self.switch_kind(i, true)?;
                }
                let ch = &mut self.channels[i];
                ch.records.push(rec);
                ch.timestamps.push(t);
                if ch.records.len() >= self.batch_records {
                    self.send_buffer(i)?;
                }
            }
        }
        batch.clear();
        timestamps.clear();
        if self.last_flush.elapsed() >= self.flush_interval {
            self.flush_all()?;
        }
        Ok(())
    }

    fn push_event(&mut self, event: &Event) -> Result<(), TaskError> {
        self.flush_all()?;
        if *event == Event::Flush {
            return Ok(());
        }
        if let Event::Watermark(w) = event {
            self.control.metrics.output_watermark.store(*w, Ordering::Relaxed);
        }
        for i in 0..self.channels.len() {
            self.send(i, NetMessage::Event(*event))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::channel;

    #[test]
    fn a_full_channel_blocks_the_producer_until_canceled() {
        let (tx, rx) = channel(2);
        let control = TaskControl::default();
        let settings = ExchangeSettings { segment_size: 64, ..Default::default() };
        let c = control.clone();
        let producer = std::thread::spawn(move || {
            let mut w = PartitionWriter::<u64, ForwardPartitioner>::new(
                vec![tx],
                ForwardPartitioner,
                false,
                &settings,
                c,
                "t".into(),
            );
            loop {
                let mut batch: Vec<u64> = (0..1000).collect();
                w.push_batch(&mut batch)?;
            }
            #[allow(unreachable_code)]
            Ok::<(), TaskError>(())
        });
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(rx.len(), 2, "the channel holds exactly its credit");
        assert!(!producer.is_finished(), "the producer must be blocked, not dropping or queueing without bound");
        let sent = control.metrics.records_out.load(Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(sent, control.metrics.records_out.load(Ordering::Relaxed), "no progress while blocked");
        control.cancel();
        assert!(matches!(producer.join().unwrap(), Err(TaskError::Canceled)));
        let m = control.metrics.read();
        assert!(m.back_pressured_ms >= 250, "about 300 ms blocked must count as back-pressured: {m:?}");
        assert_eq!(m.out_pool_usage, 1.0, "a blocked writer's channels are full: {m:?}");
    }

    #[test]
    fn key_group_routing_equals_the_key_group_assignment() {
        // The mask and the table must route every key as the checkpointed key
        // groups expect, also for a max parallelism that is not a power of two.
        for max in [1u32, 7, 128, 300] {
            for channels in 1..=5usize {
                let mut p = KeyGroupPartitioner::new(Arc::new(|x: &u64| *x), max);
                for key in (0..2000u64).chain([u64::MAX, 1 << 40]) {
                    let kg = key_group_for_hash(key_hash(&key), max);
                    let want = operator_index_for_key_group(max, channels as u32, kg) as usize;
                    assert_eq!(p.select(&key, channels), want, "max {max} channels {channels} key {key}");
                }
            }
        }
    }

    #[test]
    fn hash_partitioning_sends_equal_keys_to_one_channel() {
        let (txs, rxs): (Vec<_>, Vec<_>) = (0..3).map(|_| channel(64)).unzip();
        let p = KeyGroupPartitioner::new(Arc::new(|x: &u64| *x % 10), 128);
        let mut w =
            PartitionWriter::new(txs, p, false, &ExchangeSettings::default(), TaskControl::default(), "t".into());
        let mut batch: Vec<u64> = (0..1000).collect();
        w.push_batch(&mut batch).unwrap();
        w.push_event(&Event::EndOfInput).unwrap();
        let mut owner = std::collections::HashMap::new();
        for (i, rx) in rxs.iter().enumerate() {
            while let Ok(msg) = rx.try_recv() {
                if let NetMessage::Records(batch) = msg {
                    let recs = batch.into_any().downcast::<TypedBatch<u64>>().unwrap().records;
                    for r in recs {
                        assert_eq!(*owner.entry(r % 10).or_insert(i), i, "key {} on two channels", r % 10);
                    }
                }
            }
        }
        assert_eq!(owner.len(), 10);
    }
}
