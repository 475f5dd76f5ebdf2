//! LeaveGroup: a member (v0–2) or a batch of members (v3+) leaves; the rest rebalance.

use std::time::Instant;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{LeaveGroupRequest, LeaveGroupResponse};

use crate::session::Session;

/// Removes the members from the group.
pub(super) async fn handle(
    session: &Session,
    version: i16,
    request: LeaveGroupRequest,
) -> LeaveGroupResponse {
    let groups = &session.broker.groups;
    let group = request.group_id.as_str();
    let leave = |member: &str, instance: Option<&str>| {
        groups
            .with_existing(group, |g| g.leave(member, instance, Instant::now()))
            .unwrap_or(ResponseError::UnknownMemberId.code())
    };
    let mut response = LeaveGroupResponse::default();
    if version < 3 {
        response.error_code = leave(request.member_id.as_str(), None);
    } else {
        response.members = request
            .members
            .into_iter()
            .map(|m| {
                let mut r = MemberResponse::default();
                r.error_code = leave(m.member_id.as_str(), m.group_instance_id.as_deref());
                r.member_id = m.member_id;
                r.group_instance_id = m.group_instance_id;
                r
            })
            .collect();
    }
    response
}
