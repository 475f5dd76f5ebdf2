//! DeleteTopics: removes topics by name (v1–5) or by name or id (v6), with their data and
//! their committed group offsets.

use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse, TopicName};

use super::text;
use crate::session::Session;
use crate::topics::TopicError;

/// Deletes each topic asked for.
pub(super) async fn handle(
    session: &Session,
    version: i16,
    request: DeleteTopicsRequest,
) -> DeleteTopicsResponse {
    if let Some(cluster) = crate::cluster::requests::of(session) {
        return crate::cluster::requests::delete_topics(session, &cluster, version, request).await;
    }
    let broker = &session.broker;
    let asked = asked_topics(version, request);
    let mut response = DeleteTopicsResponse::default();
    for (name, id) in asked {
        let mut r = DeletableTopicResult::default();
        let topic = match &name {
            Some(n) => broker.topics.get(n.as_str()),
            None => broker.topics.get_by_id(id),
        };
        let outcome = match topic {
            None => Err(TopicError::Unknown),
            Some(_) if !broker.config.delete_topic_enable => Err(TopicError::DeletionDisabled),
            Some(t) => broker.topics.delete(&t.name).map(|()| t),
        };
        match outcome {
            Ok(t) => {
                if let Err(e) = broker.groups.offsets.forget_topic(&t.name) {
                    tracing::warn!("offsets of deleted topic {} kept: {e}", t.name);
                }
                r.name = Some(TopicName(text(&t.name)));
                r.topic_id = t.id;
            }
            Err(e) => {
                r.error_code = e.code();
                r.error_message = Some(text(&e.to_string()));
                r.name = name;
                r.topic_id = id;
            }
        }
        response.responses.push(r);
    }
    response
}

/// The topics a DeleteTopics request names: by name before v6, by name or id from v6 (a nil id
/// where only the name is known). Shared by the standalone and the cluster paths.
pub(crate) fn asked_topics(
    version: i16,
    request: DeleteTopicsRequest,
) -> Vec<(Option<TopicName>, uuid::Uuid)> {
    if version >= 6 {
        request
            .topics
            .into_iter()
            .map(|t| (t.name, t.topic_id))
            .collect()
    } else {
        request
            .topic_names
            .into_iter()
            .map(|n| (Some(n), uuid::Uuid::nil()))
            .collect()
    }
}
