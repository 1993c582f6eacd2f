//! Record exchange between TaskManagers: the `DataExchange` service serving
//! this TaskManager's result partitions, and the bridge that pulls a remote
//! subpartition into a local bounded channel for a consumer task.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{Stream, StreamExt};
use rfy_rpc::auth::{AuthChannel, ClusterSecret};
use rfy_rpc::data_exchange_client::DataExchangeClient;
use rfy_rpc::data_exchange_server::DataExchange;
use rfy_rpc::{NetworkBuffer, SubpartitionRequest};
use rfy_runtime::event::Event;
use rfy_runtime::exchange::{ChannelSender, NetMessage, PartitionRegistry};
use tonic::transport::Endpoint;
use tonic::{Request, Response, Status};

use crate::convert::{from_wire, to_wire};

/// HTTP/2 window per stream, bytes: how much a producer may have in flight
/// to one remote consumer beyond the channel queues on both ends.
pub(crate) const STREAM_WINDOW: u32 = 1 << 20;
/// HTTP/2 window per connection, bytes.
pub(crate) const CONNECTION_WINDOW: u32 = 16 << 20;

/// Serves this TaskManager's result partitions.
pub(crate) struct DataService {
    pub(crate) registry: Arc<PartitionRegistry>,
    pub(crate) capacity: usize,
}

type BufferStream = Pin<Box<dyn Stream<Item = Result<NetworkBuffer, Status>> + Send>>;

#[tonic::async_trait]
impl DataExchange for DataService {
    type RequestSubpartitionStream = BufferStream;

    async fn request_subpartition(
        &self,
        request: Request<SubpartitionRequest>,
    ) -> Result<Response<BufferStream>, Status> {
        let r = request.into_inner();
        let rx = self.registry.take_receiver(&r.partition_id, r.subpartition, self.capacity).ok_or_else(|| {
            Status::failed_precondition(format!(
                "subpartition {} of {} is already being consumed (asked by {})",
                r.subpartition, r.partition_id, r.consumer
            ))
        })?;
        tracing::debug!(partition = %r.partition_id, sub = r.subpartition, consumer = %r.consumer, "serving subpartition");
        Ok(Response::new(Box::pin(rx.into_stream().map(to_wire))))
    }
}

/// Connections to other TaskManagers' data services, one HTTP/2 connection
/// per address shared by all channels.
pub(crate) struct DataClients {
    channels: Mutex<HashMap<String, AuthChannel>>,
    secret: ClusterSecret,
}

impl DataClients {
    /// No connections yet; each will carry `secret`.
    pub(crate) fn new(secret: ClusterSecret) -> Self {
        DataClients { channels: Mutex::default(), secret }
    }

    fn channel(&self, address: &str) -> Result<AuthChannel, String> {
        let mut map = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = map.get(address) {
            return Ok(c.clone());
        }
        let endpoint = Endpoint::from_shared(format!("http://{address}"))
            .map_err(|e| format!("bad data address '{address}': {e}"))?
            .connect_timeout(Duration::from_secs(10))
            .initial_stream_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .tcp_nodelay(true);
        let channel = self.secret.channel(endpoint.connect_lazy());
        map.insert(address.to_string(), channel.clone());
        Ok(channel)
    }

    /// Pulls subpartition `subpartition` of `partition_id` from the
    /// TaskManager at `address` into `tx`, until the producer ends or the
    /// consumer goes away. If the stream breaks or ends before the producer's
    /// end-of-input, the consumer gets a [`NetMessage::Failed`] naming the
    /// producer's TaskManager and the cause.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn spawn_pull(
        self: &Arc<Self>,
        rt: &tokio::runtime::Handle,
        producer: String,
        address: String,
        partition_id: String,
        subpartition: u32,
        consumer: String,
        tx: ChannelSender,
    ) {
        let clients = self.clone();
        rt.spawn(async move {
            let result: Result<(), String> = async {
                let mut client = DataExchangeClient::new(clients.channel(&address)?)
                    .max_decoding_message_size(64 << 20);
                let req = SubpartitionRequest { partition_id: partition_id.clone(), subpartition, consumer: consumer.clone() };
                let mut stream = client
                    .request_subpartition(req)
                    .await
                    .map_err(|s| format!("TaskManager {address}: {}", s.message()))?
                    .into_inner();
                while let Some(buf) = stream.message().await.map_err(|s| format!("TaskManager {address}: {}", s.message()))? {
                    let msg = from_wire(buf).map_err(|e| format!("from TaskManager {address}: {e}"))?;
                    let last = matches!(msg, NetMessage::Event(Event::EndOfInput));
                    if tx.send_async(msg).await.is_err() || last {
                        return Ok(()); // consumer task ended, or producer done
                    }
                }
                Err(format!("TaskManager {address} ended the subpartition before its end"))
            }
            .await;
            if let Err(e) = result {
                let cause = format!("from TaskManager {producer} ({address}): {e}");
                tracing::warn!(%consumer, partition = %partition_id, subpartition, "remote input channel failed: {cause}");
                let _ = tx.send_async(NetMessage::Failed(cause)).await;
            }
        });
    }
}
