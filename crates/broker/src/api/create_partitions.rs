//! CreatePartitions (`kafka-topics.sh --alter --partitions N`): grows a topic to N partitions.
//! A topic never shrinks: N at or below the current count is INVALID_PARTITIONS, as in Kafka.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};

use super::text;
use crate::session::Session;
use crate::topics::TopicError;

/// Grows each topic (or only validates, with `validate_only`). Standalone, the new partitions'
/// logs are created here; in a cluster the assignment in ZooKeeper is extended.
pub(super) async fn handle(
    session: &Session,
    _version: i16,
    request: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    if let Some(cluster) = crate::cluster::requests::of(session) {
        return crate::cluster::requests::create_partitions(&cluster, request).await;
    }
    let topics = &session.broker.topics;
    let mut response = CreatePartitionsResponse::default();
    let me = session.broker.config.broker_id;
    for t in request.topics {
        let name = t.name.to_string();
        let foreign = t
            .assignments
            .iter()
            .flatten()
            .any(|a| a.broker_ids.iter().any(|b| b.0 != me));
        let outcome = if foreign {
            Err((
                ResponseError::InvalidReplicaAssignment.code(),
                format!("replicas can only be on broker {me}, the only one"),
            ))
        } else if request.validate_only {
            topics.validate_partitions(&name, t.count).map_err(coded)
        } else {
            topics
                .add_partitions(&name, t.count)
                .map(|_| ())
                .map_err(coded)
        };
        let mut result = CreatePartitionsTopicResult::default();
        if let Err((code, message)) = outcome {
            result.error_code = code;
            result.error_message = Some(text(&message));
        }
        result.name = t.name;
        response.results.push(result);
    }
    response
}

/// A topic error as the protocol code and message.
fn coded(e: TopicError) -> (i16, String) {
    (e.code(), e.to_string())
}
