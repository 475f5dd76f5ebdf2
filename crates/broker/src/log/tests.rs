//! Tests of the whole partition log through its public API, with real client batches.

use std::fs::OpenOptions;
use std::path::Path;

use kafka_protocol::records::Compression;

use super::test_support::{Rng, batch, batch_with, decode, encode, records};
use super::*;

fn small_segments() -> LogConfig {
    LogConfig {
        segment_bytes: 1024,
        index_interval_bytes: 100,
        ..LogConfig::default()
    }
}

fn segment_files(dir: &Path, extension: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(&format!(".{extension}")))
        .collect();
    names.sort();
    names
}

/// Appends `n` batches of `per_batch` records; timestamps are `1000 + offset`.
fn fill(log: &mut PartitionLog, n: usize, per_batch: usize) {
    for _ in 0..n {
        let ts = 1000 + log.log_end_offset();
        log.append(&batch(per_batch, ts), 0).unwrap();
    }
}

/// Every record of the log, read from `offset` through repeated reads as a consumer would.
fn read_all(log: &PartitionLog, mut offset: i64) -> Vec<(i64, i64, bytes::Bytes)> {
    let mut out = Vec::new();
    loop {
        let r = log.read(offset, 300, log.log_end_offset()).unwrap();
        if r.records.is_empty() {
            return out;
        }
        let records = decode(&r.records);
        offset = records.last().unwrap().0 + 1;
        out.extend(records);
    }
}

#[test]
fn append_assigns_offsets_and_reads_back_across_segment_rolls() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (0, 0));
    let first = log.append(&batch(3, 1000), 5).unwrap();
    assert_eq!((first.first_offset, first.last_offset), (0, 2));
    assert_eq!(first.log_append_time, -1);
    fill(&mut log, 40, 3);
    assert_eq!(log.log_end_offset(), 123);
    assert!(log.segment_count() > 3, "{} segments", log.segment_count());
    assert_eq!(
        segment_files(dir.path(), "log")[0],
        "00000000000000000000.log"
    );
    assert_eq!(
        segment_files(dir.path(), "index").len(),
        log.segment_count()
    );
    assert_eq!(
        segment_files(dir.path(), "timeindex").len(),
        log.segment_count()
    );

    let all = read_all(&log, 0);
    assert_eq!(all.len(), 123);
    for (i, (offset, timestamp, _)) in all.iter().enumerate() {
        assert_eq!(*offset, i as i64);
        // Batch k starts at offset 3k with timestamp 1000 + 3k.
        assert_eq!(*timestamp, 1000 + i as i64);
    }
}

#[test]
fn a_mid_batch_offset_returns_the_whole_batch_containing_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    fill(&mut log, 10, 5);
    let r = log.read(17, 1, 50).unwrap();
    let records = decode(&r.records);
    assert_eq!(
        records.first().unwrap().0,
        15,
        "the batch holding 17 starts at 15"
    );
    assert_eq!(
        records.len(),
        5,
        "max_bytes=1 still returns one whole batch"
    );
}

#[test]
fn reads_stop_at_the_upper_bound_and_at_the_log_end() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), LogConfig::default()).unwrap();
    fill(&mut log, 4, 5);
    let r = log.read(0, 1 << 20, 10).unwrap();
    assert_eq!(decode(&r.records).len(), 10);
    assert!(log.read(10, 1 << 20, 10).unwrap().records.is_empty());
    assert!(log.read(20, 1 << 20, 20).unwrap().records.is_empty());
    // A bound inside a batch leaves that batch out.
    assert_eq!(decode(&log.read(0, 1 << 20, 12).unwrap().records).len(), 10);
    assert!(matches!(
        log.read(21, 100, 21),
        Err(LogError::OffsetOutOfRange { offset: 21, .. })
    ));
    let r = log.read(0, 1 << 20, 20).unwrap();
    assert_eq!((r.log_start_offset, r.log_end_offset), (0, 20));
}

