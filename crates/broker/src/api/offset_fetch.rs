//! OffsetFetch: a group's committed positions (-1 where none), one group (v1–7) or several (v8+).

use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{OffsetFetchRequest, OffsetFetchResponse, TopicName};

use super::text;
use crate::groups::offsets::{Committed, OffsetStore};
use crate::session::Session;

/// The positions asked for, or every committed one when the topic list is null.
pub(super) async fn handle(
    session: &Session,
    version: i16,
    request: OffsetFetchRequest,
) -> OffsetFetchResponse {
    let groups: Vec<String> = if version >= 8 {
        request
            .groups
            .iter()
            .map(|g| g.group_id.to_string())
            .collect()
    } else {
        vec![request.group_id.to_string()]
    };
    crate::cluster::groups::load(&session.broker, &groups).await;
    let store = &session.broker.groups.offsets;
    let mut response = OffsetFetchResponse::default();
    if version >= 8 {
        for g in request.groups {
            let asked = g.topics.map(|ts| {
                ts.into_iter()
                    .map(|t| (t.name, t.partition_indexes))
                    .collect::<Vec<_>>()
            });
            let mut out = OffsetFetchResponseGroup::default();
            out.topics = lookup(store, g.group_id.as_str(), asked)
                .into_iter()
                .map(|(name, parts)| {
                    let mut t = OffsetFetchResponseTopics::default();
                    t.name = name;
                    t.partitions = parts
                        .into_iter()
                        .map(|(index, c)| {
                            let mut p = OffsetFetchResponsePartitions::default();
                            p.partition_index = index;
                            p.committed_offset = c.offset;
                            p.committed_leader_epoch = c.leader_epoch;
                            p.metadata = c.metadata.as_deref().map(text);
                            p
                        })
                        .collect();
                    t
                })
                .collect();
            out.group_id = g.group_id;
            response.groups.push(out);
        }
        return response;
    }
    let asked = request.topics.map(|ts| {
        ts.into_iter()
            .map(|t| (t.name, t.partition_indexes))
            .collect::<Vec<_>>()
    });
    response.topics = lookup(store, request.group_id.as_str(), asked)
        .into_iter()
        .map(|(name, parts)| {
            let mut t = OffsetFetchResponseTopic::default();
            t.name = name;
            t.partitions = parts
                .into_iter()
                .map(|(index, c)| {
                    let mut p = OffsetFetchResponsePartition::default();
                    p.partition_index = index;
                    p.committed_offset = c.offset;
                    p.committed_leader_epoch = c.leader_epoch;
                    p.metadata = c.metadata.as_deref().map(text);
                    p
                })
                .collect();
            t
        })
        .collect();
    response
}

type TopicOffsets = Vec<(TopicName, Vec<(i32, Committed)>)>;

/// Committed offsets of the asked partitions (offset -1 where none), or of all when `None`.
fn lookup(
    store: &OffsetStore,
    group: &str,
    asked: Option<Vec<(TopicName, Vec<i32>)>>,
) -> TopicOffsets {
    match asked {
        Some(topics) => topics
            .into_iter()
            .map(|(name, parts)| {
                let found = parts
                    .into_iter()
                    .map(|p| {
                        let c = store.fetch(group, name.as_str(), p).unwrap_or(Committed {
                            offset: -1,
                            leader_epoch: -1,
                            metadata: Some(String::new()),
                        });
                        (p, c)
                    })
                    .collect();
                (name, found)
            })
            .collect(),
        None => {
            let mut out: TopicOffsets = Vec::new();
            for (topic, p, c) in store.all(group) {
                match out.iter_mut().find(|(n, _)| n.as_str() == topic) {
                    Some((_, parts)) => parts.push((p, c)),
                    None => out.push((TopicName(text(&topic)), vec![(p, c)])),
                }
            }
            out
        }
    }
}
