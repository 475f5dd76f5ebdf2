//! Records as users see them, and their translation to and from record batches (v2).

use std::fmt;

use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use crate::error::{Error, Result};

/// A topic name and a partition index.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicPartition {
    /// The topic.
    pub topic: String,
    /// The partition index.
    pub partition: i32,
}

impl TopicPartition {
    /// Builds one.
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// A record to send.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProducerRecord {
    /// The topic.
    pub topic: String,
    /// A fixed partition, or `None` to let the partitioner choose (by key, else round-robin).
    pub partition: Option<i32>,
    /// The key (also what the partitioner hashes).
    pub key: Option<Bytes>,
    /// The value.
    pub value: Option<Bytes>,
    /// Headers, in order.
    pub headers: Vec<(String, Option<Bytes>)>,
    /// Create time in milliseconds since the epoch; `None` means now.
    pub timestamp: Option<i64>,
}

impl ProducerRecord {
    /// A record with a value only.
    pub fn new(topic: impl Into<String>, value: impl Into<Bytes>) -> Self {
        ProducerRecord {
            topic: topic.into(),
            value: Some(value.into()),
            ..Default::default()
        }
    }

    /// Sets the key.
    pub fn with_key(mut self, key: impl Into<Bytes>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Sets a fixed partition.
    pub fn with_partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }
}

/// A record read from a partition.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsumerRecord {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The record's offset.
    pub offset: i64,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    /// True when the broker set the timestamp (LogAppendTime), false for CreateTime.
    pub log_append_time: bool,
    /// The key.
    pub key: Option<Bytes>,
    /// The value.
    pub value: Option<Bytes>,
    /// Headers, in order.
    pub headers: Vec<(String, Option<Bytes>)>,
}

/// Identity of an idempotent producer, stamped on each batch it sends.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchProducer {
    pub(crate) id: i64,
    pub(crate) epoch: i16,
    pub(crate) base_sequence: i32,
}

/// Encodes `records` (all for one partition) as one record batch v2.
pub(crate) fn encode_batch(
    records: &[ProducerRecord],
    compression: Compression,
    producer: Option<BatchProducer>,
    now_ms: i64,
) -> Result<Bytes> {
    let mut out = Vec::with_capacity(records.len());
    for (i, r) in records.iter().enumerate() {
        let index =
            i32::try_from(i).map_err(|_| Error::Invalid("too many records in one batch".into()))?;
        let mut headers = IndexMap::new();
        for (k, v) in &r.headers {
            headers.insert(StrBytes::from_string(k.clone()), v.clone());
        }
        out.push(Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: producer.map_or(-1, |p| p.id),
            producer_epoch: producer.map_or(-1, |p| p.epoch),
            timestamp_type: TimestampType::Creation,
            offset: i64::from(index),
            sequence: producer.map_or(-1, |p| p.base_sequence.wrapping_add(index)),
            timestamp: r.timestamp.unwrap_or(now_ms),
            key: r.key.clone(),
            value: r.value.clone(),
            headers,
        });
    }
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression,
    };
    RecordBatchEncoder::encode(&mut buf, &out, &options).map_err(|e| Error::Codec {
        addr: String::new(),
        api: "Produce",
        reason: format!("{e:#}"),
    })?;
    Ok(buf.freeze())
}