#[test]
fn max_bytes_limits_to_whole_batches() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), LogConfig::default()).unwrap();
    let one = batch(5, 0).len();
    fill(&mut log, 10, 5);
    let r = log.read(0, one * 3 + one / 2, 50).unwrap();
    assert_eq!(r.records.len(), one * 3);
}

#[test]
fn bad_batches_are_rejected_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), LogConfig::default()).unwrap();
    let mut two = batch(2, 0);
    let good_len = two.len();
    let mut bad = batch(2, 0);
    let last = bad.len() - 1;
    bad[last] ^= 1;
    two.extend_from_slice(&bad);
    let err = log.append(&two, 0).unwrap_err();
    assert!(
        matches!(err, LogError::InvalidBatch { position, source: BatchError::CrcMismatch { .. } } if position == good_len),
        "{err}"
    );
    assert_eq!(err.kafka_error_code(), 2);
    assert_eq!(log.log_end_offset(), 0);
    assert_eq!(log.size_bytes(), 0);

    let mut v1 = batch(1, 0);
    v1[16] = 1;
    let err = log.append(&v1, 0).unwrap_err();
    assert_eq!(err.kafka_error_code(), 43, "{err}");
    assert!(matches!(log.append(&[], 0), Err(LogError::EmptyAppend)));

    log.set_config(LogConfig {
        max_message_bytes: 50,
        ..LogConfig::default()
    })
    .unwrap();
    let err = log.append(&batch(2, 0), 0).unwrap_err();
    assert_eq!(err.kafka_error_code(), 10, "{err}");
}

#[test]
fn compressed_batches_are_stored_as_produced() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), LogConfig::default()).unwrap();
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let produced = encode(&records(10, 100, -1, -1, -1, 50), codec);
        let info = log.append(&produced, 1).unwrap();
        let r = log
            .read(info.first_offset, 1 << 20, info.last_offset + 1)
            .unwrap();
        // Identical bytes apart from the patched base offset and leader epoch.
        assert_eq!(r.records.len(), produced.len());
        assert_eq!(r.records[16..], produced[16..]);
        let records = decode(&r.records);
        assert_eq!(records.len(), 10);
        assert_eq!(records[0].0, info.first_offset);
    }
    // Timestamps 100..=109 in every batch: the first match is in the gzip batch.
    assert_eq!(log.offset_for_timestamp(105).unwrap(), Some((5, 105)));
    assert_eq!(log.offset_for_timestamp(110).unwrap(), None);
}

#[test]
fn log_append_time_topics_stamp_the_broker_clock() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        timestamp_type: TimestampType::LogAppendTime,
        ..LogConfig::default()
    };
    let mut log = PartitionLog::open(dir.path(), config).unwrap();
    let info = log.append_at(&batch(3, 5), 0, 99_000).unwrap();
    assert_eq!(info.log_append_time, 99_000);
    let r = log.read(0, 1 << 20, 3).unwrap();
    let header = BatchHeader::parse(&r.records).unwrap();
    assert!(header.is_log_append_time());
    assert_eq!(header.max_timestamp, 99_000);
    let mut buf = r.records.clone();
    let set = kafka_protocol::records::RecordBatchDecoder::decode(&mut buf).unwrap();
    assert!(
        set.records
            .iter()
            .all(|r| r.timestamp_type == kafka_protocol::records::TimestampType::LogAppend)
    );
    assert_eq!(log.offset_for_timestamp(50_000).unwrap(), Some((0, 99_000)));
}

