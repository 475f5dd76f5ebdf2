//! Three `labnode broker` processes and a ZooKeeper (our coordinator, and Debian's Apache
//! ZooKeeper) form one cluster. A topic with replication factor 3 takes an idempotent
//! acks=all producer (rdkafka) while the leader of partition 0 is killed again and again
//! (kill -9 and a clean stop, alternately) and restarted: no acknowledged message is lost, none
//! is stored twice, every partition keeps the send order, the returning broker rejoins the
//! ISR each time, a consumer group's committed offsets survive every loss, and in the end the
//! three replicas of every partition hold byte-identical logs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Message, Offset, TopicPartitionList};

use support::Process;

const TOPIC: &str = "replicated";
const PARTITIONS: i32 = 3;
const GROUP: &str = "keeper";

/// Short timeouts so a loss is noticed in seconds.
const BROKER_EXTRA: &str = "zookeeper.session.timeout.ms=2000\nreplica.lag.time.max.ms=3000\n\
                            min.insync.replicas=2\ndefault.replication.factor=3\nnum.partitions=3";

/// One broker of the test cluster: its process (None while down), port and data dir.
struct Node {
    id: i32,
    port: u16,
    process: Option<Process>,
    dir: Option<support::tempdir::Dir>,
}

impl Node {
    fn data(&self) -> PathBuf {
        let dir = match (&self.process, &self.dir) {
            (Some(p), _) => p.dir.path(),
            (None, Some(d)) => d.path(),
            (None, None) => panic!("broker {} has no directory", self.id),
        };
        dir.join("kafka-logs")
    }
}

fn bootstrap(nodes: &[Node]) -> String {
    nodes
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.port))
        .collect::<Vec<_>>()
        .join(",")
}

/// Leader and ISR of every partition, from a fresh client's metadata.
fn partition_states(bootstrap: &str) -> Option<BTreeMap<i32, (i32, Vec<i32>)>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .ok()?;
    let md = consumer
        .fetch_metadata(Some(TOPIC), Duration::from_secs(5))
        .ok()?;
    let topic = md.topics().iter().find(|t| t.name() == TOPIC)?;
    Some(
        topic
            .partitions()
            .iter()
            .map(|p| (p.id(), (p.leader(), p.isr().to_vec())))
            .collect(),
    )
}

/// Creates the topic, retried: right after the brokers register, Metadata may name no
/// controller yet, and librdkafka's admin client then waits without asking again.
async fn create_topic(servers: &str) {
    for _ in 0..5 {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", servers)
            .create()
            .unwrap();
        let r = admin
            .create_topics(
                &[NewTopic::new(TOPIC, PARTITIONS, TopicReplication::Fixed(3))],
                &AdminOptions::new().operation_timeout(Some(Duration::from_secs(5))),
            )
            .await;
        match r.as_deref() {
            Ok([Ok(_)]) | Ok([Err((_, RDKafkaErrorCode::TopicAlreadyExists))]) => return,
            other => eprintln!("creating {TOPIC}: {other:?}; again"),
        }
    }
    panic!("cannot create {TOPIC}");
}

