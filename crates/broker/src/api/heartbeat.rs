//! Heartbeat: keeps a member's session alive and tells it when to rejoin.

use std::time::Instant;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::{HeartbeatRequest, HeartbeatResponse};

use crate::session::Session;

/// Answers with the group's verdict on the member.
pub(super) async fn handle(
    session: &Session,
    _version: i16,
    request: HeartbeatRequest,
) -> HeartbeatResponse {
    let error =
        match crate::cluster::groups::check_coordinator(&session.broker, request.group_id.as_str())
        {
            Err(code) => code,
            Ok(()) => session
                .broker
                .groups
                .with_existing(request.group_id.as_str(), |g| {
                    g.heartbeat(
                        request.member_id.as_str(),
                        request.generation_id,
                        Instant::now(),
                    )
                })
                .unwrap_or(ResponseError::UnknownMemberId.code()),
        };
    let mut response = HeartbeatResponse::default();
    response.error_code = error;
    response
}
