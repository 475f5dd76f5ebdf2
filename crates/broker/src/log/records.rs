//! Finding a record by timestamp inside one stored batch (ListOffsets by timestamp), streaming:
//! records are walked one at a time, decompressing as they are read, and only their
//! timestamp and offset deltas are decoded; the rest of each record is skipped. Memory stays
//! bounded whatever a (possibly hostile) compressed batch expands to.
//!
//! Record v2 layout: length varint, attributes i8, timestampDelta varlong, offsetDelta varint,
//! then key, value and headers (skipped). Varints are zigzag-encoded, as in Kafka.

use std::io::{self, Read};

use super::batch::{BATCH_HEADER_LEN, BatchHeader};

/// Largest decompressed snappy block accepted (raw snappy cannot be streamed).
const MAX_SNAPPY_BLOCK: usize = 64 << 20;
/// The xerial snappy-java stream header Java clients write: magic, version, compatible version.
const XERIAL_MAGIC: &[u8; 8] = b"\x82SNAPPY\x00";
const XERIAL_HEADER_LEN: usize = 16;

/// The first record of `batch` (a whole stored batch described by `header`) with a timestamp
/// of at least `timestamp` and an offset of at least `from`, as `(offset, timestamp)`.
/// For `LogAppendTime` batches every record carries the batch's max timestamp.
pub(crate) fn first_at_or_after(
    batch: &[u8],
    header: &BatchHeader,
    timestamp: i64,
    from: i64,
) -> Result<Option<(i64, i64)>, String> {
    if header.is_log_append_time() {
        let offset = header.base_offset.max(from);
        let found = header.max_timestamp >= timestamp && offset <= header.last_offset();
        return Ok(found.then_some((offset, header.max_timestamp)));
    }
    let records = batch
        .get(BATCH_HEADER_LEN..)
        .ok_or("batch shorter than its header")?;
    let mut reader: Box<dyn Read + '_> = match header.compression() {
        0 => Box::new(records),
        1 => Box::new(flate2::read::GzDecoder::new(records)),
        2 => Box::new(SnappyReader::new(records)?),
        3 => Box::new(lz4::Decoder::new(records).map_err(|e| format!("lz4: {e}"))?),
        4 => Box::new(
            zstd::stream::read::Decoder::with_buffer(records).map_err(|e| format!("zstd: {e}"))?,
        ),
        codec => return Err(format!("unknown compression codec {codec}")),
    };
    for _ in 0..header.records_count.max(0) {
        let mut fields = Fields {
            reader: &mut reader,
            consumed: 0,
        };
        let length = fields.varint()?;
        fields.consumed = 0;
        let _attributes = fields.byte()?;
        let timestamp_delta = fields.varlong()?;
        let offset_delta = fields.varint()?;
        let rest = u64::try_from(length)
            .ok()
            .and_then(|length| length.checked_sub(fields.consumed))
            .ok_or_else(|| format!("record length {length} shorter than its fields"))?;
        let offset = header.base_offset.saturating_add(i64::from(offset_delta));
        let record_timestamp = header.base_timestamp.saturating_add(timestamp_delta);
        if record_timestamp >= timestamp && offset >= from {
            return Ok(Some((offset, record_timestamp)));
        }
        let skipped = io::copy(&mut (&mut reader).take(rest), &mut io::sink())
            .map_err(|e| format!("reading records: {e}"))?;
        if skipped != rest {
            return Err("records end inside a record".into());
        }
    }
    Ok(None)
}

/// Reads a record's leading fields, counting the bytes they take.
struct Fields<'r, R: Read> {
    reader: &'r mut R,
    consumed: u64,
}

impl<R: Read> Fields<'_, R> {
    fn byte(&mut self) -> Result<u8, String> {
        let mut b = [0u8; 1];
        self.reader
            .read_exact(&mut b)
            .map_err(|e| format!("records end early: {e}"))?;
        self.consumed += 1;
        Ok(u8::from_be_bytes(b))
    }

    /// An unsigned LEB128 of at most `max_bytes` bytes.
    fn unsigned(&mut self, max_bytes: u32) -> Result<u64, String> {
        let mut value = 0u64;
        for i in 0..max_bytes {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(format!("varint longer than {max_bytes} bytes"))
    }

    fn varint(&mut self) -> Result<i32, String> {
        let raw = self.unsigned(5)? as u32;
        Ok(((raw >> 1) as i32) ^ -((raw & 1) as i32))
    }

    fn varlong(&mut self) -> Result<i64, String> {
        let raw = self.unsigned(10)?;
        Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64))
    }
}

/// Snappy as Kafka clients write it: either the xerial snappy-java stream (a header, then
/// blocks each prefixed by its compressed length) or one raw snappy block. Each block is
/// decompressed on its own, after checking its announced size.
struct SnappyReader<'a> {
    /// Compressed blocks not yet decompressed (xerial framing).
    input: &'a [u8],
    block: Vec<u8>,
    position: usize,
}

