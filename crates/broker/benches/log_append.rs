//! Partition log throughput: `PartitionLog::append` and `read` against an anchor measured in
//! the same run on the same bytes — a plain `write` of each produce buffer to a file (what an
//! append cannot beat) and a plain positional read of that file in the same chunk size.
//!
//! Run: `cargo bench -p broker --bench log_append` (optionally `-- --mib 256` for the volume
//! per case). Prints one table; ratios near 1.0 mean the log adds little to raw file I/O.

// A benchmark binary, not product code: a failed setup step should stop it loudly.
#![allow(clippy::expect_used, clippy::indexing_slicing)]

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use broker::log::{LogConfig, PartitionLog};
use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

/// Fetch's usual per-partition limit.
const READ_CHUNK: usize = 1 << 20;
/// Runs per measurement; the median is reported.
const RUNS: usize = 3;

struct Case {
    record_bytes: usize,
    /// Target batch size (16 KB is Java's `batch.size`, 1 MB librdkafka's).
    batch_bytes: usize,
}

/// One v2 batch of `record_bytes`-byte values, about `batch_bytes` long, as a client encodes it.
fn produce_buffer(case: &Case) -> (Vec<u8>, usize) {
    // About 12 bytes of per-record framing (length, attributes, deltas, key/value lengths).
    let count = (case.batch_bytes / (case.record_bytes + 16)).max(1);
    let records: Vec<Record> = (0..count)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: -1 + i as i32,
            timestamp: 1_700_000_000_000 + i as i64,
            key: None,
            value: Some(Bytes::from(vec![b'x'; case.record_bytes])),
            headers: IndexMap::new(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .expect("encode");
    (buf.to_vec(), count)
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn mb_per_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64() / 1e6
}

struct Measured {
    log_append: Duration,
    file_write: Duration,
    log_read: Duration,
    file_read: Duration,
    bytes: u64,
    records: u64,
}

fn measure(case: &Case, volume: u64) -> Measured {
    let (buffer, per_batch) = produce_buffer(case);
    let appends = (volume / buffer.len() as u64).max(1);
    let bytes = appends * buffer.len() as u64;
    let config = LogConfig {
        segment_bytes: 256 << 20,
        retention_ms: None,
        ..LogConfig::default()
    };
    let (mut log_append, mut file_write, mut log_read, mut file_read) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let dir = tempfile::tempdir().expect("tempdir");

        let path = dir.path().join("anchor.bin");
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .expect("anchor file");
        let t = Instant::now();
        for _ in 0..appends {
            file.write_all(&buffer).expect("write");
        }
        file_write.push(t.elapsed());

        let mut log = PartitionLog::open(&dir.path().join("log"), config.clone()).expect("open");
        let t = Instant::now();
        for _ in 0..appends {
            log.append(&buffer, 0).expect("append");
        }
        log_append.push(t.elapsed());

        let file = File::open(&path).expect("anchor file");
        let mut chunk = vec![0u8; READ_CHUNK];
        let t = Instant::now();
        let mut position = 0u64;
        while position < bytes {
            let n = file.read_at(&mut chunk, position).expect("read");
            position += n as u64;
            std::hint::black_box(&chunk);
        }
        file_read.push(t.elapsed());

        let end = log.log_end_offset();
        let t = Instant::now();
        let mut offset = 0;
        let mut read = 0u64;
        while offset < end {
            let r = log.read(offset, READ_CHUNK, end).expect("read");
            read += r.records.len() as u64;
            // The next offset is after the last batch returned; whole batches of equal size.
            offset += (r.records.len() / buffer.len() * per_batch) as i64;
            std::hint::black_box(&r.records);
        }
        log_read.push(t.elapsed());
        assert_eq!(read, bytes, "the log read back everything");
    }
    Measured {
        log_append: median(log_append),
        file_write: median(file_write),
        log_read: median(log_read),
        file_read: median(file_read),
        bytes,
        records: appends * per_batch as u64,
    }
}

