//! Record batch v2 framing: a bounds-checked parser of the 61-byte batch header, a CRC32C check,
//! and an iterator that splits a buffer into whole batches without ever decoding records.
//!
//! The log stores batches exactly as producers sent them; the only bytes the broker rewrites
//! are `baseOffset`, `partitionLeaderEpoch` (both before the CRC'd range, so the CRC stays valid)
//! and, for `LogAppendTime` topics, `attributes` and `maxTimestamp` (inside it: the CRC is
//! recomputed). The protocol layer reads producer fields (id, epoch, base sequence) from
//! [`BatchHeader`] for idempotence.
//!
//! Layout (big-endian): baseOffset i64 @0, batchLength i32 @8, partitionLeaderEpoch i32 @12,
//! magic i8 @16, crc u32 @17, attributes i16 @21, lastOffsetDelta i32 @23, baseTimestamp i64
//! @27, maxTimestamp i64 @35, producerId i64 @43, producerEpoch i16 @51, baseSequence i32 @53,
//! records count i32 @57, then the records. `batchLength` counts the bytes after itself.

/// Bytes before `batchLength`'s payload starts: baseOffset (8) + batchLength (4).
pub const LOG_OVERHEAD: usize = 12;
/// Size of the fixed v2 batch header, records excluded.
pub const BATCH_HEADER_LEN: usize = 61;
/// Position of the magic byte (the same in message sets v0/v1, so old formats are recognised).
pub const MAGIC_OFFSET: usize = 16;
/// Start of the CRC32C-covered range (`attributes` through the end of the batch).
pub const CRC_RANGE_START: usize = 21;
/// The only batch format the log stores.
pub const CURRENT_MAGIC: i8 = 2;

const PARTITION_LEADER_EPOCH_OFFSET: usize = 12;
const CRC_OFFSET: usize = 17;
const ATTRIBUTES_OFFSET: usize = 21;
const MAX_TIMESTAMP_OFFSET: usize = 35;

/// Attribute bits 0-2: the compression codec.
const COMPRESSION_MASK: i16 = 0x07;
/// Attribute bit 3: the timestamps are the broker's append time.
const TIMESTAMP_TYPE_BIT: i16 = 0x08;
const TRANSACTIONAL_BIT: i16 = 0x10;
const CONTROL_BIT: i16 = 0x20;

/// Why a byte buffer is not a valid sequence of v2 record batches.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// The buffer ends inside a batch header or body.
    #[error("truncated batch: needs {needed} bytes, {available} available")]
    Truncated {
        /// Bytes the batch claims or the header needs.
        needed: u64,
        /// Bytes left in the buffer.
        available: usize,
    },
    /// `batchLength` is negative or shorter than a v2 header.
    #[error("invalid batch length {0}")]
    InvalidLength(i32),
    /// The batch (12 + batchLength bytes) exceeds the configured maximum.
    #[error("batch of {size} bytes exceeds max.message.bytes {max}")]
    TooLarge {
        /// The batch's size on the wire.
        size: u64,
        /// The configured limit.
        max: u64,
    },
    /// A message set v0/v1 (or an unknown magic): only v2 batches are stored.
    #[error(
        "unsupported record batch magic {0} (only magic 2 is stored; clients must use message format v2)"
    )]
    UnsupportedMagic(i8),
    /// The stored CRC32C does not match the bytes.
    #[error("CRC32C mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch {
        /// The CRC in the header.
        stored: u32,
        /// The CRC of the bytes.
        computed: u32,
    },
    /// Compression codec bits name no known codec.
    #[error("unknown compression codec {0}")]
    UnknownCompression(i16),
    /// `lastOffsetDelta` and the record count disagree, or are not positive.
    #[error(
        "inconsistent batch: lastOffsetDelta {last_offset_delta}, records count {records_count}"
    )]
    InvalidRecordCount {
        /// The header's lastOffsetDelta.
        last_offset_delta: i32,
        /// The header's records count.
        records_count: i32,
    },
}

/// The decoded fixed header of one v2 record batch (61 bytes, records not touched).
///
/// Parsing copies these few integers out of the buffer; the records stay where they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    /// Offset of the first record (assigned by the leader).
    pub base_offset: i64,
    /// Bytes after the `batchLength` field.
    pub batch_length: i32,
    /// Leader epoch of the leader that appended the batch.
    pub partition_leader_epoch: i32,
    /// Format version, 2 for every stored batch.
    pub magic: i8,
    /// CRC32C of `attributes` through the end of the batch.
    pub crc: u32,
    /// Compression, timestamp type, transactional and control flags.
    pub attributes: i16,
    /// Offset of the last record relative to `base_offset`.
    pub last_offset_delta: i32,
    /// Timestamp of the first record.
    pub base_timestamp: i64,
    /// Largest record timestamp (or the append time for `LogAppendTime`).
    pub max_timestamp: i64,
    /// Idempotent/transactional producer id, -1 when none.
    pub producer_id: i64,
    /// Producer epoch, -1 when none.
    pub producer_epoch: i16,
    /// Sequence number of the first record, -1 when none.
    pub base_sequence: i32,
    /// Number of records in the batch.
    pub records_count: i32,
}

