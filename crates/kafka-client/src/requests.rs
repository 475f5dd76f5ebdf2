//! Every request this client sends, built from plain arguments by one function per API, without
//! I/O. A builder sets only fields that exist at the version it is given, so a request encodes at
//! any version of [`crate::versions::SUPPORTED`] a broker may pick; the tests encode each one at
//! every such version.

use std::collections::BTreeMap;

use bytes::Bytes;
use kafka_protocol::messages::{
    BrokerId, CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest,
    DescribeConfigsRequest, DescribeGroupsRequest, FetchRequest, FindCoordinatorRequest, GroupId,
    HeartbeatRequest, InitProducerIdRequest, JoinGroupRequest, LeaveGroupRequest,
    ListGroupsRequest, ListOffsetsRequest, MetadataRequest, OffsetCommitRequest,
    OffsetFetchRequest, ProduceRequest, ProducerId, SyncGroupRequest, TopicName,
    create_partitions_request::CreatePartitionsTopic,
    create_topics_request::{CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig},
    describe_configs_request::DescribeConfigsResource,
    fetch_request::{FetchPartition, FetchTopic},
    join_group_request::JoinGroupRequestProtocol,
    leave_group_request::MemberIdentity,
    list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic},
    metadata_request::MetadataRequestTopic,
    offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic},
    offset_fetch_request::OffsetFetchRequestTopic,
    produce_request::{PartitionProduceData, TopicProduceData},
    sync_group_request::SyncGroupRequestAssignment,
};
use kafka_protocol::protocol::StrBytes;

use crate::admin::NewTopic;
use crate::records::TopicPartition;

fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

fn topic_name(s: &str) -> TopicName {
    TopicName(text(s))
}

fn group_id(s: &str) -> GroupId {
    GroupId(text(s))
}

/// Groups items by topic name, topics in name order, items in the given order.
fn by_topic<'a, T>(items: impl IntoIterator<Item = (&'a str, T)>) -> BTreeMap<&'a str, Vec<T>> {
    let mut out: BTreeMap<&str, Vec<T>> = BTreeMap::new();
    for (topic, item) in items {
        out.entry(topic).or_default().push(item);
    }
    out
}

/// Metadata for `topics` (`None`: all; `Some(&[])`: brokers only).
pub(crate) fn metadata(
    topics: Option<&[String]>,
    auto_create: bool,
    version: i16,
) -> MetadataRequest {
    let topics = topics.map(|names| {
        names
            .iter()
            .map(|n| MetadataRequestTopic::default().with_name(Some(topic_name(n))))
            .collect()
    });
    // Before v4 the field does not exist and brokers auto-create as configured.
    MetadataRequest::default()
        .with_topics(topics)
        .with_allow_auto_topic_creation(auto_create || version < 4)
}

/// FindCoordinator for a consumer group (versions 0–3: one key per request).
pub(crate) fn find_coordinator(group: &str) -> FindCoordinatorRequest {
    FindCoordinatorRequest::default().with_key(text(group))
}

/// Fetch of `parts` (each from its position), as a consumer (replica id -1), no fetch session.
pub(crate) fn fetch(
    max_wait_ms: i32,
    min_bytes: i32,
    max_bytes: i32,
    partition_max_bytes: i32,
    parts: &[(TopicPartition, i64)],
) -> FetchRequest {
    let topics = by_topic(parts.iter().map(|(tp, pos)| {
        (
            tp.topic.as_str(),
            FetchPartition::default()
                .with_partition(tp.partition)
                .with_fetch_offset(*pos)
                .with_partition_max_bytes(partition_max_bytes),
        )
    }));
    FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(max_wait_ms)
        .with_min_bytes(min_bytes)
        .with_max_bytes(max_bytes)
        .with_session_epoch(-1)
        .with_topics(
            topics
                .into_iter()
                .map(|(name, partitions)| {
                    FetchTopic::default()
                        .with_topic(topic_name(name))
                        .with_partitions(partitions)
                })
                .collect(),
        )
}

