//! Committing a transaction prepared by an earlier producer instance: the
//! Kafka protocol's `EndTxn(committed = true)` for a recorded producer id and
//! epoch, sent to the transaction coordinator over a plain TCP connection.
//!
//! librdkafka has no way to resume another instance's transaction, so the
//! exactly-once sink records, per prepared transaction, its transactional
//! id, producer id and epoch in the checkpoint, and after a restore commits
//! it with [`commit_prepared`] before the id is initialized again (which
//! would abort it). This is what Flink's `FlinkKafkaInternalProducer
//! .resumeTransaction` + `commitTransaction` achieve in Java.
//!
//! Protocol (Kafka's `FindCoordinatorRequest.json`, `EndTxnRequest.json`):
//! `FindCoordinator` v3 with `key_type = 1` (transaction) asked of a
//! bootstrap broker names the coordinator; `EndTxn` v3 (transaction
//! protocol version 1, as librdkafka uses, so the coordinator does not bump
//! the epoch) ends the transaction. Frames are a 4-byte big-endian length
//! followed by the request header and body (messages encoded with the
//! `kafka-protocol` crate).
//!
//! Outcomes (the coordinator's `TransactionCoordinator.handleEndTransaction`):
//! `NONE` also when the transaction is already committed with this epoch (a
//! repeated commit); `PRODUCER_FENCED` / `INVALID_PRODUCER_EPOCH` when an
//! earlier attempt already re-initialized the id (so it committed first);
//! `INVALID_TXN_STATE` when it was aborted (e.g. by `transaction.timeout.ms`).
//! `CONCURRENT_TRANSACTIONS` and coordinator moves are retried.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, DescribeTransactionsRequest, DescribeTransactionsResponse, EndTxnRequest, EndTxnResponse,
    FindCoordinatorRequest, FindCoordinatorResponse, ProducerId, RequestHeader, ResponseHeader, TransactionalId,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};

/// A transaction prepared (flushed) by a producer: what the checkpoint keeps
/// to commit it from another process.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PreparedTxn {
    /// The transactional id.
    pub transactional_id: String,
    /// The producer id the coordinator assigned at `InitProducerId`.
    pub producer_id: i64,
    /// The producer epoch.
    pub epoch: i16,
}

/// How the coordinator answered an `EndTxn(commit)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Committed now, or already committed with this epoch.
    Committed,
    /// The id was re-initialized since (an earlier restore committed it
    /// first, then took the id over): nothing to do.
    Fenced(i16),
    /// The transaction is not open (aborted, or never had records).
    InvalidState,
}

/// Why `EndTxn` could not be sent or was refused.
#[derive(Debug, thiserror::Error)]
#[error("commit of prepared Kafka transaction '{transactional_id}' (producer id {producer_id}, epoch {epoch}) via coordinator {coordinator}: {detail}")]
pub struct CommitError {
    transactional_id: String,
    producer_id: i64,
    epoch: i16,
    /// The coordinator address, or the bootstrap servers before it was known.
    coordinator: String,
    detail: String,
}

