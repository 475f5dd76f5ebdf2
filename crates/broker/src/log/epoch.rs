//! The leader epoch cache: for each leader epoch, the first offset written in it. It answers
//! OffsetForLeaderEpoch, which a follower uses after a leader change to find where its log
//! diverges, and is kept in `leader-epoch-checkpoint` in Kafka's format.

use std::path::{Path, PathBuf};

use super::checkpoint;
use super::error::LogError;

/// The checkpoint file's name inside the partition directory (as in Kafka).
pub(crate) const FILE_NAME: &str = "leader-epoch-checkpoint";

/// One epoch and the first offset its leader wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EpochEntry {
    epoch: i32,
    start_offset: i64,
}

/// Epochs in increasing order with increasing start offsets.
#[derive(Debug)]
pub(crate) struct LeaderEpochCache {
    path: PathBuf,
    entries: Vec<EpochEntry>,
}

impl LeaderEpochCache {
    /// Loads the cache from `dir`; a missing file is an empty cache, a corrupt one is logged
    /// and rebuilt from the batches recovery scans.
    pub(crate) fn load(dir: &Path) -> LeaderEpochCache {
        let path = dir.join(FILE_NAME);
        let entries = match checkpoint::read(&path) {
            Ok(Some(entries)) => entries
                .into_iter()
                .filter_map(|(epoch, start_offset)| {
                    Some(EpochEntry {
                        epoch: epoch.parse().ok()?,
                        start_offset,
                    })
                })
                .collect(),
            Ok(None) => Vec::new(),
            Err(e) => {
                tracing::warn!("ignoring the leader epoch checkpoint: {e}");
                Vec::new()
            }
        };
        let mut cache = LeaderEpochCache {
            path,
            entries: Vec::new(),
        };
        for entry in entries {
            cache.assign(entry.epoch, entry.start_offset);
        }
        cache
    }

    /// Records that `epoch` starts at `start_offset`. Epochs only grow: an epoch not newer
    /// than the latest is ignored; entries at or after `start_offset` (left by a truncated
    /// leader) are replaced. Returns whether the cache changed.
    pub(crate) fn assign(&mut self, epoch: i32, start_offset: i64) -> bool {
        if epoch < 0 || self.latest_epoch().is_some_and(|latest| latest >= epoch) {
            return false;
        }
        self.entries.retain(|e| e.start_offset < start_offset);
        self.entries.push(EpochEntry {
            epoch,
            start_offset,
        });
        true
    }

    /// The newest epoch, if any.
    pub(crate) fn latest_epoch(&self) -> Option<i32> {
        self.entries.last().map(|e| e.epoch)
    }

    /// OffsetForLeaderEpoch: the largest epoch at most `epoch` and the offset where the next
    /// epoch starts (the log end for the latest epoch); None when `epoch` is newer than every
    /// known epoch (Kafka's UNDEFINED_EPOCH / UNDEFINED_EPOCH_OFFSET).
    pub(crate) fn end_offset_for(&self, epoch: i32, log_end_offset: i64) -> Option<(i32, i64)> {
        if epoch < 0 {
            return None;
        }
        if self.latest_epoch() == Some(epoch) {
            return Some((epoch, log_end_offset));
        }
        let higher = self.entries.iter().find(|e| e.epoch > epoch)?;
        let floor = self.entries.iter().rev().find(|e| e.epoch <= epoch);
        Some((floor.map_or(epoch, |e| e.epoch), higher.start_offset))
    }

    /// Drops epochs that start at or after `end_offset` (the log was truncated there).
    pub(crate) fn truncate_from_end(&mut self, end_offset: i64) -> bool {
        let before = self.entries.len();
        self.entries.retain(|e| e.start_offset < end_offset);
        self.entries.len() != before
    }

    /// Drops epochs entirely before `start_offset` (the log start moved); the epoch that
    /// covers `start_offset` is kept, starting there.
    pub(crate) fn truncate_from_start(&mut self, start_offset: i64) -> bool {
        let covering = self
            .entries
            .iter()
            .rposition(|e| e.start_offset <= start_offset);
        let mut changed = false;
        if let Some(i) = covering {
            if i > 0 {
                self.entries.drain(..i);
                changed = true;
            }
            if let Some(first) = self.entries.first_mut()
                && first.start_offset < start_offset
            {
                first.start_offset = start_offset;
                changed = true;
            }
        }
        changed
    }

    /// Writes the checkpoint file.
    pub(crate) fn save(&self) -> Result<(), LogError> {
        let entries: Vec<(i32, i64)> = self
            .entries
            .iter()
            .map(|e| (e.epoch, e.start_offset))
            .collect();
        checkpoint::write(&self.path, &entries, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(entries: &[(i32, i64)]) -> (tempfile::TempDir, LeaderEpochCache) {
        let dir = tempfile::tempdir().unwrap();
        let mut cache = LeaderEpochCache::load(dir.path());
        for &(epoch, start) in entries {
            cache.assign(epoch, start);
        }
        (dir, cache)
    }

    #[test]
    fn end_offsets_follow_kafka() {
        let (_dir, cache) = cache(&[(1, 0), (3, 10), (4, 25)]);
        assert_eq!(cache.end_offset_for(4, 40), Some((4, 40)));
        assert_eq!(cache.end_offset_for(3, 40), Some((3, 25)));
        assert_eq!(cache.end_offset_for(2, 40), Some((1, 10)));
        assert_eq!(cache.end_offset_for(0, 40), Some((0, 0)));
        assert_eq!(cache.end_offset_for(5, 40), None);
        assert_eq!(cache.end_offset_for(-1, 40), None);
    }

    #[test]
    fn assign_ignores_old_epochs_and_replaces_truncated_ones() {
        let (_dir, mut cache) = cache(&[(1, 0), (2, 10)]);
        assert!(!cache.assign(2, 20));
        assert!(!cache.assign(1, 20));
        assert!(cache.assign(5, 5));
        assert_eq!(cache.end_offset_for(1, 9), Some((1, 5)));
        assert_eq!(cache.latest_epoch(), Some(5));
    }

    #[test]
    fn truncation_from_both_ends() {
        let (_dir, mut cache) = cache(&[(1, 0), (2, 10), (3, 20)]);
        assert!(cache.truncate_from_end(20));
        assert_eq!(cache.latest_epoch(), Some(2));
        assert!(cache.truncate_from_start(15));
        assert_eq!(
            cache.entries,
            vec![EpochEntry {
                epoch: 2,
                start_offset: 15
            }]
        );
        assert!(!cache.truncate_from_start(15));
    }

    #[test]
    fn survives_a_save_and_load() {
        let (dir, cache) = cache(&[(1, 0), (7, 100)]);
        cache.save().unwrap();
        let loaded = LeaderEpochCache::load(dir.path());
        assert_eq!(loaded.entries, cache.entries);
    }
}
