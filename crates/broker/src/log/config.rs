//! Per-log settings, named after the Kafka topic configs they come from.

use super::batch::BATCH_HEADER_LEN;
use super::error::LogError;

/// Which timestamp a topic keeps (`message.timestamp.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimestampType {
    /// The producer's timestamps are stored as sent.
    #[default]
    CreateTime,
    /// The broker overwrites each batch's `maxTimestamp` with its append time.
    LogAppendTime,
}

/// Settings of one partition log. `Default` gives Kafka's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// `segment.bytes` / `log.segment.bytes`: roll to a new segment past this size (≤ i32::MAX).
    pub segment_bytes: u64,
    /// `segment.ms` / `log.roll.ms` (`log.roll.hours`): roll a segment this old.
    pub segment_ms: u64,
    /// `retention.bytes` / `log.retention.bytes`: delete old segments past this total; None = -1.
    pub retention_bytes: Option<u64>,
    /// `retention.ms` / `log.retention.hours`: delete segments whose newest record is older.
    pub retention_ms: Option<u64>,
    /// `index.interval.bytes`: bytes of batches between two offset-index entries.
    pub index_interval_bytes: u64,
    /// `max.message.bytes` / `message.max.bytes`: largest batch accepted (12 + batchLength).
    pub max_message_bytes: u64,
    /// `message.timestamp.type`.
    pub timestamp_type: TimestampType,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 1024 * 1024 * 1024,
            segment_ms: 7 * 24 * 60 * 60 * 1000,
            retention_bytes: None,
            retention_ms: Some(7 * 24 * 60 * 60 * 1000),
            index_interval_bytes: 4096,
            max_message_bytes: 1024 * 1024 + 12,
            timestamp_type: TimestampType::CreateTime,
        }
    }
}

impl LogConfig {
    /// Checks the values the log relies on: segment positions must fit in 32 bits (as in
    /// Kafka's index format) and a segment must hold at least one batch header.
    pub fn validate(&self) -> Result<(), LogError> {
        let max = i32::MAX as u64;
        if self.segment_bytes < BATCH_HEADER_LEN as u64 || self.segment_bytes > max {
            return Err(LogError::InvalidConfig(format!(
                "segment.bytes {} must be between {BATCH_HEADER_LEN} and {max}",
                self.segment_bytes
            )));
        }
        if self.max_message_bytes > max {
            return Err(LogError::InvalidConfig(format!(
                "max.message.bytes {} must be at most {max}",
                self.max_message_bytes
            )));
        }
        if self.segment_ms == 0 {
            return Err(LogError::InvalidConfig(
                "segment.ms must be positive".into(),
            ));
        }
        Ok(())
    }
}