/// Reads big-endian integers from a slice, failing instead of panicking when it runs out.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        // Only called on a slice whose length was checked against BATCH_HEADER_LEN.
        match self.0.split_first_chunk::<N>() {
            Some((head, rest)) => {
                self.0 = rest;
                *head
            }
            None => [0; N],
        }
    }
    fn i8(&mut self) -> i8 {
        i8::from_be_bytes(self.take())
    }
    fn i16(&mut self) -> i16 {
        i16::from_be_bytes(self.take())
    }
    fn i32(&mut self) -> i32 {
        i32::from_be_bytes(self.take())
    }
    fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.take())
    }
    fn i64(&mut self) -> i64 {
        i64::from_be_bytes(self.take())
    }
}

impl BatchHeader {
    /// Parses the header at the start of `bytes`, which must hold at least the magic byte and,
    /// for magic 2, the whole 61-byte header. The body is not checked (see [`check_batch`]).
    pub fn parse(bytes: &[u8]) -> Result<BatchHeader, BatchError> {
        let magic = match bytes.get(MAGIC_OFFSET) {
            Some(&m) => m as i8,
            None => {
                return Err(BatchError::Truncated {
                    needed: BATCH_HEADER_LEN as u64,
                    available: bytes.len(),
                });
            }
        };
        if magic != CURRENT_MAGIC {
            return Err(BatchError::UnsupportedMagic(magic));
        }
        let header = bytes.get(..BATCH_HEADER_LEN).ok_or(BatchError::Truncated {
            needed: BATCH_HEADER_LEN as u64,
            available: bytes.len(),
        })?;
        let mut r = Reader(header);
        Ok(BatchHeader {
            base_offset: r.i64(),
            batch_length: r.i32(),
            partition_leader_epoch: r.i32(),
            magic: r.i8(),
            crc: r.u32(),
            attributes: r.i16(),
            last_offset_delta: r.i32(),
            base_timestamp: r.i64(),
            max_timestamp: r.i64(),
            producer_id: r.i64(),
            producer_epoch: r.i16(),
            base_sequence: r.i32(),
            records_count: r.i32(),
        })
    }

    /// The batch's total size in the log: `LOG_OVERHEAD + batch_length` (the length is checked
    /// non-negative by [`check_batch`]; a negative one yields a size below the header length).
    pub fn size(&self) -> u64 {
        (LOG_OVERHEAD as i64 + i64::from(self.batch_length)).max(0) as u64
    }

    /// Offset of the batch's last record.
    pub fn last_offset(&self) -> i64 {
        self.base_offset
            .saturating_add(i64::from(self.last_offset_delta))
    }

    /// Offset after the batch's last record.
    pub fn next_offset(&self) -> i64 {
        self.last_offset().saturating_add(1)
    }

    /// Compression codec id: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd.
    pub fn compression(&self) -> i16 {
        self.attributes & COMPRESSION_MASK
    }

    /// Whether the timestamps are the broker's append time rather than the producer's.
    pub fn is_log_append_time(&self) -> bool {
        self.attributes & TIMESTAMP_TYPE_BIT != 0
    }

    /// Whether the batch belongs to a transaction.
    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_BIT != 0
    }

    /// Whether the batch holds a control record (a transaction marker).
    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_BIT != 0
    }

    /// Whether an idempotent or transactional producer wrote the batch.
    pub fn has_producer_id(&self) -> bool {
        self.producer_id >= 0
    }

    /// Sequence number of the batch's last record (sequences wrap at i32::MAX, as in Kafka).
    pub fn last_sequence(&self) -> i32 {
        if self.base_sequence < 0 {
            return self.base_sequence;
        }
        let last = i64::from(self.base_sequence) + i64::from(self.last_offset_delta);
        (last % (i64::from(i32::MAX) + 1)) as i32
    }
}