/// Crash recovery: `open` of a log whose one segment was never flushed (every batch is read
/// and CRC-checked, the indexes rebuilt, the result fdatasynced) against reading the same
/// file, computing CRC32C over it and fdatasyncing it; then the open after a clean close.
/// Returns (recovery, anchor, clean open, bytes).
fn measure_recovery(case: &Case, volume: u64) -> (Duration, Duration, Duration, u64) {
    let (buffer, _) = produce_buffer(case);
    let appends = (volume / buffer.len() as u64).max(1);
    let (mut log_runs, mut anchor_runs, mut clean_runs) = (Vec::new(), Vec::new(), Vec::new());
    let mut bytes = 0;
    for _ in 0..RUNS {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log");
        let config = LogConfig {
            retention_ms: None,
            ..LogConfig::default()
        };
        let mut log = PartitionLog::open(&path, config.clone()).expect("open");
        for _ in 0..appends {
            log.append(&buffer, 0).expect("append");
        }
        bytes = log.size_bytes();
        std::mem::forget(log); // a crash: no flush, no checkpoint

        let segment = path.join("00000000000000000000.log");
        let t = Instant::now();
        let file = File::open(&segment).expect("segment");
        let mut chunk = vec![0u8; READ_CHUNK];
        let (mut position, mut crc) = (0u64, 0u32);
        loop {
            let n = file.read_at(&mut chunk, position).expect("read");
            if n == 0 {
                break;
            }
            crc = crc32c::crc32c_append(crc, &chunk[..n]);
            position += n as u64;
        }
        std::hint::black_box(crc);
        file.sync_data().expect("sync"); // recovery makes what it kept durable
        anchor_runs.push(t.elapsed());

        let t = Instant::now();
        let log = PartitionLog::open(&path, config.clone()).expect("recover");
        log_runs.push(t.elapsed());
        assert_eq!(log.size_bytes(), bytes, "recovery kept every batch");

        log.close().expect("close");
        let t = Instant::now();
        let log = PartitionLog::open(&path, config).expect("reopen");
        clean_runs.push(t.elapsed());
        assert_eq!(log.size_bytes(), bytes);
    }
    (
        median(log_runs),
        median(anchor_runs),
        median(clean_runs),
        bytes,
    )
}

/// Appends each followed by a `flush` (what acks=all with per-request durability costs)
/// against a `write` + `fdatasync` of the same buffer. Returns (log, anchor) per operation.
fn measure_durable(case: &Case, appends: u32) -> (Duration, Duration) {
    let (buffer, _) = produce_buffer(case);
    let (mut log_runs, mut anchor_runs) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.path().join("anchor.bin"))
            .expect("anchor file");
        let t = Instant::now();
        for _ in 0..appends {
            file.write_all(&buffer).expect("write");
            file.sync_data().expect("sync");
        }
        anchor_runs.push(t.elapsed() / appends);

        let mut log =
            PartitionLog::open(&dir.path().join("log"), LogConfig::default()).expect("open");
        let t = Instant::now();
        for _ in 0..appends {
            log.append(&buffer, 0).expect("append");
            log.flush().expect("flush");
        }
        log_runs.push(t.elapsed() / appends);
    }
    (median(log_runs), median(anchor_runs))
}

fn main() {
    let mut args = std::env::args().skip_while(|a| a != "--mib").skip(1);
    let mib: u64 = args.next().and_then(|v| v.parse().ok()).unwrap_or(128);
    let cases = [
        Case {
            record_bytes: 100,
            batch_bytes: 16_384,
        },
        Case {
            record_bytes: 100,
            batch_bytes: 1_000_000,
        },
        Case {
            record_bytes: 1024,
            batch_bytes: 16_384,
        },
        Case {
            record_bytes: 1024,
            batch_bytes: 1_000_000,
        },
    ];
    println!(
        "partition log vs plain file I/O, {mib} MiB per case, median of {RUNS} runs\n\
         anchor: append = write(2) of each produce buffer; read = pread of 1 MiB chunks\n"
    );
    println!(
        "{:<22} {:>7} {:>10} {:>12} {:>12} {:>7}",
        "case", "op", "log MB/s", "log msg/s", "anchor MB/s", "ratio"
    );
    for case in &cases {
        let m = measure(case, mib << 20);
        let label = format!(
            "{} B x {} kB batch",
            case.record_bytes,
            case.batch_bytes / 1000
        );
        for (op, ours, anchor) in [
            ("append", m.log_append, m.file_write),
            ("read", m.log_read, m.file_read),
        ] {
            let ours_mb = mb_per_s(m.bytes, ours);
            let anchor_mb = mb_per_s(m.bytes, anchor);
            println!(
                "{:<22} {:>7} {:>10.0} {:>12.0} {:>12.0} {:>7.2}",
                label,
                op,
                ours_mb,
                m.records as f64 / ours.as_secs_f64(),
                anchor_mb,
                ours_mb / anchor_mb
            );
        }
    }
    let case = &cases[0];
    let (log, anchor, clean, bytes) = measure_recovery(case, mib << 20);
    println!(
        "\nrecovery of {} MiB never flushed: log {:.0} MB/s, anchor read+crc32c+fdatasync {:.0} MB/s, ratio {:.2}",
        bytes >> 20,
        mb_per_s(bytes, log),
        mb_per_s(bytes, anchor),
        anchor.as_secs_f64() / log.as_secs_f64()
    );
    println!(
        "open after a clean close of the same log: {:.1} ms (crash recovery: {:.1} ms)",
        clean.as_secs_f64() * 1e3,
        log.as_secs_f64() * 1e3
    );
    let (log, anchor) = measure_durable(case, 200);
    println!(
        "append + flush of one {} kB batch: log {:.0} us/op, anchor write+fdatasync {:.0} us/op, ratio {:.2}",
        case.batch_bytes / 1000,
        log.as_secs_f64() * 1e6,
        anchor.as_secs_f64() * 1e6,
        anchor.as_secs_f64() / log.as_secs_f64()
    );
}
