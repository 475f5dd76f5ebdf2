//! JoinGroup: joins (or rejoins) a classic group and waits for the rebalance to complete.

use std::time::{Duration, Instant};

use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::{JoinGroupRequest, JoinGroupResponse};

use super::{opt_text, text};
use crate::groups::group::{JoinOutcome, JoinRequest, Pending};
use crate::session::Session;

/// Hands the request to the group, then waits for its outcome.
pub(super) async fn handle(
    session: &Session,
    version: i16,
    request: JoinGroupRequest,
) -> JoinGroupResponse {
    let session_timeout =
        Duration::from_millis(request.session_timeout_ms.max(0).unsigned_abs().into());
    // v0 has no rebalance timeout: Kafka uses the session timeout.
    let rebalance_timeout = if version == 0 || request.rebalance_timeout_ms <= 0 {
        session_timeout
    } else {
        Duration::from_millis(request.rebalance_timeout_ms.unsigned_abs().into())
    };
    let join = JoinRequest {
        member_id: request.member_id.to_string(),
        instance_id: request.group_instance_id.as_ref().map(|s| s.to_string()),
        client_id: session.client_id.get().cloned().unwrap_or_default(),
        client_host: format!("/{}", session.peer.ip()),
        session_timeout,
        rebalance_timeout,
        protocol_type: request.protocol_type.to_string(),
        protocols: request
            .protocols
            .into_iter()
            .map(|p| (p.name.to_string(), p.metadata))
            .collect(),
    };
    let pending =
        match crate::cluster::groups::check_coordinator(&session.broker, request.group_id.as_str())
        {
            Err(error) => Pending::Now(JoinOutcome {
                error,
                generation: -1,
                ..JoinOutcome::default()
            }),
            Ok(()) => session
                .broker
                .groups
                .with_group(request.group_id.as_str(), |g| g.join(join, Instant::now())),
        };
    let outcome = pending
        .answer(|| JoinOutcome {
            error: kafka_protocol::ResponseError::UnknownMemberId.code(),
            generation: -1,
            ..JoinOutcome::default()
        })
        .await;
    let mut response = JoinGroupResponse::default();
    response.error_code = outcome.error;
    response.generation_id = outcome.generation;
    response.protocol_type = opt_text(outcome.protocol_type.as_deref());
    response.protocol_name = opt_text(outcome.protocol_name.as_deref());
    if version < 7 && response.protocol_name.is_none() {
        response.protocol_name = Some(text(""));
    }
    response.leader = text(&outcome.leader);
    response.member_id = text(&outcome.member_id);
    response.members = outcome
        .members
        .into_iter()
        .map(|(id, instance, metadata)| {
            let mut m = JoinGroupResponseMember::default();
            m.member_id = text(&id);
            m.group_instance_id = opt_text(instance.as_deref());
            m.metadata = metadata;
            m
        })
        .collect();
    response
}