/// ListOffsets of `partitions` at `timestamp` (-2 earliest, -1 latest), as a consumer.
pub(crate) fn list_offsets(partitions: &[&TopicPartition], timestamp: i64) -> ListOffsetsRequest {
    let topics = by_topic(partitions.iter().map(|tp| {
        (
            tp.topic.as_str(),
            ListOffsetsPartition::default()
                .with_partition_index(tp.partition)
                .with_timestamp(timestamp),
        )
    }));
    ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(
            topics
                .into_iter()
                .map(|(name, partitions)| {
                    ListOffsetsTopic::default()
                        .with_name(topic_name(name))
                        .with_partitions(partitions)
                })
                .collect(),
        )
}

/// Produce of one record batch per partition.
pub(crate) fn produce(
    acks: i16,
    timeout_ms: i32,
    batches: &[(&TopicPartition, Bytes)],
) -> ProduceRequest {
    let topics = by_topic(batches.iter().map(|(tp, data)| {
        (
            tp.topic.as_str(),
            PartitionProduceData::default()
                .with_index(tp.partition)
                .with_records(Some(data.clone())),
        )
    }));
    ProduceRequest::default()
        .with_transactional_id(None)
        .with_acks(acks)
        .with_timeout_ms(timeout_ms)
        .with_topic_data(
            topics
                .into_iter()
                .map(|(t, parts)| {
                    TopicProduceData::default()
                        .with_name(topic_name(t))
                        .with_partition_data(parts)
                })
                .collect(),
        )
}

/// InitProducerId for an idempotent, non-transactional producer.
pub(crate) fn init_producer_id(version: i16) -> InitProducerIdRequest {
    let mut request = InitProducerIdRequest::default()
        .with_transactional_id(None)
        .with_transaction_timeout_ms(-1);
    if version >= 3 {
        request.producer_id = ProducerId(-1);
        request.producer_epoch = -1;
    }
    request
}

/// What a member says about itself when it joins a group.
#[derive(Debug, Clone)]
pub(crate) struct Joining<'a> {
    pub(crate) group: &'a str,
    pub(crate) member_id: &'a str,
    pub(crate) session_timeout_ms: i32,
    pub(crate) rebalance_timeout_ms: i32,
    pub(crate) protocol_type: &'a str,
    pub(crate) protocol: &'a str,
    pub(crate) metadata: Bytes,
}

/// JoinGroup with one protocol (assignor).
pub(crate) fn join_group(j: &Joining<'_>, version: i16) -> JoinGroupRequest {
    let mut request = JoinGroupRequest::default()
        .with_group_id(group_id(j.group))
        .with_session_timeout_ms(j.session_timeout_ms)
        .with_member_id(text(j.member_id))
        .with_protocol_type(text(j.protocol_type))
        .with_protocols(vec![
            JoinGroupRequestProtocol::default()
                .with_name(text(j.protocol))
                .with_metadata(j.metadata.clone()),
        ]);
    if version >= 1 {
        request.rebalance_timeout_ms = j.rebalance_timeout_ms;
    }
    request
}

/// SyncGroup: the leader sends every member's assignment, the others none.
pub(crate) fn sync_group(
    j: &Joining<'_>,
    generation: i32,
    assignments: Vec<(String, Bytes)>,
    version: i16,
) -> SyncGroupRequest {
    let mut request = SyncGroupRequest::default()
        .with_group_id(group_id(j.group))
        .with_generation_id(generation)
        .with_member_id(text(j.member_id))
        .with_assignments(
            assignments
                .into_iter()
                .map(|(member, a)| {
                    SyncGroupRequestAssignment::default()
                        .with_member_id(StrBytes::from_string(member))
                        .with_assignment(a)
                })
                .collect(),
        );
    if version >= 5 {
        request.protocol_type = Some(text(j.protocol_type));
        request.protocol_name = Some(text(j.protocol));
    }
    request
}

/// Heartbeat of a member of `generation`.
pub(crate) fn heartbeat(group: &str, generation: i32, member_id: &str) -> HeartbeatRequest {
    HeartbeatRequest::default()
        .with_group_id(group_id(group))
        .with_generation_id(generation)
        .with_member_id(text(member_id))
}

/// LeaveGroup of one member (a field before v3, a list from v3).
pub(crate) fn leave_group(group: &str, member_id: &str, version: i16) -> LeaveGroupRequest {
    let request = LeaveGroupRequest::default().with_group_id(group_id(group));
    if version >= 3 {
        request.with_members(vec![
            MemberIdentity::default().with_member_id(text(member_id)),
        ])
    } else {
        request.with_member_id(text(member_id))
    }
}

