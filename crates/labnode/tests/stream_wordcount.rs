//! The streaming wordcount end to end: a real `labnode broker`, the job as a real `labnode`
//! process (also under its `spark-submit` name), and independent producers (kcat, kafka-python).
//! Its stdout is checked against Spark's `DStream.print()` format line by line.
// Test code: a failed unwrap or index is a failed test with its location.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{Process, tempdir};

const DASHES: &str = "-------------------------------------------";
const DEADLINE: Duration = Duration::from_secs(90);

/// A `labnode broker` on a free loopback port, standalone (no ZooKeeper), 2 partitions a topic.
struct Broker {
    _process: Process,
    bootstrap: String,
    port: u16,
}

fn start_broker() -> Broker {
    let (process, port) = support::start_broker("num.partitions=2");
    Broker {
        _process: process,
        bootstrap: format!("127.0.0.1:{port}"),
        port,
    }
}

/// Sends each line as one message with kcat (a real librdkafka producer).
fn kcat_produce(kcat: &Path, bootstrap: &str, topic: &str, lines: &[&str]) {
    let mut child = support::system_command(kcat)
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
    let mut child = support::system_command(python)
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
    wordcount_threads(bootstrap, group, topic, "1", extra)
}

fn wordcount_threads(
    bootstrap: &str,
    group: &str,
    topic: &str,
    threads: &str,
    extra: &[&str],
) -> Process {
    let mut args = vec!["stream", "wordcount", "--bootstrap-server", bootstrap];
    args.extend_from_slice(&[group, topic, threads]);
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
    // Two consumers (numThreads 2) share the topic's two partitions.
    let job = wordcount_threads(
        &broker.bootstrap,
        "g",
        "feed",
        "2",
        &["--interval-ms", "200", "--from-beginning"],
    );
    wait_consuming(&job, 2);
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
    // What a restart may count again: the batches printed after the last acknowledged commit,
    // a suffix of the first run (normally its last batch, if the kill fell before that batch's
    // commit was acknowledged). Nothing is lost and nothing else is counted twice.
    let allowed: Vec<BTreeMap<String, u64>> = (0..=REDO_LIMIT.min(before.len()))
        .map(|k| {
            let mut e = expected.clone();
            for (w, n) in totals(&before[before.len() - k..]) {
                *e.entry(w).or_insert(0) += n;
            }
            e
        })
        .collect();
    let after = wait_batches(&second, |b| {
        let mut all = before.clone();
        all.extend_from_slice(b);
        allowed.contains(&totals(&all))
    });
    // Let a few more batches pass: nothing else may be counted.
    let n = after.len();
    let after = wait_batches(&second, |b| b.len() >= n + 5);
    let mut all = before.clone();
    all.extend(after);
    let t = totals(&all);
    let redone = allowed.iter().position(|a| *a == t);
    assert!(
        redone.is_some(),
        "totals {t:?}, input {expected:?}\nfirst run: {before:#?}\nsecond run stderr: {}",
        second.stderr()
    );
    if let Some(k) = redone.filter(|k| *k > 0) {
        eprintln!("killed before the commit of the last {k} printed batch(es): counted again");
    }
}

/// At most this many uncommitted batches are expected at a kill (one commit round trip of lag;
/// more only while the group rebalances, which this test does not do after the start).
const REDO_LIMIT: usize = 2;

