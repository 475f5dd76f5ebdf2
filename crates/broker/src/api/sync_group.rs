//! SyncGroup: the leader sends the assignment; every member waits for its share.

use std::time::Instant;

use kafka_protocol::messages::{SyncGroupRequest, SyncGroupResponse};

use super::opt_text;
use crate::groups::group::{Pending, SyncOutcome};
use crate::session::Session;

/// Hands the leader's assignments to the group, then waits for this member's.
pub(super) async fn handle(
    session: &Session,
    _version: i16,
    request: SyncGroupRequest,
) -> SyncGroupResponse {
    let assignments = request
        .assignments
        .into_iter()
        .map(|a| (a.member_id.to_string(), a.assignment))
        .collect();
    let pending =
        match crate::cluster::groups::check_coordinator(&session.broker, request.group_id.as_str())
        {
            Err(error) => Pending::Now(SyncOutcome {
                error,
                ..SyncOutcome::default()
            }),
            Ok(()) => session
                .broker
                .groups
                .with_existing(request.group_id.as_str(), |g| {
                    g.sync(
                        request.member_id.as_str(),
                        request.generation_id,
                        assignments,
                        Instant::now(),
                    )
                })
                .unwrap_or_else(|| {
                    Pending::Now(SyncOutcome {
                        error: kafka_protocol::ResponseError::UnknownMemberId.code(),
                        ..SyncOutcome::default()
                    })
                }),
        };
    let outcome = pending
        .answer(|| SyncOutcome {
            error: kafka_protocol::ResponseError::RebalanceInProgress.code(),
            ..SyncOutcome::default()
        })
        .await;
    let mut response = SyncGroupResponse::default();
    response.error_code = outcome.error;
    response.protocol_type = opt_text(outcome.protocol_type.as_deref());
    response.protocol_name = opt_text(outcome.protocol_name.as_deref());
    response.assignment = outcome.assignment;
    response
}