/// OffsetCommit of `offsets` by member `member_id` of `generation` (-1 and "": no member).
pub(crate) fn offset_commit(
    group: &str,
    generation: i32,
    member_id: &str,
    offsets: &BTreeMap<TopicPartition, i64>,
) -> OffsetCommitRequest {
    let topics = by_topic(offsets.iter().map(|(tp, offset)| {
        (
            tp.topic.as_str(),
            OffsetCommitRequestPartition::default()
                .with_partition_index(tp.partition)
                .with_committed_offset(*offset),
        )
    }));
    OffsetCommitRequest::default()
        .with_group_id(group_id(group))
        .with_generation_id_or_member_epoch(generation)
        .with_member_id(text(member_id))
        .with_topics(
            topics
                .into_iter()
                .map(|(t, ps)| {
                    OffsetCommitRequestTopic::default()
                        .with_name(topic_name(t))
                        .with_partitions(ps)
                })
                .collect(),
        )
}

/// OffsetFetch of `partitions`, or of every partition (`None`, from version 2 only).
pub(crate) fn offset_fetch(
    group: &str,
    partitions: Option<&[TopicPartition]>,
) -> OffsetFetchRequest {
    let topics = partitions.map(|tps| {
        by_topic(tps.iter().map(|tp| (tp.topic.as_str(), tp.partition)))
            .into_iter()
            .map(|(t, ps)| {
                OffsetFetchRequestTopic::default()
                    .with_name(topic_name(t))
                    .with_partition_indexes(ps)
            })
            .collect()
    });
    OffsetFetchRequest::default()
        .with_group_id(group_id(group))
        .with_topics(topics)
}

/// ListGroups, unfiltered.
pub(crate) fn list_groups() -> ListGroupsRequest {
    ListGroupsRequest::default()
}

/// DescribeGroups of one group.
pub(crate) fn describe_groups(group: &str) -> DescribeGroupsRequest {
    DescribeGroupsRequest::default().with_groups(vec![group_id(group)])
}

/// CreateTopics; an explicit replica assignment replaces the partition count and factor.
pub(crate) fn create_topics(topics: &[NewTopic], timeout_ms: i32) -> CreateTopicsRequest {
    CreateTopicsRequest::default()
        .with_timeout_ms(timeout_ms)
        .with_topics(topics.iter().map(creatable_topic).collect())
}

fn creatable_topic(t: &NewTopic) -> CreatableTopic {
    let explicit = !t.assignment.is_empty();
    let assignments = (0..)
        .zip(&t.assignment)
        .map(|(i, brokers)| {
            CreatableReplicaAssignment::default()
                .with_partition_index(i)
                .with_broker_ids(brokers.iter().map(|&b| BrokerId(b)).collect())
        })
        .collect();
    let configs = t
        .configs
        .iter()
        .map(|(k, v)| {
            CreatableTopicConfig::default()
                .with_name(text(k))
                .with_value(Some(text(v)))
        })
        .collect();
    CreatableTopic::default()
        .with_name(topic_name(&t.name))
        .with_num_partitions(if explicit { -1 } else { t.partitions })
        .with_replication_factor(if explicit { -1 } else { t.replication_factor })
        .with_assignments(assignments)
        .with_configs(configs)
}

/// The resource type of a topic in DescribeConfigs.
const TOPIC_RESOURCE: i8 = 2;

/// DescribeConfigs of every config of one topic.
pub(crate) fn describe_topic_configs(topic: &str) -> DescribeConfigsRequest {
    DescribeConfigsRequest::default().with_resources(vec![
        DescribeConfigsResource::default()
            .with_resource_type(TOPIC_RESOURCE)
            .with_resource_name(text(topic))
            .with_configuration_keys(None),
    ])
}

/// DeleteTopics by name (versions 0–5).
pub(crate) fn delete_topics(names: &[String], timeout_ms: i32) -> DeleteTopicsRequest {
    DeleteTopicsRequest::default()
        .with_timeout_ms(timeout_ms)
        .with_topic_names(names.iter().map(|n| topic_name(n)).collect())
}

