//! CreateTopics: new topics with their partition count and topic configs (replication factor
//! at most the number of brokers: one, standalone).

use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};

use super::text;
use crate::config::BrokerConfig;
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
        let (new, _) = requested(&t, &broker.config);
        let (partitions, replication_factor) = (new.partitions, new.replication_factor);
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
            Err(e) => refuse(&mut result, e.code(), &e.to_string()),
        }
        result.name = t.name;
        response.topics.push(result);
    }
    response
}

/// What a CreateTopics entry asks for, alone or in a cluster: the topic, and the brokers of
/// each of its partitions (in partition order) when it names them. Its partition count and
/// replication factor come from those when given, else from the entry, where -1 means the
/// broker's default.
pub(crate) fn requested(
    t: &CreatableTopic,
    config: &BrokerConfig,
) -> (NewTopic, Option<Vec<Vec<i32>>>) {
    let explicit: Option<Vec<Vec<i32>>> = (!t.assignments.is_empty()).then(|| {
        let mut a: Vec<_> = t.assignments.iter().collect();
        a.sort_by_key(|x| x.partition_index);
        a.iter()
            .map(|x| x.broker_ids.iter().map(|b| b.0).collect())
            .collect()
    });
    let partitions = match &explicit {
        Some(a) => i32::try_from(a.len()).unwrap_or(i32::MAX),
        None if t.num_partitions == -1 => config.num_partitions,
        None => t.num_partitions,
    };
    let replication_factor = match &explicit {
        Some(a) => a
            .first()
            .map_or(1, |r| i16::try_from(r.len()).unwrap_or(i16::MAX)),
        None if t.replication_factor == -1 => config.default_replication_factor,
        None => t.replication_factor,
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
    (new, explicit)
}

/// Marks a topic's result as refused, as Kafka does: the error, and -1 for its partition
/// count and replication factor.
pub(crate) fn refuse(result: &mut CreatableTopicResult, code: i16, message: &str) {
    result.error_code = code;
    result.error_message = Some(text(message));
    result.num_partitions = -1;
    result.replication_factor = -1;
}
