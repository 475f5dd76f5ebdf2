//! Descriptions of every response this client decodes (Kafka's `*Response.json` specs), so a
//! response's array counts are checked before the codec reserves memory for them.

use kafka_protocol::messages::ApiKey;

use super::Kind::*;
use super::{Field, all, between, from, until};

const THROTTLE: Field = all(I32);

const API_VERSIONS: &[Field] = &[
    all(I16), // error_code
    all(Structs(&[all(I16), all(I16), all(I16)])),
    from(1, I32), // throttle_time_ms
];

const METADATA: &[Field] = &[
    from(3, I32), // throttle_time_ms
    all(Structs(&[
        all(I32),     // node_id
        all(Str),     // host
        all(I32),     // port
        from(1, Str), // rack
    ])),
    from(2, Str), // cluster_id
    from(1, I32), // controller_id
    all(Structs(&[
        all(I16),       // error_code
        all(Str),       // name
        from(10, Uuid), // topic_id
        from(1, Bool),  // is_internal
        all(Structs(&[
            all(I16),      // error_code
            all(I32),      // partition_index
            all(I32),      // leader_id
            from(7, I32),  // leader_epoch
            all(Ints),     // replica_nodes
            all(Ints),     // isr_nodes
            from(5, Ints), // offline_replicas
        ])),
        from(8, I32), // topic_authorized_operations
    ])),
    between(8, 10, I32), // cluster_authorized_operations
];

const PRODUCE: &[Field] = &[
    all(Structs(&[
        until(12, Str), // name
        from(13, Uuid), // topic_id
        all(Structs(&[
            all(I32),                                // index
            all(I16),                                // error_code
            all(I64),                                // base_offset
            from(2, I64),                            // log_append_time_ms
            from(5, I64),                            // log_start_offset
            from(8, Structs(&[all(I32), all(Str)])), // record_errors
            from(8, Str),                            // error_message
        ])),
    ])),
    from(1, I32), // throttle_time_ms
];

const FETCH: &[Field] = &[
    from(1, I32), // throttle_time_ms
    from(7, I16), // error_code
    from(7, I32), // session_id
    all(Structs(&[
        until(12, Str), // topic
        from(13, Uuid), // topic_id
        all(Structs(&[
            all(I32),                                // partition_index
            all(I16),                                // error_code
            all(I64),                                // high_watermark
            from(4, I64),                            // last_stable_offset
            from(5, I64),                            // log_start_offset
            from(4, Structs(&[all(I64), all(I64)])), // aborted_transactions
            from(11, I32),                           // preferred_read_replica
            all(Bytes),                              // records
        ])),
    ])),
];

const LIST_OFFSETS: &[Field] = &[
    from(2, I32), // throttle_time_ms
    all(Structs(&[
        all(Str), // name
        all(Structs(&[
            all(I32),     // partition_index
            all(I16),     // error_code
            from(1, I64), // timestamp
            from(1, I64), // offset
            from(4, I32), // leader_epoch
        ])),
    ])),
];

const FIND_COORDINATOR: &[Field] = &[
    from(1, I32),       // throttle_time_ms
    until(3, I16),      // error_code
    between(1, 3, Str), // error_message
    until(3, I32),      // node_id
    until(3, Str),      // host
    until(3, I32),      // port
    from(
        4,
        Structs(&[all(Str), all(I32), all(Str), all(I32), all(I16), all(Str)]),
    ), // coordinators
];

const JOIN_GROUP: &[Field] = &[
    from(2, I32),                                        // throttle_time_ms
    all(I16),                                            // error_code
    all(I32),                                            // generation_id
    from(7, Str),                                        // protocol_type
    all(Str),                                            // protocol_name
    all(Str),                                            // leader
    from(9, Bool),                                       // skip_assignment
    all(Str),                                            // member_id
    all(Structs(&[all(Str), from(5, Str), all(Bytes)])), // members
];

const SYNC_GROUP: &[Field] = &[
    from(1, I32), // throttle_time_ms
    all(I16),     // error_code
    from(5, Str), // protocol_type
    from(5, Str), // protocol_name
    all(Bytes),   // assignment
];

const HEARTBEAT: &[Field] = &[from(1, I32), all(I16)];

const LEAVE_GROUP: &[Field] = &[
    from(1, I32),                                      // throttle_time_ms
    all(I16),                                          // error_code
    from(3, Structs(&[all(Str), all(Str), all(I16)])), // members
];