/// Decodes the record batches of one partition's fetch answer into records at or after
/// `from_offset`, skipping control records. Returns the records and the offset after the last
/// batch seen (so an all-control or all-old answer still moves the position on).
///
/// A truncated last batch (the broker cut the answer at max_bytes) ends the decode without error.
pub(crate) fn decode_batches(
    topic: &str,
    partition: i32,
    mut data: Bytes,
    from_offset: i64,
    addr: &str,
) -> Result<(Vec<ConsumerRecord>, Option<i64>)> {
    let mut records = Vec::new();
    let mut next = None;
    while let Some(batch_len) = whole_batch_len(&data) {
        let mut batch = data.split_to(batch_len);
        let last_offset_delta = batch_last_offset_delta(&batch);
        let base_offset = batch_base_offset(&batch);
        if let Err(reason) = check_record_count(&batch) {
            return Err(Error::Codec {
                addr: addr.to_owned(),
                api: "Fetch",
                reason: format!("record batch of {topic}-{partition}: {reason}"),
            });
        }
        let set = RecordBatchDecoder::decode(&mut batch).map_err(|e| Error::Codec {
            addr: addr.to_owned(),
            api: "Fetch",
            reason: format!("record batch of {topic}-{partition}: {e:#}"),
        })?;
        if let (Some(base), Some(delta)) = (base_offset, last_offset_delta) {
            next = Some(base.saturating_add(i64::from(delta)).saturating_add(1));
        }
        for r in set.records {
            if r.control || r.offset < from_offset {
                continue;
            }
            next = Some(next.map_or(r.offset + 1, |n: i64| n.max(r.offset + 1)));
            records.push(ConsumerRecord {
                topic: topic.to_owned(),
                partition,
                offset: r.offset,
                timestamp: r.timestamp,
                log_append_time: matches!(r.timestamp_type, TimestampType::LogAppend),
                key: r.key,
                value: r.value,
                headers: r
                    .headers
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect(),
            });
        }
    }
    Ok((records, next))
}

/// Length of the first batch in `data` if it is all there (base offset i64, length i32, body).
fn whole_batch_len(data: &[u8]) -> Option<usize> {
    let len_bytes: [u8; 4] = data.get(8..12)?.try_into().ok()?;
    let len = usize::try_from(i32::from_be_bytes(len_bytes)).ok()?;
    let total = len.checked_add(12)?;
    (total <= data.len() && len > 0).then_some(total)
}

/// Bounds a batch's record count before the codec reserves room for that many records: a
/// record takes at least 7 bytes uncompressed; a compressed batch may hold at most a million.
fn check_record_count(batch: &[u8]) -> Result<(), String> {
    const MAX_COMPRESSED_RECORDS: i64 = 1_000_000;
    let field = |range: std::ops::Range<usize>| batch.get(range).map(<[u8]>::to_vec);
    let (Some(attributes), Some(count)) = (field(21..23), field(57..61)) else {
        return Err("batch header too short".into());
    };
    let compressed = attributes.get(1).is_some_and(|a| a & 0x07 != 0);
    let count = i64::from(i32::from_be_bytes(
        count
            .try_into()
            .map_err(|_| "batch header too short".to_string())?,
    ));
    let limit = if compressed {
        MAX_COMPRESSED_RECORDS
    } else {
        i64::try_from(batch.len() / 7).unwrap_or(i64::MAX)
    };
    if !(0..=limit).contains(&count) {
        return Err(format!(
            "record count {count} is impossible in {} bytes",
            batch.len()
        ));
    }
    Ok(())
}

fn batch_base_offset(batch: &[u8]) -> Option<i64> {
    Some(i64::from_be_bytes(batch.get(0..8)?.try_into().ok()?))
}

