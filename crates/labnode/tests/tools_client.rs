//! Our Kafka client (`kafka-client`, under the TP tools, the stream job and the sink) against a
//! real `labnode broker`, judged by an independent client (the rdkafka crate): what one writes
//! the other reads, and consumer groups share and hand over partitions.

// Test code: a failed unwrap or index is a failed test with its location.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use kafka_client::{
    Acks, Admin, Client, ClientConfig, Compression, Consumer, ConsumerConfig, GroupConfig,
    GroupConsumer, NewTopic, OffsetReset, Producer, ProducerConfig, ProducerRecord, TopicPartition,
};
use rdkafka::Message;
use rdkafka::config::ClientConfig as RdConfig;
use rdkafka::consumer::{Consumer as _, StreamConsumer};
use rdkafka::message::{Header, Headers, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

async fn client(port: u16) -> Client {
    Client::connect(&format!("127.0.0.1:{port}"), ClientConfig::default())
        .await
        .unwrap()
}

async fn create(client: &Client, topic: &str, partitions: i32) {
    let admin = Admin::new(client.clone(), Duration::from_secs(10));
    let results = admin
        .create_topics(&[NewTopic {
            name: topic.into(),
            partitions,
            replication_factor: 1,
            assignment: vec![],
            configs: vec![],
        }])
        .await
        .unwrap();
    for (_, r) in results {
        r.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn our_idempotent_producer_is_read_by_rdkafka_and_rdkafka_is_read_by_us() {
    let (broker, port) = support::start_broker("");
    let ours = client(port).await;
    create(&ours, "interop", 3).await;

    // Ours → rdkafka, with keys and headers, gzip batches, idempotence.
    let mut producer = Producer::new(
        ours.clone(),
        ProducerConfig {
            acks: Acks::All,
            idempotent: true,
            compression: Compression::Gzip,
            ..ProducerConfig::default()
        },
    )
    .await
    .unwrap();
    const N: usize = 2000;
    let mut acked = 0;
    for i in 0..N {
        let mut r =
            ProducerRecord::new("interop", format!("value-{i}")).with_key(format!("key-{i}"));
        r.headers
            .push(("seq".into(), Some(i.to_string().into_bytes().into())));
        acked += producer.send(r).await.unwrap().len();
    }
    acked += producer.flush().await.unwrap().len();
    assert_eq!(acked, N);

    let consumer: StreamConsumer = RdConfig::new()
        .set("bootstrap.servers", format!("127.0.0.1:{port}"))
        .set("group.id", "rd-reads-ours")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&["interop"]).unwrap();
    let mut seen = BTreeSet::new();
    while seen.len() < N {
        let m = tokio::time::timeout(Duration::from_secs(60), consumer.recv())
            .await
            .unwrap_or_else(|_| panic!("rdkafka got {} of {N}: {}", seen.len(), broker.stderr()))
            .unwrap();
        let key = String::from_utf8(m.key().unwrap().to_vec()).unwrap();
        let i: usize = key.strip_prefix("key-").unwrap().parse().unwrap();
        assert_eq!(m.payload().unwrap(), format!("value-{i}").as_bytes());
        let h = m.headers().unwrap().get(0);
        assert_eq!((h.key, h.value), ("seq", Some(i.to_string().as_bytes())));
        assert!(seen.insert(i), "duplicate {i}");
    }

    // rdkafka → ours, lz4 and snappy, read by assignment from the beginning.
    for codec in ["lz4", "snappy"] {
        let topic = format!("from-rd-{codec}");
        create(&ours, &topic, 1).await;
        let rd: FutureProducer = RdConfig::new()
            .set("bootstrap.servers", format!("127.0.0.1:{port}"))
            .set("compression.codec", codec)
            .set("linger.ms", "5")
            .create()
            .unwrap();
        for i in 0..500 {
            let key = i.to_string();
            let value = format!("{codec}-{i}");
            let headers = OwnedHeaders::new().insert(Header {
                key: "h",
                value: Some("x"),
            });
            rd.send(
                FutureRecord::to(&topic)
                    .key(&key)
                    .payload(&value)
                    .headers(headers),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
        }
        let mut c = Consumer::new(
            ours.clone(),
            ConsumerConfig {
                auto_offset_reset: OffsetReset::Earliest,
                ..ConsumerConfig::default()
            },
        );
        c.assign([(TopicPartition::new(topic.clone(), 0), None)]);
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while got.len() < 500 {
            assert!(
                Instant::now() < deadline,
                "got {} of 500 {codec} records",
                got.len()
            );
            got.extend(c.poll().await.unwrap());
        }
        for (i, r) in got.iter().enumerate() {
            assert_eq!(r.offset, i as i64);
            assert_eq!(r.value.as_deref(), Some(format!("{codec}-{i}").as_bytes()));
            assert_eq!(
                r.headers,
                vec![("h".to_string(), Some(b"x".to_vec().into()))]
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn group_members_share_partitions_commit_and_hand_over() {
    let (broker, port) = support::start_broker("");
    let ours = client(port).await;
    create(&ours, "shared", 4).await;
    let mut producer = Producer::new(ours.clone(), ProducerConfig::default())
        .await
        .unwrap();
    for i in 0..400 {
        producer
            .send(ProducerRecord::new("shared", format!("{i}")).with_key(format!("k{i}")))
            .await
            .unwrap();
    }
    producer.flush().await.unwrap();

    let config = || {
        let mut c = GroupConfig::new("sharers");
        c.heartbeat_interval = Duration::from_millis(200);
        c.session_timeout = Duration::from_secs(10);
        c.rebalance_timeout = Duration::from_secs(10);
        c.auto_commit = Some(Duration::ZERO);
        c.consumer.auto_offset_reset = OffsetReset::Earliest;
        c.consumer.max_wait = Duration::from_millis(100);
        c
    };
    let mut a = GroupConsumer::subscribe(client(port).await, config(), vec!["shared".into()])
        .await
        .unwrap();
    assert_eq!(a.assignment().len(), 4);
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    fn record(seen: &mut BTreeMap<String, usize>, r: &kafka_client::ConsumerRecord) {
        *seen
            .entry(String::from_utf8(r.value.as_deref().unwrap().to_vec()).unwrap())
            .or_default() += 1;
    }
    // A reads, then B joins: A must rejoin on its next polls (B's JoinGroup waits for it).
    let mut a_records = a.poll().await.unwrap();
    let b_join = tokio::spawn({
        let c = client(port).await;
        let cfg = config();
        async move { GroupConsumer::subscribe(c, cfg, vec!["shared".into()]).await }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while !b_join.is_finished() {
        assert!(
            Instant::now() < deadline,
            "B never joined: {}",
            broker.stderr()
        );
        a_records.extend(a.poll().await.unwrap());
    }
    let mut b = b_join.await.unwrap().unwrap();
    while a.assignment().len() != 2 {
        assert!(Instant::now() < deadline, "A kept {:?}", a.assignment());
        a_records.extend(a.poll().await.unwrap());
    }
    let mut both: BTreeSet<TopicPartition> = a.assignment().into_iter().collect();
    both.extend(b.assignment());
    assert_eq!(
        both.len(),
        4,
        "A {:?} B {:?}",
        a.assignment(),
        b.assignment()
    );
    assert_eq!(b.assignment().len(), 2);
    for r in &a_records {
        record(&mut seen, r);
    }
    while seen.len() < 400 {
        assert!(Instant::now() < deadline, "{} of 400 read", seen.len());
        for r in a.poll().await.unwrap() {
            record(&mut seen, &r);
        }
        for r in b.poll().await.unwrap() {
            record(&mut seen, &r);
        }
    }
    let dupes: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dupes.is_empty(), "read twice: {dupes:?}");

    // A leaves; B takes every partition over, starting at A's commits: nothing is read again.
    a.close().await.unwrap();
    while b.assignment().len() != 4 {
        assert!(Instant::now() < deadline, "B kept {:?}", b.assignment());
        for r in b.poll().await.unwrap() {
            record(&mut seen, &r);
        }
    }
    for _ in 0..5 {
        for r in b.poll().await.unwrap() {
            record(&mut seen, &r);
        }
    }
    let dupes: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        dupes.is_empty(),
        "read again after the hand-over: {dupes:?}"
    );
    b.close().await.unwrap();
}

/// A job started before its topic exists (the stream job launched before the first producer)
/// gets the topic's partitions once it is created.
#[tokio::test(flavor = "multi_thread")]
async fn a_group_picks_up_a_topic_created_after_it_joined() {
    let (broker, port) = support::start_broker("auto.create.topics.enable=false");
    let mut config = GroupConfig::new("early");
    config.metadata_max_age = Duration::from_millis(200);
    config.heartbeat_interval = Duration::from_millis(200);
    config.consumer.auto_offset_reset = OffsetReset::Earliest;
    config.consumer.max_wait = Duration::from_millis(100);
    let mut member = GroupConsumer::subscribe(client(port).await, config, vec!["later".into()])
        .await
        .unwrap();
    assert!(member.assignment().is_empty());
    assert!(member.poll().await.unwrap().is_empty());

    let ours = client(port).await;
    create(&ours, "later", 2).await;
    let mut producer = Producer::new(ours.clone(), ProducerConfig::default())
        .await
        .unwrap();
    for p in 0..2 {
        producer
            .send(ProducerRecord::new("later", format!("to {p}")).with_partition(p))
            .await
            .unwrap();
    }
    producer.flush().await.unwrap();
    let mut got = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while got.len() < 2 {
        assert!(
            Instant::now() < deadline,
            "got {got:?}: {}",
            broker.stderr()
        );
        for r in member.poll().await.unwrap() {
            got.insert(String::from_utf8(r.value.unwrap().to_vec()).unwrap());
        }
    }
    assert_eq!(member.assignment().len(), 2);
    member.close().await.unwrap();
}

/// A long-running member (the stream job, the sink) rides over a broker crash and restart: it
/// rejoins, resumes from its commits and reads what is written afterwards.
#[tokio::test(flavor = "multi_thread")]
async fn a_group_member_survives_a_broker_restart() {
    let (broker, port) = support::start_broker("");
    let ours = client(port).await;
    create(&ours, "durable", 1).await;
    let send = |text: &'static str| async move {
        let mut p = Producer::new(client(port).await, ProducerConfig::default())
            .await
            .unwrap();
        p.send(ProducerRecord::new("durable", text)).await.unwrap();
        p.flush().await.unwrap();
    };
    send("before").await;
    let mut config = GroupConfig::new("survivor");
    config.heartbeat_interval = Duration::from_millis(200);
    config.auto_commit = Some(Duration::ZERO);
    config.consumer.auto_offset_reset = OffsetReset::Earliest;
    config.consumer.max_wait = Duration::from_millis(100);
    let mut member = GroupConsumer::subscribe(client(port).await, config, vec!["durable".into()])
        .await
        .unwrap();
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while got.is_empty() {
        assert!(Instant::now() < deadline);
        got.extend(member.poll().await.unwrap());
    }
    member.commit().await.unwrap();

    let dir = broker.kill9();
    for _ in 0..5 {
        // Polls while the broker is down return nothing, not an error.
        assert!(member.poll().await.unwrap().is_empty());
    }
    let _broker = support::restart_broker(dir, port);
    send("after").await;
    let mut after = Vec::new();
    while after.is_empty() {
        assert!(Instant::now() < deadline, "nothing read after the restart");
        after.extend(member.poll().await.unwrap());
    }
    let values: Vec<&[u8]> = after.iter().map(|r| r.value.as_deref().unwrap()).collect();
    assert_eq!(values, vec![&b"after"[..]]);
}