/// Registers `broker` in ZooKeeper as a Kafka 3.x broker does (`/brokers/ids/0`), with kazoo.
fn register_broker(python: &Path, zk_port: u16, broker: &Broker) {
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
    let out = support::system_command(python)
        .args([
            "-c",
            script,
            &format!("127.0.0.1:{zk_port}"),
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

/// The TP's exact `spark-submit` line, before the four arguments.
const SPARK_SUBMIT: &[&str] = &[
    "--class",
    "tn.insat.tp3.SparkKafkaWordCount",
    "--master",
    "local[2]",
    "stream-kafka-spark-1-jar-with-dependencies.jar",
];

/// Runs the job through a link named `command` (as in a lab node) with `leading` arguments and
/// the TP's four (`<zk> test Hello-Kafka 1`, the ZooKeeper at `zk_port`), and checks the TP's
/// batch in its stdout.
fn tp_job_through_zookeeper(command: &str, leading: &[&str], zk_port: u16) {
    let (Some(python), Some(kcat)) = (support::python(), support::kcat()) else {
        return;
    };
    let broker = start_broker();
    register_broker(&python, zk_port, &broker);
    // The topic exists before the job starts, as in the TP (kafka-topics.sh --create).
    kcat_produce(&kcat, &broker.bootstrap, "Hello-Kafka", &["before the job"]);

    let bin = tempdir::Dir::new();
    let link = bin.path().join(command);
    std::os::unix::fs::symlink(support::labnode(), &link).unwrap();
    let dir = tempdir::Dir::new();
    let out = std::fs::File::create(dir.path().join("stdout.log")).unwrap();
    let err = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
    let quorum = format!("localhost:{zk_port}");
    let child = Command::new(&link)
        .args(leading)
        .args([quorum.as_str(), "test", "Hello-Kafka", "1"])
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
fn the_tp_spark_submit_line_finds_the_broker_through_apache_zookeeper() {
    let Some(zk) = support::start_apache_zookeeper() else {
        return;
    };
    tp_job_through_zookeeper("spark-submit", SPARK_SUBMIT, zk.port);
}

#[test]
fn the_tp_spark_submit_line_finds_the_broker_through_our_coordinator() {
    let (_coordinator, port) = support::start_coordinator("");
    tp_job_through_zookeeper("spark-submit", SPARK_SUBMIT, port);
}

#[test]
fn spark_kafka_wordcount_takes_the_tp_arguments() {
    let (_coordinator, port) = support::start_coordinator("");
    tp_job_through_zookeeper("spark-kafka-wordcount", &[], port);
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

#[test]
fn windows_count_the_batches_of_their_length_at_each_slide() {
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
        "w",
        "Hello-Kafka",
        &[
            "--interval-ms",
            "200",
            "--window-ms",
            "600",
            "--slide-ms",
            "400",
            "--from-beginning",
        ],
    );
    // Wait until the line has left the window again.
    let batches = wait_batches(&job, |b| {
        b.iter()
            .position(|x| !x.pairs.is_empty())
            .is_some_and(|i| b.len() > i + 2 && b[i + 1..].iter().any(|x| x.pairs.is_empty()))
    });
    assert_consecutive(&batches, 400);
    let with_words: Vec<&Batch> = batches.iter().filter(|b| !b.pairs.is_empty()).collect();
    // A 200 ms batch lies in every 600 ms window ending at a 400 ms multiple within 600 ms of
    // it: one or two windows, consecutive, each counting the line once.
    assert!((1..=2).contains(&with_words.len()), "{batches:#?}");
    for b in &with_words {
        assert_eq!(
            b.pairs,
            [("hello", 2), ("kafka", 1), ("zookeeper!", 1), ("and", 1)]
                .map(|(w, n)| (w.to_owned(), n))
        );
    }
}

#[test]
fn batches_are_published_to_the_output_topic() {
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
        "t",
        "Hello-Kafka",
        &[
            "--interval-ms",
            "300",
            "--from-beginning",
            "--output-topic",
            "wordcounts",
        ],
    );
    wait_batches(&job, |b| b.iter().any(|x| !x.pairs.is_empty()));
    let start = Instant::now();
    let mut records: Vec<String>;
    loop {
        let out = support::system_command(&kcat)
            .args([
                "-C",
                "-b",
                &broker.bootstrap,
                "-t",
                "wordcounts",
                "-o",
                "beginning",
                "-e",
            ])
            .args(["-f", "%k=%s\n", "-q"])
            .output()
            .unwrap();
        records = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        records.sort();
        if records.len() >= 4 {
            break;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "no counts in the topic: {records:?} {}",
            job.stderr()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(records, ["and=1", "hello=2", "kafka=1", "zookeeper!=1"]);
}

/// Lists `dir` in HDFS with HdfsCLI and prints `name<TAB>content` per file (content escaped).
const HDFS_READ: &str = r#"
import sys, json
from hdfs import InsecureClient
c = InsecureClient(sys.argv[1], user="root")
out = {}
for name in c.list(sys.argv[2]):
    with c.read(sys.argv[2] + "/" + name, encoding="utf-8") as r:
        out[name] = r.read()
print(json.dumps(out))
"#;

#[test]
fn each_batch_becomes_a_file_in_hdfs() {
    let (Some(kcat), Some(python)) = (support::kcat(), support::python()) else {
        return;
    };
    let (http, rpc, dn) = (
        support::free_port(),
        support::free_port(),
        support::free_port(),
    );
    let one = [("dfs.replication", "1")];
    let _namenode = support::start_namenode(http, rpc, &one);
    let _datanode = support::start_datanode(dn, rpc, &one);
    support::wait_for_live_datanodes(http, 1, DEADLINE);
    let broker = start_broker();
    kcat_produce(
        &kcat,
        &broker.bootstrap,
        "Hello-Kafka",
        &["hello hello kafka and zookeeper!"],
    );
    let hdfs_dir = format!("webhdfs://127.0.0.1:{http}/user/root/wordcount");
    let job = wordcount(
        &broker.bootstrap,
        "h",
        "Hello-Kafka",
        &[
            "--interval-ms",
            "300",
            "--from-beginning",
            "--hdfs-dir",
            &hdfs_dir,
        ],
    );
    let batches = wait_batches(&job, |b| {
        b.iter()
            .position(|x| !x.pairs.is_empty())
            .is_some_and(|i| b.len() > i + 1)
    });
    let with_words = batches.iter().find(|b| !b.pairs.is_empty()).unwrap();
    let out = support::system_command(&python)
        .args([
            "-c",
            HDFS_READ,
            &format!("http://127.0.0.1:{http}"),
            "/user/root/wordcount",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "HdfsCLI: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files: BTreeMap<String, String> = serde_json::from_slice(&out.stdout).unwrap();
    // Every batch printed so far has its file (the last one may still be on its way; stdout is
    // written first), and no temp file is left behind.
    for b in &batches[..batches.len() - 1] {
        let name = format!("wordcounts-{}.txt", b.time);
        assert!(files.contains_key(&name), "{name} missing from {files:?}");
    }
    assert!(
        files
            .keys()
            .all(|n| n.starts_with("wordcounts-") && n.ends_with(".txt")),
        "{files:?}"
    );
    assert_eq!(
        files[&format!("wordcounts-{}.txt", with_words.time)],
        "(hello,2)\n(kafka,1)\n(zookeeper!,1)\n(and,1)\n"
    );
}

#[test]
fn a_topic_missing_at_start_is_awaited_then_read() {
    let Some(kcat) = support::kcat() else { return };
    let broker = start_broker();
    // No --from-beginning: like the TP's job, it reads what is produced after it started.
    let job = wordcount(
        &broker.bootstrap,
        "test",
        "not-yet",
        &["--interval-ms", "500"],
    );
    // The job never creates the topic (in the lab it starts before the student's
    // `kafka-topics.sh --create`, which must succeed): it waits for it.
    let start = Instant::now();
    while !job.stderr().contains("waiting for topic not-yet") {
        assert!(start.elapsed() < DEADLINE, "{}", job.stderr());
        std::thread::sleep(Duration::from_millis(100));
    }
    // Meanwhile its batches end on time and print empty, as Spark's do.
    let waiting = wait_batches(&job, |b| b.len() >= 2);
    assert!(waiting.iter().all(|b| b.pairs.is_empty()), "{waiting:#?}");
    let created = std::process::Command::new(support::labnode())
        .args([
            "kafka-topics.sh",
            "--create",
            "--bootstrap-server",
            &broker.bootstrap,
        ])
        .args([
            "--partitions",
            "2",
            "--replication-factor",
            "1",
            "--topic",
            "not-yet",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&created.stdout),
        "Created topic not-yet.\n",
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    wait_consuming(&job, 1);
    assert!(
        job.stderr().contains("reads not-yet-0, not-yet-1"),
        "{}",
        job.stderr()
    );
    kcat_produce(
        &kcat,
        &broker.bootstrap,
        "not-yet",
        &["hello hello kafka and zookeeper!"],
    );
    let batches = wait_batches(&job, |b| b.iter().any(|x| !x.pairs.is_empty()));
    let batch = batches.iter().find(|x| !x.pairs.is_empty()).unwrap();
    assert_eq!(
        batch.pairs.iter().map(|(_, n)| n).sum::<u64>(),
        5,
        "{}",
        batch.text
    );
}

#[test]
fn in_a_lab_the_broker_registers_itself_and_the_job_finds_it() {
    let Some(kcat) = support::kcat() else { return };
    // The lab's order: the coordinator, then a broker with zookeeper.connect, then the job.
    let (_coordinator, zk_port) = support::start_coordinator("");
    let (_broker, port) = support::start_cluster_broker(0, zk_port, "num.partitions=2");
    let bootstrap = format!("127.0.0.1:{port}");
    kcat_produce(&kcat, &bootstrap, "Hello-Kafka", &["before the job"]);
    let quorum = format!("127.0.0.1:{zk_port}");
    let job = Process::start(&["spark-kafka-wordcount", &quorum, "test", "Hello-Kafka", "1"]);
    wait_consuming(&job, 1);
    assert!(
        job.stderr()
            .contains(&format!("brokers registered in ZooKeeper at {quorum}"))
    );
    kcat_produce(
        &kcat,
        &bootstrap,
        "Hello-Kafka",
        &["hello hello kafka and zookeeper!"],
    );
    let batches = wait_batches(&job, |b| b.iter().any(|x| !x.pairs.is_empty()));
    let batch = batches.iter().find(|x| !x.pairs.is_empty()).unwrap();
    assert_eq!(
        batch.pairs,
        [("hello", 2), ("kafka", 1), ("zookeeper!", 1), ("and", 1)].map(|(w, n)| (w.to_owned(), n))
    );
}
