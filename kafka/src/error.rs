//! Errors at the crate boundary.

use rfy_runtime::TaskError;

/// What went wrong talking to Kafka; every message names the bootstrap
/// servers, topic, partition or transactional id at fault.
#[derive(Debug, thiserror::Error)]
pub enum KafkaConnectorError {
    /// No broker answered within the timeout.
    #[error("Kafka at {bootstrap} unreachable: no answer within {timeout_ms} ms ({detail})")]
    Unreachable {
        /// The configured `bootstrap.servers`.
        bootstrap: String,
        /// The timeout waited, ms.
        timeout_ms: u128,
        /// The client's error.
        detail: String,
    },
    /// A named topic does not exist.
    #[error("Kafka topic '{topic}' does not exist on {bootstrap}")]
    TopicMissing {
        /// The topic.
        topic: String,
        /// The configured `bootstrap.servers`.
        bootstrap: String,
    },
    /// A record could not be deserialized.
    #[error("cannot deserialize the record at {topic}-{partition} offset {offset}: {detail}")]
    BadRecord {
        /// Its topic.
        topic: String,
        /// Its partition.
        partition: i32,
        /// Its offset.
        offset: i64,
        /// Why.
        detail: String,
    },
    /// A newer producer with the same transactional id took over.
    #[error("Kafka transaction '{transactional_id}' was fenced by a newer producer with the same transactional.id (another job or attempt with the same prefix?): {detail}")]
    Fenced {
        /// The transactional id.
        transactional_id: String,
        /// The client's error.
        detail: String,
    },
    /// Any other client error, with what was being done.
    #[error("Kafka at {bootstrap}: {context}: {detail}")]
    Client {
        /// The configured `bootstrap.servers`.
        bootstrap: String,
        /// What was being done.
        context: String,
        /// The client's error.
        detail: String,
    },
    /// A configuration the connector cannot use.
    #[error("Kafka connector configuration: {0}")]
    Config(String),
    /// The transaction coordinator could not describe a transactional id.
    #[error(transparent)]
    Txn(#[from] crate::txn::TxnError),
    /// A transaction of a restored checkpoint could not be committed.
    #[error(transparent)]
    Commit(#[from] crate::txn::CommitError),
}

impl From<KafkaConnectorError> for TaskError {
    fn from(e: KafkaConnectorError) -> Self {
        TaskError::User(e.to_string())
    }
}