#[test]
fn high_watermark_and_log_start_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
        fill(&mut log, 20, 2);
        log.set_high_watermark(30);
        assert_eq!(log.high_watermark(), 30);
        log.set_high_watermark(1000);
        assert_eq!(log.high_watermark(), 40, "clamped to the log end");
        log.set_high_watermark(25);
        assert_eq!(log.delete_records_before(6).unwrap(), 6);
        log.flush().unwrap();
    }
    let log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    assert_eq!(log.high_watermark(), 25);
    assert_eq!(log.log_start_offset(), 6);
    assert_eq!(log.log_end_offset(), 40);
    assert!(matches!(
        log.read(5, 100, 40),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    assert_eq!(decode(&log.read(6, 100, 40).unwrap().records)[0].0, 6);
}

#[test]
fn a_torn_tail_is_truncated_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let one = batch(4, 0).len() as u64;
    {
        let mut log = PartitionLog::open(dir.path(), LogConfig::default()).unwrap();
        fill(&mut log, 5, 4);
        log.flush().unwrap();
        // More appends after the last flush, then a crash (no close) that tears the last batch.
        fill(&mut log, 2, 4);
        std::mem::forget(log);
    }
    let file = dir.path().join("00000000000000000000.log");
    let f = OpenOptions::new().write(true).open(&file).unwrap();
    f.set_len(one * 7 - 10).unwrap();
    let mut log = PartitionLog::open(dir.path(), LogConfig::default()).unwrap();
    assert_eq!(log.log_end_offset(), 24);
    assert_eq!(std::fs::metadata(&file).unwrap().len(), one * 6);
    assert_eq!(read_all(&log, 0).len(), 24);
    // The log goes on from the recovered end.
    assert_eq!(log.append(&batch(1, 0), 0).unwrap().first_offset, 24);
}

#[test]
fn a_corrupt_crc_truncates_from_that_batch_and_drops_later_segments() {
    let dir = tempfile::tempdir().unwrap();
    let one = batch(2, 0).len() as u64;
    let segments;
    {
        let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
        fill(&mut log, 30, 2);
        segments = log.segment_count();
        // A crash before any flush: every segment is past the recovery point, so all are scanned.
        std::mem::forget(log);
    }
    let file = dir.path().join("00000000000000000000.log");
    let mut bytes = std::fs::read(&file).unwrap();
    let position = (one * 2 + one / 2) as usize; // inside the third batch
    bytes[position] ^= 0xff;
    std::fs::write(&file, bytes).unwrap();
    let log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    assert!(segments > 1);
    assert_eq!(log.segment_count(), 1);
    assert_eq!(log.log_end_offset(), 4);
    assert_eq!(segment_files(dir.path(), "log").len(), 1);
    assert_eq!(read_all(&log, 0).len(), 4);
}

#[test]
fn missing_or_torn_indexes_are_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let expected;
    {
        let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
        fill(&mut log, 40, 2);
        log.flush().unwrap();
        expected = read_all(&log, 0);
    }
    let index = dir.path().join("00000000000000000000.index");
    let before = std::fs::read(&index).unwrap();
    assert!(!before.is_empty(), "the sparse index has entries");
    std::fs::remove_file(&index).unwrap();
    std::fs::write(dir.path().join("00000000000000000000.timeindex"), [1, 2, 3]).unwrap();
    let log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    assert_eq!(std::fs::read(&index).unwrap(), before);
    assert_eq!(read_all(&log, 0), expected);
    assert_eq!(log.offset_for_timestamp(1010).unwrap(), Some((10, 1010)));
}

#[test]
fn retention_by_size_and_time_keeps_the_active_segment() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = small_segments();
    config.retention_ms = None;
    let mut log = PartitionLog::open(dir.path(), config.clone()).unwrap();
    fill(&mut log, 40, 2);
    let segments = log.segment_count();
    // Nothing above the high watermark may go.
    config.retention_bytes = Some(0);
    log.set_config(config.clone()).unwrap();
    assert_eq!(log.enforce_retention(0).unwrap(), 0);

    log.set_high_watermark(log.log_end_offset());
    config.retention_bytes = Some(2048);
    log.set_config(config.clone()).unwrap();
    let removed = log.enforce_retention(0).unwrap();
    assert!(removed > 0);
    assert_eq!(log.segment_count(), segments - removed);
    assert!(log.size_bytes() >= 2048);
    assert!(log.size_bytes() < 2048 + 1024);
    let start = log.log_start_offset();
    assert!(start > 0);
    assert_eq!(read_all(&log, start).first().unwrap().0, start);

    // Time: every batch's timestamp is 1000 + offset; keep records newer than 1070.
    config.retention_bytes = None;
    config.retention_ms = Some(10);
    log.set_config(config).unwrap();
    log.enforce_retention(1080).unwrap();
    assert!(log.log_start_offset() > 60);
    assert!(log.log_start_offset() <= 70, "{}", log.log_start_offset());
    // Even with everything expired, the active segment stays.
    log.enforce_retention(i64::MAX).unwrap();
    assert_eq!(log.segment_count(), 1);
    assert_eq!(log.log_end_offset(), 80);
}