/// CreatePartitions raising `topic` to `count` partitions, placed by the broker.
pub(crate) fn create_partitions(
    topic: &str,
    count: i32,
    timeout_ms: i32,
) -> CreatePartitionsRequest {
    CreatePartitionsRequest::default()
        .with_timeout_ms(timeout_ms)
        .with_topics(vec![
            CreatePartitionsTopic::default()
                .with_name(topic_name(topic))
                .with_count(count),
        ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::versions::SUPPORTED;
    use bytes::BytesMut;
    use kafka_protocol::messages::{ApiKey, ApiVersionsRequest};
    use kafka_protocol::protocol::Encodable;

    fn encode(r: &impl Encodable, key: ApiKey, v: i16) {
        let mut buf = BytesMut::new();
        if let Err(e) = r.encode(&mut buf, v) {
            panic!("{key:?} v{v}: {e:#}");
        }
    }

    /// Each request, with every field our code may set filled in, encodes at every version we
    /// may negotiate; a new API in `SUPPORTED` without a builder here fails the test.
    #[test]
    fn every_request_encodes_at_every_version_we_speak() {
        let tp = TopicPartition::new("t", 1);
        let offsets = BTreeMap::from([(tp.clone(), 5)]);
        let joining = Joining {
            group: "g",
            member_id: "m",
            session_timeout_ms: 10_000,
            rebalance_timeout_ms: 60_000,
            protocol_type: "consumer",
            protocol: "range",
            metadata: Bytes::from_static(&[0, 0]),
        };
        let topic = NewTopic {
            name: "t".into(),
            partitions: 3,
            replication_factor: 1,
            assignment: vec![],
            configs: vec![("retention.ms".into(), "1000".into())],
        };
        let placed = NewTopic {
            assignment: vec![vec![0], vec![1]],
            ..topic.clone()
        };
        for &(key, min, max) in SUPPORTED {
            for v in min..=max {
                match key {
                    ApiKey::ApiVersions => encode(&ApiVersionsRequest::default(), key, v),
                    ApiKey::Metadata => {
                        encode(&metadata(None, false, v), key, v);
                        encode(&metadata(Some(&["t".into()]), true, v), key, v);
                        encode(&metadata(Some(&[]), false, v), key, v);
                    }
                    ApiKey::Produce => encode(
                        &produce(-1, 30_000, &[(&tp, Bytes::from_static(b"x"))]),
                        key,
                        v,
                    ),
                    ApiKey::Fetch => {
                        encode(&fetch(500, 1, 1 << 20, 1 << 20, &[(tp.clone(), 3)]), key, v)
                    }
                    ApiKey::ListOffsets => encode(&list_offsets(&[&tp], -2), key, v),
                    ApiKey::FindCoordinator => encode(&find_coordinator("g"), key, v),
                    ApiKey::JoinGroup => encode(&join_group(&joining, v), key, v),
                    ApiKey::SyncGroup => encode(
                        &sync_group(
                            &joining,
                            3,
                            vec![("m".into(), Bytes::from_static(&[0, 0]))],
                            v,
                        ),
                        key,
                        v,
                    ),
                    ApiKey::Heartbeat => encode(&heartbeat("g", 3, "m"), key, v),
                    ApiKey::LeaveGroup => encode(&leave_group("g", "m", v), key, v),
                    ApiKey::OffsetCommit => encode(&offset_commit("g", 3, "m", &offsets), key, v),
                    ApiKey::OffsetFetch => {
                        encode(&offset_fetch("g", Some(std::slice::from_ref(&tp))), key, v);
                        if v >= 2 {
                            encode(&offset_fetch("g", None), key, v);
                        }
                    }
                    ApiKey::ListGroups => encode(&list_groups(), key, v),
                    ApiKey::DescribeGroups => encode(&describe_groups("g"), key, v),
                    ApiKey::CreateTopics => {
                        encode(&create_topics(std::slice::from_ref(&topic), 1000), key, v);
                        encode(&create_topics(std::slice::from_ref(&placed), 1000), key, v);
                    }
                    ApiKey::DeleteTopics => encode(&delete_topics(&["t".into()], 1000), key, v),
                    ApiKey::CreatePartitions => encode(&create_partitions("t", 4, 1000), key, v),
                    ApiKey::InitProducerId => encode(&init_producer_id(v), key, v),
                    ApiKey::DescribeConfigs => encode(&describe_topic_configs("t"), key, v),
                    other => panic!("{other:?} is in SUPPORTED but has no builder test"),
                }
            }
        }
    }
}
