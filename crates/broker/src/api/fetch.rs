//! Fetch: whole stored batches from each partition's fetch offset, up to the high watermark.
//!
//! Long poll: the answer goes out as soon as `min_bytes` are available or `max_wait_ms` has
//! passed, whichever comes first; every append wakes waiting fetches to look again. The first
//! batch is always returned whole even if larger than the limits (so a consumer can always
//! progress), and a fetch offset inside a batch returns that whole batch (clients skip the
//! records before their offset). Fetch sessions are not kept: session id 0 asks clients for
//! full requests each time.

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::fetch_request::FetchTopic;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse, TopicName};
use tokio::time::Instant;

use super::text;
use crate::broker::Broker;
use crate::session::Session;

/// Reads, and waits for more data while less than `min_bytes` is available.
pub(super) async fn handle(
    session: &Session,
    version: i16,
    request: FetchRequest,
) -> FetchResponse {
    let broker = &session.broker;
    let deadline =
        Instant::now() + Duration::from_millis(request.max_wait_ms.max(0).unsigned_abs().into());
    let min_bytes = usize::try_from(request.min_bytes).unwrap_or(0);
    let max_bytes = if version >= 3 {
        usize::try_from(request.max_bytes).unwrap_or(0)
    } else {
        usize::MAX
    };
    let mut appended = broker.appended.subscribe();
    loop {
        // Marks the current append count as seen before reading, so no append is missed.
        appended.borrow_and_update();
        let (responses, bytes, failed) = read_all(
            broker,
            version,
            &request.topics,
            max_bytes,
            request.replica_id.0,
        );
        let now = Instant::now();
        if bytes >= min_bytes.max(1) || failed || now >= deadline {
            let mut response = FetchResponse::default();
            response.responses = responses;
            return response;
        }
        if tokio::time::timeout_at(deadline, appended.changed())
            .await
            .is_err()
        {
            let (responses, _, _) = read_all(
                broker,
                version,
                &request.topics,
                max_bytes,
                request.replica_id.0,
            );
            let mut response = FetchResponse::default();
            response.responses = responses;
            return response;
        }
    }
}

/// One pass over every asked partition: (responses, record bytes, whether any partition erred).
/// A follower (`replica` ≥ 0) reads up to the log end, a consumer up to the high watermark.
fn read_all(
    broker: &Broker,
    version: i16,
    topics: &[FetchTopic],
    max_bytes: usize,
    replica: i32,
) -> (Vec<FetchableTopicResponse>, usize, bool) {
    let mut total = 0usize;
    let mut failed = false;
    let mut out = Vec::with_capacity(topics.len());
    for t in topics {
        let topic = if version >= 13 {
            broker.topics.get_by_id(t.topic_id)
        } else {
            broker.topics.get(t.topic.as_str())
        };
        let mut resp = FetchableTopicResponse::default();
        resp.topic = match &topic {
            Some(found) if version >= 13 => TopicName(text(&found.name)),
            _ => t.topic.clone(),
        };
        resp.topic_id = t.topic_id;
        for p in &t.partitions {
            let mut data = PartitionData::default();
            data.partition_index = p.partition;
            data.high_watermark = -1;
            data.last_stable_offset = -1;
            data.log_start_offset = -1;
            data.preferred_read_replica = BrokerId(-1);
            data.aborted_transactions = None;
            let refused = topic.as_ref().map_or(Ok(()), |t| {
                crate::cluster::requests::check_fetch(
                    broker,
                    &t.name,
                    p.partition,
                    replica,
                    p.fetch_offset,
                    p.current_leader_epoch,
                )
            });
            match (
                topic.as_ref().and_then(|t| t.partition(p.partition)),
                refused,
            ) {
                (None, _) => {
                    data.error_code = ResponseError::UnknownTopicOrPartition.code();
                    failed = true;
                }
                (Some(_), Err(code)) => {
                    data.error_code = code;
                    failed = true;
                }
                (Some(part), Ok(())) => {
                    let room = max_bytes.saturating_sub(total);
                    let limit = usize::try_from(p.partition_max_bytes)
                        .unwrap_or(0)
                        .min(room);
                    let state = part.lock();
                    let hw = state.log.high_watermark();
                    let upto = if replica >= 0 {
                        state.log.log_end_offset()
                    } else {
                        hw
                    };
                    match state.log.read(p.fetch_offset, limit, upto) {
                        Ok(read) => {
                            // Past the first batch of the response, never exceed max_bytes.
                            let records = if total > 0 && read.records.len() > room {
                                Bytes::new()
                            } else {
                                read.records
                            };
                            total += records.len();
                            data.high_watermark = read.high_watermark;
                            data.last_stable_offset = read.high_watermark;
                            data.log_start_offset = read.log_start_offset;
                            data.records = Some(records);
                        }
                        Err(e) => {
                            data.error_code = e.kafka_error_code();
                            data.high_watermark = hw;
                            data.last_stable_offset = hw;
                            data.log_start_offset = state.log.log_start_offset();
                            failed = true;
                        }
                    }
                    if version >= 4 {
                        data.aborted_transactions = Some(Vec::new());
                    }
                }
            }
            if data.records.is_none() {
                data.records = Some(Bytes::new());
            }
            resp.partitions.push(data);
        }
        out.push(resp);
    }
    (out, total, failed)
}
