//! TP3's whole sequence, typed as a student types it, in a fresh Docker lab (`e2e-tp3`, the
//! default spec): each command's output is compared with the one the TP shows.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};

use crate::support::*;

const LAB: &str = "e2e-tp3";
/// Host ports are the spec's plus this (the student's own `tp3` lab keeps 9092…).
const OFFSET: u16 = 2700;

/// Runs `script` in a login shell on the master, from root's home, as a student's terminal
/// does; insists it succeeds and returns stdout.
fn master(script: &str) -> String {
    let script = format!("cd ~; {script}");
    lab_ok(
        &[
            "exec",
            "--name",
            LAB,
            "hadoop-master",
            "--",
            "bash",
            "-lc",
            &script,
        ],
        &[],
    )
}

/// The process names `jps` prints, sorted (pids dropped).
fn jps() -> Vec<String> {
    let mut names: Vec<String> = master("jps")
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// The batches Spark printed to `out`: each one's `Time: N ms` line and its body lines.
fn batches(out: &str) -> Vec<(String, Vec<String>)> {
    let dashes = "-".repeat(43);
    let lines: Vec<&str> = out.lines().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i + 2 < lines.len() {
        let is_header = lines[i] == dashes
            && lines[i + 2] == dashes
            && lines[i + 1].starts_with("Time: ")
            && lines[i + 1].ends_with(" ms")
            && lines[i + 1]["Time: ".len()..lines[i + 1].len() - 3]
                .parse::<u64>()
                .is_ok();
        if !is_header {
            i += 1;
            continue;
        }
        let time = lines[i + 1].to_owned();
        i += 3;
        let mut body = Vec::new();
        while i < lines.len() && lines[i] != dashes {
            if !lines[i].is_empty() {
                body.push(lines[i].to_owned());
            }
            i += 1;
        }
        found.push((time, body));
    }
    found
}

/// Every message of partition 0 of `topic`, read by rdkafka bootstrapped at `port` only.
fn read_all_from_host(port: u16, topic: &str) -> Vec<String> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", format!("localhost:{port}"))
        .set("group.id", "e2e-tp3-host")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(30))
        .unwrap();
    let mut advertised: Vec<String> = md
        .brokers()
        .iter()
        .map(|b| format!("{}:{}", b.host(), b.port()))
        .collect();
    advertised.sort();
    assert_eq!(
        advertised,
        [9092, 9093, 9094].map(|p| format!("localhost:{}", p + OFFSET)),
        "brokers seen through localhost:{port}"
    );
    let (_, high) = consumer
        .fetch_watermarks(topic, 0, Duration::from_secs(30))
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).unwrap();
    let mut values = Vec::new();
    let start = std::time::Instant::now();
    while (values.len() as i64) < high {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "only {} of {high} messages through localhost:{port}",
            values.len()
        );
        if let Some(m) = consumer.poll(Duration::from_millis(500)) {
            let m = m.unwrap();
            values.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned());
        }
    }
    values
}

