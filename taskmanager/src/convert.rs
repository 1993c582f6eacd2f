//! Conversions between the runtime's channel messages and the wire's buffers.

use rfy_rpc::NetworkBuffer;
use rfy_runtime::event::Event;
use rfy_runtime::exchange::NetMessage;

/// A channel message as a wire buffer; a local failure marker becomes an
/// error status of the stream.
pub(crate) fn to_wire(msg: NetMessage) -> Result<NetworkBuffer, tonic::Status> {
    Ok(match msg {
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
/// Errors: a message naming what is wrong with the buffer.
pub(crate) fn from_wire(buf: NetworkBuffer) -> Result<NetMessage, String> {
    if buf.event.is_empty() {
        return Ok(NetMessage::Data { bytes: buf.data, records: buf.record_count });
    }
    if !buf.data.is_empty() {
        return Err("buffer holds both records and an event".into());
    }
    let event: Event = postcard::from_bytes(&buf.event).map_err(|e| format!("undecodable event: {e}"))?;
    if event == Event::Flush {
        return Err("a flush event must not cross the network".into());
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
        assert!(from_wire(NetworkBuffer { data: vec![1], record_count: 1, event: vec![2] }).is_err());
        assert!(from_wire(NetworkBuffer { data: vec![], record_count: 0, event: vec![0xff, 0xff] }).is_err());
    }
}
