//! Checks a request body's array counts before the codec sees it, with the walker the client
//! uses for responses (`kafka_client::bounds`); the descriptions of the served requests live here.
//!
//! The `kafka-protocol` decoder reserves `count × element size` for an array as soon as it
//! reads the count, before reading any element. A 20-byte frame announcing two billion topics
//! would make it ask the allocator for hundreds of gigabytes, and an allocation failure aborts
//! the process. Every array element takes at least one byte on the wire, so a count larger
//! than the bytes left in the frame cannot be honest: this walker, driven by a compact
//! description of each served request (field order and the versions each field exists in,
//! from Kafka's message specs), refuses such a frame first. Strings, byte fields and tagged
//! fields are only skipped (the codec bounds them itself).

use kafka_client::bounds::Kind::*;
use kafka_client::bounds::{Field, all, between, from, until, walk};
use kafka_protocol::messages::ApiKey;

const PRODUCE: &[Field] = &[
    all(Str), // transactional_id
    all(I16), // acks
    all(I32), // timeout_ms
    all(Structs(&[
        until(12, Str), // name
        from(13, Uuid), // topic_id
        all(Structs(&[all(I32), all(Bytes)])),
    ])),
];

const FETCH: &[Field] = &[
    until(14, I32), // replica_id
    all(I32),       // max_wait_ms
    all(I32),       // min_bytes
    from(3, I32),   // max_bytes
    from(4, I8),    // isolation_level
    from(7, I32),   // session_id
    from(7, I32),   // session_epoch
    all(Structs(&[
        until(12, Str),
        from(13, Uuid),
        all(Structs(&[
            all(I32),      // partition
            from(9, I32),  // current_leader_epoch
            all(I64),      // fetch_offset
            from(12, I32), // last_fetched_epoch
            from(5, I64),  // log_start_offset
            all(I32),      // partition_max_bytes
        ])),
    ])),
    from(7, Structs(&[until(12, Str), from(13, Uuid), all(Ints)])), // forgotten topics
    from(11, Str),                                                  // rack_id
];

const LIST_OFFSETS: &[Field] = &[
    all(I32),    // replica_id
    from(2, I8), // isolation_level
    all(Structs(&[
        all(Str),
        all(Structs(&[
            all(I32),      // partition_index
            from(4, I32),  // current_leader_epoch
            all(I64),      // timestamp
            until(0, I32), // max_num_offsets
        ])),
    ])),
    from(10, I32), // timeout_ms
];

const METADATA: &[Field] = &[
    all(Structs(&[from(10, Uuid), all(Str)])),
    from(4, Bool),        // allow_auto_topic_creation
    between(8, 10, Bool), // include_cluster_authorized_operations
    from(8, Bool),        // include_topic_authorized_operations
];

const OFFSET_COMMIT: &[Field] = &[
    all(Str),           // group_id
    from(1, I32),       // generation_id_or_member_epoch
    from(1, Str),       // member_id
    from(7, Str),       // group_instance_id
    between(2, 4, I64), // retention_time_ms
    all(Structs(&[
        until(9, Str),
        from(10, Uuid),
        all(Structs(&[
            all(I32),           // partition_index
            all(I64),           // committed_offset
            from(6, I32),       // committed_leader_epoch
            between(1, 1, I64), // commit_timestamp
            all(Str),           // committed_metadata
        ])),
    ])),
];

const OFFSET_FETCH: &[Field] = &[
    until(7, Str),                             // group_id
    until(7, Structs(&[all(Str), all(Ints)])), // topics
    from(
        8,
        Structs(&[
            all(Str),     // group_id
            from(9, Str), // member_id
            from(9, I32), // member_epoch
            all(Structs(&[until(9, Str), from(10, Uuid), all(Ints)])),
        ]),
    ),
    from(7, Bool), // require_stable
];

const FIND_COORDINATOR: &[Field] = &[until(3, Str), from(1, I8), from(4, Strs)];

const JOIN_GROUP: &[Field] = &[
    all(Str),     // group_id
    all(I32),     // session_timeout_ms
    from(1, I32), // rebalance_timeout_ms
    all(Str),     // member_id
    from(5, Str), // group_instance_id
    all(Str),     // protocol_type
    all(Structs(&[all(Str), all(Bytes)])),
    from(8, Str), // reason
];

const HEARTBEAT: &[Field] = &[all(Str), all(I32), all(Str), from(3, Str)];