#[test]
fn tp3_transcript() {
    if !docker_available() {
        return;
    }
    ensure_labnode();
    let _guard = LabGuard::new(LAB, &[]);
    let began = std::time::Instant::now();
    let offset = OFFSET.to_string();
    lab_ok(
        &[
            "up",
            "--name",
            LAB,
            "--port-offset",
            &offset,
            "--runtime",
            "docker",
        ],
        &[],
    );

    // 4. `./start-kafka-zookeeper.sh`: the lab already runs both, and says so.
    let start = master("./start-kafka-zookeeper.sh");
    assert!(
        start.contains("ZooKeeper is already running")
            && start.contains("Kafka is already running"),
        "{start}"
    );
    let procs = jps();
    for want in ["Jps", "QuorumPeerMain"] {
        assert!(
            procs.contains(&want.to_owned()),
            "{want} missing: {procs:?}"
        );
    }
    assert_eq!(
        procs.iter().filter(|p| *p == "Kafka").count(),
        3,
        "{procs:?}"
    );

    // Création d'un topic, then the list.
    let created = master(
        "kafka-topics.sh --create --zookeeper localhost:2181 --replication-factor 1 \
         --partitions 1 --topic Hello-Kafka",
    );
    assert_eq!(created.trim(), "Created topic Hello-Kafka.");
    let list = master("kafka-topics.sh --list --zookeeper localhost:2181");
    assert!(list.lines().any(|l| l == "Hello-Kafka"), "{list}");

    // The console producer and consumer.
    master(
        "printf 'first message\\nsecond message\\n' | \
         kafka-console-producer.sh --broker-list localhost:9092 --topic Hello-Kafka",
    );
    let consumed = master(
        "kafka-console-consumer.sh --zookeeper localhost:2181 --topic Hello-Kafka \
         --from-beginning --max-messages 2",
    );
    assert_eq!(
        consumed.lines().collect::<Vec<_>>(),
        ["first message", "second message"]
    );

    // The multi-broker section: the lab runs the three brokers already.
    let second = master(
        "kafka-server-start.sh $KAFKA_HOME/config/server-one.properties & wait $!; echo rc=$?",
    );
    assert!(
        second.contains("already running with") && second.contains("server-one.properties"),
        "{second}"
    );
    let procs = jps();
    assert_eq!(
        procs.iter().filter(|p| *p == "Kafka").count(),
        3,
        "{procs:?}"
    );

    // SimpleProducer: ten messages, key = value = i.
    master(
        "seq 0 9 | sed 's/.*/&:&/' | kafka-console-producer.sh --broker-list localhost:9092 \
         --topic Hello-Kafka --property parse.key=true --property key.separator=:",
    );
    // SimpleConsumer in group `test`: everything from the start, then it resumes where it was.
    let first = master(
        "kafka-console-consumer.sh --bootstrap-server localhost:9092 --topic Hello-Kafka \
         --group test --from-beginning --max-messages 12 --property print.key=true \
         --property print.offset=true --property key.separator=' '",
    );
    let mut want: Vec<String> = vec![
        "Offset:0 null first message".into(),
        "Offset:1 null second message".into(),
    ];
    want.extend((0..10).map(|i| format!("Offset:{} {i} {i}", i + 2)));
    assert_eq!(first.lines().collect::<Vec<_>>(), want);
    master(
        "echo after-the-pause | \
         kafka-console-producer.sh --broker-list localhost:9092 --topic Hello-Kafka",
    );
    let resumed = master(
        "kafka-console-consumer.sh --bootstrap-server localhost:9092 --topic Hello-Kafka \
         --group test --max-messages 1 --timeout-ms 30000",
    );
    assert_eq!(
        resumed.trim(),
        "after-the-pause",
        "group test resumes after offset 11"
    );

    // Spark: the wordcount in the background, appending to `out`.
    master(
        "spark-submit --class tn.insat.tp3.SparkKafkaWordCount --master local[2] \
         stream-kafka-spark-1-jar-with-dependencies.jar localhost:2181 test Hello-Kafka 1 \
         >> out 2> spark.err < /dev/null & echo $! > spark.pid",
    );
    eventually("Spark's first batch in out", || {
        !batches(&master("cat out 2>/dev/null || true")).is_empty()
    });
    master(
        "echo 'hello hello kafka and zookeeper!' | \
         kafka-console-producer.sh --broker-list localhost:9092 --topic Hello-Kafka",
    );
    let mut want = ["(hello,2)", "(kafka,1)", "(zookeeper!,1)", "(and,1)"].map(String::from);
    want.sort();
    let mut last = String::new();
    eventually("the wordcount of the line in out", || {
        last = master("cat out");
        batches(&last).iter().any(|(_, body)| {
            let mut body = body.clone();
            body.sort();
            body == want
        })
    });
    master("kill $(cat spark.pid)");

    // From the host: a real client reads the topic through each broker's published port.
    let mut expected: Vec<String> = vec!["first message".into(), "second message".into()];
    expected.extend((0..10).map(|i| i.to_string()));
    expected.push("after-the-pause".into());
    expected.push("hello hello kafka and zookeeper!".into());
    for port in [9092, 9093, 9094] {
        assert_eq!(read_all_from_host(port + OFFSET, "Hello-Kafka"), expected);
    }

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