/// Why a request to a broker or coordinator failed (one exchange of [`call`]).
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The address does not resolve.
    #[error("cannot resolve {addr}: {source}")]
    Resolve {
        /// The `host:port`.
        addr: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The address resolves to nothing.
    #[error("{addr} resolves to no address")]
    NoAddress {
        /// The `host:port`.
        addr: String,
    },
    /// Connecting, sending or receiving failed.
    #[error("{what} {api:?} {addr}: {source}")]
    Io {
        /// `connect for`, `send`, `read the response to`.
        what: &'static str,
        /// The request.
        api: ApiKey,
        /// The `host:port`.
        addr: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The request could not be encoded (the protocol crate refused a field).
    #[error("cannot encode {api:?}: {source}")]
    Encode {
        /// The request.
        api: ApiKey,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The response is larger than any answer to these requests can be.
    #[error("{api:?} response from {addr} claims {len} bytes")]
    TooLarge {
        /// The request.
        api: ApiKey,
        /// The `host:port`.
        addr: String,
        /// The claimed length, bytes.
        len: usize,
    },
    /// The response does not decode.
    #[error("undecodable {api:?} response from {addr}: {source}")]
    Decode {
        /// The request.
        api: ApiKey,
        /// The `host:port`.
        addr: String,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Why [`describe_transaction`] (and [`transaction_state`]) got no answer.
#[derive(Debug, thiserror::Error)]
pub enum TxnError {
    /// The coordinator answered without the transactional id.
    #[error("DescribeTransactions of '{transactional_id}' via {coordinator}: empty answer")]
    EmptyAnswer {
        /// The transactional id.
        transactional_id: String,
        /// The coordinator asked.
        coordinator: String,
    },
    /// The coordinator answered with an error code that is not retried.
    #[error("DescribeTransactions of '{transactional_id}' via {coordinator}: Kafka error code {code}")]
    Refused {
        /// The transactional id.
        transactional_id: String,
        /// The coordinator asked.
        coordinator: String,
        /// Kafka's error code (`Errors.java`).
        code: i16,
    },
    /// No answer within the timeout; `last` says what the last try saw.
    #[error(
        "DescribeTransactions of '{transactional_id}' via {bootstrap}: no answer within {timeout_ms} ms (last: {last})"
    )]
    Timeout {
        /// The transactional id.
        transactional_id: String,
        /// The bootstrap servers.
        bootstrap: String,
        /// The timeout, ms.
        timeout_ms: u128,
        /// What the last try saw (a retriable error code, or a request's failure).
        last: String,
    },
}

const CLIENT_ID: &str = "rfy-kafka-sink";
const FIND_COORDINATOR_VERSION: i16 = 3;
const END_TXN_VERSION: i16 = 3;
/// Kafka error codes used here (Kafka's `Errors.java`).
const NONE: i16 = 0;
const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
const COORDINATOR_NOT_AVAILABLE: i16 = 15;
const NOT_COORDINATOR: i16 = 16;
const INVALID_PRODUCER_EPOCH: i16 = 47;
const INVALID_TXN_STATE: i16 = 48;
const CONCURRENT_TRANSACTIONS: i16 = 51;
const PRODUCER_FENCED: i16 = 90;
const TRANSACTIONAL_ID_NOT_FOUND: i16 = 105;
const DESCRIBE_TRANSACTIONS_VERSION: i16 = 0;

/// The coordinator's state of a transactional id (Kafka's `TransactionState`
/// names: `Empty`, `Ongoing`, `PrepareCommit`, `PrepareAbort`,
/// `CompleteCommit`, `CompleteAbort`, `Dead`, `PrepareEpochFence`), or
/// `None` when the coordinator has never seen the id (or expired it): the
/// Kafka protocol's `DescribeTransactions` v0 (KIP-664, brokers from 3.0)
/// sent to the id's coordinator. Unlike `InitProducerId` it changes nothing,
/// so it can tell which ids of a naming scheme were ever used.
///
/// Errors: [`TxnError`]: no broker or coordinator reachable within
/// `timeout`, a response that does not decode, any other error code.
pub fn transaction_state(
    bootstrap: &str,
    transactional_id: &str,
    timeout: Duration,
) -> Result<Option<String>, TxnError> {
    Ok(describe_transaction(bootstrap, transactional_id, timeout)?.map(|d| d.state))
}

/// What the coordinator knows of a transactional id (a part of Kafka's
/// `DescribeTransactionsResponse`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnDescription {
    /// Kafka's `TransactionState` name (see [`transaction_state`]).
    pub state: String,
    /// The producer id `InitProducerId` assigned.
    pub producer_id: i64,
    /// The producer epoch.
    pub epoch: i16,
}

/// The coordinator's description of `transactional_id` (`None`: never seen
/// or expired), as [`transaction_state`] asks for it.
///
/// Errors: as [`transaction_state`].
pub fn describe_transaction(
    bootstrap: &str,
    transactional_id: &str,
    timeout: Duration,
) -> Result<Option<TxnDescription>, TxnError> {
    let deadline = Instant::now() + timeout;
    let mut last = String::new();
    while Instant::now() < deadline {
        let Some(coordinator) = coordinator_or_pause(bootstrap, transactional_id, deadline, &mut last) else {
            continue;
        };
        let req = DescribeTransactionsRequest::default()
            .with_transactional_ids(vec![TransactionalId(StrBytes::from_string(transactional_id.to_string()))]);
        let r = match call::<DescribeTransactionsRequest, DescribeTransactionsResponse>(
            &coordinator,
            ApiKey::DescribeTransactions,
            DESCRIBE_TRANSACTIONS_VERSION,
            &req,
            deadline,
        ) {
            Ok(r) => r,
            Err(e) => {
                last = e.to_string();
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
        };
        let Some(t) = r.transaction_states.into_iter().next() else {
            return Err(TxnError::EmptyAnswer { transactional_id: transactional_id.to_string(), coordinator });
        };
        match t.error_code {
            NONE => {
                return Ok(Some(TxnDescription {
                    state: t.transaction_state.as_str().to_string(),
                    producer_id: t.producer_id.0,
                    epoch: t.producer_epoch,
                }))
            }
            TRANSACTIONAL_ID_NOT_FOUND => return Ok(None),
            COORDINATOR_LOAD_IN_PROGRESS | COORDINATOR_NOT_AVAILABLE | NOT_COORDINATOR => {
                last = format!("retriable error code {}", t.error_code);
                std::thread::sleep(Duration::from_millis(100));
            }
            code => {
                return Err(TxnError::Refused { transactional_id: transactional_id.to_string(), coordinator, code })
            }
        }
    }
    Err(TxnError::Timeout {
        transactional_id: transactional_id.to_string(),
        bootstrap: bootstrap.to_string(),
        timeout_ms: timeout.as_millis(),
        last,
    })
}

/// Commits `txn` by sending `EndTxn(committed = true)` to its coordinator,
/// found through `bootstrap` (comma-separated `host:port`). Retries
/// coordinator moves and `CONCURRENT_TRANSACTIONS` until `timeout`.
///
/// Errors: no broker or coordinator reachable within `timeout`, a response
/// that does not decode, any other error code (named with its number).
pub fn commit_prepared(bootstrap: &str, txn: &PreparedTxn, timeout: Duration) -> Result<CommitOutcome, CommitError> {
    let deadline = Instant::now() + timeout;
    let mut coordinator = bootstrap.to_string();
    let err = |coordinator: &str, detail: String| CommitError {
        transactional_id: txn.transactional_id.clone(),
        producer_id: txn.producer_id,
        epoch: txn.epoch,
        coordinator: coordinator.to_string(),
        detail,
    };
    let mut last = String::new();
    while Instant::now() < deadline {
        match coordinator_or_pause(bootstrap, &txn.transactional_id, deadline, &mut last) {
            Some(addr) => coordinator = addr,
            None => continue,
        }
        let code = match end_txn(&coordinator, txn, deadline) {
            Ok(code) => code,
            Err(e) => {
                last = e.to_string();
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
        };
        match code {
            NONE => return Ok(CommitOutcome::Committed),
            PRODUCER_FENCED | INVALID_PRODUCER_EPOCH => return Ok(CommitOutcome::Fenced(code)),
            INVALID_TXN_STATE => return Ok(CommitOutcome::InvalidState),
            CONCURRENT_TRANSACTIONS | COORDINATOR_LOAD_IN_PROGRESS | COORDINATOR_NOT_AVAILABLE | NOT_COORDINATOR => {
                last = format!("retriable error code {code}");
                std::thread::sleep(Duration::from_millis(100));
            }
            other => return Err(err(&coordinator, format!("EndTxn failed with Kafka error code {other}"))),
        }
    }
    Err(err(&coordinator, format!("no success within {} ms (last: {last})", timeout.as_millis())))
}

/// One step of a retry loop: the coordinator of `transactional_id`, or `None`
/// after recording why in `last` and pausing (100 ms while the coordinator is
/// not available yet, 200 ms after an error) so the caller retries.
fn coordinator_or_pause(
    bootstrap: &str,
    transactional_id: &str,
    deadline: Instant,
    last: &mut String,
) -> Option<String> {
    match find_coordinator(bootstrap, transactional_id, deadline) {
        Ok(Some(addr)) => Some(addr),
        Ok(None) => {
            *last = "coordinator not available yet".into();
            std::thread::sleep(Duration::from_millis(100));
            None
        }
        Err(e) => {
            *last = e;
            std::thread::sleep(Duration::from_millis(200));
            None
        }
    }
}

/// The coordinator of `transactional_id` as `host:port`, `None` while it is
/// not available. Tries each bootstrap server in turn.
fn find_coordinator(bootstrap: &str, transactional_id: &str, deadline: Instant) -> Result<Option<String>, String> {
    let req = FindCoordinatorRequest::default()
        .with_key(StrBytes::from_string(transactional_id.to_string()))
        .with_key_type(1);
    let mut errors = Vec::new();
    for server in bootstrap.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match call::<FindCoordinatorRequest, FindCoordinatorResponse>(
            server,
            ApiKey::FindCoordinator,
            FIND_COORDINATOR_VERSION,
            &req,
            deadline,
        ) {
            Ok(r) if r.error_code == NONE => return Ok(Some(format!("{}:{}", r.host.as_str(), r.port))),
            Ok(r) if matches!(r.error_code, COORDINATOR_NOT_AVAILABLE | COORDINATOR_LOAD_IN_PROGRESS) => {
                return Ok(None)
            }
            Ok(r) => errors.push(format!("{server}: FindCoordinator error code {}", r.error_code)),
            Err(e) => errors.push(format!("{server}: {e}")),
        }
    }
    Err(errors.join("; "))
}

/// Sends `EndTxn(committed = true)` to `coordinator`; returns the error code.
fn end_txn(coordinator: &str, txn: &PreparedTxn, deadline: Instant) -> Result<i16, WireError> {
    let req = EndTxnRequest::default()
        .with_transactional_id(TransactionalId(StrBytes::from_string(txn.transactional_id.clone())))
        .with_producer_id(ProducerId(txn.producer_id))
        .with_producer_epoch(txn.epoch)
        .with_committed(true);
    let r = call::<EndTxnRequest, EndTxnResponse>(coordinator, ApiKey::EndTxn, END_TXN_VERSION, &req, deadline)?;
    Ok(r.error_code)
}

/// One request/response exchange on a fresh connection to `addr`.
fn call<Req: Encodable + HeaderVersion, Resp: Decodable + HeaderVersion>(
    addr: &str,
    key: ApiKey,
    version: i16,
    req: &Req,
    deadline: Instant,
) -> Result<Resp, WireError> {
    let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(100));
    let io = |what: &'static str| move |source| WireError::Io { what, api: key, addr: addr.to_string(), source };
    let sock = addr.to_socket_addrs().map_err(|source| WireError::Resolve { addr: addr.to_string(), source })?.next();
    let sock = sock.ok_or_else(|| WireError::NoAddress { addr: addr.to_string() })?;
    let mut stream = TcpStream::connect_timeout(&sock, left).map_err(io("connect for"))?;
    stream
        .set_read_timeout(Some(left))
        .and_then(|_| stream.set_write_timeout(Some(left)))
        .map_err(io("connect for"))?;
    let frame = encode_request(key, version, req)?;
    stream.write_all(&frame).map_err(io("send"))?;
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).map_err(io("read the response to"))?;
    let len = u32::from_be_bytes(len) as usize;
    if len > 1 << 20 {
        return Err(WireError::TooLarge { api: key, addr: addr.to_string(), len });
    }
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).map_err(io("read the response to"))?;
    decode_response(version, Bytes::from(body)).map_err(|source| WireError::Decode {
        api: key,
        addr: addr.to_string(),
        source,
    })
}

