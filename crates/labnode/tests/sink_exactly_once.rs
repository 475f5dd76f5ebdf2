//! The Kafka → HDFS sink, exactly once: a real broker, a real namenode and two datanodes, a
//! kafka-python producer, the sink killed (SIGKILL) again and again while it works, then the
//! namenode and a datanode killed too; HdfsCLI then reads every file: each message exactly
//! once, files named `<topic>+<p>+<start>+<end>.txt` with contiguous offset ranges.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{
    free_port, start_broker, start_datanode, start_namenode, start_namenode_in,
    wait_for_live_datanodes,
};

const TOPIC: &str = "sink-test";
const N: usize = 4000;
/// How many times the sink is killed.
const KILLS: u64 = 6;

fn check(url: &str) -> serde_json::Value {
    let out = support::run_python("hdfs_sink_check.py", &[url, "/topics", TOPIC]).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn total_lines(v: &serde_json::Value) -> usize {
    v["lines"]
        .as_object()
        .map_or(0, |m| m.values().map(|l| l.as_array().unwrap().len()).sum())
}

#[test]
fn every_message_lands_exactly_once_across_kill_9s() {
    let Some(py) = support::python() else { return };
    let (broker, kafka_port) = start_broker("num.partitions=3");
    let (http, rpc) = (free_port(), free_port());
    let namenode = start_namenode(http, rpc, &[]);
    let mut dns: Vec<_> = (0..2)
        .map(|_| start_datanode(free_port(), rpc, &[]))
        .collect();
    wait_for_live_datanodes(http, 2, Duration::from_secs(30));
    let url = format!("http://127.0.0.1:{http}");
    let bootstrap = format!("127.0.0.1:{kafka_port}");

    let sink_dir = support::tempdir::Dir::new();
    let config = sink_dir.path().join("hdfs-sink.properties");
    std::fs::write(
        &config,
        format!(
            "name=test-sink\ntopics={TOPIC}\ntopics.dir=/topics\nflush.size=97\n\
             rotate.interval.ms=700\nconsumer.session.timeout.ms=6000\nformat=raw\nbootstrap.servers={bootstrap}\n\
             hdfs.url=http://127.0.0.1:{http}\nhdfs.user=sink\n"
        ),
    )
    .unwrap();
    let config = config.display().to_string();

    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/sink_produce.py");
    let producer = Command::new(py)
        .args([
            script.to_str().unwrap(),
            &bootstrap,
            TOPIC,
            "3",
            &N.to_string(),
            "60",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Kill the sink while it works: each time once it has committed a file of its own, at
    // uneven moments after that.
    let mut dir = sink_dir;
    for i in 0..KILLS {
        let sink = support::Process::start_in(dir, &["sink", "--config", &config]);
        let start = Instant::now();
        while !sink.stderr().contains("committed") {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the sink never committed:\n{}",
                sink.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(137 * (i % 5)));
        dir = sink.kill9();
    }
    let sink = support::Process::start_in(dir, &["sink", "--config", &config]);
    // Then the namenode goes down hard and comes back on the same name dir.
    std::thread::sleep(Duration::from_millis(800));
    let nn_dir = namenode.kill9();
    std::thread::sleep(Duration::from_secs(2));
    let _namenode = start_namenode_in(nn_dir, http, rpc, &[]);
    // And one of the two datanodes dies for good: writes go on with the other.
    std::thread::sleep(Duration::from_secs(2));
    drop(dns.remove(0).kill9());

    let produced = producer.wait_with_output().unwrap();
    assert!(
        produced.status.success(),
        "producer: {}",
        String::from_utf8_lossy(&produced.stderr)
    );

    let start = Instant::now();
    let mut last = check(&url);
    while total_lines(&last) < N {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "HDFS holds {} of {N} records; sink log:\n{}",
            total_lines(&last),
            sink.stderr()
        );
        std::thread::sleep(Duration::from_secs(2));
        last = check(&url);
    }
    // A little longer: nothing more may appear (no duplicate written late).
    std::thread::sleep(Duration::from_secs(2));
    last = check(&url);

    let mut seen = vec![0u32; N];
    for (part, lines) in last["lines"].as_object().unwrap() {
        let p: i32 = part.strip_prefix("partition=").unwrap().parse().unwrap();
        let mut prev = None;
        for line in lines.as_array().unwrap() {
            let i: usize = line
                .as_str()
                .unwrap()
                .strip_prefix("msg-")
                .unwrap()
                .parse()
                .unwrap();
            seen[i] += 1;
            assert!(prev < Some(i), "partition {p}: out of order at msg {i}");
            prev = Some(i);
        }
        // File names: contiguous, inclusive ranges from offset 0, each as long as its content.
        let files = last["files"][part].as_array().unwrap();
        let mut next = 0i64;
        let mut counted = 0usize;
        for f in files {
            let f = f.as_str().unwrap();
            let rest = f
                .strip_prefix(&format!("{TOPIC}+{p}+"))
                .and_then(|r| r.strip_suffix(".txt"))
                .unwrap_or_else(|| panic!("bad file name {f}"));
            let (s, e) = rest.split_once('+').unwrap();
            assert_eq!(s.len(), 10, "{f}: zero-padded to 10");
            let (s, e): (i64, i64) = (s.parse().unwrap(), e.parse().unwrap());
            assert_eq!(s, next, "{f}: ranges are contiguous");
            next = e + 1;
            counted += usize::try_from(e - s + 1).unwrap();
        }
        assert_eq!(counted, lines.as_array().unwrap().len(), "partition {p}");
    }
    let missing: Vec<usize> = (0..N).filter(|i| seen[*i] == 0).collect();
    let doubled: Vec<usize> = (0..N).filter(|i| seen[*i] > 1).collect();
    assert!(
        missing.is_empty() && doubled.is_empty(),
        "missing {missing:?}, duplicated {doubled:?}"
    );
    drop(broker);
}