const LEAVE_GROUP: &[Field] = &[
    all(Str),      // group_id
    until(2, Str), // member_id
    from(3, Structs(&[all(Str), all(Str), from(5, Str)])),
];

const SYNC_GROUP: &[Field] = &[
    all(Str),     // group_id
    all(I32),     // generation_id
    all(Str),     // member_id
    from(3, Str), // group_instance_id
    from(5, Str), // protocol_type
    from(5, Str), // protocol_name
    all(Structs(&[all(Str), all(Bytes)])),
];

const DESCRIBE_GROUPS: &[Field] = &[all(Strs), from(3, Bool)];

const LIST_GROUPS: &[Field] = &[from(4, Strs), from(5, Strs)];

const API_VERSIONS: &[Field] = &[from(3, Str), from(3, Str)];

const CREATE_TOPICS: &[Field] = &[
    all(Structs(&[
        all(Str), // name
        all(I32), // num_partitions
        all(I16), // replication_factor
        all(Structs(&[all(I32), all(Ints)])),
        all(Structs(&[all(Str), all(Str)])),
    ])),
    all(I32),      // timeout_ms
    from(1, Bool), // validate_only
];

const DELETE_TOPICS: &[Field] = &[
    from(6, Structs(&[all(Str), all(Uuid)])),
    until(5, Strs),
    all(I32), // timeout_ms
];

const INIT_PRODUCER_ID: &[Field] = &[
    all(Str),      // transactional_id
    all(I32),      // transaction_timeout_ms
    from(3, I64),  // producer_id
    from(3, I16),  // producer_epoch
    from(6, Bool), // enable_2pc
    from(6, Bool), // keep_prepared_txn
];

const DESCRIBE_CONFIGS: &[Field] = &[
    all(Structs(&[all(I8), all(Str), all(Strs)])),
    from(1, Bool), // include_synonyms
    from(3, Bool), // include_documentation
];

const OFFSET_FOR_LEADER_EPOCH: &[Field] = &[
    from(3, I32), // replica_id
    all(Structs(&[
        all(Str), // topic
        all(Structs(&[
            all(I32),     // partition
            from(2, I32), // current_leader_epoch
            all(I32),     // leader_epoch
        ])),
    ])),
];

const CREATE_PARTITIONS: &[Field] = &[
    all(Structs(&[
        all(Str),                   // name
        all(I32),                   // count
        all(Structs(&[all(Ints)])), // assignments (nullable)
    ])),
    all(I32),  // timeout_ms
    all(Bool), // validate_only
];

/// The body description of a served API.
fn body(api: ApiKey) -> Option<&'static [Field]> {
    Some(match api {
        ApiKey::Produce => PRODUCE,
        ApiKey::Fetch => FETCH,
        ApiKey::ListOffsets => LIST_OFFSETS,
        ApiKey::Metadata => METADATA,
        ApiKey::OffsetCommit => OFFSET_COMMIT,
        ApiKey::OffsetFetch => OFFSET_FETCH,
        ApiKey::FindCoordinator => FIND_COORDINATOR,
        ApiKey::JoinGroup => JOIN_GROUP,
        ApiKey::Heartbeat => HEARTBEAT,
        ApiKey::LeaveGroup => LEAVE_GROUP,
        ApiKey::SyncGroup => SYNC_GROUP,
        ApiKey::DescribeGroups => DESCRIBE_GROUPS,
        ApiKey::ListGroups => LIST_GROUPS,
        ApiKey::ApiVersions => API_VERSIONS,
        ApiKey::CreateTopics => CREATE_TOPICS,
        ApiKey::DeleteTopics => DELETE_TOPICS,
        ApiKey::InitProducerId => INIT_PRODUCER_ID,
        ApiKey::DescribeConfigs => DESCRIBE_CONFIGS,
        ApiKey::OffsetForLeaderEpoch => OFFSET_FOR_LEADER_EPOCH,
        ApiKey::CreatePartitions => CREATE_PARTITIONS,
        _ => return None,
    })
}

/// Refuses a body of `api` at `version` whose array counts exceed the bytes left, or that
/// ends before its fields do. APIs without a description are refused (none is routed).
pub(crate) fn check(api: ApiKey, version: i16, body_bytes: &[u8]) -> Result<(), String> {
    let fields = body(api).ok_or_else(|| format!("{api:?} has no body description"))?;
    walk(fields, version, flexible(api, version), body_bytes).map(|_| ())
}