const CORRELATION_ID: i32 = 1;

/// A length-prefixed request frame.
fn encode_request<Req: Encodable + HeaderVersion>(key: ApiKey, version: i16, req: &Req) -> Result<Vec<u8>, WireError> {
    let encode = |e| WireError::Encode { api: key, source: Box::<dyn std::error::Error + Send + Sync>::from(e) };
    let header = RequestHeader::default()
        .with_request_api_key(key as i16)
        .with_request_api_version(version)
        .with_correlation_id(CORRELATION_ID)
        .with_client_id(Some(StrBytes::from_static_str(CLIENT_ID)));
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&[0; 4]);
    header.encode(&mut buf, Req::header_version(version)).map_err(encode)?;
    req.encode(&mut buf, version).map_err(encode)?;
    let n = (buf.len() - 4) as u32;
    buf[..4].copy_from_slice(&n.to_be_bytes());
    Ok(buf.to_vec())
}

/// Decodes a response body (after the length) for `version`.
///
/// Errors: the protocol crate's decoding error (it uses `anyhow`), or a
/// correlation id that is not ours ([`CorrelationMismatch`]).
fn decode_response<Resp: Decodable + HeaderVersion>(
    version: i16,
    mut body: Bytes,
) -> Result<Resp, Box<dyn std::error::Error + Send + Sync>> {
    let header = ResponseHeader::decode(&mut body, Resp::header_version(version))?;
    if header.correlation_id != CORRELATION_ID {
        return Err(Box::new(CorrelationMismatch(header.correlation_id)));
    }
    Ok(Resp::decode(&mut body, version)?)
}

