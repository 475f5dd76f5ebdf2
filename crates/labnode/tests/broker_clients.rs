//! The broker judged by real clients: a `labnode broker` process, used by the rdkafka crate,
//! Debian's kcat, kafka-python, confluent-kafka and aiokafka.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::collections::{BTreeMap, HashMap};
use std::process::Command;
use std::time::Duration;

use rdkafka::Message;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Header, Headers, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

fn client(port: u16) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", format!("127.0.0.1:{port}"));
    c
}

#[tokio::test(flavor = "multi_thread")]
async fn rdkafka_producer_and_group_consumer_get_every_message_once_in_order() {
    let (broker, port) = support::start_broker("");
    let admin: AdminClient<DefaultClientContext> = client(port).create().unwrap();
    let created = admin
        .create_topics(
            &[NewTopic::new("orders", 3, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        )
        .await
        .unwrap();
    assert!(created.iter().all(Result::is_ok), "{created:?}");

    let producer: FutureProducer = client(port)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .create()
        .unwrap();
    const N: usize = 5000;
    let mut deliveries = Vec::with_capacity(N);
    for i in 0..N {
        let key = format!("key-{i}");
        let value = format!("value-{i}");
        let headers = OwnedHeaders::new().insert(Header {
            key: "seq",
            value: Some(i.to_string().as_bytes()),
        });
        let record = FutureRecord::to("orders")
            .key(&key)
            .payload(&value)
            .headers(headers);
        deliveries.push(producer.send_result(record).unwrap());
    }
    for d in deliveries {
        d.await.unwrap().unwrap();
    }

    let consumer: StreamConsumer = client(port)
        .set("group.id", "rdkafka-group")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false")
        .create()
        .unwrap();
    consumer.subscribe(&["orders"]).unwrap();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut last_offset: BTreeMap<i32, i64> = BTreeMap::new();
    let mut per_partition_seq: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
    while seen.len() < N {
        let m = tokio::time::timeout(Duration::from_secs(60), consumer.recv())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "only {} of {N} messages arrived: {}",
                    seen.len(),
                    broker.stderr()
                )
            })
            .unwrap();
        let key = String::from_utf8(m.key().unwrap().to_vec()).unwrap();
        let value = String::from_utf8(m.payload().unwrap().to_vec()).unwrap();
        let i: usize = key.strip_prefix("key-").unwrap().parse().unwrap();
        assert_eq!(value, format!("value-{i}"));
        let header = m.headers().unwrap().get(0);
        assert_eq!(header.key, "seq");
        assert_eq!(header.value.unwrap(), i.to_string().as_bytes());
        *seen.entry(key).or_default() += 1;
        let prev = last_offset.insert(m.partition(), m.offset());
        assert!(prev.is_none_or(|p| p < m.offset()), "offsets go backwards");
        per_partition_seq.entry(m.partition()).or_default().push(i);
    }
    assert!(seen.values().all(|n| *n == 1), "a message came twice");
    assert_eq!(per_partition_seq.len(), 3, "all partitions used");
    for seqs in per_partition_seq.values() {
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "order kept within a partition"
        );
    }
}