impl<'a> SnappyReader<'a> {
    fn new(input: &'a [u8]) -> Result<Self, String> {
        if input.starts_with(XERIAL_MAGIC) {
            return Ok(SnappyReader {
                input: input.get(XERIAL_HEADER_LEN..).unwrap_or_default(),
                block: Vec::new(),
                position: 0,
            });
        }
        Ok(SnappyReader {
            input: &[],
            block: decompress_block(input)?,
            position: 0,
        })
    }

    /// Decompresses the next xerial block; false at the end of the stream.
    fn next_block(&mut self) -> Result<bool, String> {
        let Some((length, rest)) = self.input.split_first_chunk::<4>() else {
            return if self.input.is_empty() {
                Ok(false)
            } else {
                Err("truncated snappy block length".into())
            };
        };
        let length = usize::try_from(i32::from_be_bytes(*length))
            .map_err(|_| "negative snappy block length".to_string())?;
        let block = rest
            .get(..length)
            .ok_or("snappy block longer than the batch")?;
        self.block = decompress_block(block)?;
        self.position = 0;
        self.input = rest.get(length..).unwrap_or_default();
        Ok(true)
    }
}

fn decompress_block(block: &[u8]) -> Result<Vec<u8>, String> {
    let size = snap::raw::decompress_len(block).map_err(|e| format!("snappy: {e}"))?;
    if size > MAX_SNAPPY_BLOCK {
        return Err(format!(
            "snappy block of {size} bytes exceeds {MAX_SNAPPY_BLOCK}"
        ));
    }
    snap::raw::Decoder::new()
        .decompress_vec(block)
        .map_err(|e| format!("snappy: {e}"))
}

impl Read for SnappyReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.position >= self.block.len() {
            match self.next_block() {
                Ok(true) => {}
                Ok(false) => return Ok(0),
                Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
            }
        }
        let available = self.block.get(self.position..).unwrap_or_default();
        let n = available.len().min(out.len());
        if let (Some(dst), Some(src)) = (out.get_mut(..n), available.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.position += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::test_support::{Rng, encode, records};
    use kafka_protocol::records::Compression;

    fn find(batch: &[u8], timestamp: i64, from: i64) -> Option<(i64, i64)> {
        let header = BatchHeader::parse(batch).unwrap();
        first_at_or_after(batch, &header, timestamp, from).unwrap()
    }

    #[test]
    fn finds_records_in_every_codec() {
        for codec in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            // Timestamps 500, 501, …; offsets 0, 1, … (the encoder's base offset is 0).
            let batch = encode(&records(50, 500, -1, -1, -1, 300), codec);
            assert_eq!(find(&batch, 0, 0), Some((0, 500)), "{codec:?}");
            assert_eq!(find(&batch, 537, 0), Some((37, 537)), "{codec:?}");
            assert_eq!(find(&batch, 510, 20), Some((20, 520)), "{codec:?}");
            assert_eq!(find(&batch, 550, 0), None, "{codec:?}");
        }
    }

    #[test]
    fn raw_snappy_without_the_java_framing_is_read_too() {
        let mut plain = encode(&records(10, 100, -1, -1, -1, 30), Compression::None);
        let compressed = snap::raw::Encoder::new()
            .compress_vec(&plain[BATCH_HEADER_LEN..])
            .unwrap();
        plain.truncate(BATCH_HEADER_LEN);
        plain.extend_from_slice(&compressed);
        let length = (plain.len() - 12) as i32;
        plain[8..12].copy_from_slice(&length.to_be_bytes());
        plain[21..23].copy_from_slice(&2i16.to_be_bytes());
        assert_eq!(find(&plain, 105, 0), Some((5, 105)));
    }

    #[test]
    fn damaged_records_are_errors_not_panics() {
        let batch = encode(&records(5, 0, -1, -1, -1, 10), Compression::None);
        let header = BatchHeader::parse(&batch).unwrap();
        for cut in BATCH_HEADER_LEN..batch.len() {
            let _ = first_at_or_after(&batch[..cut], &header, i64::MAX, 0);
        }
        let mut garbage = batch.clone();
        for b in &mut garbage[BATCH_HEADER_LEN..] {
            *b = 0xff;
        }
        assert!(first_at_or_after(&garbage, &header, 0, 0).is_err());
        for codec in 1..=4i16 {
            let mut h = header;
            h.attributes = codec;
            assert!(
                first_at_or_after(&garbage, &h, 0, 0).is_err(),
                "codec {codec}"
            );
        }
    }

    #[test]
    fn mutated_compressed_batches_never_panic() {
        let mut rng = Rng(0x0123_4567_89ab_cdef);
        for codec in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let batch = encode(&records(20, 0, -1, -1, -1, 40), codec);
            let header = BatchHeader::parse(&batch).unwrap();
            for _ in 0..300 {
                let mut damaged = batch.clone();
                for _ in 0..=rng.below(3) {
                    let i = BATCH_HEADER_LEN + rng.below(damaged.len() - BATCH_HEADER_LEN);
                    damaged[i] = rng.next() as u8;
                }
                damaged.truncate(BATCH_HEADER_LEN + rng.below(damaged.len()));
                let _ = first_at_or_after(&damaged, &header, i64::MAX, 0);
            }
        }
    }
}
