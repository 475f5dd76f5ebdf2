//! DescribeGroups: state, protocol and members of each group (Dead for an unknown one).

use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse};

use super::{opt_text, text};
use crate::session::Session;

/// Describes each group asked for.
pub(super) async fn handle(
    session: &Session,
    _version: i16,
    request: DescribeGroupsRequest,
) -> DescribeGroupsResponse {
    let groups = &session.broker.groups;
    let mut response = DescribeGroupsResponse::default();
    for id in request.groups {
        let mut d = DescribedGroup::default();
        let has_offsets = !groups.offsets.all(id.as_str()).is_empty();
        let described = groups.with_existing(id.as_str(), |g| {
            (
                g.state().name(),
                g.protocol_type().unwrap_or_default().to_string(),
                g.protocol().unwrap_or_default().to_string(),
                g.members(),
            )
        });
        match described {
            Some((state, ptype, protocol, members)) => {
                d.group_state = text(state);
                d.protocol_type = text(&ptype);
                d.protocol_data = text(&protocol);
                d.members = members
                    .into_iter()
                    .map(|m| {
                        let mut dm = DescribedGroupMember::default();
                        dm.member_id = text(&m.member_id);
                        dm.group_instance_id = opt_text(m.instance_id.as_deref());
                        dm.client_id = text(&m.client_id);
                        dm.client_host = text(&m.client_host);
                        dm.member_metadata = m.metadata;
                        dm.member_assignment = m.assignment;
                        dm
                    })
                    .collect();
            }
            None if has_offsets => {
                d.group_state = text("Empty");
                d.protocol_type = text("consumer");
            }
            None => d.group_state = text("Dead"),
        }
        d.group_id = id;
        d.authorized_operations = i32::MIN;
        response.groups.push(d);
    }
    response
}
