//! Metadata: this broker (at the address of the listener the client came in through), the
//! topics asked for (auto-created when allowed) and their partitions, all led by this broker.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};

use super::text;
use crate::session::Session;
use crate::topics::{Topic, TopicError};

/// Describes the cluster and the topics.
pub(super) async fn handle(
    session: &Session,
    version: i16,
    request: MetadataRequest,
) -> MetadataResponse {
    if let Some(cluster) = crate::cluster::requests::of(session) {
        return crate::cluster::requests::metadata(session, &cluster, version, request).await;
    }
    let broker = &session.broker;
    let me = BrokerId(broker.config.broker_id);
    let mut response = MetadataResponse::default();
    if let Some(l) = broker.listeners.get(session.listener) {
        let mut b = MetadataResponseBroker::default();
        b.node_id = me;
        b.host = text(&l.host);
        b.port = i32::from(l.port);
        response.brokers.push(b);
    }
    response.cluster_id = Some(text(&broker.cluster_id));
    response.controller_id = me;
    response.cluster_authorized_operations = i32::MIN;
    // v0 asks for every topic with an empty list; v1+ with a null one.
    let asked = match request.topics {
        Some(t) if !(version == 0 && t.is_empty()) => t,
        _ => {
            response.topics = broker
                .topics
                .all()
                .iter()
                .map(|t| describe(t, me))
                .collect();
            return response;
        }
    };
    let may_create =
        broker.config.auto_create_topics && (version < 4 || request.allow_auto_topic_creation);
    for wanted in asked {
        let found = match &wanted.name {
            Some(name) => {
                let existing = broker.topics.get(name.as_str());
                match existing {
                    Some(t) => Ok(t),
                    None if may_create => broker.topics.auto_create(name.as_str()),
                    None => Err(TopicError::Unknown),
                }
            }
            None => broker
                .topics
                .get_by_id(wanted.topic_id)
                .ok_or(TopicError::Unknown),
        };
        let topic = match found {
            Ok(t) => describe(&t, me),
            Err(e) => {
                let mut t = MetadataResponseTopic::default();
                t.error_code = e.code();
                t.name = wanted.name;
                t.topic_id = wanted.topic_id;
                t.topic_authorized_operations = i32::MIN;
                if t.error_code == 0 {
                    t.error_code = ResponseError::UnknownTopicOrPartition.code();
                }
                t
            }
        };
        response.topics.push(topic);
    }
    response
}

fn describe(topic: &Topic, me: BrokerId) -> MetadataResponseTopic {
    let mut t = MetadataResponseTopic::default();
    t.name = Some(TopicName(text(&topic.name)));
    t.topic_id = topic.id;
    t.topic_authorized_operations = i32::MIN;
    t.partitions = topic
        .partitions
        .iter()
        .map(|p| {
            let mut mp = MetadataResponsePartition::default();
            mp.partition_index = p.index;
            mp.leader_id = me;
            mp.leader_epoch = p.leader_epoch();
            mp.replica_nodes = vec![me];
            mp.isr_nodes = vec![me];
            mp
        })
        .collect();
    t
}
