//! `labs/cluster.yaml` in Docker: one broker per node, so a topic of three replicas survives the
//! loss of the node leading it. An idempotent acks=all producer on the host keeps going across a
//! `docker stop` of the leader's node; every acknowledged message is then read exactly once, in
//! order, and the returning broker is back in the ISR.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

use crate::support::*;

const LAB: &str = "e2e-cluster";
/// Host ports are the spec's plus this (the student's own lab keeps 9092…).
const OFFSET: u16 = 11800;
const TOPIC: &str = "failover";

/// The host's bootstrap list: every broker's published port.
fn servers() -> String {
    [9092, 9093, 9094]
        .map(|p| format!("localhost:{}", p + OFFSET))
        .join(",")
}

/// Partition 0's leader and ISR, as metadata reports them.
fn leader_and_isr() -> Option<(i32, Vec<i32>)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", servers())
        .create()
        .ok()?;
    let md = consumer
        .fetch_metadata(Some(TOPIC), Duration::from_secs(5))
        .ok()?;
    let topic = md.topics().iter().find(|t| t.name() == TOPIC)?;
    let p = topic.partitions().iter().find(|p| p.id() == 0)?;
    let mut isr = p.isr().to_vec();
    isr.sort();
    Some((p.leader(), isr))
}

/// Produces `value` and waits for its acknowledgement; true when acknowledged.
async fn produce(producer: &FutureProducer, value: &str) -> bool {
    let record = FutureRecord::to(TOPIC)
        .key(value)
        .payload(value)
        .partition(0);
    producer.send(record, Duration::from_secs(5)).await.is_ok()
}

#[test]
fn replicated_topic_survives_the_leaders_node_stopping() {
    if !docker_available() {
        return;
    }
    ensure_labnode();
    let _guard = LabGuard::new(LAB, &[]);
    let began = std::time::Instant::now();
    up_docker(LAB, Some("labs/cluster.yaml"), OFFSET);
    // Replicas led by slave1's broker: the master also runs ZooKeeper, whose loss is not this
    // test's subject.
    lab_ok(
        &[
            "exec",
            "--name",
            LAB,
            "hadoop-master",
            "--",
            "kafka-topics.sh",
            "--create",
            "--bootstrap-server",
            "hadoop-master:9092",
            "--topic",
            TOPIC,
            "--replica-assignment",
            "1:2:0",
        ],
        &[],
    );
    eventually("a leader and a full ISR", || {
        leader_and_isr().is_some_and(|(l, isr)| l >= 0 && isr == [0, 1, 2])
    });

    let rt = tokio::runtime::Runtime::new().unwrap();
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", servers())
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("message.timeout.ms", "120000")
        .set("topic.metadata.refresh.interval.ms", "1000")
        .create()
        .unwrap();
    let mut acked: Vec<String> = Vec::new();
    let mut next = 0u32;
    let mut send = |acked: &mut Vec<String>| {
        let value = format!("m{next:05}");
        next += 1;
        if rt.block_on(produce(&producer, &value)) {
            acked.push(value);
            true
        } else {
            false
        }
    };
    for _ in 0..20 {
        assert!(send(&mut acked), "a healthy cluster acknowledges");
    }

    let (leader, _) = leader_and_isr().unwrap();
    let node = match leader {
        0 => "hadoop-master",
        1 => "hadoop-slave1",
        2 => "hadoop-slave2",
        other => panic!("unexpected leader {other}"),
    };
    assert_ne!(
        node, "hadoop-master",
        "the assignment 1:2:0 puts the leader off the master"
    );
    let container = format!("{LAB}-{node}");
    docker(&["stop", &container]);

    // Keep producing until the new leader acknowledges, then a few more.
    let start = Instant::now();
    while !send(&mut acked) {
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "no acknowledgement after stopping {container}"
        );
    }
    eprintln!(
        "first acknowledgement {:.1} s after stopping {container}",
        start.elapsed().as_secs_f64()
    );
    for _ in 0..10 {
        assert!(send(&mut acked), "the new leader keeps acknowledging");
    }
    let (new_leader, isr) = leader_and_isr().unwrap();
    assert_ne!(new_leader, leader, "the leader moved off the stopped node");
    assert!(
        !isr.contains(&leader),
        "the stopped broker left the ISR: {isr:?}"
    );

    docker(&["start", &container]);
    eventually("the returning broker back in the ISR", || {
        leader_and_isr().is_some_and(|(_, isr)| isr == [0, 1, 2])
    });
    for _ in 0..5 {
        assert!(send(&mut acked), "acknowledged with the full ISR again");
    }

    // Everything stored, in offset order, from the host.
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", servers())
        .set("group.id", "e2e-cluster-check")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let (_, high) = consumer
        .fetch_watermarks(TOPIC, 0, Duration::from_secs(30))
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(TOPIC, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).unwrap();
    let mut stored: Vec<String> = Vec::new();
    let start = Instant::now();
    let mut last = -1;
    while last + 1 < high {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "read up to offset {last} of {high}"
        );
        if let Some(m) = consumer.poll(Duration::from_millis(500)) {
            let m = m.unwrap();
            last = m.offset();
            stored.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned());
        }
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for v in &stored {
        *seen.entry(v.as_str()).or_default() += 1;
    }
    assert!(
        seen.values().all(|&n| n == 1),
        "nothing stored twice: {stored:?}"
    );
    for v in &acked {
        assert_eq!(seen.get(v.as_str()), Some(&1), "{v} stored exactly once");
    }
    let acked_in_store: Vec<&String> = stored.iter().filter(|v| acked.contains(v)).collect();
    assert_eq!(
        acked_in_store,
        acked.iter().collect::<Vec<_>>(),
        "acknowledged messages in order"
    );
    eprintln!(
        "{} acknowledged, {} stored ({} sends in all)",
        acked.len(),
        stored.len(),
        next
    );

    let down = lab(&["down", "--name", LAB, "--volumes"], &[]);
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    eprintln!(
        "{LAB}: {:.1} s from up to down",
        began.elapsed().as_secs_f64()
    );
}
