//! CreateTopics: new topics with their partition count and topic configs (replication factor
//! at most the number of brokers: one, standalone).

use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};

use super::text;
use crate::session::Session;
use crate::topics::NewTopic;

/// Creates each topic (or only validates, with `validate_only`).
pub(super) async fn handle(
    session: &Session,
    version: i16,
    request: CreateTopicsRequest,
) -> CreateTopicsResponse {
    if let Some(cluster) = crate::cluster::requests::of(session) {
        return crate::cluster::requests::create_topics(session, &cluster, version, request).await;
    }
    let broker = &session.broker;
    let mut response = CreateTopicsResponse::default();
    for t in request.topics {
        let partitions = if !t.assignments.is_empty() {
            i32::try_from(t.assignments.len()).unwrap_or(i32::MAX)
        } else if t.num_partitions == -1 {
            broker.config.num_partitions
        } else {
            t.num_partitions
        };
        let replication_factor = if !t.assignments.is_empty() {
            t.assignments
                .first()
                .map_or(1, |a| i16::try_from(a.broker_ids.len()).unwrap_or(i16::MAX))
        } else if t.replication_factor == -1 {
            broker.config.default_replication_factor
        } else {
            t.replication_factor
        };
        let new = NewTopic {
            name: t.name.to_string(),
            partitions,
            replication_factor,
            configs: t
                .configs
                .iter()
                .filter_map(|c| Some((c.name.to_string(), c.value.as_ref()?.to_string())))
                .collect(),
        };
        let mut result = CreatableTopicResult::default();
        let created = if request.validate_only {
            broker.topics.validate(&new).map(|()| None)
        } else {
            broker.topics.create(new).map(Some)
        };
        match created {
            Ok(topic) => {
                result.num_partitions = partitions;
                result.replication_factor = replication_factor;
                if let Some(topic) = topic {
                    result.topic_id = topic.id;
                    if version >= 5 {
                        result.configs = Some(
                            topic
                                .effective_configs(&broker.config)
                                .into_iter()
                                .map(|(name, value, is_default)| {
                                    let mut c = CreatableTopicConfigs::default();
                                    c.name = text(&name);
                                    c.value = Some(text(&value));
                                    c.config_source = if is_default { 5 } else { 1 };
                                    c
                                })
                                .collect(),
                        );
                    }
                }
            }
            Err(e) => {
                result.error_code = e.code();
                result.error_message = Some(text(&e.to_string()));
                result.num_partitions = -1;
                result.replication_factor = -1;
            }
        }
        result.name = t.name;
        response.topics.push(result);
    }
    response
}
