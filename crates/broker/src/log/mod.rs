//! Partition log storage: each partition is a directory of segments, as in Kafka.
//!
//! ```text
//! <partition dir>/
//!   00000000000000000000.log        record batches exactly as produced (offsets assigned)
//!   00000000000000000000.index      sparse: last offset of a batch -> its byte position
//!   00000000000000000000.timeindex  sparse: max timestamp so far -> its offset
//!   00000000000000523311.log …      the next segment, named by its base offset
//!   partition-offsets-checkpoint    high watermark, log start offset, recovery point,
//!                                   and after a clean close the log end (`clean-end`)
//!   leader-epoch-checkpoint         leader epoch -> first offset (OffsetForLeaderEpoch)
//! ```
//!
//! The hot path never decodes records: [`PartitionLog::append`] checks each v2 batch's framing
//! and CRC32C, copies the buffer once, patches `baseOffset` and `partitionLeaderEpoch` (outside
//! the CRC'd range, so the CRC stays valid) and writes it with one `write` call; an index entry
//! is added every `index_interval_bytes`. Nothing is fsynced until [`PartitionLog::flush`].
//! [`PartitionLog::read`] finds a position through the sparse index and returns whole batches
//! read with `pread`. The log rolls a new segment by size and age, and
//! [`PartitionLog::enforce_retention`] deletes old segments by size and time (never the
//! active one, never one holding records at or above the high watermark).
//!
//! On [`PartitionLog::open`], segments past the last fsynced offset (the recovery point) are
//! scanned batch by batch; the first batch with a bad length, magic, CRC32C or offset ends
//! the segment (the file is truncated there, later segments are deleted) and both indexes are
//! rebuilt. Older segments keep their index files unless those are missing or inconsistent.
//! After a clean close (a `clean-end` mark in the checkpoint, removed durably on open) the
//! active segment is trusted too: its headers after the last index entry are walked, no
//! record is read, so a clean restart costs little whatever the segment size.
//!
//! The high watermark and the leader epoch cache are stored from the start, so replication
//! (a follower's [`PartitionLog::append_as_follower`], [`PartitionLog::truncate_to`],
//! [`PartitionLog::leader_epoch_end_offset`]) needs no format change.
//!
//! API shape, relative to the first sketch of issue 3 (additions only since the first commit):
//! `append_at` takes the clock explicitly (`append` uses the wall clock);
//! `delete_records_before` returns the new log start; `LogConfig::timestamp_type` selects
//! `LogAppendTime`; [`LogError::kafka_error_code`] maps each error to the code a response
//! carries; [`batch`] exposes [`BatchHeader`] and [`Batches`] so the protocol layer reads
//! producer ids and sequences without decoding; [`PartitionLog::batch_headers`] walks stored
//! headers without reading records (rebuilding producer state on start);
//! [`PartitionLog::max_timestamp`] answers ListOffsets -3 (by timestamp, the one batch found
//! is streamed record by record with bounded memory, whatever its codec);
//! [`PartitionLog::checkpoint`] persists the high watermark now (a flush does at most once a
//! second, closing always); [`PartitionLog::close`] is a clean stop that reports errors;
//! [`PartitionLog::assign_epoch`] records a new leader's epoch.
//! The caller runs [`PartitionLog::enforce_retention`] periodically (Kafka checks every
//! 5 minutes). Concurrency is the caller's: `read` takes `&self`, every change `&mut self`.

pub mod batch;
mod checkpoint;
mod config;
mod epoch;
mod error;
mod index;
mod partition;
mod records;
mod segment;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;

pub use batch::{BatchError, BatchHeader, Batches};
pub use config::{LogConfig, TimestampType};
pub use error::LogError;
pub use partition::{AppendInfo, BatchHeaders, PartitionLog, ReadResult};
