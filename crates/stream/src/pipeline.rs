//! The job's state machine, without I/O: records go into batches by arrival time, closed batches
//! become outputs, and a batch's offsets become committable only once an output covering it has
//! been written.
//!
//! The driver loop is: [`Pipeline::record`] each consumed message; [`Pipeline::poll_output`] at
//! batch ends; write the [`Output`] everywhere (stdout flushed, topic acknowledged, HDFS file
//! renamed); hand its [`Ticket`] back to [`Pipeline::output_written`], which returns the offsets
//! to commit; commit them (the job does so in order, in a committer task). A ticket cannot be
//! cloned or made outside this module, so offsets cannot be committed for an output that was
//! not written, and only one output is in flight.
//!
//! What a crash costs (see the simulation tests): offsets are committed after the output, so a
//! job killed before an output is complete re-reads its records on restart (nothing is lost),
//! and a job killed after an output but before its commit was acknowledged re-reads that
//! output's records and counts them again in a later batch (at-least-once for the outputs whose
//! commit was under way, nothing else).

use std::collections::{BTreeMap, VecDeque};

pub use kafka_client::TopicPartition;

use crate::clock::{BatchClock, Millis};
use crate::counts::WordCounts;
use crate::window::Window;

/// For each partition, the offset of the next record to read (what Kafka commits).
pub type Offsets = BTreeMap<TopicPartition, i64>;

/// One batch's words and how far it read each partition.
#[derive(Debug)]
struct Batch {
    time: Millis,
    counts: WordCounts,
    next_offsets: Offsets,
}

impl Batch {
    fn new(time: Millis) -> Batch {
        Batch {
            time,
            counts: WordCounts::new(),
            next_offsets: Offsets::new(),
        }
    }
}

/// A result due for output: the counts of a batch (or of a window ending with it).
#[derive(Debug)]
pub struct Output {
    /// The batch time (`Time: … ms`).
    pub time: Millis,
    /// Every `(word, count)` in Spark's print order.
    pub counts: Vec<(String, u64)>,
    /// Proof the output was handed out; give it back to [`Pipeline::output_written`].
    pub ticket: Ticket,
}

/// Handed out with an [`Output`], returned once the output is written. Neither `Clone` nor
/// constructible elsewhere: the only way to get offsets to commit.
#[derive(Debug)]
pub struct Ticket {
    time: Millis,
    horizon: Millis,
}

/// The batches of a running job and the commit bookkeeping.
#[derive(Debug)]
pub struct Pipeline {
    clock: BatchClock,
    window: Window,
    partitions: u32,
    /// The batch receiving records now.
    open: Batch,
    /// Closed batches, oldest first, contiguous in time, kept until committed past.
    closed: VecDeque<Batch>,
    /// The time of the next closed batch to consider for output.
    next_due: Millis,
    /// The time of the output handed out and not yet written.
    in_flight: Option<Millis>,
    /// Offsets of every batch at or before the last horizon.
    committable: Offsets,
    /// What was last handed to the driver to commit.
    handed: Offsets,
    /// The next offset expected per partition, to drop what a rebalance delivers twice.
    read: Offsets,
}

impl Pipeline {
    /// A pipeline whose first batch receives what arrives from `now` on. `partitions` is the
    /// hash-partition count of Spark's print order (2 for `local[2]`).
    pub fn new(clock: BatchClock, window: Window, partitions: u32, now: Millis) -> Pipeline {
        let first = clock.batch_for(now);
        Pipeline {
            clock,
            window,
            partitions,
            open: Batch::new(first),
            closed: VecDeque::new(),
            next_due: first,
            in_flight: None,
            committable: Offsets::new(),
            handed: Offsets::new(),
            read: Offsets::new(),
        }
    }

    /// The time at which the open batch ends (when the driver should next poll).
    pub fn next_batch_end(&self) -> Millis {
        self.open.time
    }

    /// True when an output was handed out and not yet reported written.
    pub fn output_in_flight(&self) -> bool {
        self.in_flight.is_some()
    }

    /// Takes one consumed record received at `now`. A `None` value (a tombstone) has no words
    /// but its offset still counts as read. A record this pipeline has already taken (a group
    /// rebalance hands a partition to another of our consumers, which starts again from the
    /// last commit) is ignored; returns whether the record was taken.
    pub fn record(
        &mut self,
        tp: &TopicPartition,
        offset: i64,
        value: Option<&[u8]>,
        now: Millis,
    ) -> bool {
        self.advance(now);
        let next = offset.saturating_add(1);
        match self.read.get_mut(tp) {
            Some(expected) if offset < *expected => return false,
            Some(expected) => *expected = next,
            None => {
                self.read.insert(tp.clone(), next);
            }
        }
        if let Some(value) = value {
            self.open.counts.add_message(value);
        }
        if let Some(o) = self.open.next_offsets.get_mut(tp) {
            *o = next;
        } else {
            self.open.next_offsets.insert(tp.clone(), next);
        }
        true
    }

    /// Closes every batch that ended by `now`, then returns the next output due, if any and if
    /// no output is in flight. Empty batches are due too (Spark prints their header).
    pub fn poll_output(&mut self, now: Millis) -> Option<Output> {
        self.advance(now);
        if self.in_flight.is_some() {
            return None;
        }
        while self.closed.back().is_some_and(|b| b.time >= self.next_due) {
            let time = self.next_due;
            self.next_due += self.clock.interval();
            if !self.window.outputs_at(time) {
                continue;
            }
            let mut counts = WordCounts::new();
            for batch in self
                .closed
                .iter()
                .filter(|b| self.window.contains(time, b.time))
            {
                counts.merge(&batch.counts);
            }
            self.in_flight = Some(time);
            return Some(Output {
                time,
                counts: counts.into_spark_order(self.partitions),
                ticket: Ticket {
                    time,
                    horizon: self.window.horizon_after(time),
                },
            });
        }
        None
    }

    /// Records that the output of `ticket` is written everywhere, and returns the offsets that
    /// may now be committed (those that moved since the last call; empty when none did).
    pub fn output_written(&mut self, ticket: Ticket) -> Offsets {
        if self.in_flight == Some(ticket.time) {
            self.in_flight = None;
        }
        while let Some(batch) = self.closed.pop_front_if(|b| b.time <= ticket.horizon) {
            self.committable.extend(batch.next_offsets);
        }
        let mut moved = Offsets::new();
        for (tp, offset) in &self.committable {
            if self.handed.get(tp) != Some(offset) {
                moved.insert(tp.clone(), *offset);
            }
        }
        self.handed
            .extend(moved.iter().map(|(tp, o)| (tp.clone(), *o)));
        moved
    }

    fn advance(&mut self, now: Millis) {
        while now >= self.open.time {
            let next = Batch::new(self.open.time + self.clock.interval());
            self.closed
                .push_back(std::mem::replace(&mut self.open, next));
        }
    }
}

#[cfg(test)]
mod tests;
