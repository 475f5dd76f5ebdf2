//! Real v2 record batches for tests, encoded by the `kafka-protocol` crate as clients send them.

use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

/// One batch of `count` records with timestamps `base_timestamp + i`, no producer id.
pub(crate) fn batch(count: usize, base_timestamp: i64) -> Vec<u8> {
    batch_with(count, base_timestamp, -1, -1, -1)
}

/// One batch of `count` records from an idempotent producer.
pub(crate) fn batch_with(
    count: usize,
    base_timestamp: i64,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
) -> Vec<u8> {
    encode(
        &records(
            count,
            base_timestamp,
            producer_id,
            producer_epoch,
            base_sequence,
            20,
        ),
        Compression::None,
    )
}

/// `count` records with `value_len`-byte values and increasing timestamps.
pub(crate) fn records(
    count: usize,
    base_timestamp: i64,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    value_len: usize,
) -> Vec<Record> {
    (0..count)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id,
            producer_epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // offset - sequence must be constant for the encoder to keep one batch; a -1 base
            // sequence still yields baseSequence -1 (no producer id).
            sequence: base_sequence + i as i32,
            timestamp: base_timestamp + i as i64,
            key: Some(Bytes::from(format!("key-{i}"))),
            value: Some(Bytes::from(vec![b'a' + (i % 26) as u8; value_len])),
            headers: IndexMap::new(),
        })
        .collect()
}

/// Encodes records as one v2 batch with the given codec.
pub(crate) fn encode(records: &[Record], compression: Compression) -> Vec<u8> {
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        records,
        &RecordEncodeOptions {
            version: 2,
            compression,
        },
    )
    .unwrap();
    buf.to_vec()
}

/// Decodes every record of stored batches as `(offset, timestamp, value)`.
pub(crate) fn decode(bytes: &Bytes) -> Vec<(i64, i64, Bytes)> {
    let mut buf = bytes.clone();
    kafka_protocol::records::RecordBatchDecoder::decode_all(&mut buf)
        .unwrap()
        .into_iter()
        .flat_map(|set| set.records)
        .map(|r| (r.offset, r.timestamp, r.value.unwrap_or_default()))
        .collect()
}

/// A small deterministic generator (xorshift64*), so failures reproduce from the seed.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub(crate) fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}
