//! The streaming wordcount end to end: a real `labnode broker`, the job as a real `labnode`
//! process (also under its `spark-submit` name), and independent producers (kcat, kafka-python).
//! Its stdout is checked against Spark's `DStream.print()` format line by line.
// Test code: a failed unwrap or index is a failed test with its location.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{Process, free_port, tempdir, wait_for_port};

const DASHES: &str = "-------------------------------------------";
const DEADLINE: Duration = Duration::from_secs(90);

/// A `labnode broker` on a free loopback port, standalone (no ZooKeeper), 2 partitions a topic.
struct Broker {
    _process: Process,
    bootstrap: String,
    port: u16,
}

fn start_broker() -> Broker {
    let dir = tempdir::Dir::new();
    let port = free_port();
    let config = dir.path().join("server.properties");
    std::fs::write(
        &config,
        format!(
            "broker.id=0\nlisteners=PLAINTEXT://127.0.0.1:{port}\nlog.dirs={}\n\
             num.partitions=2\noffsets.topic.replication.factor=1\n\
             auto.create.topics.enable=true\n",
            dir.path().join("kafka-logs").display()
        ),
    )
    .unwrap();
    let config = config.to_string_lossy().into_owned();
    let process = Process::start_in(dir, &["broker", "--config", &config]);
    wait_for_port(([127, 0, 0, 1], port).into(), DEADLINE);
    Broker {
        _process: process,
        bootstrap: format!("127.0.0.1:{port}"),
        port,
    }
}

