//! Record batches that move between tasks as typed values: a channel between
//! two tasks of one process carries the producer's `Vec<T>` itself (no
//! encoding, no decoding, no UTF-8 check); only a channel that leaves the
//! process (the TaskManager's data service) encodes the batch, once, into a
//! network buffer.

use std::any::Any;
use std::fmt;

use crate::error::TaskError;
use crate::record::{encode_into, encode_timestamped_into, Record, TIMESTAMPED};

/// A batch of records of a type known only to its producer and consumer
/// tasks. One dynamic call per batch, never per record.
pub trait RecordBatch: Send + 'static {
    /// Number of records in the batch.
    fn records(&self) -> usize;
    /// Estimated size in bytes (records × in-memory record size; heap data of
    /// a record is not counted): what `numBytesOut`/`numBytesIn` count for a
    /// batch that is never encoded.
    fn estimated_bytes(&self) -> usize;
    /// Encodes the batch as a network buffer: the bytes and the record count
    /// with [`TIMESTAMPED`] set if the records carry timestamps, exactly as
    /// [`NetMessage::Data`](super::NetMessage::Data) holds them.
    ///
    /// Errors: only if a record's `Serialize` impl fails.
    fn encode(&self) -> Result<(Vec<u8>, u32), TaskError>;
    /// The batch as `Any`, for the consumer to recover its [`TypedBatch`].
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send>;
}

impl fmt::Debug for dyn RecordBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecordBatch({} records)", self.records())
    }
}

/// The batch a writer sends on a channel: records and, if `timestamped`,
/// their event-time timestamps (ms), `timestamps[i]` belonging to `records[i]`.
pub(crate) struct TypedBatch<T> {
    pub(crate) records: Vec<T>,
    pub(crate) timestamps: Vec<i64>,
    pub(crate) timestamped: bool,
}

/// A batch of `records` as a channel carries it; `timestamps`, if given,
/// holds one event-time timestamp (ms) per record.
///
/// Errors: a message if `timestamps` and `records` differ in length.
pub fn record_batch<T: Record>(records: Vec<T>, timestamps: Option<Vec<i64>>) -> Result<Box<dyn RecordBatch>, String> {
    match timestamps {
        Some(ts) if ts.len() != records.len() => Err(format!("{} timestamps for {} records", ts.len(), records.len())),
        Some(timestamps) => Ok(Box::new(TypedBatch { records, timestamps, timestamped: true })),
        None => Ok(Box::new(TypedBatch { records, timestamps: Vec::new(), timestamped: false })),
    }
}

impl<T: Record> RecordBatch for TypedBatch<T> {
    fn records(&self) -> usize {
        self.records.len()
    }

    fn estimated_bytes(&self) -> usize {
        self.records.len() * std::mem::size_of::<T>() + if self.timestamped { self.records.len() * 8 } else { 0 }
    }

    fn encode(&self) -> Result<(Vec<u8>, u32), TaskError> {
        let mut bytes = Vec::with_capacity(self.records.len() * 8);
        if self.timestamped {
            for (r, t) in self.records.iter().zip(&self.timestamps) {
                encode_timestamped_into(*t, r, &mut bytes)?;
            }
        } else {
            for r in &self.records {
                encode_into(r, &mut bytes)?;
            }
        }
        let count = self.records.len() as u32 | if self.timestamped { TIMESTAMPED } else { 0 };
        Ok((bytes, count))
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{decode_all, decode_all_timestamped, Word};

    #[test]
    fn encoding_a_batch_equals_the_network_format() {
        let recs: Vec<(Word, i64)> = vec![("the".into(), 1), ("a-much-longer-word-than-24-bytes".into(), -3)];
        let b = TypedBatch { records: recs.clone(), timestamps: Vec::new(), timestamped: false };
        let (bytes, count) = b.encode().unwrap();
        assert_eq!(count, 2);
        let mut out = Vec::new();
        decode_all::<(Word, i64)>(&bytes, count, &mut out).unwrap();
        assert_eq!(out, recs);

        let b = TypedBatch { records: recs.clone(), timestamps: vec![5, i64::MIN], timestamped: true };
        let (bytes, count) = b.encode().unwrap();
        assert_eq!(count, 2 | TIMESTAMPED);
        let (mut out, mut ts) = (Vec::new(), Vec::new());
        decode_all_timestamped::<(Word, i64)>(&bytes, count & !TIMESTAMPED, &mut out, &mut ts).unwrap();
        assert_eq!((out, ts), (recs, vec![5, i64::MIN]));
    }
}