#[test]
fn segments_roll_by_time() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_ms: 100,
        ..LogConfig::default()
    };
    let mut log = PartitionLog::open(dir.path(), config).unwrap();
    log.append(&batch(1, 1000), 0).unwrap();
    log.append(&batch(1, 1100), 0).unwrap();
    assert_eq!(log.segment_count(), 1);
    log.append(&batch(1, 1101), 0).unwrap();
    assert_eq!(log.segment_count(), 2);
    assert_eq!(
        segment_files(dir.path(), "log"),
        ["00000000000000000000.log", "00000000000000000002.log"]
    );
}

#[test]
fn truncate_to_removes_the_tail_and_later_epochs() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    for epoch in 0..4 {
        for _ in 0..10 {
            let ts = 1000 + log.log_end_offset();
            log.append(&batch(2, ts), epoch).unwrap();
        }
    }
    log.set_high_watermark(80);
    assert_eq!(log.leader_epoch_end_offset(1), Some((1, 40)));
    log.truncate_to(31).unwrap(); // mid-batch: the batch 30..=31 goes
    assert_eq!(log.log_end_offset(), 30);
    assert_eq!(log.high_watermark(), 30);
    assert_eq!(log.latest_epoch(), Some(1));
    assert_eq!(log.leader_epoch_end_offset(1), Some((1, 30)));
    assert_eq!(log.leader_epoch_end_offset(3), None);
    assert_eq!(read_all(&log, 0).len(), 30);
    assert_eq!(log.offset_for_timestamp(1029).unwrap(), Some((29, 1029)));
    assert_eq!(log.offset_for_timestamp(1030).unwrap(), None);
    let info = log.append(&batch(2, 5000), 7).unwrap();
    assert_eq!(info.first_offset, 30);
    drop(log);
    let log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    assert_eq!(log.log_end_offset(), 32);
    assert_eq!(log.leader_epoch_end_offset(1), Some((1, 30)));
    assert_eq!(log.leader_epoch_end_offset(7), Some((7, 32)));
}

#[test]
fn truncating_below_the_log_start_restarts_the_log_there() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    fill(&mut log, 10, 2);
    log.set_high_watermark(20);
    log.delete_records_before(10).unwrap();
    log.truncate_to(4).unwrap();
    assert_eq!(
        (
            log.log_start_offset(),
            log.log_end_offset(),
            log.segment_count()
        ),
        (4, 4, 1)
    );
    assert_eq!(
        segment_files(dir.path(), "log"),
        ["00000000000000000004.log"]
    );
}

#[test]
fn follower_appends_keep_offsets_and_learn_epochs() {
    let leader_dir = tempfile::tempdir().unwrap();
    let follower_dir = tempfile::tempdir().unwrap();
    let mut leader = PartitionLog::open(leader_dir.path(), LogConfig::default()).unwrap();
    let mut follower = PartitionLog::open(follower_dir.path(), LogConfig::default()).unwrap();
    leader.append(&batch(3, 0), 1).unwrap();
    leader.append(&batch(3, 0), 2).unwrap();
    let fetched = leader
        .read(0, 1 << 20, leader.log_end_offset())
        .unwrap()
        .records;
    let info = follower.append_as_follower(&fetched).unwrap();
    assert_eq!((info.first_offset, info.last_offset), (0, 5));
    assert_eq!(follower.leader_epoch_end_offset(1), Some((1, 3)));
    assert_eq!(follower.read(0, 1 << 20, 6).unwrap().records, fetched);
    // Not contiguous: the same batches again.
    assert!(matches!(
        follower.append_as_follower(&fetched),
        Err(LogError::NonContiguous {
            expected: 6,
            found: 0
        })
    ));
}

