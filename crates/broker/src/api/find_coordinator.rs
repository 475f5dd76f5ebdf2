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
    // In a cluster the group's coordinator may be another broker (cluster::groups).
    let locate = |key: &str| {
        crate::cluster::groups::coordinator(broker, key, &me.name).map_or(
            (broker.config.broker_id, me.host.clone(), me.port),
            |(id, e)| (id, e.host, e.port),
        )
    };
    let mut response = FindCoordinatorResponse::default();
    if version >= 4 {
        response.coordinators = request
            .coordinator_keys
            .into_iter()
            .map(|key| {
                let (id, host, port) = locate(key.as_str());
                let mut c = Coordinator::default();
                c.key = key;
                c.node_id = BrokerId(id);
                c.host = text(&host);
                c.port = i32::from(port);
                c.error_code = error;
                c
            })
            .collect();
    } else {
        let (id, host, port) = locate(request.key.as_str());
        response.error_code = error;
        response.node_id = BrokerId(id);
        response.host = text(&host);
        response.port = i32::from(port);
    }
    response
}
