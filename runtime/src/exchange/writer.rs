//! Output writers: partition a task's records into per-channel buffers of
//! encoded records and send full buffers (or partly filled ones after the
//! buffer timeout) downstream.

use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{ChannelSender, ExchangeSettings, NetMessage};
use crate::error::TaskError;
use crate::event::Event;
use crate::keygroup::{key_group_for_hash, key_hash, operator_index_for_key_group};
use crate::record::{encode_into, encode_timestamped_into, Record, TIMESTAMPED};
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

struct ChannelOut {
    tx: ChannelSender,
    buf: Vec<u8>,
    records: u32,
    /// The buffer's records carry timestamps ([`TIMESTAMPED`]); a buffer
    /// holds only one kind, so a switch sends the buffer first.
    timestamped: bool,
}

/// Writes a task's output for one outgoing edge.
pub(crate) struct PartitionWriter<T, P> {
    channels: Vec<ChannelOut>,
    partitioner: P,
    broadcast: bool,
    segment_size: usize,
    flush_interval: Duration,
    last_flush: Instant,
    control: TaskControl,
    scratch: Vec<u8>,
    name: String,
    /// Buffers sent since the last pool-usage sample.
    since_sample: u32,
    _records: PhantomData<fn(T)>,
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
        let cap = settings.segment_size + settings.segment_size / 8;
        PartitionWriter {
            channels: senders
                .into_iter()
                .map(|tx| ChannelOut { tx, buf: Vec::with_capacity(cap), records: 0, timestamped: false })
                .collect(),
            partitioner,
            broadcast,
            segment_size: settings.segment_size,
            flush_interval: settings.flush_interval,
            last_flush: Instant::now(),
            control,
            scratch: Vec::new(),
            name,
            since_sample: 0,
            _records: PhantomData,
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

    fn send_buffer(&mut self, channel: usize) -> Result<(), TaskError> {
        let cap = self.segment_size + self.segment_size / 8;
        let ch = &mut self.channels[channel];
        if ch.records == 0 {
            return Ok(());
        }
        let bytes = std::mem::replace(&mut ch.buf, Vec::with_capacity(cap));
        let records = std::mem::take(&mut ch.records) | if ch.timestamped { TIMESTAMPED } else { 0 };
        self.control.metrics.bytes_out.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        self.send(channel, NetMessage::Data { bytes, records })
    }

    /// Sends channel `i`'s buffer if it holds records of the other kind,
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
                self.scratch.clear();
                encode_into(&rec, &mut self.scratch)?;
                for i in 0..n {
                    if self.channels[i].timestamped {
                        self.switch_kind(i, false)?;
                    }
                    let ch = &mut self.channels[i];
                    ch.buf.extend_from_slice(&self.scratch);
                    ch.records += 1;
                    if ch.buf.len() >= self.segment_size {
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
                encode_into(&rec, &mut ch.buf)?;
                ch.records += 1;
                if ch.buf.len() >= self.segment_size {
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
                self.scratch.clear();
                encode_timestamped_into(t, &rec, &mut self.scratch)?;
                for i in 0..n {
                    if !self.channels[i].timestamped {
                        self.switch_kind(i, true)?;
                    }
                    let ch = &mut self.channels[i];
                    ch.buf.extend_from_slice(&self.scratch);
                    ch.records += 1;
                    if ch.buf.len() >= self.segment_size {
                        self.send_buffer(i)?;
                    }
                }
            } else {
                let i = self.partitioner.select(&rec, n);
                if !self.channels[i].timestamped {
                    self.switch_kind(i, true)?;
                }
                let ch = &mut self.channels[i];
                encode_timestamped_into(t, &rec, &mut ch.buf)?;
                ch.records += 1;
                if ch.buf.len() >= self.segment_size {
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
                if let NetMessage::Data { bytes, records } = msg {
                    let mut recs: Vec<u64> = Vec::new();
                    crate::record::decode_all(&bytes, records, &mut recs).unwrap();
                    for r in recs {
                        assert_eq!(*owner.entry(r % 10).or_insert(i), i, "key {} on two channels", r % 10);
                    }
                }
            }
        }
        assert_eq!(owner.len(), 10);
    }
}