#[test]
fn offset_for_timestamp_finds_the_first_record_at_or_after() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    fill(&mut log, 50, 3);
    assert_eq!(log.offset_for_timestamp(0).unwrap(), Some((0, 1000)));
    assert_eq!(log.offset_for_timestamp(1077).unwrap(), Some((77, 1077)));
    assert_eq!(log.offset_for_timestamp(1149).unwrap(), Some((149, 1149)));
    assert_eq!(log.offset_for_timestamp(1150).unwrap(), None);
    // Timestamps need not grow with offsets: an older batch after a newer one.
    log.append(&batch(2, 500), 0).unwrap();
    assert_eq!(log.offset_for_timestamp(400).unwrap(), Some((0, 1000)));
    log.set_high_watermark(log.log_end_offset());
    log.delete_records_before(80).unwrap();
    assert_eq!(log.offset_for_timestamp(1077).unwrap(), Some((80, 1080)));
}

#[test]
fn producer_fields_are_readable_from_stored_batches() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), LogConfig::default()).unwrap();
    log.append(&batch_with(4, 0, 77, 2, 10), 3).unwrap();
    let r = log.read(0, 1 << 20, 4).unwrap();
    let h = BatchHeader::parse(&r.records).unwrap();
    assert_eq!(
        (h.producer_id, h.producer_epoch, h.base_sequence),
        (77, 2, 10)
    );
    assert_eq!(h.last_sequence(), 13);
    assert_eq!(h.partition_leader_epoch, 3);
}

#[test]
fn delete_removes_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("topic-0");
    let mut log = PartitionLog::open(&path, LogConfig::default()).unwrap();
    fill(&mut log, 3, 1);
    log.delete().unwrap();
    assert!(!path.exists());
}

#[test]
fn invalid_configuration_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_bytes: 10,
        ..LogConfig::default()
    };
    let err = PartitionLog::open(dir.path(), config).unwrap_err();
    assert!(err.to_string().contains("segment.bytes"), "{err}");
}

/// Damages a buffer the ways a bad client or a crash would: flipped bytes, extreme length or
/// count fields, truncation, garbage appended, a batch repeated.
fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>) {
    let interesting: [i32; 7] = [0, -1, i32::MIN, i32::MAX, 48, 49, 1 << 20];
    match rng.below(7) {
        0 => {
            for _ in 0..=rng.below(4) {
                let i = rng.below(bytes.len());
                if let Some(b) = bytes.get_mut(i) {
                    *b ^= 1 << rng.below(8);
                }
            }
        }
        1 | 2 => {
            // batchLength (8), lastOffsetDelta (23) or records count (57) of some batch.
            let field = [8usize, 23, 57][rng.below(3)];
            let at = rng.below(bytes.len() / 64 + 1) * 64 + field;
            let value = interesting[rng.below(interesting.len())].to_be_bytes();
            if let Some(slot) = bytes.get_mut(at..at + 4) {
                slot.copy_from_slice(&value);
            }
        }
        3 => bytes.truncate(rng.below(bytes.len() + 1)),
        4 => {
            let extra = rng.below(100);
            bytes.extend(rng.bytes(extra));
        }
        5 => {
            let copy = bytes.clone();
            bytes.extend_from_slice(&copy);
        }
        _ => {
            if let Some(magic) = bytes.get_mut(16) {
                *magic = rng.next() as u8;
            }
        }
    }
}

