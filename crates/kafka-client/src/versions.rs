//! Which version of each API this client speaks, and the choice of one a broker also speaks.
//!
//! Each range is the span for which our request builders set only fields that exist and read
//! only fields that exist; `tests::every_builder_encodes_in_its_whole_range` holds us to it.

use std::collections::HashMap;

use kafka_protocol::messages::ApiKey;

/// `(api key, min, max)` of every API this client sends.
pub(crate) const SUPPORTED: &[(ApiKey, i16, i16)] = &[
    (ApiKey::ApiVersions, 0, 0),
    (ApiKey::Metadata, 1, 12),
    (ApiKey::Produce, 3, 11),
    (ApiKey::Fetch, 4, 12),
    (ApiKey::ListOffsets, 1, 7),
    (ApiKey::FindCoordinator, 0, 3),
    (ApiKey::JoinGroup, 0, 9),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 5),
    (ApiKey::OffsetCommit, 2, 8),
    (ApiKey::OffsetFetch, 1, 7),
    (ApiKey::ListGroups, 0, 4),
    (ApiKey::DescribeGroups, 0, 5),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::DeleteTopics, 1, 5),
    (ApiKey::CreatePartitions, 0, 3),
    (ApiKey::InitProducerId, 0, 4),
    (ApiKey::DescribeConfigs, 1, 4),
];

/// Our range for `key`, if we send it at all.
pub(crate) fn ours(key: i16) -> Option<(i16, i16)> {
    SUPPORTED
        .iter()
        .find(|(k, _, _)| *k as i16 == key)
        .map(|&(_, min, max)| (min, max))
}

/// A readable name for an API key, for errors and logs.
pub(crate) fn api_name(key: i16) -> &'static str {
    match ApiKey::try_from(key) {
        Ok(k) => api_key_name(k),
        Err(()) => "unknown API",
    }
}

fn api_key_name(k: ApiKey) -> &'static str {
    match k {
        ApiKey::ApiVersions => "ApiVersions",
        ApiKey::Metadata => "Metadata",
        ApiKey::Produce => "Produce",
        ApiKey::Fetch => "Fetch",
        ApiKey::ListOffsets => "ListOffsets",
        ApiKey::FindCoordinator => "FindCoordinator",
        ApiKey::JoinGroup => "JoinGroup",
        ApiKey::SyncGroup => "SyncGroup",
        ApiKey::Heartbeat => "Heartbeat",
        ApiKey::LeaveGroup => "LeaveGroup",
        ApiKey::OffsetCommit => "OffsetCommit",
        ApiKey::OffsetFetch => "OffsetFetch",
        ApiKey::ListGroups => "ListGroups",
        ApiKey::DescribeGroups => "DescribeGroups",
        ApiKey::CreateTopics => "CreateTopics",
        ApiKey::DeleteTopics => "DeleteTopics",
        ApiKey::CreatePartitions => "CreatePartitions",
        ApiKey::InitProducerId => "InitProducerId",
        ApiKey::DescribeConfigs => "DescribeConfigs",
        _ => "another API",
    }
}

/// The versions a broker advertised in ApiVersions, by API key.
#[derive(Debug, Clone, Default)]
pub(crate) struct BrokerVersions(HashMap<i16, (i16, i16)>);

impl BrokerVersions {
    /// Records one advertised range.
    pub(crate) fn insert(&mut self, key: i16, min: i16, max: i16) {
        self.0.insert(key, (min, max));
    }

    /// The highest version both sides speak, or `None`.
    pub(crate) fn pick(&self, key: i16) -> Option<i16> {
        let (our_min, our_max) = ours(key)?;
        let &(their_min, their_max) = self.0.get(&key)?;
        let v = our_max.min(their_max);
        (v >= our_min.max(their_min)).then_some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_highest_common_version_is_picked() {
        let mut b = BrokerVersions::default();
        b.insert(ApiKey::Fetch as i16, 0, 17);
        b.insert(ApiKey::Produce as i16, 0, 2);
        b.insert(ApiKey::Metadata as i16, 0, 5);
        assert_eq!(b.pick(ApiKey::Fetch as i16), Some(12));
        assert_eq!(b.pick(ApiKey::Produce as i16), None);
        assert_eq!(b.pick(ApiKey::Metadata as i16), Some(5));
        assert_eq!(b.pick(ApiKey::Heartbeat as i16), None);
    }

    #[test]
    fn our_ranges_are_within_the_codecs() {
        for &(key, min, max) in SUPPORTED {
            let codec = key.valid_versions();
            assert!(codec.min <= min && max <= codec.max, "{key:?}");
        }
    }
}
