//! Throughput of our Kafka client (producer and fetcher) against librdkafka (the rdkafka crate),
//! the anchor, measured in the same run on the same broker and the same workload.
//!
//! ```text
//! cargo bench -p kafka-client --bench client_throughput                          # our broker
//! cargo bench -p kafka-client --bench client_throughput -- --bootstrap HOST:PORT # any broker
//! ```
//!
//! Without `--bootstrap` it starts `labnode broker` (the release build `make build` leaves in
//! `target/`, else the debug one) on a free port with a fresh log dir. Each client writes the
//! same number of 100-byte records (acks=1) to a topic of its own, then reads them back from the
//! beginning; the table prints records/s and the ratio ours / librdkafka.

// A bench is a test program: a failure should stop it loudly.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kafka_client::{
    Acks, Admin, Client, ClientConfig, Consumer, ConsumerConfig, NewTopic, OffsetReset, Producer,
    ProducerConfig, ProducerRecord, TopicPartition,
};
use rdkafka::config::ClientConfig as RdConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};
use rdkafka::{Offset, TopicPartitionList};

const RECORDS: usize = 200_000;
const SIZE: usize = 100;

/// The broker child, killed when the bench ends.
struct Broker(Child, PathBuf);
impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

fn spawn_broker() -> (Broker, String) {
    let root =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/x86_64-unknown-linux-gnu");
    let labnode = ["release", "debug"]
        .iter()
        .map(|p| root.join(p).join("labnode"))
        .find(|p| p.is_file())
        .expect("no labnode binary: run `make build` (or pass --bootstrap HOST:PORT)");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let dir = std::env::temp_dir().join(format!("kafka-client-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench dir");
    let config = dir.join("server.properties");
    std::fs::write(
        &config,
        format!(
            "broker.id=0\nlisteners=PLAINTEXT://127.0.0.1:{port}\nlog.dirs={}\n",
            dir.join("logs").display()
        ),
    )
    .expect("server.properties");
    let child = Command::new(labnode)
        .args(["broker", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start labnode broker");
    let addr = format!("127.0.0.1:{port}");
    let start = Instant::now();
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the broker did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (Broker(child, dir), addr)
}

fn value(i: usize) -> Vec<u8> {
    let mut v = format!("{i:>10}").into_bytes();
    v.resize(SIZE, b'x');
    v
}

async fn ours_produce(client: &Client, topic: &str) -> f64 {
    let mut p = Producer::new(
        client.clone(),
        ProducerConfig {
            acks: Acks::Leader,
            batch_size: 64 << 10,
            ..ProducerConfig::default()
        },
    )
    .await
    .expect("producer");
    let start = Instant::now();
    let mut acked = 0;
    for i in 0..RECORDS {
        let r = ProducerRecord::new(topic, value(i)).with_partition(0);
        acked += p.send(r).await.expect("send").len();
    }
    acked += p.flush().await.expect("flush").len();
    assert_eq!(acked, RECORDS);
    RECORDS as f64 / start.elapsed().as_secs_f64()
}

async fn ours_consume(client: &Client, topic: &str) -> f64 {
    let mut c = Consumer::new(
        client.clone(),
        ConsumerConfig {
            auto_offset_reset: OffsetReset::Earliest,
            ..ConsumerConfig::default()
        },
    );
    c.assign([(TopicPartition::new(topic, 0), None)]);
    let start = Instant::now();
    let mut got = 0;
    while got < RECORDS {
        got += c.poll().await.expect("poll").len();
    }
    RECORDS as f64 / start.elapsed().as_secs_f64()
}

fn rd_produce(bootstrap: &str, topic: &str) -> f64 {
    let p: BaseProducer = RdConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("acks", "1")
        .set("linger.ms", "5")
        .set("batch.size", "1000000")
        .create()
        .expect("rdkafka producer");
    let start = Instant::now();
    for i in 0..RECORDS {
        let v = value(i);
        let mut record = BaseRecord::<(), _>::to(topic).payload(&v).partition(0);
        loop {
            match p.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    p.poll(Duration::from_millis(1));
                }
                Err((e, _)) => panic!("rdkafka send: {e}"),
            }
        }
    }
    p.flush(Duration::from_secs(60)).expect("rdkafka flush");
    RECORDS as f64 / start.elapsed().as_secs_f64()
}

fn rd_consume(bootstrap: &str, topic: &str) -> f64 {
    let c: BaseConsumer = RdConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "kafka-client-bench")
        .set("enable.auto.commit", "false")
        .create()
        .expect("rdkafka consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .expect("partition");
    c.assign(&tpl).expect("assign");
    let start = Instant::now();
    let mut got = 0;
    while got < RECORDS {
        if let Some(m) = c.poll(Duration::from_millis(100)) {
            m.expect("rdkafka message");
            got += 1;
        }
    }
    RECORDS as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let given = args
        .iter()
        .position(|a| a == "--bootstrap")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let (_broker, bootstrap) = match given {
        Some(b) => (None, b),
        None => {
            let (b, addr) = spawn_broker();
            (Some(b), addr)
        }
    };
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let suffix = std::process::id();
    let (ours, theirs) = (format!("kc-ours-{suffix}"), format!("kc-rd-{suffix}"));
    let client = rt.block_on(async {
        let client = Client::connect(&bootstrap, ClientConfig::default())
            .await
            .expect("connect");
        let admin = Admin::new(client.clone(), Duration::from_secs(30));
        let topics: Vec<NewTopic> = [&ours, &theirs]
            .iter()
            .map(|name| NewTopic {
                name: (*name).clone(),
                partitions: 1,
                replication_factor: 1,
                assignment: vec![],
                configs: vec![],
            })
            .collect();
        for (name, r) in admin.create_topics(&topics).await.expect("create topics") {
            r.unwrap_or_else(|e| panic!("create {name}: {e}"));
        }
        client
    });

    let rd_p = rd_produce(&bootstrap, &theirs);
    let rd_c = rd_consume(&bootstrap, &theirs);
    let our_p = rt.block_on(ours_produce(&client, &ours));
    let our_c = rt.block_on(ours_consume(&client, &ours));

    println!(
        "kafka-client vs librdkafka: {RECORDS} records of {SIZE} B, acks=1, one partition, broker {bootstrap}"
    );
    println!(
        "{:<10} {:>16} {:>16} {:>8}",
        "", "ours rec/s", "librdkafka rec/s", "ratio"
    );
    println!(
        "{:<10} {:>16.0} {:>16.0} {:>8.2}",
        "produce",
        our_p,
        rd_p,
        our_p / rd_p
    );
    println!(
        "{:<10} {:>16.0} {:>16.0} {:>8.2}",
        "consume",
        our_c,
        rd_c,
        our_c / rd_c
    );
}