#[test]
fn random_and_mutated_appends_never_panic_and_never_store_invalid_batches() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        max_message_bytes: 4096,
        ..small_segments()
    };
    let mut log = PartitionLog::open(dir.path(), config.clone()).unwrap();
    let follower_dir = tempfile::tempdir().unwrap();
    let mut follower = PartitionLog::open(follower_dir.path(), config.clone()).unwrap();
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut accepted = 0;
    for round in 0..3000 {
        let mut input = if round % 3 == 0 {
            let n = rng.below(200);
            rng.bytes(n)
        } else {
            let mut b = batch(1 + rng.below(5), 1000);
            if rng.below(2) == 0 {
                b.extend(batch(1 + rng.below(5), 2000));
            }
            b
        };
        if round % 3 != 0 {
            mutate(&mut rng, &mut input);
        }
        // A follower given the same bytes (offsets as damaged) must refuse or store them whole.
        let follower_end = follower.log_end_offset();
        if follower.append_as_follower(&input).is_err() {
            assert_eq!(follower.log_end_offset(), follower_end);
        }
        let before = log.log_end_offset();
        match log.append(&input, 0) {
            Ok(info) => {
                accepted += 1;
                assert_eq!(info.first_offset, before);
                assert_eq!(log.log_end_offset(), info.last_offset + 1);
            }
            Err(e) => {
                assert_eq!(log.log_end_offset(), before, "a rejected append wrote: {e}");
                assert!(!e.to_string().is_empty());
            }
        }
    }
    assert!(accepted > 0, "some mutations keep a batch valid");
    // Whatever was accepted reads back, decodes with the real codec, and survives a reopen.
    log.set_high_watermark(log.log_end_offset());
    let records = read_all(&log, 0);
    assert_eq!(records.len() as i64, log.log_end_offset());
    drop(log);
    let log = PartitionLog::open(dir.path(), config).unwrap();
    assert_eq!(read_all(&log, 0), records);
}

#[test]
fn recovery_of_damaged_files_never_panics_and_leaves_a_readable_log() {
    let mut rng = Rng(0xdead_beef_0bad_f00d);
    for round in 0..150 {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
            fill(&mut log, 15, 1 + round % 3);
            if round % 2 == 0 {
                drop(log); // a clean stop
            } else {
                std::mem::forget(log); // a crash: buffered index entries are lost too
            }
        }
        let mut names = segment_files(dir.path(), "log");
        names.extend(segment_files(dir.path(), "index"));
        names.extend(segment_files(dir.path(), "timeindex"));
        names.push("partition-offsets-checkpoint".into());
        names.push("leader-epoch-checkpoint".into());
        for _ in 0..=rng.below(3) {
            let path = dir.path().join(&names[rng.below(names.len())]);
            let mut bytes = std::fs::read(&path).unwrap_or_default();
            mutate(&mut rng, &mut bytes);
            std::fs::write(&path, bytes).unwrap();
        }
        let mut log = match PartitionLog::open(dir.path(), small_segments()) {
            Ok(log) => log,
            Err(e) => panic!("round {round}: open failed instead of recovering: {e}"),
        };
        // Reads may hit damage in trusted (flushed) segments as errors, never as panics.
        let end = log.log_end_offset();
        let mut offset = log.log_start_offset();
        while offset < end {
            match log.read(offset, 300, end) {
                Ok(r) if !r.records.is_empty() => {
                    offset = BatchHeader::parse(&r.records)
                        .unwrap()
                        .next_offset()
                        .max(offset + 1);
                }
                _ => offset += 1,
            }
        }
        let _ = log.offset_for_timestamp(1005);
        let info = log.append(&batch(1, 0), 1).unwrap();
        assert_eq!(info.first_offset, end);
    }
}

#[test]
fn sealed_segments_keep_their_newest_timestamp_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        retention_ms: Some(10),
        ..small_segments()
    };
    {
        let mut log = PartitionLog::open(dir.path(), config.clone()).unwrap();
        fill(&mut log, 40, 2);
        log.flush().unwrap();
    }
    // Trusted segments are not scanned again: their newest timestamps come from the time index.
    let mut log = PartitionLog::open(dir.path(), config).unwrap();
    log.set_high_watermark(log.log_end_offset());
    assert_eq!(log.offset_for_timestamp(1033).unwrap(), Some((33, 1033)));
    log.enforce_retention(1080).unwrap();
    assert!(log.log_start_offset() > 60);
    assert!(log.log_start_offset() <= 70, "{}", log.log_start_offset());
}

