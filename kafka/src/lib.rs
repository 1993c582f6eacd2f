//! rfy's Apache Kafka connectors, in the shapes of Flink's `KafkaSource` and
//! `KafkaSink`:
//!
//! - [`KafkaSource`]: topics by list or regex pattern; partitions discovered
//!   at start and every `partition.discovery.interval.ms`, each owned by one
//!   source subtask ([`owner_subtask`], Flink's `KafkaSourceEnumerator`
//!   formula); starting offsets earliest / latest / committed / timestamp;
//!   bounded mode (stop at the latest offsets seen at start); the offsets are
//!   operator state in checkpoints (restored, redistributed on rescale) and
//!   committed to the consumer group when a checkpoint completes (for
//!   monitoring only, as in Flink).
//! - [`KafkaSink`]: delivery guarantee none / at-least-once / exactly-once;
//!   exactly-once writes each checkpoint's records in a Kafka transaction,
//!   flushed at the barrier and committed when the checkpoint completes
//!   (two-phase commit); transactional ids `<prefix>-<subtask>-<n>` from a
//!   small pool per subtask, whose lingering transactions are aborted at
//!   start and restore.
//! - Record (de)serializers: [`Bytes`], [`Utf8`], [`Json`] formats for keys
//!   and values, combined by [`ValueOnly`] and [`KeyValue`].
//!
//! Client library: `rdkafka` (Rust bindings of librdkafka, built from its
//! bundled source with CMake). It is the most used and best kept Kafka
//! client for Rust, and the only one with both Kafka transactions
//! (init/begin/commit/abort, fencing) and the consumer features used here
//! (manual assignment, offsets for timestamps, committed offsets, watermarks,
//! `read_committed`). Pure-Rust clients lacked transactions when chosen.
//! librdkafka cannot resume another producer instance's transaction, so a
//! prepared transaction whose commit a failure cut off is committed after the
//! restore with a hand-sent `EndTxn` for its recorded producer id and epoch
//! (the `kafka-protocol` crate encodes it; see `txn.rs`), as Flink's Java sink
//! resumes it.

mod assign;
mod error;
mod format;
mod sink;
mod source;
pub mod txn;

pub use assign::owner_subtask;
pub use error::KafkaConnectorError;
pub use format::{Bytes, FnSerializer, Format, Json, KafkaDeserializer, KafkaSerializer, KeyValue, Utf8, ValueOnly};
pub use sink::{DeliveryGuarantee, KafkaSink, SinkPartitioner};
pub use source::{BadRecordPolicy, KafkaSource, StartingOffsets, TopicSelector};

/// Default time to wait for the brokers (metadata, offsets, flush, commit):
/// 30 s, as Flink's `default.api.timeout.ms`-bounded calls.
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