#[test]
fn kcat_lists_produces_and_consumes_with_every_codec() {
    let Some(kcat) = support::kcat() else { return };
    let (broker, port) = support::start_broker("num.partitions=1");
    let bootstrap = format!("127.0.0.1:{port}");
    let codecs = ["none", "gzip", "snappy", "lz4", "zstd"];
    for codec in codecs {
        let mut child = support::system_command(&kcat)
            .args(["-b", &bootstrap, "-P", "-t", "kc", "-K", ":", "-z", codec])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let lines: String = (0..200)
            .map(|i| format!("{codec}-{i}:v-{codec}-{i}\n"))
            .collect();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(lines.as_bytes())
            .unwrap();
        assert!(
            child.wait().unwrap().success(),
            "kcat -P -z {codec}: {}",
            broker.stderr()
        );
    }
    let out = support::system_command(&kcat)
        .args([
            "-b",
            &bootstrap,
            "-C",
            "-t",
            "kc",
            "-o",
            "beginning",
            "-e",
            "-f",
            "%k=%s\n",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let got: Vec<&str> = text.lines().collect();
    let want: Vec<String> = codecs
        .iter()
        .flat_map(|c| (0..200).map(move |i| format!("{c}-{i}=v-{c}-{i}")))
        .collect();
    assert_eq!(got, want);

    let list = support::system_command(&kcat)
        .args(["-b", &bootstrap, "-L"])
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(list.contains("topic \"kc\" with 1 partitions"), "{list}");
    assert!(
        list.contains(&format!("broker 0 at 127.0.0.1:{port}")),
        "{list}"
    );

    // A consumer group: the second run resumes after what the first committed.
    let group = || {
        let out = support::system_command(&kcat)
            .args([
                "-b",
                &bootstrap,
                "-G",
                "kcat-group",
                "-X",
                "auto.offset.reset=earliest",
            ])
            .args(["-e", "-f", "%s\n"])
            .arg("kc")
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().lines().count()
    };
    assert_eq!(group(), 1000);
    assert_eq!(group(), 0, "committed offsets are used on rejoin");
}

#[test]
fn two_listeners_each_advertise_their_own_address() {
    let Some(kcat) = support::kcat() else { return };
    let inside = support::free_port();
    let outside = support::free_port();
    let dir = support::tempdir::Dir::new();
    support::write_broker_config(dir.path(), inside, "");
    let config = dir.path().join("server.properties");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        &format!("listeners=PLAINTEXT://127.0.0.1:{inside}"),
        &format!(
            "listeners=PLAINTEXT://127.0.0.1:{inside},HOST://127.0.0.1:{outside}\n\
             advertised.listeners=PLAINTEXT://hadoop-master:9092,HOST://localhost:{outside}\n\
             listener.security.protocol.map=PLAINTEXT:PLAINTEXT,HOST:PLAINTEXT\n\
             inter.broker.listener.name=PLAINTEXT"
        ),
    );
    std::fs::write(&config, text).unwrap();
    let broker = support::restart_broker(dir, inside);
    let list = |port: u16| {
        let out = support::system_command(&kcat)
            .args(["-b", &format!("127.0.0.1:{port}"), "-L", "-m", "5"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let a = list(inside);
    assert!(
        a.contains("broker 0 at hadoop-master:9092"),
        "{a}\n{}",
        broker.stderr()
    );
    let b = list(outside);
    assert!(
        b.contains(&format!("broker 0 at localhost:{outside}")),
        "{b}"
    );
}

#[test]
fn a_bad_value_in_server_properties_names_the_key_and_line() {
    let dir = support::tempdir::Dir::new();
    let port = support::free_port();
    support::write_broker_config(dir.path(), port, "num.partitions=three\nsome.unknown.key=1");
    let config = dir.path().join("server.properties");
    let out = Command::new(support::labnode())
        .args(["broker", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("server.properties:5"), "{err}");
    assert!(err.contains("num.partitions"), "{err}");
    assert!(err.contains("\"three\""), "{err}");
}

fn python_client(script: &str) {
    let (broker, port) = support::start_broker("num.partitions=3");
    let Some(out) = support::run_python(script, &[&format!("127.0.0.1:{port}")]) else {
        return;
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("OK"),
        "{script} failed:\n{stdout}\n{}\n--- broker:\n{}",
        String::from_utf8_lossy(&out.stderr),
        broker.stderr()
    );
}

#[test]
fn kafka_python_admin_idempotent_producer_and_group_consumer() {
    python_client("broker_kafka_python.py");
}

#[test]
fn kafka_python_create_partitions_grows_a_topic() {
    python_client("broker_kafka_python_partitions.py");
}

#[test]
fn confluent_kafka_producer_and_group_consumer() {
    python_client("broker_confluent.py");
}

#[test]
fn aiokafka_producer_and_group_consumer() {
    python_client("broker_aiokafka.py");
}
