//! The request router: one table of the APIs served, with the versions advertised for each and
//! the handler that serves them. ApiVersions answers from this same table, so what is
//! advertised is exactly what is served.
//!
//! Each API has its handler in its own file; a handler takes the decoded request and returns
//! the response body (the connection adds the header and keeps responses in request order).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use kafka_protocol::messages::{ApiKey, RequestKind, ResponseKind};

use crate::session::Session;

mod api_versions;
mod create_partitions;
pub(crate) mod create_topics;
pub(crate) mod delete_topics;
mod describe_configs;
mod describe_groups;
mod fetch;
mod find_coordinator;
mod heartbeat;
mod init_producer_id;
mod join_group;
mod leave_group;
mod list_groups;
mod list_offsets;
mod metadata;
mod offset_commit;
mod offset_fetch;
mod offset_for_leader_epoch;
mod produce;
mod sync_group;

pub(crate) use api_versions::unsupported_version_response;

/// A protocol string from a Rust one.
pub(crate) fn text(s: &str) -> kafka_protocol::protocol::StrBytes {
    kafka_protocol::protocol::StrBytes::from_string(s.to_string())
}

/// A protocol string from an optional Rust one.
pub(crate) fn opt_text(s: Option<&str>) -> Option<kafka_protocol::protocol::StrBytes> {
    s.map(text)
}

/// The future a handler returns; `None` when the request decoded into another API's shape
/// (which the router's construction rules out).
type HandlerFuture = Pin<Box<dyn Future<Output = Option<ResponseKind>> + Send>>;

/// Serves one decoded request at a version.
type Handler = fn(Arc<Session>, i16, RequestKind) -> HandlerFuture;

/// One served API: its key, the versions advertised and its handler.
#[derive(Debug)]
pub(crate) struct Route {
    /// The API.
    pub(crate) key: ApiKey,
    /// The lowest version advertised. Below the codec's own minimum (Produce 0–2) the version
    /// is advertised only because old librdkafka turns features on when it sees it; such a
    /// request is refused by closing the connection, as the codec cannot decode it.
    pub(crate) min: i16,
    /// The highest version served.
    pub(crate) max: i16,
    handler: Handler,
}

/// Builds a [`Route`] whose handler unpacks `RequestKind::$key` and calls `$module::handle`.
macro_rules! route {
    ($key:ident, $min:expr, $max:expr, $module:ident) => {
        Route {
            key: ApiKey::$key,
            min: $min,
            max: $max,
            handler: |session, version, request| {
                Box::pin(async move {
                    match request {
                        RequestKind::$key(r) => Some(ResponseKind::$key(
                            $module::handle(&session, version, r).await,
                        )),
                        _ => None,
                    }
                })
            },
        }
    };
}

/// Every API this broker serves. The minimums include the exact old versions that Debian's
/// kcat (librdkafka 2.0.2) probes for before it turns on message format v2, compression and
/// consumer groups; the maximums are what the handlers below implement.
pub(crate) static ROUTES: &[Route] = &[
    route!(Produce, 0, 12, produce),
    route!(Fetch, 4, 12, fetch),
    route!(ListOffsets, 1, 6, list_offsets),
    route!(Metadata, 0, 12, metadata),
    route!(OffsetCommit, 2, 9, offset_commit),
    route!(OffsetFetch, 1, 9, offset_fetch),
    route!(FindCoordinator, 0, 4, find_coordinator),
    route!(JoinGroup, 0, 9, join_group),
    route!(Heartbeat, 0, 4, heartbeat),
    route!(LeaveGroup, 0, 5, leave_group),
    route!(SyncGroup, 0, 5, sync_group),
    route!(DescribeGroups, 0, 5, describe_groups),
    route!(ListGroups, 0, 4, list_groups),
    route!(ApiVersions, 0, 4, api_versions),
    route!(CreateTopics, 2, 7, create_topics),
    route!(DeleteTopics, 1, 6, delete_topics),
    route!(InitProducerId, 0, 5, init_producer_id),
    route!(DescribeConfigs, 1, 4, describe_configs),
    route!(OffsetForLeaderEpoch, 0, 4, offset_for_leader_epoch),
    route!(CreatePartitions, 0, 3, create_partitions),
];

/// The route serving `key`, if any.
pub(crate) fn route(key: ApiKey) -> Option<&'static Route> {
    ROUTES.iter().find(|r| r.key == key)
}

impl Route {
    /// True when `version` is advertised for this API.
    pub(crate) fn serves(&self, version: i16) -> bool {
        (self.min..=self.max).contains(&version)
    }

    /// Runs the handler.
    pub(crate) fn handle(
        &self,
        session: Arc<Session>,
        version: i16,
        request: RequestKind,
    ) -> HandlerFuture {
        (self.handler)(session, version, request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_advertised_maximum_is_within_the_codec() {
        for r in ROUTES {
            let codec = r.key.valid_versions();
            assert!(
                r.max <= codec.max,
                "{:?} max {} > codec {}",
                r.key,
                r.max,
                codec.max
            );
            assert!(r.min <= r.max, "{:?}", r.key);
        }
    }

    #[test]
    fn the_versions_old_librdkafka_looks_for_are_advertised() {
        for (key, v) in [
            (ApiKey::Produce, 0),
            (ApiKey::Produce, 3),
            (ApiKey::Fetch, 4),
            (ApiKey::JoinGroup, 0),
            (ApiKey::SyncGroup, 0),
            (ApiKey::Heartbeat, 0),
            (ApiKey::LeaveGroup, 0),
            (ApiKey::OffsetCommit, 2),
            (ApiKey::OffsetFetch, 1),
            (ApiKey::FindCoordinator, 0),
            (ApiKey::InitProducerId, 0),
        ] {
            assert!(route(key).is_some_and(|r| r.serves(v)), "{key:?} v{v}");
        }
    }

    #[test]
    fn what_java_4_requires_is_advertised() {
        for (key, v) in [
            (ApiKey::Produce, 3),
            (ApiKey::Fetch, 4),
            (ApiKey::ListOffsets, 1),
            (ApiKey::OffsetCommit, 2),
            (ApiKey::OffsetFetch, 1),
            (ApiKey::CreateTopics, 2),
            (ApiKey::DeleteTopics, 1),
            (ApiKey::DescribeConfigs, 1),
            (ApiKey::JoinGroup, 2),
        ] {
            assert!(route(key).is_some_and(|r| r.serves(v)), "{key:?} v{v}");
        }
    }
}
