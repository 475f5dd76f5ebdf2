//! Produce: appends each partition's record batches as sent (acks 0, 1 and all; standalone,
//! the in-sync replica set is this broker, so acks=all is answered once the batch is in the
//! log, like acks=1). Batches are never decoded: only their headers are read.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse, TopicName};

use super::text;
use crate::session::Session;

/// Appends every partition's records; the connection drops the answer for acks=0.
pub(super) async fn handle(
    session: &Session,
    version: i16,
    request: ProduceRequest,
) -> ProduceResponse {
    let broker = &session.broker;
    let mut response = ProduceResponse::default();
    let mut appended = false;
    if request.transactional_id.is_some() {
        tracing::warn!("transactional produce refused: transactions are not served");
    }
    for topic_data in request.topic_data {
        let topic = if version >= 13 && topic_data.name.is_empty() {
            broker.topics.get_by_id(topic_data.topic_id)
        } else {
            broker.topics.get(topic_data.name.as_str())
        };
        let mut out = TopicProduceResponse::default();
        for data in topic_data.partition_data {
            let mut p = PartitionProduceResponse::default();
            p.index = data.index;
            p.base_offset = -1;
            p.log_append_time_ms = -1;
            p.log_start_offset = -1;
            let partition = topic.as_ref().and_then(|t| t.partition(data.index));
            let outcome = match (partition, data.records) {
                _ if request.transactional_id.is_some() => {
                    Err(ResponseError::TransactionalIdAuthorizationFailed.code())
                }
                (None, _) => Err(ResponseError::UnknownTopicOrPartition.code()),
                (Some(_), None) => Err(ResponseError::InvalidRecord.code()),
                (Some(part), Some(records)) => {
                    let name = topic.as_ref().map_or("", |t| t.name.as_str());
                    let timeout = std::time::Duration::from_millis(
                        request.timeout_ms.max(0).unsigned_abs().into(),
                    );
                    match crate::cluster::requests::check_produce(
                        broker,
                        name,
                        data.index,
                        request.acks,
                    ) {
                        Err(code) => Err(code),
                        Ok(()) => match part.produce(&records) {
                            Err(code) => Err(code),
                            Ok(a) => crate::cluster::requests::replicate(
                                broker,
                                name,
                                part,
                                request.acks,
                                timeout,
                            )
                            .await
                            .map(|()| a),
                        },
                    }
                }
            };
            match outcome {
                Ok(a) => {
                    appended = true;
                    p.base_offset = a.base_offset;
                    p.log_append_time_ms = a.log_append_time;
                    p.log_start_offset = a.log_start_offset;
                }
                Err(code) => {
                    p.error_code = code;
                    if let Some(e) = ResponseError::try_from_code(code) {
                        p.error_message = Some(text(&e.to_string()));
                    }
                }
            }
            out.partition_responses.push(p);
        }
        out.name = match &topic {
            Some(t) if topic_data.name.is_empty() => TopicName(text(&t.name)),
            _ => topic_data.name,
        };
        out.topic_id = topic_data.topic_id;
        response.responses.push(out);
    }
    if appended {
        broker.notify_appended();
    }
    response
}