const OFFSET_COMMIT: &[Field] = &[
    from(3, I32), // throttle_time_ms
    all(Structs(&[
        until(9, Str),  // name
        from(10, Uuid), // topic_id
        all(Structs(&[all(I32), all(I16)])),
    ])),
];

const OFFSET_FETCH: &[Field] = &[
    from(3, I32), // throttle_time_ms
    until(
        7,
        Structs(&[
            all(Str), // name
            all(Structs(&[
                all(I32),     // partition_index
                all(I64),     // committed_offset
                from(5, I32), // committed_leader_epoch
                all(Str),     // metadata
                all(I16),     // error_code
            ])),
        ]),
    ),
    between(2, 7, I16), // error_code
    from(
        8,
        Structs(&[
            all(Str), // group_id
            all(Structs(&[
                until(9, Str),  // name
                from(10, Uuid), // topic_id
                all(Structs(&[all(I32), all(I64), all(I32), all(Str), all(I16)])),
            ])),
            all(I16), // error_code
        ]),
    ),
];

const LIST_GROUPS: &[Field] = &[
    from(1, I32), // throttle_time_ms
    all(I16),     // error_code
    all(Structs(&[all(Str), all(Str), from(4, Str), from(5, Str)])),
];

const DESCRIBE_GROUPS: &[Field] = &[
    from(1, I32), // throttle_time_ms
    all(Structs(&[
        all(I16),     // error_code
        from(6, Str), // error_message
        all(Str),     // group_id
        all(Str),     // group_state
        all(Str),     // protocol_type
        all(Str),     // protocol_data
        all(Structs(&[
            all(Str),     // member_id
            from(4, Str), // group_instance_id
            all(Str),     // client_id
            all(Str),     // client_host
            all(Bytes),   // member_metadata
            all(Bytes),   // member_assignment
        ])),
        from(3, I32), // authorized_operations
    ])),
];

const CREATE_TOPICS: &[Field] = &[
    from(2, I32), // throttle_time_ms
    all(Structs(&[
        all(Str),      // name
        from(7, Uuid), // topic_id
        all(I16),      // error_code
        from(1, Str),  // error_message
        from(5, I32),  // num_partitions
        from(5, I16),  // replication_factor
        from(
            5,
            Structs(&[all(Str), all(Str), all(Bool), all(I8), all(Bool)]),
        ), // configs
    ])),
];

const DELETE_TOPICS: &[Field] = &[
    from(1, I32), // throttle_time_ms
    all(Structs(&[
        all(Str),      // name
        from(6, Uuid), // topic_id
        all(I16),      // error_code
        from(5, Str),  // error_message
    ])),
];

const CREATE_PARTITIONS: &[Field] = &[THROTTLE, all(Structs(&[all(Str), all(I16), all(Str)]))];

const INIT_PRODUCER_ID: &[Field] = &[
    THROTTLE,
    all(I16),     // error_code
    all(I64),     // producer_id
    all(I16),     // producer_epoch
    from(6, I64), // ongoing_txn_producer_id
    from(6, I16), // ongoing_txn_producer_epoch
];

const DESCRIBE_CONFIGS: &[Field] = &[
    THROTTLE,
    all(Structs(&[
        all(I16), // error_code
        all(Str), // error_message
        all(I8),  // resource_type
        all(Str), // resource_name
        all(Structs(&[
            all(Str),                                         // name
            all(Str),                                         // value
            all(Bool),                                        // read_only
            until(0, Bool),                                   // is_default
            from(1, I8),                                      // config_source
            all(Bool),                                        // is_sensitive
            from(1, Structs(&[all(Str), all(Str), all(I8)])), // synonyms
            from(3, I8),                                      // config_type
            from(3, Str),                                     // documentation
        ])),
    ])),
];

const OFFSET_FOR_LEADER_EPOCH: &[Field] = &[
    from(2, I32), // throttle_time_ms
    all(Structs(&[
        all(Str), // topic
        all(Structs(&[
            all(I16),     // error_code
            all(I32),     // partition
            from(1, I32), // leader_epoch
            all(I64),     // end_offset
        ])),
    ])),
];

