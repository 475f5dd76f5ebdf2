//! A follower's replica fetcher for one partition: connect to the leader (its inter-broker
//! listener) with our `kafka-client`, truncate to where the leader's history and ours agree
//! (OffsetForLeaderEpoch), then fetch from our log end with our broker id as `replica_id`,
//! appending the leader's batches as they are (offsets and epochs kept) and taking the leader's
//! high watermark. The producers' sequences are recorded as batches arrive, so this broker can
//! take over idempotent producers if it becomes leader.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_client::{Connection, ConnectionConfig};
use kafka_protocol::ResponseError;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::offset_for_leader_epoch_request::{
    OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use kafka_protocol::messages::{BrokerId, FetchRequest, OffsetForLeaderEpochRequest, TopicName};
use tokio_util::sync::CancellationToken;

use super::{Cluster, PartitionKey};
use crate::broker::Broker;
use crate::log::Batches;
use crate::producers::ProducerBatch;
use crate::topics::{Partition, rebuild_producers};

/// How long a follower's fetch waits at the leader for new data.
const FETCH_WAIT: Duration = Duration::from_millis(500);
/// Pause after an error before trying again.
const BACKOFF: Duration = Duration::from_millis(300);
/// Pause when the leader has not taken its new role yet (every broker learns of a leader
/// change from the same ZooKeeper event, a follower sometimes first): the acks=all produces
/// at the new leader wait for this follower's fetch, so it asks again soon.
const LEADER_PENDING_BACKOFF: Duration = Duration::from_millis(50);

/// Why a round of fetching stopped.
#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("{0}")]
    Client(#[from] kafka_client::Error),
    #[error("leader answered {0:?}")]
    Leader(ResponseError),
    #[error("leader answered error code {0}")]
    Code(i16),
    #[error("broker {0} has no {1} endpoint registered")]
    NoEndpoint(i32, String),
    #[error("local log: {0}")]
    Log(#[from] crate::log::LogError),
    #[error("malformed answer: {0}")]
    Malformed(&'static str),
}

/// Follows `leader` at `epoch` until `stop` fires.
pub(crate) async fn follow(
    cluster: Arc<Cluster>,
    broker: Arc<Broker>,
    partition: Arc<Partition>,
    key: PartitionKey,
    leader: i32,
    epoch: i32,
    stop: CancellationToken,
) {
    while !stop.is_cancelled() {
        let round = fetch_round(&cluster, &broker, &partition, &key, leader, epoch);
        let outcome = tokio::select! {
            r = round => r,
            () = stop.cancelled() => return,
        };
        let pause = match outcome {
            Err(FetchError::Leader(
                ResponseError::NotLeaderOrFollower | ResponseError::UnknownLeaderEpoch,
            )) => LEADER_PENDING_BACKOFF,
            Err(e) => {
                tracing::debug!("{}-{}: fetching from broker {leader}: {e}", key.0, key.1);
                BACKOFF
            }
            Ok(()) => BACKOFF,
        };
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = stop.cancelled() => return,
        }
    }
}

/// Connects, truncates, then fetches until an error.
async fn fetch_round(
    cluster: &Cluster,
    broker: &Broker,
    partition: &Partition,
    key: &PartitionKey,
    leader: i32,
    epoch: i32,
) -> Result<(), FetchError> {
    let endpoint = cluster
        .with_view(|v| v.endpoint(leader, &cluster.inter_broker_listener).cloned())
        .ok_or_else(|| FetchError::NoEndpoint(leader, cluster.inter_broker_listener.clone()))?;
    let config = ConnectionConfig {
        client_id: format!("broker-{}-fetcher", cluster.me),
        connect_timeout: Duration::from_secs(3),
        request_timeout: Duration::from_secs(5),
        ..ConnectionConfig::default()
    };
    let conn = Connection::open(&format!("{}:{}", endpoint.host, endpoint.port), &config).await?;
    truncate(cluster, &conn, partition, key, epoch).await?;
    loop {
        let (offset, max) = {
            let p = partition.lock();
            (p.log.log_end_offset(), p.log.config().max_message_bytes)
        };
        let request = FetchRequest::default()
            .with_replica_id(BrokerId(cluster.me))
            .with_max_wait_ms(i32::try_from(FETCH_WAIT.as_millis()).unwrap_or(500))
            .with_min_bytes(1)
            .with_max_bytes(16 << 20)
            .with_session_epoch(-1)
            .with_topics(vec![
                FetchTopic::default()
                    .with_topic(TopicName(super::requests::text(&key.0)))
                    .with_partitions(vec![
                        FetchPartition::default()
                            .with_partition(key.1)
                            .with_current_leader_epoch(epoch)
                            .with_fetch_offset(offset)
                            .with_log_start_offset(-1)
                            .with_partition_max_bytes(
                                i32::try_from(max.max(1 << 20)).unwrap_or(i32::MAX),
                            ),
                    ]),
            ]);
        let response = conn.call_waiting(&request, 12, FETCH_WAIT).await?;
        let data = response
            .responses
            .into_iter()
            .flat_map(|t| t.partitions)
            .find(|p| p.partition_index == key.1)
            .ok_or(FetchError::Malformed("the partition is missing"))?;
        if data.error_code == ResponseError::OffsetOutOfRange.code() {
            let mut p = partition.lock();
            if offset < data.log_start_offset {
                p.log.truncate_fully_and_start_at(data.log_start_offset)?;
                p.producers = rebuild_producers(&p.log);
                continue;
            }
            return Err(FetchError::Code(data.error_code)); // truncate again next round
        }
        if data.error_code != 0 {
            return Err(ResponseError::try_from_code(data.error_code)
                .map_or(FetchError::Code(data.error_code), FetchError::Leader));
        }
        let records = data.records.unwrap_or_default();
        let appended = !records.is_empty();
        {
            let mut p = partition.lock();
            if appended {
                append(&mut p, &records)?;
            }
            let hw = data.high_watermark.min(p.log.log_end_offset());
            if hw > p.log.high_watermark() {
                p.log.set_high_watermark(hw);
            }
        }
        if appended {
            broker.notify_appended();
        }
    }
}

/// Appends the leader's batches and records their producers' sequences.
fn append(
    state: &mut crate::topics::PartitionState,
    records: &Bytes,
) -> Result<(), crate::log::LogError> {
    state.log.append_as_follower(records)?;
    for (_, h, _) in Batches::new(records, u64::MAX, true).flatten() {
        if h.has_producer_id() {
            state.producers.record(
                h.producer_id,
                h.producer_epoch,
                ProducerBatch {
                    first_sequence: h.base_sequence,
                    last_sequence: h.last_sequence(),
                    base_offset: h.base_offset,
                },
            );
        }
    }
    Ok(())
}

/// Truncates the local log to where it agrees with the leader's: the end offset the leader
/// gives for our latest epoch (or, when it knows only an older epoch, the smaller of its and
/// our end for that epoch). Without any epoch locally there is nothing to compare.
async fn truncate(
    cluster: &Cluster,
    conn: &Connection,
    partition: &Partition,
    key: &PartitionKey,
    epoch: i32,
) -> Result<(), FetchError> {
    let Some(latest) = partition.lock().log.latest_epoch() else {
        return Ok(());
    };
    let request = OffsetForLeaderEpochRequest::default()
        .with_replica_id(BrokerId(cluster.me))
        .with_topics(vec![
            OffsetForLeaderTopic::default()
                .with_topic(TopicName(super::requests::text(&key.0)))
                .with_partitions(vec![
                    OffsetForLeaderPartition::default()
                        .with_partition(key.1)
                        .with_current_leader_epoch(epoch)
                        .with_leader_epoch(latest),
                ]),
        ]);
    let response = conn.call(&request, 3).await?;
    let answer = response
        .topics
        .into_iter()
        .flat_map(|t| t.partitions)
        .find(|p| p.partition == key.1)
        .ok_or(FetchError::Malformed("the partition is missing"))?;
    if answer.error_code != 0 {
        return Err(ResponseError::try_from_code(answer.error_code)
            .map_or(FetchError::Code(answer.error_code), FetchError::Leader));
    }
    let mut p = partition.lock();
    let end = p.log.log_end_offset();
    let target = if answer.leader_epoch < 0 || answer.end_offset < 0 {
        p.log.high_watermark()
    } else if answer.leader_epoch == latest {
        answer.end_offset.min(end)
    } else {
        let ours = p
            .log
            .leader_epoch_end_offset(answer.leader_epoch)
            .map_or(answer.end_offset, |(_, o)| o);
        answer.end_offset.min(ours).min(end)
    };
    if target < end {
        tracing::info!(
            "{}-{}: truncating from {end} to {target} (leader's end of epoch {})",
            key.0,
            key.1,
            answer.leader_epoch
        );
        p.log.truncate_to(target)?;
        p.producers = rebuild_producers(&p.log);
        let hw = p.log.high_watermark();
        p.log.set_high_watermark(hw);
    }
    Ok(())
}
