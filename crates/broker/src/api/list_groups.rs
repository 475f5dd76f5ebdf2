//! ListGroups: every group with members or committed offsets (v4+: filtered by state).

use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{GroupId, ListGroupsRequest, ListGroupsResponse};

use super::text;
use crate::session::Session;

/// Lists the groups, keeping those whose state is in the filter when one is given.
pub(super) async fn handle(
    session: &Session,
    _version: i16,
    request: ListGroupsRequest,
) -> ListGroupsResponse {
    let mut response = ListGroupsResponse::default();
    response.groups = session
        .broker
        .groups
        .list()
        .into_iter()
        .filter(|g| {
            request.states_filter.is_empty()
                || request
                    .states_filter
                    .iter()
                    .any(|s| s.as_str().eq_ignore_ascii_case(g.state.name()))
        })
        .map(|g| {
            let mut l = ListedGroup::default();
            l.group_id = GroupId(text(&g.group_id));
            l.protocol_type = text(&g.protocol_type);
            l.group_state = text(g.state.name());
            l.group_type = text("classic");
            l
        })
        .collect();
    response
}
