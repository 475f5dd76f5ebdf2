//! The TP's SimpleProducer/SimpleConsumer scenario against a real `labnode broker`, with the
//! TP's settings, played by the rdkafka crate: 10 messages key=value=i to Hello-Kafka; a
//! consumer in group `test` with auto-commit reads them; after a broker restart and 10 more
//! messages, a restarted consumer of the group resumes right after its committed offset.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::time::Duration;

use rdkafka::Message;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};

async fn simple_producer(port: u16, range: std::ops::Range<u32>) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", format!("localhost:{port}"))
        .set("acks", "all")
        .set("retries", "0")
        .set("batch.size", "16384")
        .create()
        .unwrap();
    for i in range {
        let s = i.to_string();
        producer
            .send(
                FutureRecord::to("Hello-Kafka").key(&s).payload(&s),
                Duration::from_secs(30),
            )
            .await
            .unwrap();
    }
}

/// Reads `n` messages as the TP's SimpleConsumer (group `test`, auto-commit every second).
async fn simple_consumer(port: u16, n: usize) -> Vec<(String, String)> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", format!("localhost:{port}"))
        .set("group.id", "test")
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "1000")
        .set("session.timeout.ms", "30000")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&["Hello-Kafka"]).unwrap();
    let mut got = Vec::new();
    while got.len() < n {
        let m = tokio::time::timeout(Duration::from_secs(60), consumer.recv())
            .await
            .expect("a message within a minute")
            .unwrap();
        let text = |b: Option<&[u8]>| String::from_utf8(b.unwrap().to_vec()).unwrap();
        got.push((text(m.key()), text(m.payload())));
    }
    // Let one auto-commit interval pass; closing the consumer commits too.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    drop(consumer);
    got
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_consumer_resumes_after_its_committed_offset() {
    let (broker, port) = support::start_broker("");
    simple_producer(port, 0..10).await;
    let first = simple_consumer(port, 10).await;
    let want: Vec<(String, String)> = (0..10).map(|i| (i.to_string(), i.to_string())).collect();
    assert_eq!(first, want, "{}", broker.stderr());

    // The committed offset survives a broker crash.
    let dir = broker.kill9();
    let broker = support::restart_broker(dir, port);
    simple_producer(port, 10..20).await;
    let second = simple_consumer(port, 10).await;
    let want: Vec<(String, String)> = (10..20).map(|i| (i.to_string(), i.to_string())).collect();
    assert_eq!(second, want, "{}", broker.stderr());
}
