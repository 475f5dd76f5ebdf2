//! The streaming wordcount's figures: words per second end to end (a real `labnode broker`, the
//! job's consumers, counting, printing, committing) and the delay from a batch's end to its
//! printed output, with the I/O-free counting core alone as the anchor of the same run.
//!
//! `cargo bench -p stream --bench wordcount` (after `cargo build --release -p labnode`; `LABNODE`
//! names another binary, `LAB_BENCH_BOOTSTRAP` another cluster, `LAB_BENCH_WORDS` the size).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kafka_client::{
    Acks, Client, ClientConfig, OffsetReset, Producer, ProducerConfig, ProducerRecord,
};
use stream::clock::{BatchClock, now_millis};
use stream::job::{Brokers, JobConfig, JobStats};
use stream::pipeline::{Pipeline, TopicPartition};
use stream::print::render_batch;
use stream::window::Window;
use tokio_util::sync::CancellationToken;

const WORDS_PER_MESSAGE: usize = 10;
const VOCABULARY: usize = 1000;

/// The input: messages of ten words drawn from a fixed vocabulary (deterministic).
fn messages(words: usize) -> Vec<String> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..words / WORDS_PER_MESSAGE)
        .map(|_| {
            (0..WORDS_PER_MESSAGE)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    format!("word{}", state % VOCABULARY as u64)
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// The anchor: the counting core alone (record every message, close the batch, render it).
fn core_words_per_second(messages: &[String]) -> f64 {
    let tp = TopicPartition::new("bench", 0);
    let mut best = f64::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        let clock = BatchClock::new(1000).unwrap_or_else(|e| panic!("{e}"));
        let mut p = Pipeline::new(clock, Window::per_batch(1000), 2, 0);
        for (offset, m) in (0..).zip(messages) {
            p.record(&tp, offset, Some(m.as_bytes()), 1);
        }
        let out = p.poll_output(1000).unwrap_or_else(|| panic!("no batch"));
        std::hint::black_box(render_batch(out.time, &out.counts));
        best = best.min(start.elapsed().as_secs_f64());
    }
    (messages.len() * WORDS_PER_MESSAGE) as f64 / best
}

/// A broker process killed on drop.
struct Broker {
    child: Child,
    dir: PathBuf,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn labnode_binary() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("LABNODE") {
        return Some(PathBuf::from(p));
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target");
    [
        "x86_64-unknown-linux-gnu/release",
        "release",
        "x86_64-unknown-linux-gnu/debug",
        "debug",
    ]
    .iter()
    .map(|d| root.join(d).join("labnode"))
    .find(|p| p.is_file())
}

fn start_broker(labnode: &PathBuf) -> (Broker, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"));
    let dir = std::env::temp_dir().join(format!("stream-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let config = dir.join("server.properties");
    std::fs::write(
        &config,
        format!(
            "broker.id=0\nlisteners=PLAINTEXT://127.0.0.1:{port}\nlog.dirs={}\n\
             num.partitions=2\ngroup.initial.rebalance.delay.ms=0\n",
            dir.join("kafka-logs").display()
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let child = Command::new(labnode)
        .args(["broker", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", labnode.display()));
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the broker did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (Broker { child, dir }, format!("127.0.0.1:{port}"))
}

/// Records, for each printed batch, the phase of the run, how long after its end (`Time: … ms`)
/// it was written, and whether it was empty.
#[derive(Clone, Default)]
struct DelayRecorder {
    batches: Arc<Mutex<Vec<(u8, u64, bool)>>>,
    phase: Arc<AtomicU8>,
}

/// Phases of the end-to-end run.
const BACKLOG: u8 = 0;
const LIVE: u8 = 1;
const IDLE: u8 = 2;

impl Write for DelayRecorder {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let now = now_millis();
        let text = String::from_utf8_lossy(buf);
        if let Some(time) = text
            .lines()
            .find_map(|l| l.strip_prefix("Time: ").and_then(|t| t.strip_suffix(" ms")))
            .and_then(|t| t.parse::<u64>().ok())
            && let Ok(mut v) = self.batches.lock()
        {
            let empty = text.lines().count() <= 4;
            v.push((
                self.phase.load(Ordering::Relaxed),
                now.saturating_sub(time),
                empty,
            ));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn median_max(mut v: Vec<u64>) -> (u64, u64) {
    v.sort_unstable();
    (
        v.get(v.len() / 2).copied().unwrap_or(0),
        v.last().copied().unwrap_or(0),
    )
}

struct EndToEnd {
    words_per_second: f64,
    live_words_per_second: f64,
    backlog: (u64, u64, usize),
    live: (u64, u64, usize),
    idle: (u64, u64, usize),
}

async fn end_to_end(bootstrap: &str, messages: &[String]) -> EndToEnd {
    let topic = format!("bench-{}", now_millis());
    let client = Client::connect(bootstrap, ClientConfig::default())
        .await
        .unwrap_or_else(|e| panic!("connect {bootstrap}: {e}"));
    let config = ProducerConfig {
        acks: Acks::Leader,
        batch_size: 1 << 20,
        ..Default::default()
    };
    let mut producer = Producer::new(client, config)
        .await
        .unwrap_or_else(|e| panic!("producer: {e}"));
    for m in messages {
        producer
            .send(ProducerRecord::new(topic.clone(), m.clone()))
            .await
            .unwrap_or_else(|e| panic!("produce: {e}"));
    }
    producer
        .flush()
        .await
        .unwrap_or_else(|e| panic!("produce: {e}"));

    let words = (messages.len() * WORDS_PER_MESSAGE) as u64;
    let stats = Arc::new(JobStats::default());
    let delays = DelayRecorder::default();
    let cancel = CancellationToken::new();
    let job = JobConfig {
        brokers: Brokers::Bootstrap(bootstrap.to_owned()),
        group: topic.clone(),
        topics: vec![topic.clone()],
        consumers: 2,
        interval_ms: 100,
        window: None,
        partitions: 2,
        reset: OffsetReset::Earliest,
        output_topic: None,
        hdfs: None,
    };
    let running = tokio::spawn(stream::job::run(
        job,
        Box::new(delays.clone()),
        stats.clone(),
        cancel.clone(),
    ));
    let deadline = Instant::now() + Duration::from_secs(120);
    while stats.records.load(Ordering::Relaxed) == 0 {
        if running.is_finished() {
            panic!("the job stopped: {:?}", running.await);
        }
        assert!(Instant::now() < deadline, "the job read nothing");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let first = Instant::now();
    while stats.words.load(Ordering::Relaxed) < words {
        assert!(
            Instant::now() < deadline,
            "the job counted {} of {words} words ({} records read)",
            stats.words.load(Ordering::Relaxed),
            stats.records.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let elapsed = first.elapsed().as_secs_f64();

    // Live: a producer keeps sending (500 messages every 10 ms, as fast as it can) for 3 s.
    delays.phase.store(LIVE, Ordering::Relaxed);
    let live_start = Instant::now();
    let mut sent = 0usize;
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    while live_start.elapsed() < Duration::from_secs(3) {
        tick.tick().await;
        for m in messages.iter().cycle().skip(sent).take(500) {
            producer
                .send(ProducerRecord::new(topic.clone(), m.clone()))
                .await
                .unwrap_or_else(|e| panic!("produce: {e}"));
        }
        producer
            .flush()
            .await
            .unwrap_or_else(|e| panic!("produce: {e}"));
        sent += 500;
    }
    let live_seconds = live_start.elapsed().as_secs_f64();
    let total = words + (sent * WORDS_PER_MESSAGE) as u64;
    let deadline = Instant::now() + Duration::from_secs(120);
    while stats.words.load(Ordering::Relaxed) < total {
        assert!(
            Instant::now() < deadline,
            "the job did not count the live words"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }

    // Idle batches afterwards: the delay with nothing to count.
    delays.phase.store(IDLE, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    cancel.cancel();
    let _ = running.await;
    let recorded = delays.batches.lock().map(|v| v.clone()).unwrap_or_default();
    let pick = |phase: u8, empty: bool| {
        let v: Vec<u64> = recorded
            .iter()
            .filter(|r| r.0 == phase && r.2 == empty)
            .map(|r| r.1)
            .collect();
        let n = v.len();
        let (median, max) = median_max(v);
        (median, max, n)
    };
    EndToEnd {
        words_per_second: words as f64 / elapsed,
        live_words_per_second: (sent * WORDS_PER_MESSAGE) as f64 / live_seconds,
        backlog: pick(BACKLOG, false),
        live: pick(LIVE, false),
        idle: pick(IDLE, true),
    }
}

fn main() {
    let words: usize = std::env::var("LAB_BENCH_WORDS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(2_000_000);
    let messages = messages(words);
    let core = core_words_per_second(&messages);

    let bootstrap = std::env::var("LAB_BENCH_BOOTSTRAP").ok();
    let broker = match (&bootstrap, labnode_binary()) {
        (Some(_), _) => None,
        (None, Some(bin)) => Some(start_broker(&bin)),
        (None, None) => {
            println!("counting core: {core:.0} words/s; no labnode binary to run a broker");
            println!("(build it first: cargo build --release -p labnode)");
            return;
        }
    };
    let bootstrap = bootstrap
        .or_else(|| broker.as_ref().map(|b| b.1.clone()))
        .unwrap_or_default();
    let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    let e2e = runtime.block_on(end_to_end(&bootstrap, &messages));
    drop(broker);

    println!(
        "stream wordcount: {} words in {} messages of {WORDS_PER_MESSAGE}, {VOCABULARY} distinct",
        messages.len() * WORDS_PER_MESSAGE,
        messages.len()
    );
    let rows = [
        [
            "measure".to_owned(),
            "value".into(),
            "vs anchor".into(),
            "target".into(),
        ],
        [
            "counting core alone (anchor)".into(),
            format!("{core:.0} words/s"),
            "1.00".into(),
            String::new(),
        ],
        [
            "end to end: broker -> 2 consumers -> stdout".into(),
            format!("{:.0} words/s", e2e.words_per_second),
            format!("{:.3}", e2e.words_per_second / core),
            ">= 1000000 words/s".into(),
        ],
        [
            format!(
                "batch end -> printed, backlog: {} batches (median/max)",
                e2e.backlog.2
            ),
            format!("{} / {} ms", e2e.backlog.0, e2e.backlog.1),
            String::new(),
            "<= 100 ms".into(),
        ],
        [
            format!(
                "batch end -> printed, live at {:.0} words/s: {} batches (median/max)",
                e2e.live_words_per_second, e2e.live.2
            ),
            format!("{} / {} ms", e2e.live.0, e2e.live.1),
            String::new(),
            "<= 100 ms".into(),
        ],
        [
            format!(
                "batch end -> printed, idle: {} empty batches (median/max)",
                e2e.idle.2
            ),
            format!("{} / {} ms", e2e.idle.0, e2e.idle.1),
            String::new(),
            "<= 100 ms".into(),
        ],
    ];
    let widths: Vec<usize> = (0..4)
        .map(|c| {
            rows.iter()
                .map(|r| r.get(c).map_or(0, String::len))
                .max()
                .unwrap_or(0)
        })
        .collect();
    for (n, row) in rows.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        println!("| {} |", cells.join(" | "));
        if n == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            println!("|-{}-|", rule.join("-|-"));
        }
    }
}