#[test]
fn batch_headers_walk_every_batch_across_segments_without_reading_records() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    for i in 0..30 {
        log.append(&batch_with(3, 1000, 9, 1, i * 3), 0).unwrap();
    }
    assert!(log.segment_count() > 2);
    let headers: Vec<BatchHeader> = log.batch_headers(0).map(Result::unwrap).collect();
    assert_eq!(headers.len(), 30);
    assert!(
        headers
            .iter()
            .enumerate()
            .all(|(i, h)| h.base_offset == 3 * i as i64
                && h.base_sequence == 3 * i as i32
                && h.producer_id == 9)
    );
    let tail: Vec<i64> = log
        .batch_headers(85)
        .map(|h| h.unwrap().base_offset)
        .collect();
    assert_eq!(tail, [84, 87]);
    assert_eq!(log.batch_headers(90).count(), 0);
}

#[test]
fn max_timestamp_finds_the_newest_record() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    assert_eq!(log.max_timestamp().unwrap(), None);
    fill(&mut log, 10, 3);
    log.append(&batch(3, 5000), 0).unwrap();
    fill(&mut log, 10, 3);
    assert_eq!(log.max_timestamp().unwrap(), Some((32, 5002)));
}

#[test]
fn an_append_larger_than_a_segment_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    let mut big = Vec::new();
    while big.len() <= 1024 {
        big.extend(batch(5, 0));
    }
    let err = log.append(&big, 0).unwrap_err();
    assert!(
        matches!(err, LogError::RecordListTooLarge { max: 1024, .. }),
        "{err}"
    );
    assert_eq!(err.kafka_error_code(), 18);
    assert_eq!(log.log_end_offset(), 0);
}

#[test]
fn a_checkpointed_high_watermark_survives_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = PartitionLog::open(dir.path(), LogConfig::default()).unwrap();
        fill(&mut log, 5, 2);
        log.set_high_watermark(6);
        log.checkpoint().unwrap();
        log.set_high_watermark(10);
        std::mem::forget(log); // a crash: the last high watermark was never checkpointed
    }
    let log = PartitionLog::open(dir.path(), LogConfig::default()).unwrap();
    assert_eq!(log.high_watermark(), 6);
    assert_eq!(log.log_end_offset(), 10);
}

#[test]
fn an_index_pointing_at_the_wrong_batch_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_bytes: 4096,
        index_interval_bytes: 300,
        ..LogConfig::default()
    };
    let expected;
    {
        let mut log = PartitionLog::open(dir.path(), config.clone()).unwrap();
        fill(&mut log, 60, 2);
        assert!(log.segment_count() > 1);
        expected = read_all(&log, 0);
    }
    // Point the last entry of the first (sealed, trusted) segment's index one batch too far:
    // still sorted and inside the file, so only the spot check can tell.
    let one = batch(2, 1000).len() as u32;
    let index = dir.path().join("00000000000000000000.index");
    let log_size = std::fs::metadata(dir.path().join("00000000000000000000.log"))
        .unwrap()
        .len();
    let mut bytes = std::fs::read(&index).unwrap();
    let at = bytes.len() - 4;
    let position = u32::from_be_bytes(bytes[at..].try_into().unwrap());
    assert!(u64::from(position + one) < log_size);
    bytes[at..].copy_from_slice(&(position + one).to_be_bytes());
    std::fs::write(&index, &bytes).unwrap();
    let log = PartitionLog::open(dir.path(), config).unwrap();
    assert_eq!(read_all(&log, 0), expected);
    let rebuilt = std::fs::read(&index).unwrap();
    assert_eq!(&rebuilt[at..], &position.to_be_bytes());
}

#[test]
fn close_persists_everything_and_leaves_no_temporary_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    fill(&mut log, 20, 2);
    log.set_high_watermark(33);
    log.close().unwrap();
    assert!(segment_files(dir.path(), "tmp").is_empty());
    let log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    assert_eq!((log.high_watermark(), log.log_end_offset()), (33, 40));
}

