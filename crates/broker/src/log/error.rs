//! What can go wrong in the partition log, with the Kafka error code each case answers.

use std::io;
use std::path::{Path, PathBuf};

use super::batch::BatchError;

/// An error from [`PartitionLog`](super::PartitionLog). Input errors (a bad batch, an offset out
/// of range) leave the log unchanged; I/O errors name the file.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// A file operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done ("write", "read", "sync", …).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// A batch given to `append` is malformed; nothing of that append was written.
    #[error("invalid record batch at byte {position} of the appended records: {source}")]
    InvalidBatch {
        /// Byte position of the bad batch in the appended buffer.
        position: usize,
        /// What was wrong with it.
        source: BatchError,
    },
    /// `append` was given no batches at all.
    #[error("nothing to append: the records buffer is empty")]
    EmptyAppend,
    /// One append is larger than a whole segment may be.
    #[error("records of {size} bytes exceed log.segment.bytes {max}")]
    RecordListTooLarge {
        /// The append's size.
        size: u64,
        /// The segment size limit.
        max: u64,
    },
    /// A read or delete asked for an offset the log does not hold.
    #[error("offset {offset} is out of range [{log_start_offset}, {log_end_offset}]")]
    OffsetOutOfRange {
        /// The offset asked for.
        offset: i64,
        /// The first offset held.
        log_start_offset: i64,
        /// The next offset to be written.
        log_end_offset: i64,
    },
    /// A follower append whose batches do not continue the log exactly.
    #[error("follower batch starts at offset {found}, the log expects {expected}")]
    NonContiguous {
        /// The offset the log expected next.
        expected: i64,
        /// The base offset found.
        found: i64,
    },
    /// Offsets would overflow i64, or one segment's relative offsets would overflow 32 bits.
    #[error("offset overflow: {0}")]
    OffsetOverflow(String),
    /// Stored data that should be valid is not (found while reading, not at recovery).
    #[error("corrupt segment {path} at byte {position}: {reason}")]
    Corrupt {
        /// The segment file.
        path: PathBuf,
        /// Byte position in the file.
        position: u64,
        /// What was wrong.
        reason: String,
    },
    /// A configuration value the log cannot work with.
    #[error("invalid log configuration: {0}")]
    InvalidConfig(String),
}

impl LogError {
    /// The Kafka protocol error code a response should carry for this error.
    pub fn kafka_error_code(&self) -> i16 {
        match self {
            LogError::Io { .. } | LogError::Corrupt { .. } => 56, // KAFKA_STORAGE_ERROR
            LogError::InvalidBatch { source, .. } => match source {
                BatchError::TooLarge { .. } => 10,           // MESSAGE_TOO_LARGE
                BatchError::UnsupportedMagic(_) => 43,       // UNSUPPORTED_FOR_MESSAGE_FORMAT
                BatchError::InvalidRecordCount { .. } => 87, // INVALID_RECORD
                _ => 2,                                      // CORRUPT_MESSAGE
            },
            LogError::EmptyAppend => 87,               // INVALID_RECORD
            LogError::RecordListTooLarge { .. } => 18, // RECORD_LIST_TOO_LARGE
            LogError::OffsetOutOfRange { .. } => 1,    // OFFSET_OUT_OF_RANGE
            LogError::NonContiguous { .. } => 2,       // CORRUPT_MESSAGE
            LogError::OffsetOverflow(_) => 87,         // INVALID_RECORD
            LogError::InvalidConfig(_) => 40,          // INVALID_CONFIG
        }
    }
}

/// Attaches the action and the path to an `io::Error`.
pub(crate) trait IoContext<T> {
    /// Wraps the error as [`LogError::Io`].
    fn io(self, action: &'static str, path: &Path) -> Result<T, LogError>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn io(self, action: &'static str, path: &Path) -> Result<T, LogError> {
        self.map_err(|source| LogError::Io {
            action,
            path: path.to_path_buf(),
            source,
        })
    }
}
