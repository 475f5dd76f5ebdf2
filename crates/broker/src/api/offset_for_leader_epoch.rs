//! OffsetForLeaderEpoch: for each partition, the largest leader epoch this leader knows that is
//! at most the one asked for, and where it ends (where the next epoch starts, or the log end).
//! Followers truncate to it when they start following a new leader; consumers use it to
//! detect a truncated log after a leader change.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};

use crate::session::Session;

/// Answers each partition from its leader-epoch cache; refused where this broker does not lead.
pub(super) async fn handle(
    session: &Session,
    _version: i16,
    request: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    let broker = &session.broker;
    let mut response = OffsetForLeaderEpochResponse::default();
    for t in request.topics {
        let topic = broker.topics.get(t.topic.as_str());
        let mut out = OffsetForLeaderTopicResult::default();
        for p in t.partitions {
            let mut e = EpochEndOffset::default();
            e.partition = p.partition;
            e.leader_epoch = -1;
            e.end_offset = -1;
            let found = topic.as_ref().and_then(|t| t.partition(p.partition));
            let checked = match found {
                None => Err(ResponseError::UnknownTopicOrPartition.code()),
                Some(part) => crate::cluster::requests::check_leader(broker, &t.topic, p.partition)
                    .map(|()| part),
            };
            match checked {
                Err(code) => e.error_code = code,
                Ok(part) => {
                    let state = part.lock();
                    if p.current_leader_epoch >= 0 && p.current_leader_epoch < state.leader_epoch {
                        e.error_code = ResponseError::FencedLeaderEpoch.code();
                    } else if p.current_leader_epoch > state.leader_epoch {
                        e.error_code = ResponseError::UnknownLeaderEpoch.code();
                    } else if let Some((epoch, end)) =
                        state.log.leader_epoch_end_offset(p.leader_epoch)
                    {
                        e.leader_epoch = epoch;
                        e.end_offset = end;
                    }
                }
            }
            out.partitions.push(e);
        }
        out.topic = t.topic;
        response.topics.push(out);
    }
    response
}
