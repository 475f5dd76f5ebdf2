//! Windowed counts, like Spark's `reduceByKeyAndWindow(_ + _, window, slide)`.
//!
//! An output is made at every batch time that is a multiple of the slide (since the epoch; Spark
//! counts from its start time instead, which it also rounds to the batch interval) and counts
//! the batches of the last `window`: those with times in `(T - window, T]`. A plain per-batch
//! count is the window of one interval sliding by one interval.

use crate::Error;
use crate::clock::Millis;

/// The window and slide of the counts, both multiples of the batch interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    length: Millis,
    slide: Millis,
}

impl Window {
    /// The window of plain per-batch counts.
    pub fn per_batch(interval: Millis) -> Window {
        Window {
            length: interval,
            slide: interval,
        }
    }

    /// A window of `length` ms sliding by `slide` ms over batches of `interval` ms. Like Spark,
    /// both must be non-zero multiples of the interval.
    pub fn new(interval: Millis, length: Millis, slide: Millis) -> Result<Window, Error> {
        for (name, value) in [("window", length), ("slide", slide)] {
            if interval == 0 || value == 0 || !value.is_multiple_of(interval) {
                return Err(Error::Config(format!(
                    "the {name} duration ({value} ms) must be a non-zero multiple of the batch \
                     interval ({interval} ms)"
                )));
            }
        }
        Ok(Window { length, slide })
    }

    /// The window length in ms.
    pub fn length(&self) -> Millis {
        self.length
    }

    /// The slide in ms.
    pub fn slide(&self) -> Millis {
        self.slide
    }

    /// True when an output is due at batch time `time`.
    pub fn outputs_at(&self, time: Millis) -> bool {
        time.is_multiple_of(self.slide)
    }

    /// True when the batch of time `batch` is part of the window output at `time`.
    pub fn contains(&self, time: Millis, batch: Millis) -> bool {
        batch <= time && batch + self.length > time
    }

    /// After the output at `time`, the batches at or before this time are in no later window,
    /// so their offsets may be committed (`time + slide - length`).
    pub fn horizon_after(&self, time: Millis) -> Millis {
        (time + self.slide).saturating_sub(self.length)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_that_are_not_multiples_are_refused() {
        assert!(Window::new(2000, 5000, 2000).is_err());
        assert!(Window::new(2000, 6000, 3000).is_err());
        assert!(Window::new(2000, 0, 2000).is_err());
        let err = Window::new(2000, 5000, 2000).unwrap_err().to_string();
        assert!(err.contains("window duration (5000 ms)"), "{err}");
        assert!(Window::new(2000, 6000, 4000).is_ok());
    }

    #[test]
    fn a_window_holds_the_batches_of_its_length() {
        let w = Window::new(1000, 3000, 2000).unwrap();
        assert!(w.outputs_at(10_000));
        assert!(!w.outputs_at(11_000));
        assert!(w.contains(10_000, 10_000));
        assert!(w.contains(10_000, 8_000));
        assert!(!w.contains(10_000, 7_000));
        assert!(!w.contains(10_000, 11_000));
    }

    #[test]
    fn the_horizon_is_the_newest_batch_no_later_window_needs() {
        let w = Window::new(1000, 3000, 2000).unwrap();
        // The next window (12 000) holds 10 000, 11 000, 12 000: up to 9 000 may be committed.
        assert_eq!(w.horizon_after(10_000), 9_000);
        let plain = Window::per_batch(1000);
        assert_eq!(plain.horizon_after(10_000), 10_000);
    }
}
