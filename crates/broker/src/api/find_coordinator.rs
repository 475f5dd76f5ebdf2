//! FindCoordinator: standalone, this broker coordinates every group, reached through the
//! listener the client used.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};

use super::text;
use crate::session::Session;

/// Key type 0 is a group; 1 (transactions) is not served.
pub(super) async fn handle(
    session: &Session,
    version: i16,
    request: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    let broker = &session.broker;
    let Some(me) = broker.listeners.get(session.listener) else {
        return FindCoordinatorResponse::default();
    };
    let error = if request.key_type == 0 {
        0
    } else {
        ResponseError::CoordinatorNotAvailable.code()
    };
    let mut response = FindCoordinatorResponse::default();
    if version >= 4 {
        response.coordinators = request
            .coordinator_keys
            .into_iter()
            .map(|key| {
                let mut c = Coordinator::default();
                c.key = key;
                c.node_id = BrokerId(broker.config.broker_id);
                c.host = text(&me.host);
                c.port = i32::from(me.port);
                c.error_code = error;
                c
            })
            .collect();
    } else {
        response.error_code = error;
        response.node_id = BrokerId(broker.config.broker_id);
        response.host = text(&me.host);
        response.port = i32::from(me.port);
    }
    response
}
