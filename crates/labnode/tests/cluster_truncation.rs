//! A leader that dies with records its followers never fetched must drop them when it returns:
//! the followers are paused (SIGSTOP), the leader takes acks=1 records alone and is killed, a
//! follower becomes leader and takes new records; the old leader comes back as a follower,
//! asks OffsetForLeaderEpoch, truncates its divergent tail and copies the new leader's records,
//! so all three replicas end byte-identical and consumers see only the new leader's history.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Message, Offset, TopicPartitionList};

const TOPIC: &str = "diverge";
const EXTRA: &str = "zookeeper.session.timeout.ms=3000\nreplica.lag.time.max.ms=10000";

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig} {pid}");
}

/// Leader and ISR of partition 0 as broker `port` reports them.
fn state(port: u16) -> Option<(i32, Vec<i32>)> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", format!("127.0.0.1:{port}"))
        .create()
        .ok()?;
    let md = c.fetch_metadata(Some(TOPIC), Duration::from_secs(5)).ok()?;
    let p = md.topics().first()?.partitions().first()?;
    Some((p.leader(), p.isr().to_vec()))
}

fn wait_state(port: u16, what: &str, ok: impl Fn(i32, &[i32]) -> bool) {
    let start = Instant::now();
    while !state(port).is_some_and(|(l, isr)| ok(l, &isr)) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{what}: {:?}",
            state(port)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn segments(dir: &Path) -> Vec<u8> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join(format!("{TOPIC}-0")))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|f| std::fs::read(f).unwrap())
        .collect()
}

async fn produce(port: u16, acks: &str, prefix: &str, n: usize) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", format!("127.0.0.1:{port}"))
        .set("acks", acks)
        .set("linger.ms", "0")
        .create()
        .unwrap();
    for i in 0..n {
        let value = format!("{prefix}-{i}");
        producer
            .send(
                FutureRecord::to(TOPIC)
                    .partition(0)
                    .key("k")
                    .payload(&value),
                Duration::from_secs(30),
            )
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_returning_leader_truncates_what_only_it_had() {
    let (_zk, zk_port) = support::start_coordinator("");
    let mut brokers: Vec<(Option<support::Process>, u16)> = (1..=3)
        .map(|id| {
            let (p, port) = support::start_cluster_broker(id, zk_port, EXTRA);
            (Some(p), port)
        })
        .collect();
    let port = |i: usize, b: &[(Option<support::Process>, u16)]| b[i].1;
    // Broker 1 leads: the assignment names it first.
    let start = Instant::now();
    loop {
        let c: BaseConsumer = ClientConfig::new()
            .set(
                "bootstrap.servers",
                format!("127.0.0.1:{}", port(0, &brokers)),
            )
            .create()
            .unwrap();
        if c.fetch_metadata(None, Duration::from_secs(5))
            .is_ok_and(|md| md.brokers().len() == 3)
        {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "three brokers");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Retried: right after the brokers register, Metadata may name no controller yet, and
    // librdkafka's admin client then waits without asking again.
    let assignment: &[&[i32]] = &[&[1, 2, 3]];
    let mut created = false;
    for _ in 0..5 {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set(
                "bootstrap.servers",
                format!("127.0.0.1:{}", port(0, &brokers)),
            )
            .create()
            .unwrap();
        let new = NewTopic::new(TOPIC, 1, TopicReplication::Variable(assignment));
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(5)));
        match admin.create_topics(&[new], &options).await.as_deref() {
            Ok([Ok(_)]) | Ok([Err((_, RDKafkaErrorCode::TopicAlreadyExists))]) => {
                created = true;
                break;
            }
            other => eprintln!("creating {TOPIC}: {other:?}; again"),
        }
    }
    assert!(created, "{TOPIC} created");
    let p1 = port(0, &brokers);
    wait_state(p1, "leader 1 with a full ISR", |l, isr| {
        l == 1 && isr.len() == 3
    });
    produce(p1, "all", "shared", 10).await;

    // Followers paused: the leader alone takes records, then dies with them.
    let pids: Vec<u32> = brokers[1..]
        .iter()
        .map(|(p, _)| p.as_ref().unwrap().child.id())
        .collect();
    for pid in &pids {
        signal(*pid, "STOP");
    }
    // A fetch already waiting at the leader would still be answered into the paused
    // followers' sockets: let every such long poll (500 ms) run out empty first.
    tokio::time::sleep(Duration::from_millis(800)).await;
    produce(p1, "1", "lost", 20).await;
    let dir1 = brokers[0].0.take().unwrap().kill9();
    for pid in &pids {
        signal(*pid, "CONT");
    }
    let p2 = port(1, &brokers);
    wait_state(p2, "a new leader", |l, _| l == 2 || l == 3);
    produce(p2, "all", "after", 5).await;

    // The old leader returns as a follower and must converge.
    brokers[0].0 = Some(support::restart_broker(dir1, p1));
    wait_state(p2, "broker 1 back in the ISR", |_, isr| isr.len() == 3);
    let stderr = brokers[0].0.as_ref().unwrap().stderr();
    assert!(
        stderr.contains("truncating from 30 to 10"),
        "broker 1 dropped its 20 unreplicated records:\n{stderr}"
    );
    std::thread::sleep(Duration::from_secs(1));
    let logs: Vec<Vec<u8>> = brokers
        .iter()
        .map(|(p, _)| segments(&p.as_ref().unwrap().dir.path().join("kafka-logs")))
        .collect();
    assert!(
        logs.windows(2).all(|w| w[0] == w[1]),
        "replicas differ: {:?} bytes",
        logs.iter().map(Vec::len).collect::<Vec<_>>()
    );

    // Consumers see the shared and the new leader's records, never the lost ones.
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", format!("127.0.0.1:{p1}"))
        .set("group.id", "diverge-check")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(TOPIC, 0, Offset::Beginning)
        .unwrap();
    c.assign(&tpl).unwrap();
    let mut values = Vec::new();
    while values.len() < 15 {
        let m = c.poll(Duration::from_secs(30)).expect("a record").unwrap();
        values.push(String::from_utf8(m.payload().unwrap().to_vec()).unwrap());
    }
    let expected: Vec<String> = (0..10)
        .map(|i| format!("shared-{i}"))
        .chain((0..5).map(|i| format!("after-{i}")))
        .collect();
    assert_eq!(values, expected);
}
