//! TP3's whole sequence, typed as a student types it, in a fresh Docker lab (`e2e-tp3`, the
//! default spec): each command's output is compared with the one the TP shows, the custom
//! SimpleProducer/SimpleConsumer examples (Python and Rust) included.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};

use crate::support::*;

const LAB: &str = "e2e-tp3";
/// Host ports are the spec's plus this (the student's own `tp3` lab keeps 9092…).
const OFFSET: u16 = 11700;

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

/// The end offset of partition 0 of `topic`, asked through broker 0's published port.
fn end_offset(topic: &str) -> i64 {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", format!("localhost:{}", 9092 + OFFSET))
        .create()
        .unwrap();
    consumer
        .fetch_watermarks(topic, 0, Duration::from_secs(30))
        .unwrap()
        .1
}

/// What a SimpleConsumer prints for `runs` SimpleProducer runs landing from offset `from`.
fn simple_records(from: i64, runs: i64) -> Vec<String> {
    (0..10 * runs)
        .map(|n| {
            format!(
                "offset = {}, key = {}, value = {}",
                from + n,
                n % 10,
                n % 10
            )
        })
        .collect()
}

/// The record lines a SimpleConsumer printed (in `file` on the master) from offset `from` on;
/// the lines before are the group's older records.
fn printed_from(file: &str, from: i64) -> Vec<String> {
    master(&format!("cat {file}"))
        .lines()
        .filter(|l| {
            l.strip_prefix("offset = ")
                .and_then(|r| r.split(',').next()?.parse::<i64>().ok())
                .is_some_and(|offset| offset >= from)
        })
        .map(str::to_owned)
        .collect()
}

/// Checks a SimpleConsumer's whole output: the TP's first line, then records only.
fn assert_consumer_output(file: &str) {
    let out = master(&format!("cat {file}"));
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("Souscris au topic Hello-Kafka"), "{out}");
    assert!(lines.all(|l| l.starts_with("offset = ")), "{out}");
}

/// Runs a SimpleProducer on the host; insists it prints the TP's line.
fn host_producer(program: &Path, args: &[&Path]) {
    let out = Command::new(program)
        .args(args)
        .arg("Hello-Kafka")
        .env(
            "KAFKA_BOOTSTRAP_SERVERS",
            format!("localhost:{}", 9092 + OFFSET),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "Message envoye avec succes"
    );
}

/// Stops the background program whose pid is in `pid_file` on the master, and waits for its end.
fn stop(pid_file: &str) {
    master(&format!("kill $(cat {pid_file})"));
    eventually(&format!("the end of the program in {pid_file}"), || {
        master(&format!(
            "kill -0 $(cat {pid_file}) 2>/dev/null && echo running || echo gone"
        ))
        .trim()
            == "gone"
    });
}

#[test]
fn tp3_transcript() {
    if !docker_available() {
        return;
    }
    let Some(host_python) = venv_python() else {
        return;
    };
    ensure_labnode();
    let _guard = LabGuard::new(LAB, &[]);
    let began = std::time::Instant::now();
    up_docker(LAB, None, OFFSET);

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

    // Création d'une application personnalisée, in Python: `python3` and the examples are in
    // the master. The consumer runs (group `test`) while the producer runs in the master, then
    // the Rust one on the host.
    let from = end_offset("Hello-Kafka");
    master(
        "python3 examples/python/SimpleConsumer.py Hello-Kafka > py-consumer.out \
         2> py-consumer.err < /dev/null & echo $! > py-consumer.pid",
    );
    let produced = master("python3 examples/python/SimpleProducer.py Hello-Kafka");
    assert_eq!(produced.trim(), "Message envoye avec succes");
    let rust_bin = |name: &str| lab_bin().with_file_name(name);
    host_producer(&rust_bin("simple_producer"), &[]);
    let want = simple_records(from, 2);
    eventually("the Python SimpleConsumer's 20 records", || {
        printed_from("py-consumer.out", from) == want
    });
    assert_consumer_output("py-consumer.out");
    // `kill`, as Ctrl-C: it leaves group `test` for the next consumer.
    stop("py-consumer.pid");

    // The same in Rust: the static binaries copied into the master; the Python producer runs
    // on the host.
    let from = end_offset("Hello-Kafka");
    for name in ["simple_consumer", "simple_producer"] {
        let bin = rust_bin(name);
        docker(&[
            "cp",
            bin.to_str().unwrap(),
            &format!("{LAB}-hadoop-master:/root/{name}"),
        ]);
    }
    master(
        "./simple_consumer Hello-Kafka > rust-consumer.out 2> rust-consumer.err \
         < /dev/null & echo $! > rust-consumer.pid",
    );
    let produced = master("./simple_producer Hello-Kafka");
    assert_eq!(produced.trim(), "Message envoye avec succes");
    host_producer(
        &host_python,
        &[&root().join("labs/tp3/examples/python/SimpleProducer.py")],
    );
    let want = simple_records(from, 2);
    eventually("the Rust simple_consumer's 20 records", || {
        printed_from("rust-consumer.out", from) == want
    });
    assert_consumer_output("rust-consumer.out");
    stop("rust-consumer.pid");

    // From the host: a real client reads the topic through each broker's published port.
    let mut expected: Vec<String> = vec!["first message".into(), "second message".into()];
    expected.extend((0..10).map(|i| i.to_string()));
    expected.push("after-the-pause".into());
    expected.push("hello hello kafka and zookeeper!".into());
    expected.extend((0..40).map(|n| (n % 10).to_string()));
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