/// Compact lengths and tagged fields: the versions whose request header is v2.
fn flexible(api: ApiKey, version: i16) -> bool {
    api.request_header_version(version) >= 2
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use kafka_protocol::protocol::StrBytes;

    use super::*;
    use crate::api::ROUTES;

    #[test]
    fn a_huge_array_count_in_a_tiny_frame_is_refused() {
        // Metadata v1: topics array announcing i32::MAX entries, nothing after.
        let body = [0x7f, 0xff, 0xff, 0xff];
        let err = check(ApiKey::Metadata, 1, &body).unwrap_err();
        assert!(err.contains("2147483647 elements"), "{err}");
        // Flexible (v9): compact array count as a varint.
        let body = [0xff, 0xff, 0xff, 0xff, 0x0f];
        assert!(check(ApiKey::Metadata, 9, &body).is_err());
    }

    /// Encodes a request of every routed API at every served version (defaults, plus
    /// non-empty nested arrays where it matters) and checks the walker accepts it whole.
    #[test]
    fn requests_encoded_by_the_codec_pass_at_every_served_version() {
        use kafka_protocol::messages::*;
        let name = |s: &'static str| StrBytes::from_static_str(s);
        let mut topic = metadata_request::MetadataRequestTopic::default();
        topic.name = Some(TopicName(name("t")));
        let mut metadata = MetadataRequest::default();
        metadata.topics = Some(vec![topic.clone(), topic]);
        let mut part = produce_request::PartitionProduceData::default();
        part.records = Some(bytes::Bytes::from_static(b"0123456789"));
        let mut tp = produce_request::TopicProduceData::default();
        tp.name = TopicName(name("t"));
        tp.partition_data = vec![part.clone(), part];
        let mut produce = ProduceRequest::default();
        produce.topic_data = vec![tp];
        let mut fp = fetch_request::FetchTopic::default();
        fp.topic = TopicName(name("t"));
        fp.partitions = vec![fetch_request::FetchPartition::default(); 2];
        let mut fetch = FetchRequest::default();
        fetch.topics = vec![fp];
        let mut lt = list_offsets_request::ListOffsetsTopic::default();
        lt.partitions = vec![list_offsets_request::ListOffsetsPartition::default(); 2];
        let mut list_offsets = ListOffsetsRequest::default();
        list_offsets.topics = vec![lt];
        let mut ct = offset_commit_request::OffsetCommitRequestTopic::default();
        ct.partitions = vec![offset_commit_request::OffsetCommitRequestPartition::default(); 2];
        let mut commit = OffsetCommitRequest::default();
        commit.topics = vec![ct];
        let mut ft = offset_fetch_request::OffsetFetchRequestTopic::default();
        ft.partition_indexes = vec![1, 2];
        let mut fg = offset_fetch_request::OffsetFetchRequestGroup::default();
        let mut fgt = offset_fetch_request::OffsetFetchRequestTopics::default();
        fgt.partition_indexes = vec![3];
        fg.topics = Some(vec![fgt]);
        let mut offset_fetch = OffsetFetchRequest::default();
        offset_fetch.topics = Some(vec![ft]);
        let mut offset_fetch_v8 = OffsetFetchRequest::default();
        offset_fetch_v8.groups = vec![fg];
        let mut join = JoinGroupRequest::default();
        join.protocols = vec![join_group_request::JoinGroupRequestProtocol::default(); 2];
        let mut sync = SyncGroupRequest::default();
        sync.assignments = vec![sync_group_request::SyncGroupRequestAssignment::default(); 2];
        let mut leave = LeaveGroupRequest::default();
        leave.members = vec![leave_group_request::MemberIdentity::default()];
        let mut describe = DescribeGroupsRequest::default();
        describe.groups = vec![GroupId(name("g"))];
        let mut ctopic = create_topics_request::CreatableTopic::default();
        let mut assignment = create_topics_request::CreatableReplicaAssignment::default();
        assignment.broker_ids = vec![BrokerId(0)];
        ctopic.assignments = vec![assignment];
        ctopic.configs = vec![create_topics_request::CreatableTopicConfig::default()];
        let mut create = CreateTopicsRequest::default();
        create.topics = vec![ctopic];
        let mut delete = DeleteTopicsRequest::default();
        delete.topic_names = vec![TopicName(name("t"))];
        let mut delete_v6 = DeleteTopicsRequest::default();
        delete_v6.topics = vec![delete_topics_request::DeleteTopicState::default()];
        let mut res = describe_configs_request::DescribeConfigsResource::default();
        res.configuration_keys = Some(vec![name("k")]);
        let mut configs = DescribeConfigsRequest::default();
        configs.resources = vec![res];
        let mut find = FindCoordinatorRequest::default();
        let mut find_v4 = FindCoordinatorRequest::default();
        find_v4.coordinator_keys = vec![name("g")];
        find.key = name("g");
        let mut epoch_topic = offset_for_leader_epoch_request::OffsetForLeaderTopic::default();
        epoch_topic.partitions =
            vec![offset_for_leader_epoch_request::OffsetForLeaderPartition::default(); 2];
        let mut leader_epoch = OffsetForLeaderEpochRequest::default();
        leader_epoch.topics = vec![epoch_topic];
        let mut grow = create_partitions_request::CreatePartitionsTopic::default();
        grow.name = TopicName(name("t"));
        let mut grow_assignment = create_partitions_request::CreatePartitionsAssignment::default();
        grow_assignment.broker_ids = vec![BrokerId(0), BrokerId(1)];
        grow.assignments = Some(vec![grow_assignment]);
        let mut create_partitions = CreatePartitionsRequest::default();
        create_partitions.topics = vec![grow.clone(), grow];
        for route in ROUTES {
            let codec_min = route.key.valid_versions().min;
            for v in route.min.max(codec_min)..=route.max {
                let request = match route.key {
                    ApiKey::Metadata => RequestKind::Metadata(metadata.clone()),
                    ApiKey::Produce => RequestKind::Produce(produce.clone()),
                    ApiKey::Fetch => RequestKind::Fetch(fetch.clone()),
                    ApiKey::ListOffsets => RequestKind::ListOffsets(list_offsets.clone()),
                    ApiKey::OffsetCommit => RequestKind::OffsetCommit(commit.clone()),
                    ApiKey::OffsetFetch if v >= 8 => {
                        RequestKind::OffsetFetch(offset_fetch_v8.clone())
                    }
                    ApiKey::OffsetFetch => RequestKind::OffsetFetch(offset_fetch.clone()),
                    ApiKey::FindCoordinator if v >= 4 => {
                        RequestKind::FindCoordinator(find_v4.clone())
                    }
                    ApiKey::FindCoordinator => RequestKind::FindCoordinator(find.clone()),
                    ApiKey::JoinGroup => RequestKind::JoinGroup(join.clone()),
                    ApiKey::Heartbeat => RequestKind::Heartbeat(HeartbeatRequest::default()),
                    ApiKey::LeaveGroup if v >= 3 => RequestKind::LeaveGroup(leave.clone()),
                    ApiKey::LeaveGroup => RequestKind::LeaveGroup(LeaveGroupRequest::default()),
                    ApiKey::SyncGroup => RequestKind::SyncGroup(sync.clone()),
                    ApiKey::DescribeGroups => RequestKind::DescribeGroups(describe.clone()),
                    ApiKey::ListGroups => RequestKind::ListGroups(ListGroupsRequest::default()),
                    ApiKey::ApiVersions => RequestKind::ApiVersions(ApiVersionsRequest::default()),
                    ApiKey::CreateTopics => RequestKind::CreateTopics(create.clone()),
                    ApiKey::DeleteTopics if v >= 6 => RequestKind::DeleteTopics(delete_v6.clone()),
                    ApiKey::DeleteTopics => RequestKind::DeleteTopics(delete.clone()),
                    ApiKey::InitProducerId => {
                        RequestKind::InitProducerId(InitProducerIdRequest::default())
                    }
                    ApiKey::DescribeConfigs => RequestKind::DescribeConfigs(configs.clone()),
                    ApiKey::OffsetForLeaderEpoch => {
                        RequestKind::OffsetForLeaderEpoch(leader_epoch.clone())
                    }
                    ApiKey::CreatePartitions => {
                        RequestKind::CreatePartitions(create_partitions.clone())
                    }
                    other => panic!("no sample request for {other:?}"),
                };
                let mut buf = BytesMut::new();
                request
                    .encode(&mut buf, v)
                    .unwrap_or_else(|e| panic!("{:?} v{v}: {e}", route.key));
                let walked = walk(body(route.key).unwrap(), v, flexible(route.key, v), &buf)
                    .unwrap_or_else(|e| panic!("{:?} v{v}: {e}", route.key));
                assert_eq!(walked, buf.len(), "{:?} v{v}: whole body walked", route.key);
            }
        }
    }

    #[test]
    fn every_routed_api_has_a_description() {
        for route in ROUTES {
            assert!(body(route.key).is_some(), "{:?}", route.key);
        }
    }
}
