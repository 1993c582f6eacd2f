//! Conversions between the runtime's channel messages and the wire's buffers.

use rfy_rpc::NetworkBuffer;
use rfy_runtime::event::Event;
use rfy_runtime::exchange::NetMessage;

use crate::error::WireBufferError;

/// A channel message as a wire buffer (a typed batch is encoded); a local
/// failure marker, or a record that cannot be serialized, becomes an error
/// status of the stream.
pub(crate) fn to_wire(msg: NetMessage) -> Result<NetworkBuffer, tonic::Status> {
    Ok(match msg {
        NetMessage::Records(batch) => {
            // Encoded here, once, on the way out of the process: local
            // channels never encode.
            let (data, record_count) = batch.encode().map_err(|e| tonic::Status::internal(e.to_string()))?;
            NetworkBuffer { data, record_count, event: Vec::new() }
        }
        NetMessage::Data { bytes, records } => NetworkBuffer { data: bytes, record_count: records, event: Vec::new() },
        NetMessage::Event(e) => NetworkBuffer {
            data: Vec::new(),
            record_count: 0,
            // Encoding a plain enum into a Vec cannot fail.
            event: postcard::to_allocvec(&e).unwrap_or_default(),
        },
        NetMessage::Failed(cause) => return Err(tonic::Status::aborted(cause)),
    })
}

/// A wire buffer as a channel message.
///
/// Errors: [`WireBufferError`]: what is wrong with the buffer.
pub(crate) fn from_wire(buf: NetworkBuffer) -> Result<NetMessage, WireBufferError> {
    if buf.event.is_empty() {
        return Ok(NetMessage::Data { bytes: buf.data, records: buf.record_count });
    }
    if !buf.data.is_empty() {
        return Err(WireBufferError::RecordsAndEvent);
    }
    let event: Event = postcard::from_bytes(&buf.event).map_err(WireBufferError::UndecodableEvent)?;
    if event == Event::Flush {
        return Err(WireBufferError::Flush);
    }
    Ok(NetMessage::Event(event))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rfy_runtime::event::CheckpointBarrier;

    #[test]
    fn round_trip_and_bad_buffers() {
        let b = Event::Barrier(CheckpointBarrier { id: 7, timestamp_ms: 9, savepoint: false });
        match from_wire(to_wire(NetMessage::Event(b)).unwrap()).unwrap() {
            NetMessage::Event(e) => assert_eq!(e, b),
            other => panic!("{other:?}"),
        }
        match from_wire(to_wire(NetMessage::Data { bytes: vec![1, 2, 3], records: 2 }).unwrap()).unwrap() {
            NetMessage::Data { bytes, records } => assert_eq!((bytes, records), (vec![1, 2, 3], 2)),
            other => panic!("{other:?}"),
        }
        // A typed batch from a local producer is encoded on its way out and
        // decodes on the other side to the same records and timestamps.
        let recs: Vec<(rfy_runtime::Word, i64)> = vec![("the".into(), 1), ("lord".into(), 2)];
        let batch = rfy_runtime::exchange::record_batch(recs.clone(), Some(vec![10, -20])).unwrap();
        match from_wire(to_wire(NetMessage::Records(batch)).unwrap()).unwrap() {
            NetMessage::Data { bytes, records } => {
                assert_eq!(records, 2 | rfy_runtime::record::TIMESTAMPED);
                let (mut got, mut ts) = (Vec::new(), Vec::new());
                rfy_runtime::record::decode_all_timestamped(&bytes, 2, &mut got, &mut ts).unwrap();
                assert_eq!((got, ts), (recs, vec![10, -20]));
            }
            other => panic!("{other:?}"),
        }
        assert!(rfy_runtime::exchange::record_batch(vec![1u8], Some(vec![])).is_err());
        assert!(from_wire(NetworkBuffer { data: vec![1], record_count: 1, event: vec![2] }).is_err());
        assert!(from_wire(NetworkBuffer { data: vec![], record_count: 0, event: vec![0xff, 0xff] }).is_err());
    }

    /// Messages from a TaskManager or JobManager of another version (issue
    /// 11): random bytes and mutated valid `NetworkBuffer`s decode with prost
    /// or fail, and every decoded buffer converts with [`from_wire`] or fails
    /// naming why; the other gRPC messages a TaskManager receives decode or
    /// fail. Never a panic. Seeded, 10 000 cases.
    mod another_version {
        use super::*;
        use proptest::prelude::*;
        use proptest::test_runner::{Config, RngSeed};
        use prost::Message;
        use rfy_rpc::{
            CancelTaskRequest, HeartbeatResponse, NotifyCheckpointCompleteRequest, RegisterTaskManagerResponse,
            SubpartitionRequest, TaskDeploymentDescriptor, TriggerCheckpointRequest,
        };

        fn valid_buffers() -> Vec<Vec<u8>> {
            let barrier = Event::Barrier(CheckpointBarrier { id: 7, timestamp_ms: 9, savepoint: true });
            [NetMessage::Event(barrier), NetMessage::Event(Event::Watermark(-5)), NetMessage::Event(Event::EndOfData)]
                .into_iter()
                .chain([NetMessage::Data { bytes: vec![3, b'a', b'b', b'c', 1], records: 1 }])
                .map(|m| to_wire(m).unwrap().encode_to_vec())
                .collect()
        }

        fn wire_bytes() -> impl Strategy<Value = Vec<u8>> {
            let random = proptest::collection::vec(any::<u8>(), 0..128);
            let mutated = (
                0..4usize,
                proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
                any::<usize>(),
                any::<bool>(),
            )
                .prop_map(|(which, edits, cut, truncate)| {
                    let mut b = valid_buffers().swap_remove(which);
                    for (i, v) in edits {
                        let n = b.len();
                        b[i % n] = v;
                    }
                    if truncate {
                        b.truncate(cut % (b.len() + 1));
                    }
                    b
                });
            prop_oneof![random, mutated]
        }

        proptest! {
            #![proptest_config(Config {
                cases: 10_000,
                rng_seed: RngSeed::Fixed(0x5eed_0201),
                failure_persistence: None,
                ..Config::default()
            })]
            #[test]
            fn any_wire_bytes_decode_or_error(bytes in wire_bytes()) {
                if let Ok(buf) = NetworkBuffer::decode(&bytes[..]) {
                    match from_wire(buf) {
                        Ok(NetMessage::Event(e)) => prop_assert!(e != Event::Flush),
                        Ok(_) => {}
                        Err(why) => prop_assert!(!why.to_string().is_empty()),
                    }
                }
                let _ = TaskDeploymentDescriptor::decode(&bytes[..]);
                let _ = SubpartitionRequest::decode(&bytes[..]);
                let _ = TriggerCheckpointRequest::decode(&bytes[..]);
                let _ = NotifyCheckpointCompleteRequest::decode(&bytes[..]);
                let _ = CancelTaskRequest::decode(&bytes[..]);
                let _ = HeartbeatResponse::decode(&bytes[..]);
                let _ = RegisterTaskManagerResponse::decode(&bytes[..]);
            }
        }
    }
}