#[test]
fn truncating_at_a_segment_boundary_reactivates_the_previous_segment() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    fill(&mut log, 20, 2);
    let segments = log.segment_count();
    let names = segment_files(dir.path(), "log");
    let last_base: i64 = names.last().unwrap()[..20].parse().unwrap();
    log.truncate_to(last_base).unwrap();
    assert_eq!(log.log_end_offset(), last_base);
    assert_eq!(log.segment_count(), segments - 1);
    // The previously sealed segment takes appends again, indexes included.
    fill(&mut log, 3, 2);
    assert_eq!(log.log_end_offset(), last_base + 6);
    let expected = read_all(&log, 0);
    assert_eq!(expected.len() as i64, last_base + 6);
    drop(log);
    let log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    assert_eq!(read_all(&log, 0), expected);
    assert_eq!(
        log.offset_for_timestamp(1000 + last_base + 1).unwrap(),
        Some((last_base + 1, 1000 + last_base + 1))
    );
}

#[test]
fn a_lost_epoch_checkpoint_is_rebuilt_from_the_scanned_batches() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
        for epoch in [1, 3, 4] {
            for _ in 0..5 {
                log.append(&batch(2, 0), epoch).unwrap();
            }
        }
        assert_eq!(log.leader_epoch_end_offset(3), Some((3, 20)));
        std::mem::forget(log); // a crash before any flush: recovery scans every segment
    }
    std::fs::remove_file(dir.path().join("leader-epoch-checkpoint")).unwrap();
    let log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    assert_eq!(log.leader_epoch_end_offset(1), Some((1, 10)));
    assert_eq!(log.leader_epoch_end_offset(2), Some((1, 10)));
    assert_eq!(log.leader_epoch_end_offset(3), Some((3, 20)));
    assert_eq!(log.leader_epoch_end_offset(4), Some((4, 30)));
    assert_eq!(log.latest_epoch(), Some(4));
}

#[test]
fn a_clean_close_lets_the_next_open_trust_the_active_segment_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        index_interval_bytes: 100,
        ..LogConfig::default()
    };
    let mut log = PartitionLog::open(dir.path(), config.clone()).unwrap();
    fill(&mut log, 20, 2);
    log.close().unwrap();
    let checkpoint = dir.path().join("partition-offsets-checkpoint");
    assert!(
        std::fs::read_to_string(&checkpoint)
            .unwrap()
            .contains("clean-end 40")
    );

    // Damage the first batch: a trusted segment is not scanned, so the damage goes unseen…
    let file = dir.path().join("00000000000000000000.log");
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[70] ^= 0xff;
    std::fs::write(&file, bytes).unwrap();
    let log = PartitionLog::open(dir.path(), config.clone()).unwrap();
    assert_eq!(log.log_end_offset(), 40, "the clean-close mark was trusted");
    assert_eq!(log.offset_for_timestamp(1035).unwrap(), Some((35, 1035)));
    assert!(
        !std::fs::read_to_string(&checkpoint)
            .unwrap()
            .contains("clean-end")
    );
    std::mem::forget(log); // …but the mark is gone: after a crash the segment is scanned.
    let log = PartitionLog::open(dir.path(), config).unwrap();
    assert_eq!(
        log.log_end_offset(),
        0,
        "the damaged first batch ends the log"
    );
}

#[test]
fn a_stale_clean_mark_is_not_trusted_once_the_log_changed() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        index_interval_bytes: 100,
        ..LogConfig::default()
    };
    let mut log = PartitionLog::open(dir.path(), config.clone()).unwrap();
    fill(&mut log, 10, 2);
    log.close().unwrap();
    let checkpoint = dir.path().join("partition-offsets-checkpoint");
    let stale = std::fs::read(&checkpoint).unwrap();
    let mut log = PartitionLog::open(dir.path(), config.clone()).unwrap();
    fill(&mut log, 5, 2);
    std::mem::forget(log); // a crash, and a checkpoint from before the appends
    std::fs::write(&checkpoint, stale).unwrap();
    let log = PartitionLog::open(dir.path(), config).unwrap();
    assert_eq!(log.log_end_offset(), 30);
    assert_eq!(read_all(&log, 0).len(), 30);
    assert_eq!(log.max_timestamp().unwrap(), Some((29, 1029)));
}
