//! ApiVersions: the served APIs and versions, generated from the router's table.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};

use super::ROUTES;
use crate::session::Session;

/// Lists every route with its advertised range.
pub(super) async fn handle(
    _session: &Session,
    _version: i16,
    _request: ApiVersionsRequest,
) -> ApiVersionsResponse {
    let mut response = ApiVersionsResponse::default();
    response.api_keys = advertised();
    response
}

/// The answer to an ApiVersions request of a version not served: Kafka answers it at v0 with
/// UNSUPPORTED_VERSION and its list, so the client can retry with a version it finds there.
pub(crate) fn unsupported_version_response() -> ApiVersionsResponse {
    let mut response = ApiVersionsResponse::default();
    response.error_code = ResponseError::UnsupportedVersion.code();
    response.api_keys = advertised();
    response
}

fn advertised() -> Vec<ApiVersion> {
    ROUTES
        .iter()
        .map(|r| {
            let mut v = ApiVersion::default();
            v.api_key = r.key as i16;
            v.min_version = r.min;
            v.max_version = r.max;
            v
        })
        .collect()
}