/// Waits until every broker of the cluster sees all three registered.
fn wait_brokers(nodes: &[Node]) {
    let start = Instant::now();
    for n in nodes {
        loop {
            let consumer: BaseConsumer = ClientConfig::new()
                .set("bootstrap.servers", format!("127.0.0.1:{}", n.port))
                .create()
                .unwrap();
            let seen = consumer
                .fetch_metadata(None, Duration::from_secs(5))
                .map_or(0, |md| md.brokers().len());
            if seen == nodes.len() {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the brokers register"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Waits until every partition has a leader and all three replicas in its ISR.
fn wait_full_isr(bootstrap: &str, nodes: &[Node]) {
    let start = Instant::now();
    loop {
        if let Some(states) = partition_states(bootstrap)
            && states.len() == PARTITIONS as usize
            && states.values().all(|(l, isr)| *l >= 0 && isr.len() == 3)
        {
            return;
        }
        if start.elapsed() > Duration::from_secs(90) {
            let logs: Vec<String> = nodes
                .iter()
                .filter_map(|n| n.process.as_ref().map(|p| p.stderr()))
                .collect();
            panic!(
                "the ISR did not become complete: {:?}\n{}",
                partition_states(bootstrap),
                logs.join("\n-----\n")
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The committed offsets of the group, as a client sees them.
fn committed(bootstrap: &str) -> BTreeMap<i32, i64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", GROUP)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition(TOPIC, p);
    }
    let start = Instant::now();
    loop {
        match consumer.committed_offsets(tpl.clone(), Duration::from_secs(10)) {
            Ok(list) => {
                return list
                    .elements()
                    .iter()
                    .map(|e| {
                        let o = match e.offset() {
                            Offset::Offset(o) => o,
                            _ => -1,
                        };
                        (e.partition(), o)
                    })
                    .collect();
            }
            Err(e) if start.elapsed() < Duration::from_secs(60) => {
                eprintln!("committed offsets not readable yet: {e}");
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(e) => panic!("committed offsets unreadable: {e}"),
        }
    }
}

/// A group member reads some messages and commits where it stopped.
fn consume_and_commit(bootstrap: &str, at_least: usize) -> BTreeMap<i32, i64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", GROUP)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&[TOPIC]).unwrap();
    let mut positions = BTreeMap::new();
    let start = Instant::now();
    let mut read = 0;
    while read < at_least {
        assert!(start.elapsed() < Duration::from_secs(60), "the group reads");
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(500)) {
            positions.insert(m.partition(), m.offset() + 1);
            read += 1;
        }
    }
    consumer.commit_consumer_state(CommitMode::Sync).unwrap();
    positions
}

/// Every stored message of every partition, in offset order, read from the leaders.
fn read_all(bootstrap: &str) -> BTreeMap<i32, Vec<(i64, u64)>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "final-check")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    let mut ends = HashMap::new();
    for p in 0..PARTITIONS {
        assignment
            .add_partition_offset(TOPIC, p, Offset::Beginning)
            .unwrap();
        let (_, high) = consumer
            .fetch_watermarks(TOPIC, p, Duration::from_secs(10))
            .unwrap();
        ends.insert(p, high);
    }
    consumer.assign(&assignment).unwrap();
    let mut out: BTreeMap<i32, Vec<(i64, u64)>> = BTreeMap::new();
    let mut done: Vec<i32> = ends
        .iter()
        .filter(|(_, h)| **h == 0)
        .map(|(p, _)| *p)
        .collect();
    while done.len() < PARTITIONS as usize {
        let m = consumer
            .poll(Duration::from_secs(30))
            .expect("a message within 30 s")
            .unwrap();
        let i: u64 = std::str::from_utf8(m.payload().unwrap())
            .unwrap()
            .parse()
            .unwrap();
        out.entry(m.partition()).or_default().push((m.offset(), i));
        if m.offset() + 1 >= ends[&m.partition()] && !done.contains(&m.partition()) {
            done.push(m.partition());
        }
    }
    out
}

/// The bytes of all segments of one partition replica, in order.
fn log_bytes(dir: &std::path::Path, partition: i32) -> Vec<u8> {
    let pdir = dir.join(format!("{TOPIC}-{partition}"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&pdir)
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

/// The whole scenario against the ZooKeeper at `zk_port`, with `losses` leader losses.
async fn failover_scenario(zk_port: u16, losses: usize) {
    let mut nodes: Vec<Node> = (1..=3)
        .map(|id| {
            let (process, port) = support::start_cluster_broker(id, zk_port, BROKER_EXTRA);
            Node {
                id,
                port,
                process: Some(process),
                dir: None,
            }
        })
        .collect();
    let servers = bootstrap(&nodes);
    wait_brokers(&nodes);
    create_topic(&servers).await;
    wait_full_isr(&servers, &nodes);

    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &servers)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "300000")
        .set("topic.metadata.refresh.interval.ms", "1000")
        .create()
        .unwrap();
    // (partition, offset, number) of every acknowledged message.
    let acked: Arc<Mutex<Vec<(i32, i64, u64)>>> = Arc::new(Mutex::new(Vec::new()));
    let failed = Arc::new(Mutex::new(Vec::new()));
    let running = Arc::new(AtomicBool::new(true));
    let sender = {
        let (acked, failed, running) = (acked.clone(), failed.clone(), running.clone());
        tokio::spawn(async move {
            let mut pending = Vec::new();
            let mut i: u64 = 0;
            while running.load(Ordering::Relaxed) {
                let key = (i % 17).to_string();
                let value = i.to_string();
                let delivery = producer
                    .send_result(FutureRecord::to(TOPIC).key(&key).payload(&value))
                    .unwrap();
                let (acked, failed) = (acked.clone(), failed.clone());
                pending.push(tokio::spawn(async move {
                    match delivery.await {
                        Ok(Ok(d)) => acked.lock().unwrap().push((d.partition, d.offset, i)),
                        other => failed.lock().unwrap().push(format!("{i}: {other:?}")),
                    }
                }));
                i += 1;
                if i.is_multiple_of(20) {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                pending.retain(|p: &tokio::task::JoinHandle<()>| !p.is_finished());
                while pending.len() > 2000 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    pending.retain(|p| !p.is_finished());
                }
            }
            for p in pending {
                p.await.unwrap();
            }
            i
        })
    };
    let wait_acks = |more: usize| {
        let start = Instant::now();
        let target = acked.lock().unwrap().len() + more;
        while acked.lock().unwrap().len() < target {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "the producer makes progress; failures: {:?}",
                failed.lock().unwrap().iter().take(5).collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_acks(300);
    let mut group_offsets = consume_and_commit(&servers, 100);
    assert_eq!(committed(&servers), {
        let mut all: BTreeMap<i32, i64> = (0..PARTITIONS).map(|p| (p, -1)).collect();
        all.extend(group_offsets.clone());
        all
    });
    let expected_committed = |g: &BTreeMap<i32, i64>| {
        let mut all: BTreeMap<i32, i64> = (0..PARTITIONS).map(|p| (p, -1)).collect();
        all.extend(g.clone());
        all
    };

    for loss in 0..losses {
        let states = partition_states(&servers).expect("metadata");
        let leader = states[&0].0;
        let node = nodes.iter_mut().find(|n| n.id == leader).unwrap();
        let process = node.process.take().unwrap();
        let how = if loss % 2 == 0 {
            "kill -9"
        } else {
            "clean stop"
        };
        eprintln!("loss {loss}: {how} of broker {leader}, leader of partition 0");
        node.dir = Some(if loss % 2 == 0 {
            process.kill9()
        } else {
            support::stop(process)
        });
        // The producer goes on through the remaining two brokers.
        wait_acks(200);
        assert_eq!(
            committed(&servers),
            expected_committed(&group_offsets),
            "committed offsets after loss {loss}"
        );
        if loss % 3 == 1 {
            // The group moves on while a broker is down; the new position must stick too.
            group_offsets = consume_and_commit(&servers, 50);
            assert_eq!(committed(&servers), expected_committed(&group_offsets));
        }
        let dir = node.dir.take().unwrap();
        node.process = Some(support::restart_broker(dir, node.port));
        wait_full_isr(&servers, &nodes);
        wait_acks(100);
    }
    running.store(false, Ordering::Relaxed);
    let sent = tokio::time::timeout(Duration::from_secs(300), sender)
        .await
        .expect("the producer finishes")
        .unwrap();
    let acked = acked.lock().unwrap().clone();
    let failed = failed.lock().unwrap().clone();
    assert!(
        failed.is_empty(),
        "failed deliveries: {:?}",
        &failed[..failed.len().min(10)]
    );
    wait_full_isr(&servers, &nodes);

    // Every acknowledged message once, at its acknowledged offset; order kept per partition.
    let stored = read_all(&servers);
    let mut seen: HashMap<u64, (i32, i64)> = HashMap::new();
    for (p, msgs) in &stored {
        for w in msgs.windows(2) {
            assert!(w[0].1 < w[1].1, "partition {p}: order kept ({w:?})");
        }
        for (offset, i) in msgs {
            assert!(
                seen.insert(*i, (*p, *offset)).is_none(),
                "message {i} stored twice"
            );
        }
    }
    for (p, offset, i) in &acked {
        assert_eq!(
            seen.get(i),
            Some(&(*p, *offset)),
            "acknowledged message {i}"
        );
    }
    // The group resumes exactly where it committed.
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &servers)
        .set("group.id", GROUP)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(&[TOPIC]).unwrap();
    let mut first: BTreeMap<i32, i64> = BTreeMap::new();
    let start = Instant::now();
    while first.len() < group_offsets.len() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the group resumes"
        );
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(500)) {
            first.entry(m.partition()).or_insert(m.offset());
        }
    }
    for (p, o) in &group_offsets {
        assert_eq!(
            first.get(p),
            Some(o),
            "partition {p} resumes at the committed offset"
        );
    }
    drop(consumer);
    // No replica keeps divergent data: the three logs of each partition are identical.
    std::thread::sleep(Duration::from_secs(2));
    for p in 0..PARTITIONS {
        let logs: Vec<Vec<u8>> = nodes.iter().map(|n| log_bytes(&n.data(), p)).collect();
        assert!(
            logs.windows(2).all(|w| w[0] == w[1]),
            "partition {p}: replicas differ ({:?} bytes)",
            logs.iter().map(Vec::len).collect::<Vec<_>>()
        );
    }
    eprintln!(
        "{losses} losses: {sent} sent, {} acknowledged, {} stored",
        acked.len(),
        seen.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leader_losses_with_our_coordinator_lose_and_duplicate_nothing() {
    let (_coordinator, zk_port) = support::start_coordinator("");
    failover_scenario(zk_port, 10).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leader_losses_with_apache_zookeeper_lose_and_duplicate_nothing() {
    let Some(zk) = support::start_apache_zookeeper() else {
        return;
    };
    failover_scenario(zk.port, 4).await;
}