/// A response that answers another request than ours.
#[derive(Debug, thiserror::Error)]
#[error("correlation id {0} instead of {CORRELATION_ID}")]
struct CorrelationMismatch(i32);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_txn_frame_has_length_header_and_fields() {
        let req = EndTxnRequest::default()
            .with_transactional_id(TransactionalId(StrBytes::from_static_str("p-0-1")))
            .with_producer_id(ProducerId(7))
            .with_producer_epoch(3)
            .with_committed(true);
        let f = encode_request(ApiKey::EndTxn, END_TXN_VERSION, &req).unwrap();
        assert_eq!(u32::from_be_bytes(f[..4].try_into().unwrap()) as usize, f.len() - 4);
        assert_eq!(i16::from_be_bytes([f[4], f[5]]), ApiKey::EndTxn as i16);
        assert_eq!(i16::from_be_bytes([f[6], f[7]]), END_TXN_VERSION);
        assert_eq!(i32::from_be_bytes(f[8..12].try_into().unwrap()), CORRELATION_ID);
        // Body ends: producer id (8 bytes), epoch (2), committed (1), no tagged fields (1).
        let tail = &f[f.len() - 12..];
        assert_eq!(i64::from_be_bytes(tail[..8].try_into().unwrap()), 7);
        assert_eq!(i16::from_be_bytes([tail[8], tail[9]]), 3);
        assert_eq!(&tail[10..], &[1, 0]);
    }

    #[test]
    fn unreachable_bootstrap_is_named_within_the_timeout() {
        let t = Instant::now();
        let txn = PreparedTxn { transactional_id: "x-0-0".into(), producer_id: 1, epoch: 0 };
        let e = commit_prepared("127.0.0.1:1", &txn, Duration::from_millis(600)).unwrap_err().to_string();
        assert!(e.contains("127.0.0.1:1") && e.contains("x-0-0") && e.contains("producer id 1"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(3));
    }
}
