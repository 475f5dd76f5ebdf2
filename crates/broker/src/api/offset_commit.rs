//! OffsetCommit: stores a group's positions (journaled before the answer).

use std::time::Instant;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};

use crate::groups::offsets::Committed;
use crate::session::Session;

/// Checks the member's generation, then commits every partition of a known topic.
pub(super) async fn handle(
    session: &Session,
    _version: i16,
    request: OffsetCommitRequest,
) -> OffsetCommitResponse {
    let broker = &session.broker;
    let group = request.group_id.as_str();
    let member_error = match crate::cluster::groups::check_coordinator(broker, group) {
        Err(code) => code,
        Ok(()) => broker.groups.with_group(group, |g| {
            g.check_commit(
                request.member_id.as_str(),
                request.generation_id_or_member_epoch,
                Instant::now(),
            )
        }),
    };
    let mut commits = Vec::new();
    let mut response = OffsetCommitResponse::default();
    for topic in request.topics {
        let known = broker.topics.get(topic.name.as_str());
        let mut out = OffsetCommitResponseTopic::default();
        for p in topic.partitions {
            let exists = known
                .as_ref()
                .is_some_and(|t| t.partition(p.partition_index).is_some());
            let error = if member_error != 0 {
                member_error
            } else if !exists {
                ResponseError::UnknownTopicOrPartition.code()
            } else {
                commits.push((
                    topic.name.to_string(),
                    p.partition_index,
                    Committed {
                        offset: p.committed_offset,
                        leader_epoch: p.committed_leader_epoch,
                        metadata: p.committed_metadata.as_ref().map(|m| m.to_string()),
                    },
                ));
                0
            };
            let mut r = OffsetCommitResponsePartition::default();
            r.partition_index = p.partition_index;
            r.error_code = error;
            out.partitions.push(r);
        }
        out.name = topic.name;
        out.topic_id = topic.topic_id;
        response.topics.push(out);
    }
    let in_cluster = match crate::cluster::groups::commit(broker, group, &commits).await {
        Ok(()) => Ok(()),
        Err(e) => Err(format!("ZooKeeper: {e}")),
    };
    if !commits.is_empty()
        && let Err(e) = in_cluster.and_then(|()| {
            broker
                .groups
                .offsets
                .commit(group, commits)
                .map_err(|e| e.to_string())
        })
    {
        tracing::error!("group {group}: offsets not stored: {e}");
        for t in &mut response.topics {
            for p in &mut t.partitions {
                if p.error_code == 0 {
                    p.error_code = ResponseError::CoordinatorNotAvailable.code();
                }
            }
        }
    }
    response
}
