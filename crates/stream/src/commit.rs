//! Committing exactly the offsets of a written batch.
//!
//! `kafka_client::GroupConsumer::commit` commits a member's current positions, which already
//! include records of the batch still open; the job must commit the offsets the pipeline hands
//! out, no further. Until the group consumer offers a commit of given offsets, this sends the
//! OffsetCommit itself, with the identity (generation, member id) of one of our members:
//! the coordinator accepts a commit from any current member of the group.

use std::sync::{Arc, Mutex};

use kafka_client::Client;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::{GroupId, OffsetCommitRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::Error;
use crate::pipeline::Offsets;

/// A member's identity in the group, as its last join gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The group generation.
    pub generation: i32,
    /// The member id.
    pub member_id: String,
}

/// The latest identity any of our consumers reported, shared with the committer.
pub type SharedMember = Arc<Mutex<Option<Member>>>;

/// Commits `offsets` for `group` as `member`; every partition's answer is checked.
pub async fn commit_offsets(
    client: &Client,
    group: &str,
    member: &Member,
    offsets: &Offsets,
) -> Result<(), Error> {
    let kafka = |source| Error::Kafka {
        what: format!("commit offsets of group {group}"),
        source,
    };
    let conn = client.coordinator_connection(group).await.map_err(kafka)?;
    let version = conn.version::<OffsetCommitRequest>().map_err(kafka)?;
    let mut topics: Vec<OffsetCommitRequestTopic> = Vec::new();
    for (tp, offset) in offsets {
        let partition = OffsetCommitRequestPartition::default()
            .with_partition_index(tp.partition)
            .with_committed_offset(*offset);
        match topics.last_mut() {
            Some(t) if t.name.0.as_str() == tp.topic => t.partitions.push(partition),
            _ => topics.push(
                OffsetCommitRequestTopic::default()
                    .with_name(TopicName(StrBytes::from_string(tp.topic.clone())))
                    .with_partitions(vec![partition]),
            ),
        }
    }
    let request = OffsetCommitRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(group.to_owned())))
        .with_generation_id_or_member_epoch(member.generation)
        .with_member_id(StrBytes::from_string(member.member_id.clone()))
        .with_topics(topics);
    let response = conn.call(&request, version).await.map_err(kafka)?;
    for topic in &response.topics {
        for p in &topic.partitions {
            if let Some(err) = kafka_protocol::ResponseError::try_from_code(p.error_code) {
                return Err(Error::Commit(format!(
                    "the coordinator refused the offset of {}-{} for group {group}: {err}",
                    topic.name.0.as_str(),
                    p.partition_index
                )));
            }
        }
    }
    Ok(())
}