/// The body description of a response this client decodes.
fn body(api: ApiKey) -> Option<&'static [Field]> {
    Some(match api {
        ApiKey::ApiVersions => API_VERSIONS,
        ApiKey::Metadata => METADATA,
        ApiKey::Produce => PRODUCE,
        ApiKey::Fetch => FETCH,
        ApiKey::ListOffsets => LIST_OFFSETS,
        ApiKey::FindCoordinator => FIND_COORDINATOR,
        ApiKey::JoinGroup => JOIN_GROUP,
        ApiKey::SyncGroup => SYNC_GROUP,
        ApiKey::Heartbeat => HEARTBEAT,
        ApiKey::LeaveGroup => LEAVE_GROUP,
        ApiKey::OffsetCommit => OFFSET_COMMIT,
        ApiKey::OffsetFetch => OFFSET_FETCH,
        ApiKey::ListGroups => LIST_GROUPS,
        ApiKey::DescribeGroups => DESCRIBE_GROUPS,
        ApiKey::CreateTopics => CREATE_TOPICS,
        ApiKey::DeleteTopics => DELETE_TOPICS,
        ApiKey::CreatePartitions => CREATE_PARTITIONS,
        ApiKey::InitProducerId => INIT_PRODUCER_ID,
        ApiKey::DescribeConfigs => DESCRIBE_CONFIGS,
        ApiKey::OffsetForLeaderEpoch => OFFSET_FOR_LEADER_EPOCH,
        _ => return None,
    })
}

