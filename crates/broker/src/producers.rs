//! Idempotent produce: per partition, the last batches of each producer id (its epoch and
//! sequence numbers), so that a retried batch is answered with its original offset instead of
//! being stored twice, and a gap in sequences is refused.
//!
//! Kafka's rules: a producer's batches carry consecutive sequences within an epoch; the broker
//! remembers the last 5 batches per producer (the client's max in-flight); a higher epoch starts
//! again at sequence 0; a lower epoch is fenced.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use kafka_protocol::ResponseError;

/// How many recent batches per producer are remembered for duplicate detection.
pub(crate) const REMEMBERED_BATCHES: usize = 5;

/// One appended batch of a producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProducerBatch {
    pub(crate) first_sequence: i32,
    pub(crate) last_sequence: i32,
    pub(crate) base_offset: i64,
}

#[derive(Debug, Default)]
struct ProducerEntry {
    epoch: i16,
    batches: VecDeque<ProducerBatch>,
}

/// What to do with an incoming batch of an idempotent producer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Store it.
    Append,
    /// Already stored at this base offset: answer with it, store nothing.
    Duplicate(i64),
}

/// The producer states of one partition.
#[derive(Debug, Default)]
pub(crate) struct ProducerTable {
    producers: HashMap<i64, ProducerEntry>,
}

/// The sequence after `seq` (sequences wrap to 0 after i32::MAX).
fn next_sequence(seq: i32) -> i32 {
    if seq == i32::MAX { 0 } else { seq + 1 }
}

impl ProducerTable {
    /// Decides on a batch of producer `pid`/`epoch` with sequences `first..=last`.
    pub(crate) fn check(
        &self,
        pid: i64,
        epoch: i16,
        first: i32,
        last: i32,
    ) -> Result<Verdict, ResponseError> {
        let Some(entry) = self.producers.get(&pid) else {
            return if first == 0 {
                Ok(Verdict::Append)
            } else {
                Err(ResponseError::UnknownProducerId)
            };
        };
        if epoch < entry.epoch {
            return Err(ResponseError::InvalidProducerEpoch);
        }
        if epoch > entry.epoch {
            return if first == 0 {
                Ok(Verdict::Append)
            } else {
                Err(ResponseError::OutOfOrderSequenceNumber)
            };
        }
        if let Some(dup) = entry
            .batches
            .iter()
            .find(|b| b.first_sequence == first && b.last_sequence == last)
        {
            return Ok(Verdict::Duplicate(dup.base_offset));
        }
        match entry.batches.back() {
            Some(b) if next_sequence(b.last_sequence) == first => Ok(Verdict::Append),
            None if first == 0 => Ok(Verdict::Append),
            _ => Err(ResponseError::OutOfOrderSequenceNumber),
        }
    }

    /// Records a stored batch (also used to rebuild the table from the log at start).
    pub(crate) fn record(&mut self, pid: i64, epoch: i16, batch: ProducerBatch) {
        let entry = self.producers.entry(pid).or_default();
        if epoch != entry.epoch {
            entry.epoch = epoch;
            entry.batches.clear();
        }
        if entry.batches.len() == REMEMBERED_BATCHES {
            entry.batches.pop_front();
        }
        entry.batches.push_back(batch);
    }

    /// The highest producer id seen (to keep allocating above it after a restart).
    pub(crate) fn max_producer_id(&self) -> Option<i64> {
        self.producers.keys().copied().max()
    }
}

/// How many producer ids are reserved on disk at a time.
const ID_BLOCK: i64 = 1000;

/// Hands out producer ids that are never reused, even after a crash: blocks of ids are
/// reserved in the file `producer-ids` before any id of the block is given out (as Kafka's
/// producer id manager does); ids left in a block at a crash are skipped.
#[derive(Debug)]
pub(crate) struct ProducerIds {
    path: PathBuf,
    /// (next id to give, end of the reserved block)
    state: Mutex<(i64, i64)>,
}

