//! Replica assignment of a new topic, as Kafka's rack-unaware `assignReplicasToBrokers` does it:
//! the first replica of each partition goes round-robin over the sorted brokers from a random
//! start; the following replicas are shifted by an amount that grows every time the partitions
//! wrap around the brokers, so leaders and followers both spread evenly.

/// Why no assignment exists.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum AssignmentError {
    /// Kafka's own message for a replication factor above the live brokers.
    #[error("Replication factor: {factor} larger than available brokers: {brokers}.")]
    TooFewBrokers {
        /// The factor asked for.
        factor: i16,
        /// The brokers alive.
        brokers: usize,
    },
    /// Zero or negative.
    #[error("Replication factor must be larger than 0.")]
    InvalidFactor,
}

/// Assigns `partitions` partitions with `factor` replicas each over `brokers`, with the random
/// `start` index and `shift` Kafka would draw (any value; reduced modulo the broker count).
pub(crate) fn assign(
    brokers: &[i32],
    partitions: i32,
    factor: i16,
    start: usize,
    shift: usize,
) -> Result<Vec<Vec<i32>>, AssignmentError> {
    assign_range(brokers, 0, partitions, factor, start, shift)
}

/// The replicas of partitions `existing.len()..total` of a topic, continuing its pattern as
/// Kafka's `addPartitions` does: the factor of partition 0, and the start (and shift) at the
/// first live broker whose id is at least partition 0's leader.
pub(crate) fn extend(
    brokers: &[i32],
    existing: &[Vec<i32>],
    total: i32,
) -> Result<Vec<Vec<i32>>, AssignmentError> {
    let first = existing.first().map(Vec::as_slice).unwrap_or_default();
    let factor = i16::try_from(first.len()).map_err(|_| AssignmentError::InvalidFactor)?;
    let leader = first.first().copied().unwrap_or(i32::MIN);
    let mut sorted = brokers.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let start = sorted.iter().position(|b| *b >= leader).unwrap_or(0);
    let current = i32::try_from(existing.len()).unwrap_or(i32::MAX);
    assign_range(
        brokers,
        current,
        total.saturating_sub(current),
        factor,
        start,
        start,
    )
}

/// Partitions `first..first + count` of the round-robin from `start` with `shift`.
fn assign_range(
    brokers: &[i32],
    first_partition: i32,
    count: i32,
    factor: i16,
    start: usize,
    shift: usize,
) -> Result<Vec<Vec<i32>>, AssignmentError> {
    if factor <= 0 {
        return Err(AssignmentError::InvalidFactor);
    }
    let factor_n = usize::try_from(factor).map_err(|_| AssignmentError::InvalidFactor)?;
    let mut sorted = brokers.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let n = sorted.len();
    if factor_n > n || n == 0 {
        return Err(AssignmentError::TooFewBrokers { factor, brokers: n });
    }
    let start = start % n;
    let mut shift = shift % n;
    let mut out = Vec::new();
    let first_partition = usize::try_from(first_partition).unwrap_or(0);
    let end = first_partition.saturating_add(usize::try_from(count).unwrap_or(0));
    for p in first_partition..end {
        if p > 0 && p % n == 0 {
            shift += 1;
        }
        let first = (p + start) % n;
        let mut replicas = Vec::with_capacity(factor_n);
        replicas.extend(sorted.get(first));
        for j in 0..factor_n - 1 {
            let step = 1 + (shift + j) % (n - 1).max(1);
            replicas.extend(sorted.get((first + step) % n));
        }
        out.push(replicas);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_kafkas_round_robin() {
        // Kafka's AdminUtils with startIndex 0 and nextReplicaShift 0 over brokers 0..5,
        // 10 partitions, factor 3 (the example in Kafka's own documentation comment).
        let got = assign(&[0, 1, 2, 3, 4], 10, 3, 0, 0).unwrap();
        let leaders: Vec<i32> = got.iter().map(|r| r[0]).collect();
        assert_eq!(leaders, vec![0, 1, 2, 3, 4, 0, 1, 2, 3, 4]);
        assert_eq!(got[0], vec![0, 1, 2]);
        assert_eq!(got[4], vec![4, 0, 1]);
        assert_eq!(got[5], vec![0, 2, 3]);
        assert_eq!(got[9], vec![4, 1, 2]);
    }

    #[test]
    fn every_replica_set_has_distinct_brokers() {
        for start in 0..3 {
            for shift in 0..3 {
                for r in assign(&[3, 1, 2], 7, 3, start, shift).unwrap() {
                    let mut d = r.clone();
                    d.sort_unstable();
                    d.dedup();
                    assert_eq!(d.len(), 3, "{r:?}");
                }
            }
        }
    }

    #[test]
    fn added_partitions_continue_kafkas_pattern() {
        // Kafka's addPartitions over brokers 0..5 for a topic created with start 0, shift 0:
        // the same replicas as if the topic had been created with all partitions at once.
        let all = assign(&[0, 1, 2, 3, 4], 10, 3, 0, 0).unwrap();
        let more = extend(&[0, 1, 2, 3, 4], &all[..4], 10).unwrap();
        assert_eq!(more, all[4..].to_vec());
        // A topic led from broker 2: the new partitions go on from its pattern.
        let existing = assign(&[1, 2, 3], 2, 2, 1, 1).unwrap();
        assert_eq!(existing[0][0], 2);
        let more = extend(&[1, 2, 3], &existing, 5).unwrap();
        assert_eq!(more.len(), 3);
        assert_eq!(
            more.iter().map(|r| r[0]).collect::<Vec<_>>(),
            vec![1, 2, 3],
            "{more:?}"
        );
        assert!(more.iter().all(|r| r.len() == 2 && r[0] != r[1]));
    }

    #[test]
    fn a_factor_above_the_brokers_is_kafkas_error() {
        let e = assign(&[1, 2], 1, 3, 0, 0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Replication factor: 3 larger than available brokers: 2."
        );
        assert_eq!(
            assign(&[1], 1, 0, 0, 0),
            Err(AssignmentError::InvalidFactor)
        );
    }
}