/// The last offset delta field of a v2 batch header (bytes 23..27).
fn batch_last_offset_delta(batch: &[u8]) -> Option<i32> {
    Some(i32::from_be_bytes(batch.get(23..27)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(key: &str, value: &str) -> ProducerRecord {
        ProducerRecord::new("t", value.to_owned()).with_key(key.to_owned())
    }

    #[test]
    fn a_batch_round_trips_with_keys_headers_and_offsets() {
        let mut r = rec("k1", "v1");
        r.headers.push(("h".into(), Some(Bytes::from_static(b"x"))));
        let batch = encode_batch(&[r, rec("k2", "v2")], Compression::None, None, 1000).unwrap();
        let (got, next) = decode_batches("t", 0, batch, 0, "b").unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].key.as_deref(), Some(&b"k1"[..]));
        assert_eq!(
            got[0].headers,
            vec![("h".to_string(), Some(Bytes::from_static(b"x")))]
        );
        assert_eq!(got[1].offset, 1);
        assert_eq!(got[1].timestamp, 1000);
        assert_eq!(next, Some(2));
    }

    #[test]
    fn records_before_the_position_are_skipped_but_the_position_moves() {
        let batch =
            encode_batch(&[rec("a", "1"), rec("b", "2")], Compression::None, None, 0).unwrap();
        let (got, next) = decode_batches("t", 0, batch.clone(), 1, "b").unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].value.as_deref(), Some(&b"2"[..]));
        let (none, next2) = decode_batches("t", 0, batch, 5, "b").unwrap();
        assert!(none.is_empty());
        assert_eq!((next, next2), (Some(2), Some(2)));
    }

    #[test]
    fn a_truncated_last_batch_is_left_for_the_next_fetch() {
        let one = encode_batch(&[rec("a", "1")], Compression::None, None, 0).unwrap();
        let mut two = BytesMut::from(&one[..]);
        two.extend_from_slice(&one[..one.len() - 3]);
        let (got, _) = decode_batches("t", 0, two.freeze(), 0, "b").unwrap();
        assert_eq!(got.len(), 1);
    }

    #[test]
    fn compressed_batches_decode() {
        for c in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let batch = encode_batch(&[rec("a", "hello")], c, None, 0).unwrap();
            let (got, _) = decode_batches("t", 0, batch, 0, "b").unwrap();
            assert_eq!(got[0].value.as_deref(), Some(&b"hello"[..]), "{c:?}");
        }
    }

    #[test]
    fn an_impossible_record_count_is_refused_before_allocating() {
        let batch = encode_batch(&[rec("a", "1")], Compression::None, None, 0).unwrap();
        let mut bad = BytesMut::from(&batch[..]);
        bad[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
        let err = decode_batches("t", 0, bad.freeze(), 0, "b").unwrap_err();
        assert!(err.to_string().contains("record count"), "{err}");
    }

    #[test]
    fn a_corrupt_batch_is_an_error() {
        let batch = encode_batch(&[rec("a", "1")], Compression::None, None, 0).unwrap();
        let mut bad = BytesMut::from(&batch[..]);
        let last = bad.len() - 1;
        bad[last] ^= 0xff;
        assert!(decode_batches("t", 0, bad.freeze(), 0, "b").is_err());
    }

    #[test]
    fn idempotent_batches_carry_producer_id_and_sequence() {
        let p = BatchProducer {
            id: 7,
            epoch: 1,
            base_sequence: 10,
        };
        let batch = encode_batch(
            &[rec("a", "1"), rec("b", "2")],
            Compression::None,
            Some(p),
            0,
        )
        .unwrap();
        let info = RecordBatchDecoder::decode_batch_info(&mut batch.clone()).unwrap();
        assert_eq!(info[0].producer_id, 7);
        assert_eq!(info[0].base_sequence, 10);
    }
}

#[cfg(test)]
mod fuzz {
    use super::*;

    /// A tiny deterministic generator (xorshift), so failures reproduce.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Fetch answers are broker bytes: corrupted, truncated or random, they decode to an
    /// error or to records, never to a panic.
    #[test]
    fn damaged_batches_never_panic() {
        let records: Vec<ProducerRecord> = (0..5)
            .map(|i| ProducerRecord::new("t", format!("value {i}")).with_key(format!("k{i}")))
            .collect();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for codec in [
            Compression::None,
            Compression::Gzip,
            Compression::Lz4,
            Compression::Snappy,
            Compression::Zstd,
        ] {
            let good = encode_batch(&records, codec, None, 0).unwrap();
            for _ in 0..2000 {
                let mut bad = good.to_vec();
                match rng.below(3) {
                    0 => {
                        for _ in 0..1 + rng.below(4) {
                            let i = rng.below(bad.len());
                            bad[i] = rng.next() as u8;
                        }
                    }
                    1 => bad.truncate(rng.below(bad.len())),
                    _ => {
                        let n = rng.below(200);
                        bad = (0..n).map(|_| rng.next() as u8).collect();
                    }
                }
                let _ = decode_batches("t", 0, Bytes::from(bad), 0, "fuzz");
            }
        }
    }
}