/// Checks the framing of the batch at the start of `bytes` and returns its header and its
/// exact bytes. `max_size` bounds `12 + batchLength`; nothing is allocated.
///
/// With `verify_crc`, also checks the CRC32C, the codec bits and the record count, which is
/// what a producer's batch must pass before it is stored.
pub fn check_batch(
    bytes: &[u8],
    max_size: u64,
    verify_crc: bool,
) -> Result<(BatchHeader, &[u8]), BatchError> {
    let header = BatchHeader::parse(bytes)?;
    if (header.batch_length as i64) < (BATCH_HEADER_LEN - LOG_OVERHEAD) as i64 {
        return Err(BatchError::InvalidLength(header.batch_length));
    }
    let size = header.size();
    if size > max_size {
        return Err(BatchError::TooLarge {
            size,
            max: max_size,
        });
    }
    let batch = usize::try_from(size)
        .ok()
        .and_then(|size| bytes.get(..size))
        .ok_or(BatchError::Truncated {
            needed: size,
            available: bytes.len(),
        })?;
    if verify_crc {
        verify_contents(&header, batch)?;
    }
    Ok((header, batch))
}

/// CRC32C, codec and record-count checks of one framed batch.
fn verify_contents(header: &BatchHeader, batch: &[u8]) -> Result<(), BatchError> {
    let computed = crc32c::crc32c(batch.get(CRC_RANGE_START..).unwrap_or_default());
    if computed != header.crc {
        return Err(BatchError::CrcMismatch {
            stored: header.crc,
            computed,
        });
    }
    if header.compression() > 4 {
        return Err(BatchError::UnknownCompression(header.compression()));
    }
    if header.last_offset_delta < 0
        || header.records_count <= 0
        || i64::from(header.last_offset_delta) + 1 != i64::from(header.records_count)
    {
        return Err(BatchError::InvalidRecordCount {
            last_offset_delta: header.last_offset_delta,
            records_count: header.records_count,
        });
    }
    Ok(())
}

/// Splits a buffer into whole v2 batches, checking each one's framing (and CRC when asked).
///
/// Yields `(byte position, header, batch bytes)`; after the first error it yields nothing more.
#[derive(Debug)]
pub struct Batches<'a> {
    bytes: &'a [u8],
    position: usize,
    max_size: u64,
    verify_crc: bool,
    failed: bool,
}

