//! The batch clock: batch times are multiples of the batch interval since the epoch, as in
//! Spark Streaming, and a batch named `T` holds what arrived in `[T - interval, T)`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::Error;

/// Milliseconds since the epoch, the unit of Spark's `Time: … ms`.
pub type Millis = u64;

/// Where the batches of a job start and end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchClock {
    interval: Millis,
}

impl BatchClock {
    /// A clock of batches `interval_ms` long (at least 1 ms).
    pub fn new(interval_ms: Millis) -> Result<BatchClock, Error> {
        if interval_ms == 0 {
            return Err(Error::Config(
                "the batch interval must be at least 1 ms".into(),
            ));
        }
        Ok(BatchClock {
            interval: interval_ms,
        })
    }

    /// The batch interval in milliseconds.
    pub fn interval(&self) -> Millis {
        self.interval
    }

    /// The time of the batch that receives what arrives at `now`: the first multiple of the
    /// interval strictly after `now` (something arriving exactly at `T` belongs to `T + interval`).
    pub fn batch_for(&self, now: Millis) -> Millis {
        (now / self.interval)
            .saturating_add(1)
            .saturating_mul(self.interval)
    }
}

/// The wall clock in milliseconds since the epoch.
pub fn now_millis() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis()
        .try_into()
        .unwrap_or(Millis::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_end_on_multiples_of_the_interval() {
        let c = BatchClock::new(2000).unwrap();
        assert_eq!(c.batch_for(1_520_287_440_001), 1_520_287_442_000);
        assert_eq!(c.batch_for(1_520_287_441_999), 1_520_287_442_000);
    }

    #[test]
    fn an_arrival_on_a_boundary_goes_to_the_next_batch() {
        let c = BatchClock::new(2000).unwrap();
        assert_eq!(c.batch_for(1_520_287_442_000), 1_520_287_444_000);
    }

    #[test]
    fn a_zero_interval_is_refused() {
        assert!(BatchClock::new(0).is_err());
    }

    #[test]
    fn the_wall_clock_is_after_2020() {
        assert!(now_millis() > 1_577_836_800_000);
    }
}