impl ProducerIds {
    /// Reads the reserved block end from `dir`, staying above `max_seen` (ids found in logs).
    pub(crate) fn open(dir: &Path, max_seen: Option<i64>) -> std::io::Result<ProducerIds> {
        let path = dir.join("producer-ids");
        let stored = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| t.trim().parse::<i64>().ok())
            .unwrap_or(0);
        let next = stored.max(max_seen.map_or(0, |m| m.saturating_add(1)));
        Ok(ProducerIds {
            path,
            state: Mutex::new((next, next)),
        })
    }

    /// A fresh producer id.
    pub(crate) fn allocate(&self) -> std::io::Result<i64> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| std::io::Error::other("producer id lock poisoned"))?;
        let (next, block_end) = &mut *state;
        if *next >= *block_end {
            let end = next.saturating_add(ID_BLOCK);
            let tmp = self.path.with_extension("tmp");
            std::fs::write(&tmp, format!("{end}\n"))?;
            std::fs::rename(&tmp, &self.path)?;
            *block_end = end;
        }
        let id = *next;
        *next += 1;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(first: i32, last: i32, base: i64) -> ProducerBatch {
        ProducerBatch {
            first_sequence: first,
            last_sequence: last,
            base_offset: base,
        }
    }

    #[test]
    fn consecutive_batches_append_and_retries_are_duplicates() {
        let mut t = ProducerTable::default();
        assert_eq!(t.check(7, 0, 0, 9), Ok(Verdict::Append));
        t.record(7, 0, b(0, 9, 100));
        assert_eq!(t.check(7, 0, 10, 14), Ok(Verdict::Append));
        t.record(7, 0, b(10, 14, 110));
        assert_eq!(t.check(7, 0, 0, 9), Ok(Verdict::Duplicate(100)));
        assert_eq!(t.check(7, 0, 10, 14), Ok(Verdict::Duplicate(110)));
    }

    #[test]
    fn a_gap_is_out_of_order() {
        let mut t = ProducerTable::default();
        t.record(7, 0, b(0, 9, 0));
        assert_eq!(
            t.check(7, 0, 12, 13),
            Err(ResponseError::OutOfOrderSequenceNumber)
        );
    }

    #[test]
    fn old_epochs_are_fenced_and_new_ones_restart_at_zero() {
        let mut t = ProducerTable::default();
        t.record(7, 3, b(0, 0, 0));
        assert_eq!(
            t.check(7, 2, 1, 1),
            Err(ResponseError::InvalidProducerEpoch)
        );
        assert_eq!(t.check(7, 4, 0, 0), Ok(Verdict::Append));
        assert_eq!(
            t.check(7, 4, 5, 5),
            Err(ResponseError::OutOfOrderSequenceNumber)
        );
    }

    #[test]
    fn an_unknown_producer_must_start_at_zero() {
        let t = ProducerTable::default();
        assert_eq!(t.check(9, 0, 3, 3), Err(ResponseError::UnknownProducerId));
    }

    #[test]
    fn only_the_last_five_batches_are_remembered() {
        let mut t = ProducerTable::default();
        for i in 0..7 {
            t.record(1, 0, b(i, i, i64::from(i)));
        }
        assert_eq!(
            t.check(1, 0, 0, 0),
            Err(ResponseError::OutOfOrderSequenceNumber)
        );
        assert_eq!(t.check(1, 0, 6, 6), Ok(Verdict::Duplicate(6)));
        assert_eq!(t.max_producer_id(), Some(1));
    }

    #[test]
    fn producer_ids_are_not_reused_after_a_restart() {
        let dir = std::env::temp_dir().join(format!("pids-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = ProducerIds::open(&dir, None).unwrap().allocate().unwrap();
        let b = ProducerIds::open(&dir, None).unwrap().allocate().unwrap();
        assert!(b > a);
        let c = ProducerIds::open(&dir, Some(5000))
            .unwrap()
            .allocate()
            .unwrap();
        assert!(c > 5000);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn sequences_wrap() {
        let mut t = ProducerTable::default();
        t.record(1, 0, b(0, i32::MAX, 0));
        assert_eq!(t.check(1, 0, 0, 4), Ok(Verdict::Append));
    }
}
