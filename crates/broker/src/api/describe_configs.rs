//! DescribeConfigs: a topic's effective configs (its own overrides, else the broker's
//! defaults) or the broker's `server.properties` values.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult,
};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};

use super::text;
use crate::session::Session;

/// (name, value, config source).
type ConfigEntry = (String, String, i8);

const TOPIC: i8 = 2;
const BROKER: i8 = 4;
/// ConfigSource values of the protocol.
const DYNAMIC_TOPIC_CONFIG: i8 = 1;
const STATIC_BROKER_CONFIG: i8 = 4;
const DEFAULT_CONFIG: i8 = 5;

/// Describes each resource asked for, keeping only the asked keys when a list is given.
pub(super) async fn handle(
    session: &Session,
    _version: i16,
    request: DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    let broker = &session.broker;
    let mut response = DescribeConfigsResponse::default();
    for res in request.resources {
        let mut out = DescribeConfigsResult::default();
        let entries: Result<Vec<ConfigEntry>, (i16, String)> = match res.resource_type {
            TOPIC => match broker.topics.get(res.resource_name.as_str()) {
                Some(t) => Ok(t
                    .effective_configs(&broker.config)
                    .into_iter()
                    .map(|(k, v, is_default)| {
                        (
                            k,
                            v,
                            if is_default {
                                DEFAULT_CONFIG
                            } else {
                                DYNAMIC_TOPIC_CONFIG
                            },
                        )
                    })
                    .collect()),
                None => Err((
                    ResponseError::UnknownTopicOrPartition.code(),
                    format!("topic {} does not exist", res.resource_name.as_str()),
                )),
            },
            BROKER => {
                let name = res.resource_name.as_str();
                if name.is_empty() || name == broker.config.broker_id.to_string() {
                    Ok(broker
                        .config
                        .raw
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone(), STATIC_BROKER_CONFIG))
                        .collect())
                } else {
                    Err((
                        ResponseError::InvalidRequest.code(),
                        format!("this is broker {}, not {name}", broker.config.broker_id),
                    ))
                }
            }
            other => Err((
                ResponseError::InvalidRequest.code(),
                format!("resource type {other} is not described"),
            )),
        };
        match entries {
            Ok(list) => {
                out.configs = list
                    .into_iter()
                    .filter(|(k, _, _)| {
                        res.configuration_keys
                            .as_ref()
                            .is_none_or(|keys| keys.iter().any(|w| w.as_str() == k))
                    })
                    .map(|(k, v, source)| {
                        let mut c = DescribeConfigsResourceResult::default();
                        c.name = text(&k);
                        c.value = Some(text(&v));
                        c.config_source = source;
                        c.config_type = 2;
                        c
                    })
                    .collect();
            }
            Err((code, message)) => {
                out.error_code = code;
                out.error_message = Some(text(&message));
            }
        }
        out.resource_type = res.resource_type;
        out.resource_name = res.resource_name;
        response.results.push(out);
    }
    response
}