/// Sends each line as one message with kcat (a real librdkafka producer).
fn kcat_produce(kcat: &Path, bootstrap: &str, topic: &str, lines: &[&str]) {
    let mut child = Command::new(kcat)
        .args(["-P", "-b", bootstrap, "-t", topic])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for line in lines {
        writeln!(stdin, "{line}").unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "kcat failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// kafka-python producing the values read from stdin (one per line, sent as is, empty ones
/// too), `pause` seconds apart.
const PYTHON_PRODUCER: &str = r#"
import sys, time
from kafka import KafkaProducer
bootstrap, topic, pause = sys.argv[1], sys.argv[2], float(sys.argv[3])
p = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
for line in sys.stdin.read().split("\n")[:-1]:
    p.send(topic, line.encode())
    if pause:
        p.flush()
        time.sleep(pause)
p.flush()
p.close()
"#;

fn python_producer(
    python: &Path,
    bootstrap: &str,
    topic: &str,
    lines: &[String],
    pause: f64,
) -> Child {
    let mut child = Command::new(python)
        .args(["-c", PYTHON_PRODUCER, bootstrap, topic, &pause.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for line in lines {
        writeln!(stdin, "{line}").unwrap();
    }
    child
}

fn finish(child: Child) {
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "producer failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One block of `DStream.print()` output.
#[derive(Debug, Clone, PartialEq)]
struct Batch {
    time: u64,
    pairs: Vec<(String, u64)>,
    more: bool,
    text: String,
}

/// Parses the complete blocks of `text`, checking every line of Spark's format; a block still
/// being written at the end is left out.
fn parse_batches(text: &str) -> Vec<Batch> {
    let mut batches = Vec::new();
    let mut rest = text;
    while let Some(end) = rest.find("\n\n") {
        let block = &rest[..end + 2];
        rest = &rest[end + 2..];
        let lines: Vec<&str> = block.lines().collect();
        assert!(lines.len() >= 4, "short block {block:?}");
        assert_eq!(lines[0], DASHES, "in {block:?}");
        let time = lines[1]
            .strip_prefix("Time: ")
            .and_then(|t| t.strip_suffix(" ms"))
            .and_then(|t| t.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("bad time line in {block:?}"));
        assert_eq!(lines[2], DASHES, "in {block:?}");
        assert_eq!(*lines.last().unwrap(), "", "in {block:?}");
        let mut pairs = Vec::new();
        let mut more = false;
        for line in &lines[3..lines.len() - 1] {
            if *line == "..." {
                more = true;
                continue;
            }
            assert!(!more, "a pair after ... in {block:?}");
            let inner = line.strip_prefix('(').and_then(|l| l.strip_suffix(')'));
            let (word, count) = inner
                .and_then(|i| i.rsplit_once(','))
                .unwrap_or_else(|| panic!("bad pair {line:?} in {block:?}"));
            pairs.push((word.to_owned(), count.parse().unwrap()));
        }
        assert!(pairs.len() <= 10, "more than 10 pairs in {block:?}");
        batches.push(Batch {
            time,
            pairs,
            more,
            text: block.to_owned(),
        });
    }
    batches
}

fn stdout_of(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("stdout.log")).unwrap_or_default()
}

/// Waits until the job's printed batches satisfy `done`; fails with its stderr after DEADLINE.
fn wait_batches(job: &Process, done: impl Fn(&[Batch]) -> bool) -> Vec<Batch> {
    let start = Instant::now();
    loop {
        let batches = parse_batches(&stdout_of(job.dir.path()));
        if done(&batches) {
            return batches;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "timed out; batches so far: {batches:#?}\nstderr: {}",
            job.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until the job's stderr says its `n` consumers have read their partitions once (so a
/// job starting at the end of the topic will see what is produced next).
fn wait_consuming(job: &Process, n: usize) {
    let start = Instant::now();
    while job.stderr().matches(" reads ").count() < n {
        assert!(
            start.elapsed() < DEADLINE,
            "consumers never started: {}",
            job.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn wordcount(bootstrap: &str, group: &str, topic: &str, extra: &[&str]) -> Process {
    let mut args = vec![
        "stream",
        "wordcount",
        "--bootstrap-server",
        bootstrap,
        group,
        topic,
        "1",
    ];
    args.extend_from_slice(extra);
    Process::start(&args)
}

fn assert_consecutive(batches: &[Batch], interval: u64) {
    for pair in batches.windows(2) {
        assert_eq!(
            pair[1].time,
            pair[0].time + interval,
            "a batch is missing: {batches:#?}"
        );
    }
    for b in batches {
        assert_eq!(
            b.time % interval,
            0,
            "batch time not on the interval: {}",
            b.time
        );
    }
}

#[test]
fn the_tp_line_prints_the_tp_batch_exactly() {
    let Some(kcat) = support::kcat() else { return };
    let broker = start_broker();
    kcat_produce(
        &kcat,
        &broker.bootstrap,
        "Hello-Kafka",
        &["hello hello kafka and zookeeper!"],
    );
    let job = wordcount(
        &broker.bootstrap,
        "test",
        "Hello-Kafka",
        &["--interval-ms", "500", "--from-beginning"],
    );
    let batches = wait_batches(&job, |b| {
        b.iter()
            .position(|x| !x.pairs.is_empty())
            .is_some_and(|i| b.len() > i + 1)
    });
    let i = batches.iter().position(|x| !x.pairs.is_empty()).unwrap();
    let batch = &batches[i];
    assert_eq!(
        batch.text,
        format!(
            "{DASHES}\nTime: {} ms\n{DASHES}\n(hello,2)\n(kafka,1)\n(zookeeper!,1)\n(and,1)\n\n",
            batch.time
        )
    );
    // The batches around it are empty ones, printed as a bare header.
    let next = &batches[i + 1];
    assert_eq!(
        next.text,
        format!("{DASHES}\nTime: {} ms\n{DASHES}\n\n", next.time)
    );
    assert_consecutive(&batches, 500);
}

#[test]
fn an_empty_message_prints_as_comma_one() {
    let Some(python) = support::python() else {
        return;
    };
    let broker = start_broker();
    let lines = vec![String::new()];
    finish(python_producer(
        &python,
        &broker.bootstrap,
        "Hello-Kafka",
        &lines,
        0.0,
    ));
    let job = wordcount(
        &broker.bootstrap,
        "test",
        "Hello-Kafka",
        &["--interval-ms", "500", "--from-beginning"],
    );
    let batches = wait_batches(&job, |b| b.iter().any(|x| !x.pairs.is_empty()));
    let batch = batches.iter().find(|x| !x.pairs.is_empty()).unwrap();
    assert_eq!(
        batch.text,
        format!("{DASHES}\nTime: {} ms\n{DASHES}\n(,1)\n\n", batch.time)
    );
}

#[test]
fn more_than_ten_distinct_words_end_with_dots() {
    let Some(kcat) = support::kcat() else { return };
    let broker = start_broker();
    let line = "a b c d e f g h i j k l";
    kcat_produce(&kcat, &broker.bootstrap, "words", &[line]);
    let job = wordcount(
        &broker.bootstrap,
        "g",
        "words",
        &["--interval-ms", "500", "--from-beginning"],
    );
    let batches = wait_batches(&job, |b| b.iter().any(|x| !x.pairs.is_empty()));
    let batch = batches.iter().find(|x| !x.pairs.is_empty()).unwrap();
    assert!(batch.more, "{}", batch.text);
    assert_eq!(batch.pairs.len(), 10, "{}", batch.text);
    assert!(batch.text.ends_with(")\n...\n\n"), "{}", batch.text);
    // The ten shown are Spark's first ten: its hash-partition order of the twelve words.
    let all: Vec<(String, u64)> = line.split(' ').map(|w| (w.to_owned(), 1)).collect();
    let expected: Vec<(String, u64)> = stream::spark_order::spark_order(all, 2)
        .into_iter()
        .take(10)
        .collect();
    assert_eq!(batch.pairs, expected);
}

/// Lines from a vocabulary of six words (empty word included), so every batch prints whole.
fn stream_lines(n: usize) -> Vec<String> {
    let vocabulary = ["spark", "kafka", "hdfs", "zookeeper!", "yarn"];
    (0..n)
        .map(|i| {
            let words: Vec<&str> = (0..(i % 4 + 1))
                .map(|j| vocabulary[(i * 7 + j * 3) % 5])
                .collect();
            if i % 10 == 9 {
                format!(" {}", words.join(" "))
            } else {
                words.join(" ")
            }
        })
        .collect()
}

fn input_totals(lines: &[String]) -> BTreeMap<String, u64> {
    let mut totals = BTreeMap::new();
    for line in lines {
        let mut c = stream::counts::WordCounts::new();
        c.add_line(line);
        for (w, n) in c.into_spark_order(1) {
            *totals.entry(w).or_insert(0) += n;
        }
    }
    totals
}

fn totals(batches: &[Batch]) -> BTreeMap<String, u64> {
    let mut totals = BTreeMap::new();
    for b in batches {
        assert!(
            !b.more,
            "a batch with more than 10 words cannot be summed: {}",
            b.text
        );
        for (w, n) in &b.pairs {
            *totals.entry(w.clone()).or_insert(0) += n;
        }
    }
    totals
}

#[test]
fn a_stream_over_many_batches_is_counted_whole() {
    let Some(python) = support::python() else {
        return;
    };
    let broker = start_broker();
    let lines = stream_lines(200);
    // Create the topic first, so the job's consumers get its partitions when they join.
    finish(python_producer(
        &python,
        &broker.bootstrap,
        "feed",
        &lines[..1],
        0.0,
    ));
    let job = wordcount(
        &broker.bootstrap,
        "g",
        "feed",
        &["--interval-ms", "200", "--from-beginning"],
    );
    wait_consuming(&job, 1);
    let producer = python_producer(&python, &broker.bootstrap, "feed", &lines[1..], 0.01);
    let expected = input_totals(&lines);
    finish(producer);
    let batches = wait_batches(&job, |b| totals(b) == expected);
    assert!(
        batches.iter().filter(|b| !b.pairs.is_empty()).count() >= 3,
        "{batches:#?}"
    );
    assert_consecutive(&batches, 200);
}

#[test]
fn killed_and_restarted_mid_stream_the_totals_equal_the_input() {
    let Some(python) = support::python() else {
        return;
    };
    let broker = start_broker();
    let lines = stream_lines(400);
    finish(python_producer(
        &python,
        &broker.bootstrap,
        "feed",
        &lines[..1],
        0.0,
    ));
    let args = ["--interval-ms", "200", "--from-beginning"];
    let first = wordcount(&broker.bootstrap, "restart", "feed", &args);
    wait_consuming(&first, 1);
    let producer = python_producer(&python, &broker.bootstrap, "feed", &lines[1..], 0.01);
    // Kill -9 once some batches with words are out, while the producer is still sending.
    wait_batches(&first, |b| {
        b.iter().filter(|x| !x.pairs.is_empty()).count() >= 3
    });
    let first_dir = first.kill9();
    let before = parse_batches(&stdout_of(first_dir.path()));
    let second = wordcount(&broker.bootstrap, "restart", "feed", &args);
    finish(producer);
    let expected = input_totals(&lines);
    let last_before = totals(before.last().map(std::slice::from_ref).unwrap_or(&[]));
    let mut expected_with_redo = expected.clone();
    for (w, n) in &last_before {
        *expected_with_redo.entry(w.clone()).or_insert(0) += n;
    }
    let after = wait_batches(&second, |b| {
        let mut all = before.clone();
        all.extend_from_slice(b);
        let t = totals(&all);
        t == expected || t == expected_with_redo
    });
    // Let a few more batches pass: nothing else may be counted.
    let n = after.len();
    let after = wait_batches(&second, |b| b.len() >= n + 5);
    let mut all = before.clone();
    all.extend(after);
    let t = totals(&all);
    if t == expected_with_redo && t != expected {
        // The documented at-least-once window: killed after printing a batch, before its commit.
        eprintln!("the kill fell between the last batch's output and its commit: it was redone");
    } else {
        assert_eq!(
            t,
            expected,
            "first run: {before:#?}\nsecond run stderr: {}",
            second.stderr()
        );
    }
}

/// Debian's Apache ZooKeeper on a free port, killed when dropped.
struct ZooKeeper {
    child: Child,
    _dir: tempdir::Dir,
    port: u16,
}

impl Drop for ZooKeeper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_apache_zookeeper() -> Option<ZooKeeper> {
    let server = support::require(
        "Debian's ZooKeeper (zkServer.sh)",
        &[PathBuf::from("/usr/share/zookeeper/bin/zkServer.sh")],
    )?;
    let dir = tempdir::Dir::new();
    let port = free_port();
    let cfg = dir.path().join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=500\ndataDir={}\nclientPort={port}\nadmin.enableServer=false\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let child = Command::new(server)
        .arg("start-foreground")
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_port(([127, 0, 0, 1], port).into(), DEADLINE);
    Some(ZooKeeper {
        child,
        _dir: dir,
        port,
    })
}

/// Registers `broker` in ZooKeeper as a Kafka 3.x broker does (`/brokers/ids/0`), with kazoo.
fn register_broker(python: &Path, zk: &ZooKeeper, broker: &Broker) {
    let script = r#"
import json, sys
from kazoo.client import KazooClient
zk = KazooClient(hosts=sys.argv[1]); zk.start(timeout=30)
port = int(sys.argv[2])
reg = {"listener_security_protocol_map": {"PLAINTEXT": "PLAINTEXT"},
       "endpoints": ["PLAINTEXT://127.0.0.1:%d" % port], "jmx_port": -1, "features": {},
       "host": "127.0.0.1", "timestamp": "1520287440000", "port": port, "version": 5}
zk.create("/brokers/ids/0", json.dumps(reg).encode(), makepath=True)
zk.stop()
"#;
    let out = Command::new(python)
        .args([
            "-c",
            script,
            &format!("127.0.0.1:{}", zk.port),
            &broker.port.to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kazoo: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_tp_spark_submit_line_finds_the_broker_through_zookeeper() {
    let (Some(python), Some(kcat)) = (support::python(), support::kcat()) else {
        return;
    };
    let Some(zk) = start_apache_zookeeper() else {
        return;
    };
    let broker = start_broker();
    register_broker(&python, &zk, &broker);
    // The topic exists before the job starts, as in the TP (kafka-topics.sh --create).
    kcat_produce(&kcat, &broker.bootstrap, "Hello-Kafka", &["before the job"]);

    // Called through a link named spark-submit, as in a lab node.
    let bin = tempdir::Dir::new();
    let link = bin.path().join("spark-submit");
    std::os::unix::fs::symlink(support::labnode(), &link).unwrap();
    let dir = tempdir::Dir::new();
    let out = std::fs::File::create(dir.path().join("stdout.log")).unwrap();
    let err = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
    let quorum = format!("localhost:{}", zk.port);
    let child = Command::new(&link)
        .args([
            "--class",
            "tn.insat.tp3.SparkKafkaWordCount",
            "--master",
            "local[2]",
            "stream-kafka-spark-1-jar-with-dependencies.jar",
            &quorum,
            "test",
            "Hello-Kafka",
            "1",
        ])
        .current_dir(dir.path())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap();
    let job = Process { child, dir };
    wait_consuming(&job, 1);
    kcat_produce(
        &kcat,
        &broker.bootstrap,
        "Hello-Kafka",
        &["hello hello kafka and zookeeper!"],
    );
    let batches = wait_batches(&job, |b| b.iter().any(|x| !x.pairs.is_empty()));
    let batch = batches.iter().find(|x| !x.pairs.is_empty()).unwrap();
    assert_eq!(
        batch.text,
        format!(
            "{DASHES}\nTime: {} ms\n{DASHES}\n(hello,2)\n(kafka,1)\n(zookeeper!,1)\n(and,1)\n\n",
            batch.time
        )
    );
    assert_consecutive(&batches, 2000);
}

#[test]
fn spark_submit_refuses_another_class_by_name() {
    let out = Command::new(support::labnode())
        .args([
            "spark-submit",
            "--class",
            "org.example.Other",
            "--master",
            "local[2]",
            "x.jar",
            "a",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("class org.example.Other is not available"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}