/// Refuses a response body (after its header) of API `key` at `version` whose array counts
/// exceed the bytes left, or that ends before its fields do. A response without a description
/// is refused too, so nothing reaches the codec unchecked.
pub(crate) fn check_response(key: i16, version: i16, body_bytes: &[u8]) -> Result<(), String> {
    let api = ApiKey::try_from(key).map_err(|()| format!("unknown API key {key}"))?;
    let fields = body(api).ok_or_else(|| format!("{api:?} responses have no description"))?;
    super::walk(
        fields,
        version,
        api.request_header_version(version) >= 2,
        body_bytes,
    )
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use bytes::{Bytes, BytesMut};
    use kafka_protocol::messages::*;
    use kafka_protocol::protocol::{Encodable, StrBytes};

    use super::*;
    use crate::versions::SUPPORTED;

    /// The broker's replica fetcher also asks OffsetForLeaderEpoch (not in `SUPPORTED`, which
    /// lists what the client's own types send), at v3; the codec starts at v2.
    const ALSO_DECODED: &[(ApiKey, i16, i16)] = &[(ApiKey::OffsetForLeaderEpoch, 2, 4)];

    fn s(text: &'static str) -> StrBytes {
        StrBytes::from_static_str(text)
    }

    /// Encodes one sample response at a version.
    type Encoder = Box<dyn Fn(&mut BytesMut, i16) -> anyhow::Result<()>>;

    fn encoder<R: Encodable + 'static>(r: R) -> Encoder {
        Box::new(move |buf, v| r.encode(buf, v))
    }

    /// A response of `key` with two elements in every array (nested ones included) and
    /// non-empty strings and bytes, so every count and length is on the wire.
    fn sample(key: ApiKey, v: i16) -> Encoder {
        let bytes = Bytes::from_static(b"0123456789");
        match key {
            ApiKey::ApiVersions => {
                let mut r = ApiVersionsResponse::default();
                r.api_keys = vec![api_versions_response::ApiVersion::default(); 2];
                encoder(r)
            }
            ApiKey::Metadata => {
                let mut b = metadata_response::MetadataResponseBroker::default();
                b.host = s("h");
                b.rack = Some(s("r"));
                let mut p = metadata_response::MetadataResponsePartition::default();
                p.replica_nodes = vec![BrokerId(1), BrokerId(2)];
                p.isr_nodes = vec![BrokerId(1)];
                p.offline_replicas = vec![BrokerId(2)];
                let mut t = metadata_response::MetadataResponseTopic::default();
                t.name = Some(TopicName(s("t")));
                t.partitions = vec![p; 2];
                let mut r = MetadataResponse::default();
                r.brokers = vec![b; 2];
                r.cluster_id = Some(s("c"));
                r.topics = vec![t; 2];
                encoder(r)
            }
            ApiKey::Produce => {
                let mut e = produce_response::BatchIndexAndErrorMessage::default();
                e.batch_index_error_message = Some(s("e"));
                let mut p = produce_response::PartitionProduceResponse::default();
                p.record_errors = vec![e; 2];
                p.error_message = Some(s("m"));
                let mut t = produce_response::TopicProduceResponse::default();
                t.name = TopicName(s("t"));
                t.partition_responses = vec![p; 2];
                let mut r = ProduceResponse::default();
                r.responses = vec![t; 2];
                encoder(r)
            }
            ApiKey::Fetch => {
                let mut p = fetch_response::PartitionData::default();
                p.aborted_transactions =
                    Some(vec![fetch_response::AbortedTransaction::default(); 2]);
                p.records = Some(bytes.clone());
                let mut t = fetch_response::FetchableTopicResponse::default();
                t.topic = TopicName(s("t"));
                t.partitions = vec![p; 2];
                let mut r = FetchResponse::default();
                r.responses = vec![t; 2];
                encoder(r)
            }
            ApiKey::ListOffsets => {
                let p = list_offsets_response::ListOffsetsPartitionResponse::default();
                let mut t = list_offsets_response::ListOffsetsTopicResponse::default();
                t.name = TopicName(s("t"));
                t.partitions = vec![p; 2];
                let mut r = ListOffsetsResponse::default();
                r.topics = vec![t; 2];
                encoder(r)
            }
            ApiKey::FindCoordinator => {
                let mut c = find_coordinator_response::Coordinator::default();
                c.key = s("g");
                c.host = s("h");
                c.error_message = Some(s("e"));
                let mut r = FindCoordinatorResponse::default();
                if v >= 4 {
                    r.coordinators = vec![c; 2];
                } else {
                    r.host = s("h");
                    r.error_message = (v >= 1).then(|| s("e"));
                }
                encoder(r)
            }
            ApiKey::JoinGroup => {
                let mut m = join_group_response::JoinGroupResponseMember::default();
                m.member_id = s("m");
                m.group_instance_id = Some(s("i"));
                m.metadata = bytes.clone();
                let mut r = JoinGroupResponse::default();
                r.protocol_name = Some(s("range"));
                r.protocol_type = Some(s("consumer"));
                r.leader = s("m");
                r.member_id = s("m");
                r.members = vec![m; 2];
                encoder(r)
            }
            ApiKey::SyncGroup => {
                let mut r = SyncGroupResponse::default();
                r.protocol_type = Some(s("consumer"));
                r.assignment = bytes.clone();
                encoder(r)
            }
            ApiKey::Heartbeat => encoder(HeartbeatResponse::default()),
            ApiKey::LeaveGroup => {
                let mut m = leave_group_response::MemberResponse::default();
                m.member_id = s("m");
                m.group_instance_id = Some(s("i"));
                let mut r = LeaveGroupResponse::default();
                if v >= 3 {
                    r.members = vec![m; 2];
                }
                encoder(r)
            }
            ApiKey::OffsetCommit => {
                let mut t = offset_commit_response::OffsetCommitResponseTopic::default();
                t.name = TopicName(s("t"));
                t.partitions =
                    vec![offset_commit_response::OffsetCommitResponsePartition::default(); 2];
                let mut r = OffsetCommitResponse::default();
                r.topics = vec![t; 2];
                encoder(r)
            }
            ApiKey::OffsetFetch => {
                let mut p = offset_fetch_response::OffsetFetchResponsePartition::default();
                p.metadata = Some(s("x"));
                let mut t = offset_fetch_response::OffsetFetchResponseTopic::default();
                t.name = TopicName(s("t"));
                t.partitions = vec![p; 2];
                let mut gp = offset_fetch_response::OffsetFetchResponsePartitions::default();
                gp.metadata = Some(s("x"));
                let mut gt = offset_fetch_response::OffsetFetchResponseTopics::default();
                gt.name = TopicName(s("t"));
                gt.partitions = vec![gp; 2];
                let mut g = offset_fetch_response::OffsetFetchResponseGroup::default();
                g.group_id = GroupId(s("g"));
                g.topics = vec![gt; 2];
                let mut r = OffsetFetchResponse::default();
                if v >= 8 {
                    r.groups = vec![g; 2];
                } else {
                    r.topics = vec![t; 2];
                }
                encoder(r)
            }
            ApiKey::ListGroups => {
                let mut g = list_groups_response::ListedGroup::default();
                g.group_id = GroupId(s("g"));
                g.protocol_type = s("consumer");
                if v >= 4 {
                    g.group_state = s("Stable");
                }
                if v >= 5 {
                    g.group_type = s("classic");
                }
                let mut r = ListGroupsResponse::default();
                r.groups = vec![g; 2];
                encoder(r)
            }
            ApiKey::DescribeGroups => {
                let mut m = describe_groups_response::DescribedGroupMember::default();
                m.member_id = s("m");
                m.group_instance_id = Some(s("i"));
                m.member_metadata = bytes.clone();
                m.member_assignment = bytes.clone();
                let mut g = describe_groups_response::DescribedGroup::default();
                g.group_id = GroupId(s("g"));
                g.error_message = (v >= 6).then(|| s("e"));
                g.members = vec![m; 2];
                let mut r = DescribeGroupsResponse::default();
                r.groups = vec![g; 2];
                encoder(r)
            }
            ApiKey::CreateTopics => {
                let mut c = create_topics_response::CreatableTopicConfigs::default();
                c.name = s("k");
                c.value = Some(s("v"));
                let mut t = create_topics_response::CreatableTopicResult::default();
                t.name = TopicName(s("t"));
                t.error_message = (v >= 1).then(|| s("e"));
                t.configs = (v >= 5).then(|| vec![c; 2]);
                let mut r = CreateTopicsResponse::default();
                r.topics = vec![t; 2];
                encoder(r)
            }
            ApiKey::DeleteTopics => {
                let mut t = delete_topics_response::DeletableTopicResult::default();
                t.name = Some(TopicName(s("t")));
                t.error_message = (v >= 5).then(|| s("e"));
                let mut r = DeleteTopicsResponse::default();
                r.responses = vec![t; 2];
                encoder(r)
            }
            ApiKey::CreatePartitions => {
                let mut t = create_partitions_response::CreatePartitionsTopicResult::default();
                t.name = TopicName(s("t"));
                t.error_message = Some(s("e"));
                let mut r = CreatePartitionsResponse::default();
                r.results = vec![t; 2];
                encoder(r)
            }
            ApiKey::InitProducerId => encoder(InitProducerIdResponse::default()),
            ApiKey::DescribeConfigs => {
                let mut syn = describe_configs_response::DescribeConfigsSynonym::default();
                syn.name = s("k");
                syn.value = Some(s("v"));
                let mut c = describe_configs_response::DescribeConfigsResourceResult::default();
                c.name = s("k");
                c.value = Some(s("v"));
                if v >= 1 {
                    c.synonyms = vec![syn; 2];
                }
                c.documentation = (v >= 3).then(|| s("d"));
                let mut res = describe_configs_response::DescribeConfigsResult::default();
                res.resource_name = s("t");
                res.error_message = Some(s("e"));
                res.configs = vec![c; 2];
                let mut r = DescribeConfigsResponse::default();
                r.results = vec![res; 2];
                encoder(r)
            }
            ApiKey::OffsetForLeaderEpoch => {
                let mut t = offset_for_leader_epoch_response::OffsetForLeaderTopicResult::default();
                t.topic = TopicName(s("t"));
                t.partitions = vec![offset_for_leader_epoch_response::EpochEndOffset::default(); 2];
                let mut r = OffsetForLeaderEpochResponse::default();
                r.topics = vec![t; 2];
                encoder(r)
            }
            other => panic!("no sample response for {other:?}"),
        }
    }

    /// Every response the client decodes, encoded by the codec at every version it may
    /// negotiate, is walked exactly to its end.
    #[test]
    fn responses_encoded_by_the_codec_are_walked_to_their_end() {
        for &(key, min, max) in SUPPORTED.iter().chain(ALSO_DECODED) {
            for v in min..=max {
                let response = sample(key, v);
                let mut buf = BytesMut::new();
                response(&mut buf, v).unwrap_or_else(|e| panic!("{key:?} v{v}: {e}"));
                let flexible = key.request_header_version(v) >= 2;
                let walked = super::super::walk(body(key).unwrap(), v, flexible, &buf)
                    .unwrap_or_else(|e| panic!("{key:?} v{v}: {e}"));
                assert_eq!(walked, buf.len(), "{key:?} v{v}: whole body walked");
                check_response(key as i16, v, &buf).unwrap();
            }
        }
    }

    #[test]
    fn a_huge_count_in_any_response_is_refused_before_decoding() {
        // Metadata v1: an empty brokers array, controller 1, then a topics count of i32::MAX.
        let body = [0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff];
        let err = check_response(ApiKey::Metadata as i16, 1, &body).unwrap_err();
        assert!(err.contains("2147483647 elements"), "{err}");
        assert!(check_response(ApiKey::ElectLeaders as i16, 0, &[]).is_err());
    }
}
