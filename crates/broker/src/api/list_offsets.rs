//! ListOffsets: the earliest (-2) or latest (-1, the high watermark) offset of a partition,
//! or the first offset whose timestamp is at least a given one.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};

use crate::session::Session;

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;

/// Looks up each partition's offset.
pub(super) async fn handle(
    session: &Session,
    version: i16,
    request: ListOffsetsRequest,
) -> ListOffsetsResponse {
    let broker = &session.broker;
    let mut response = ListOffsetsResponse::default();
    for t in request.topics {
        let topic = broker.topics.get(t.name.as_str());
        let mut out = ListOffsetsTopicResponse::default();
        for p in t.partitions {
            let mut r = ListOffsetsPartitionResponse::default();
            r.partition_index = p.partition_index;
            r.timestamp = -1;
            r.offset = -1;
            r.leader_epoch = -1;
            // In a cluster only the partition's leader answers (NOT_LEADER_OR_FOLLOWER).
            let refused = topic.as_ref().map_or(Ok(()), |t| {
                crate::cluster::requests::check_leader(broker, &t.name, p.partition_index)
            });
            match (
                topic.as_ref().and_then(|t| t.partition(p.partition_index)),
                refused,
            ) {
                (None, _) => r.error_code = ResponseError::UnknownTopicOrPartition.code(),
                (Some(_), Err(code)) => r.error_code = code,
                (Some(part), Ok(())) => {
                    let state = part.lock();
                    if version >= 4 {
                        r.leader_epoch = state.leader_epoch;
                    }
                    match p.timestamp {
                        LATEST => r.offset = state.log.high_watermark(),
                        EARLIEST => r.offset = state.log.log_start_offset(),
                        ts if ts >= 0 => match state.log.offset_for_timestamp(ts) {
                            Ok(Some((offset, found_ts))) => {
                                r.offset = offset;
                                r.timestamp = found_ts;
                            }
                            Ok(None) => {}
                            Err(e) => r.error_code = e.kafka_error_code(),
                        },
                        _ => r.error_code = ResponseError::InvalidRequest.code(),
                    }
                }
            }
            out.partitions.push(r);
        }
        out.name = t.name;
        response.topics.push(out);
    }
    response
}
