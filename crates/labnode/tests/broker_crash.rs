//! kill -9 of the broker while an idempotent acks=all producer (rdkafka) is sending; after a
//! restart on the same data every acknowledged message is there exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, Offset, TopicPartitionList};

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_messages_survive_kill_9_exactly_once() {
    let (broker, port) = support::start_broker("num.partitions=2");
    let bootstrap = format!("127.0.0.1:{port}");
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", "2")
        .set("message.timeout.ms", "60000")
        .create()
        .unwrap();
    let acked = Arc::new(Mutex::new(Vec::new()));
    const N: u32 = 20_000;
    let sender = {
        let acked = Arc::clone(&acked);
        tokio::spawn(async move {
            let mut pending = Vec::new();
            for i in 0..N {
                let key = i.to_string();
                let delivery = producer
                    .send_result(FutureRecord::to("crash").key(&key).payload(&key))
                    .unwrap();
                let acked = Arc::clone(&acked);
                pending.push(tokio::spawn(async move {
                    if let Ok(Ok(_)) = delivery.await {
                        acked.lock().unwrap().push(i);
                    }
                }));
                if i % 100 == 0 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            for p in pending {
                p.await.unwrap();
            }
        })
    };
    while acked.lock().unwrap().len() < 2000 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let dir = broker.kill9();
    let acked_at_kill = acked.lock().unwrap().len();
    let broker = support::restart_broker(dir, port);
    tokio::time::timeout(Duration::from_secs(120), sender)
        .await
        .expect("the producer finishes")
        .unwrap();
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > acked_at_kill,
        "the producer went on after the restart"
    );

    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", "crash-check")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    let mut ends = HashMap::new();
    for p in 0..2 {
        assignment
            .add_partition_offset("crash", p, Offset::Beginning)
            .unwrap();
        let (_, high) = consumer
            .fetch_watermarks("crash", p, Duration::from_secs(10))
            .unwrap();
        ends.insert(p, high);
    }
    consumer.assign(&assignment).unwrap();
    let mut count: HashMap<u32, u32> = HashMap::new();
    let mut done = HashMap::new();
    while done.len() < 2 {
        let m = consumer
            .poll(Duration::from_secs(30))
            .expect("a message within 30 s")
            .unwrap();
        let i: u32 = std::str::from_utf8(m.payload().unwrap())
            .unwrap()
            .parse()
            .unwrap();
        *count.entry(i).or_default() += 1;
        if m.offset() + 1 >= ends[&m.partition()] {
            done.insert(m.partition(), ());
        }
    }
    for i in &acked {
        assert_eq!(
            count.get(i),
            Some(&1),
            "acknowledged message {i}: {}",
            broker.stderr()
        );
    }
    assert!(
        count.values().all(|n| *n == 1),
        "no message is stored twice"
    );
    eprintln!(
        "{acked_at_kill} acknowledged at the kill, {} in all, {} stored",
        acked.len(),
        count.len()
    );
}
