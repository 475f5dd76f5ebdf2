//! The group coordinator: every classic consumer group of this broker (membership in
//! [`group::Group`], committed offsets in [`offsets::OffsetStore`]). Standalone, this broker
//! coordinates every group.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

pub(crate) mod group;
pub(crate) mod offsets;

use group::{Group, GroupState, Timing};
use offsets::OffsetStore;

/// All groups, each behind one lock (group operations are short and never wait inside it).
#[derive(Debug)]
pub(crate) struct Groups {
    groups: Mutex<HashMap<String, Group>>,
    /// Committed offsets of every group.
    pub(crate) offsets: OffsetStore,
    timing: Timing,
}

/// A group as ListGroups shows it.
#[derive(Debug)]
pub(crate) struct GroupListing {
    pub(crate) group_id: String,
    pub(crate) protocol_type: String,
    pub(crate) state: GroupState,
}

impl Groups {
    /// Opens the offset journal in `state_dir`.
    pub(crate) fn open(state_dir: &Path, timing: Timing) -> std::io::Result<Groups> {
        Ok(Groups {
            groups: Mutex::new(HashMap::new()),
            offsets: OffsetStore::open(state_dir)?,
            timing,
        })
    }

    /// Runs `f` on the group `id`, creating it (empty) if needed.
    pub(crate) fn with_group<R>(&self, id: &str, f: impl FnOnce(&mut Group) -> R) -> R {
        let mut groups = self
            .groups
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let group = groups
            .entry(id.to_string())
            .or_insert_with(|| Group::new(self.timing));
        f(group)
    }

    /// Runs `f` on the group `id` if it has members.
    pub(crate) fn with_existing<R>(&self, id: &str, f: impl FnOnce(&mut Group) -> R) -> Option<R> {
        let mut groups = self
            .groups
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        groups.get_mut(id).map(f)
    }

    /// Advances every group's timers (session expiry, rebalance deadlines).
    pub(crate) fn tick(&self, now: Instant) {
        let mut groups = self
            .groups
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for g in groups.values_mut() {
            g.tick(now);
        }
    }

    /// Every group known by membership or by committed offsets.
    pub(crate) fn list(&self) -> Vec<GroupListing> {
        let mut out: Vec<GroupListing> = {
            let groups = self
                .groups
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            groups
                .iter()
                .map(|(id, g)| GroupListing {
                    group_id: id.clone(),
                    protocol_type: g.protocol_type().unwrap_or("consumer").to_string(),
                    state: g.state(),
                })
                .collect()
        };
        for id in self.offsets.groups() {
            if !out.iter().any(|g| g.group_id == id) {
                out.push(GroupListing {
                    group_id: id,
                    protocol_type: "consumer".into(),
                    state: GroupState::Empty,
                });
            }
        }
        out.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        out
    }
}