impl<'a> Batches<'a> {
    /// Iterates `bytes`, rejecting any batch larger than `max_size`; with `verify_crc` each
    /// batch's CRC32C and record count are checked too.
    pub fn new(bytes: &'a [u8], max_size: u64, verify_crc: bool) -> Batches<'a> {
        Batches {
            bytes,
            position: 0,
            max_size,
            verify_crc,
            failed: false,
        }
    }
}

impl<'a> Iterator for Batches<'a> {
    type Item = Result<(usize, BatchHeader, &'a [u8]), (usize, BatchError)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let rest = self.bytes.get(self.position..)?;
        if rest.is_empty() {
            return None;
        }
        match check_batch(rest, self.max_size, self.verify_crc) {
            Ok((header, batch)) => {
                let at = self.position;
                self.position += batch.len();
                Some(Ok((at, header, batch)))
            }
            Err(e) => {
                self.failed = true;
                Some(Err((self.position, e)))
            }
        }
    }
}

/// Writes `base_offset` and `partition_leader_epoch` into a framed batch. Neither field is in
/// the CRC'd range, so the batch's CRC stays valid. `batch` must be at least a header long.
pub(crate) fn set_offset_and_epoch(batch: &mut [u8], base_offset: i64, leader_epoch: i32) {
    if let Some(field) = batch.get_mut(..8) {
        field.copy_from_slice(&base_offset.to_be_bytes());
    }
    if let Some(field) =
        batch.get_mut(PARTITION_LEADER_EPOCH_OFFSET..PARTITION_LEADER_EPOCH_OFFSET + 4)
    {
        field.copy_from_slice(&leader_epoch.to_be_bytes());
    }
}

/// Marks a framed batch as `LogAppendTime` with `max_timestamp = append_time` and recomputes
/// the CRC (both fields are in the CRC'd range), as Kafka does for such topics.
pub(crate) fn set_log_append_time(batch: &mut [u8], attributes: i16, append_time: i64) {
    let attributes = attributes | TIMESTAMP_TYPE_BIT;
    if let Some(field) = batch.get_mut(ATTRIBUTES_OFFSET..ATTRIBUTES_OFFSET + 2) {
        field.copy_from_slice(&attributes.to_be_bytes());
    }
    if let Some(field) = batch.get_mut(MAX_TIMESTAMP_OFFSET..MAX_TIMESTAMP_OFFSET + 8) {
        field.copy_from_slice(&append_time.to_be_bytes());
    }
    let crc = crc32c::crc32c(batch.get(CRC_RANGE_START..).unwrap_or_default());
    if let Some(field) = batch.get_mut(CRC_OFFSET..CRC_OFFSET + 4) {
        field.copy_from_slice(&crc.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::test_support::{batch, batch_with};

    #[test]
    fn parses_header_of_a_real_batch() {
        let bytes = batch_with(5, 1000, 42, 3, 7);
        let (h, b) = check_batch(&bytes, u64::MAX, true).unwrap();
        assert_eq!(b.len(), bytes.len());
        assert_eq!(h.magic, 2);
        assert_eq!(h.records_count, 5);
        assert_eq!(h.last_offset_delta, 4);
        assert_eq!(h.base_timestamp, 1000);
        assert_eq!(h.max_timestamp, 1004);
        assert_eq!(h.producer_id, 42);
        assert_eq!(h.producer_epoch, 3);
        assert_eq!(h.base_sequence, 7);
        assert_eq!(h.last_sequence(), 11);
        assert!(h.has_producer_id());
        assert_eq!(h.size(), bytes.len() as u64);
    }

    #[test]
    fn rewriting_offset_and_epoch_keeps_the_crc_valid() {
        let mut bytes = batch(3, 1);
        set_offset_and_epoch(&mut bytes, 123_456, 9);
        let (h, _) = check_batch(&bytes, u64::MAX, true).unwrap();
        assert_eq!(h.base_offset, 123_456);
        assert_eq!(h.partition_leader_epoch, 9);
        // The real codec agrees, records included.
        let mut buf = bytes::Bytes::from(bytes);
        let set = kafka_protocol::records::RecordBatchDecoder::decode(&mut buf).unwrap();
        assert_eq!(set.records[0].offset, 123_456);
        assert_eq!(set.records[2].offset, 123_458);
        assert_eq!(set.records[0].partition_leader_epoch, 9);
    }

    #[test]
    fn log_append_time_rewrite_recomputes_the_crc() {
        let mut bytes = batch(2, 1);
        let h = BatchHeader::parse(&bytes).unwrap();
        set_log_append_time(&mut bytes, h.attributes, 777);
        let (h, _) = check_batch(&bytes, u64::MAX, true).unwrap();
        assert!(h.is_log_append_time());
        assert_eq!(h.max_timestamp, 777);
        let mut buf = bytes::Bytes::from(bytes);
        let set = kafka_protocol::records::RecordBatchDecoder::decode(&mut buf).unwrap();
        // Clients read LogAppendTime records' timestamps from maxTimestamp.
        assert_eq!(
            set.records[1].timestamp_type,
            kafka_protocol::records::TimestampType::LogAppend
        );
    }

    #[test]
    fn rejects_bad_framing_with_named_errors() {
        let good = batch(2, 1);
        assert!(matches!(
            check_batch(&good[..30], u64::MAX, true),
            Err(BatchError::Truncated { .. })
        ));
        assert!(matches!(
            check_batch(&good[..good.len() - 1], u64::MAX, true),
            Err(BatchError::Truncated { .. })
        ));
        assert!(matches!(
            check_batch(&good, 20, true),
            Err(BatchError::TooLarge { .. })
        ));
        let mut negative = good.clone();
        negative[8..12].copy_from_slice(&(-5i32).to_be_bytes());
        assert_eq!(
            check_batch(&negative, u64::MAX, true),
            Err(BatchError::InvalidLength(-5))
        );
        let mut v1 = good.clone();
        v1[16] = 1;
        assert_eq!(
            check_batch(&v1, u64::MAX, true),
            Err(BatchError::UnsupportedMagic(1))
        );
        let mut flipped = good.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0xff;
        assert!(matches!(
            check_batch(&flipped, u64::MAX, true),
            Err(BatchError::CrcMismatch { .. })
        ));
        // Without CRC verification the framing alone passes.
        assert!(check_batch(&flipped, u64::MAX, false).is_ok());
    }

    #[test]
    fn iterates_concatenated_batches_and_stops_at_the_first_error() {
        let mut buf = batch(2, 1);
        let first_len = buf.len();
        buf.extend_from_slice(&batch(3, 1));
        let items: Vec<_> = Batches::new(&buf, u64::MAX, true).collect();
        assert_eq!(items.len(), 2);
        let (at, h, _) = items[1].clone().unwrap();
        assert_eq!(at, first_len);
        assert_eq!(h.records_count, 3);

        buf.extend_from_slice(&[0u8; 7]);
        let items: Vec<_> = Batches::new(&buf, u64::MAX, true).collect();
        assert_eq!(items.len(), 3);
        assert!(items[2].is_err());
    }
}
