//! The TP3 tools (`kafka-topics.sh`, the console producer and consumer,
//! `kafka-consumer-groups.sh`, `start-kafka-zookeeper.sh`) run as real `labnode` processes
//! against a real `labnode broker` (and `labnode coordinator` for the `--zookeeper` forms),
//! with outputs, messages and exit codes compared to Kafka's; and cross-checked with independent
//! clients (kcat, kafka-python, kazoo).

// Test code: a failed unwrap or index is a failed test with its location.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs `labnode <args…>` with `stdin`, `KAFKA_HOME` set to `home`, and returns its output.
fn tool(home: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(support::labnode())
        .args(args)
        .env("KAFKA_HOME", home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    wait_with_deadline(child, 60)
}

/// Waits for a child while draining its output (a full pipe would block it), killing it after
/// `secs` so a hung tool fails the test instead of hanging it.
fn wait_with_deadline(child: std::process::Child, secs: u64) -> Output {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(std::time::Duration::from_secs(secs)) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("tool still running after {secs}s");
        }
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// stdout of a run that must succeed.
fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

#[test]
fn the_tp3_sequence_with_bootstrap_server() {
    let (broker, port) = support::start_broker("");
    let b = format!("127.0.0.1:{port}");
    let home = support::tempdir::Dir::new();
    let h = home.path();

    // Create, then the two errors the TP's students meet.
    let created = tool(
        h,
        &[
            "kafka-topics.sh",
            "--create",
            "--bootstrap-server",
            &b,
            "--replication-factor",
            "1",
            "--partitions",
            "1",
            "--topic",
            "Hello-Kafka",
        ],
        "",
    );
    assert_eq!(ok(created), "Created topic Hello-Kafka.\n");
    let again = tool(
        h,
        &[
            "kafka-topics.sh",
            "--create",
            "--bootstrap-server",
            &b,
            "--replication-factor",
            "1",
            "--partitions",
            "1",
            "--topic",
            "Hello-Kafka",
        ],
        "",
    );
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(
        text(&again.stdout),
        "Error while executing topic command : Topic 'Hello-Kafka' already exists.\n"
    );
    let too_many = tool(
        h,
        &[
            "kafka-topics.sh",
            "--create",
            "--bootstrap-server",
            &b,
            "--replication-factor",
            "3",
            "--partitions",
            "1",
            "--topic",
            "Three",
        ],
        "",
    );
    assert_eq!(too_many.status.code(), Some(1));
    let msg = text(&too_many.stdout);
    assert!(
        msg.starts_with("Error while executing topic command : "),
        "{msg}"
    );
    assert!(msg.contains('3') && msg.contains('1'), "{msg}");

    // List and describe.
    let list = ok(tool(
        h,
        &["kafka-topics.sh", "--list", "--bootstrap-server", &b],
        "",
    ));
    assert!(list.lines().any(|l| l == "Hello-Kafka"), "{list}");
    assert!(!list.lines().any(|l| l == "Three"), "{list}");
    let describe = ok(tool(
        h,
        &[
            "kafka-topics.sh",
            "--describe",
            "--bootstrap-server",
            &b,
            "--topic",
            "Hello-Kafka",
        ],
        "",
    ));
    assert_eq!(
        describe,
        "Topic: Hello-Kafka\tPartitionCount: 1\tReplicationFactor: 1\tConfigs: \n\
         \tTopic: Hello-Kafka\tPartition: 0\tLeader: 0\tReplicas: 0\tIsr: 0\n"
    );
    assert_eq!(
        ok(tool(
            h,
            &[
                "kafka-topics.sh",
                "--create",
                "--bootstrap-server",
                &b,
                "--topic",
                "Short",
                "--partitions",
                "2",
                "--replication-factor",
                "1",
                "--config",
                "retention.ms=60000",
            ],
            "",
        )),
        "Created topic Short.\n"
    );
    let short = ok(tool(
        h,
        &[
            "kafka-topics.sh",
            "--describe",
            "--bootstrap-server",
            &b,
            "--topic",
            "Short",
        ],
        "",
    ));
    assert_eq!(
        short.lines().next(),
        Some("Topic: Short\tPartitionCount: 2\tReplicationFactor: 1\tConfigs: retention.ms=60000"),
        "{short}"
    );
    let unknown = tool(
        h,
        &[
            "kafka-topics.sh",
            "--describe",
            "--bootstrap-server",
            &b,
            "--topic",
            "Nope",
        ],
        "",
    );
    assert_eq!(unknown.status.code(), Some(1));
    assert_eq!(
        text(&unknown.stdout),
        "Error while executing topic command : Topic 'Nope' does not exist as expected\n"
    );

    // Console producer, then the consumer from the beginning.
    ok(tool(
        h,
        &[
            "kafka-console-producer.sh",
            "--broker-list",
            &b,
            "--topic",
            "Hello-Kafka",
        ],
        "hello\nhello kafka and zookeeper!\n\nlast line\n",
    ));
    let consumed = tool(
        h,
        &[
            "kafka-console-consumer.sh",
            "--bootstrap-server",
            &b,
            "--topic",
            "Hello-Kafka",
            "--from-beginning",
            "--max-messages",
            "4",
        ],
        "",
    );
    assert_eq!(
        text(&consumed.stderr).lines().last(),
        Some("Processed a total of 4 messages")
    );
    assert_eq!(
        ok(consumed),
        "hello\nhello kafka and zookeeper!\n\nlast line\n"
    );

    // Keys: parse.key on the way in, print.key on the way out; a bad line is refused.
    ok(tool(
        h,
        &[
            "kafka-console-producer.sh",
            "--bootstrap-server",
            &b,
            "--topic",
            "Keys",
            "--property",
            "parse.key=true",
            "--property",
            "key.separator=:",
        ],
        "1:one\n2:two:deux\n",
    ));
    let keyed = ok(tool(
        h,
        &[
            "kafka-console-consumer.sh",
            "--bootstrap-server",
            &b,
            "--topic",
            "Keys",
            "--from-beginning",
            "--max-messages",
            "2",
            "--property",
            "print.key=true",
            "--property",
            "print.offset=true",
            "--group",
            "tp3",
        ],
        "",
    ));
    assert_eq!(keyed, "Offset:0\t1\tone\nOffset:1\t2\ttwo:deux\n");
    let bad = tool(
        h,
        &[
            "kafka-console-producer.sh",
            "--bootstrap-server",
            &b,
            "--topic",
            "Keys",
            "--property",
            "parse.key=true",
            "--property",
            "key.separator=:",
        ],
        "nokey\n",
    );
    assert!(!bad.status.success());
    assert!(text(&bad.stderr).contains("No key separator found on line number 1: 'nokey'"));

    // Consumer settings from a --consumer.config file, as Kafka's tool reads them.
    let settings = h.join("consumer.properties");
    std::fs::write(
        &settings,
        "group.id=from-file\nauto.offset.reset=earliest\n",
    )
    .unwrap();
    ok(tool(
        h,
        &[
            "kafka-console-consumer.sh",
            "--bootstrap-server",
            &b,
            "--topic",
            "Keys",
            "--max-messages",
            "2",
            "--consumer.config",
            settings.to_str().unwrap(),
        ],
        "",
    ));

    // The group committed its offsets: listed, described with no lag, and resumed from there.
    let groups = ok(tool(
        h,
        &[
            "kafka-consumer-groups.sh",
            "--bootstrap-server",
            &b,
            "--list",
        ],
        "",
    ));
    assert!(groups.lines().any(|l| l == "tp3"), "{groups}");
    assert!(groups.lines().any(|l| l == "from-file"), "{groups}");
    let described = tool(
        h,
        &[
            "kafka-consumer-groups.sh",
            "--bootstrap-server",
            &b,
            "--describe",
            "--group",
            "tp3",
        ],
        "",
    );
    assert!(text(&described.stderr).contains("Consumer group 'tp3' has no active members."));
    let table = ok(described);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines[0], "");
    assert!(
        lines[1].starts_with(
            "GROUP           TOPIC           PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG"
        ),
        "{table}"
    );
    let row: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(
        row,
        ["tp3", "Keys", "0", "2", "2", "0", "-", "-", "-"],
        "{table}"
    );
    ok(tool(
        h,
        &[
            "kafka-console-producer.sh",
            "--bootstrap-server",
            &b,
            "--topic",
            "Keys",
        ],
        "three\n",
    ));
    let resumed = ok(tool(
        h,
        &[
            "kafka-console-consumer.sh",
            "--bootstrap-server",
            &b,
            "--topic",
            "Keys",
            "--from-beginning",
            "--max-messages",
            "1",
            "--group",
            "tp3",
        ],
        "",
    ));
    assert_eq!(resumed, "three\n");

    drop(broker);
}

/// `--alter --partitions` grows a topic (the broker's CreatePartitions).
#[test]
fn alter_partitions() {
    let (broker, port) = support::start_broker("");
    let b = format!("127.0.0.1:{port}");
    let home = support::tempdir::Dir::new();
    let h = home.path();
    let create = [
        "kafka-topics.sh",
        "--create",
        "--bootstrap-server",
        &b,
        "--replication-factor",
        "1",
        "--partitions",
        "1",
        "--topic",
        "Hello-Kafka",
    ];
    ok(tool(h, &create, ""));
    ok(tool(
        h,
        &[
            "kafka-topics.sh",
            "--alter",
            "--bootstrap-server",
            &b,
            "--topic",
            "Hello-Kafka",
            "--partitions",
            "3",
        ],
        "",
    ));
    let describe = || {
        ok(tool(
            h,
            &[
                "kafka-topics.sh",
                "--describe",
                "--bootstrap-server",
                &b,
                "--topic",
                "Hello-Kafka",
            ],
            "",
        ))
    };
    let described = describe();
    assert!(
        described.starts_with("Topic: Hello-Kafka\tPartitionCount: 3\t"),
        "{described}"
    );
    assert_eq!(described.lines().count(), 4, "{described}");
    // A topic never shrinks, nor stays the same size: Kafka's INVALID_PARTITIONS message.
    let shrink = tool(
        h,
        &[
            "kafka-topics.sh",
            "--alter",
            "--bootstrap-server",
            &b,
            "--topic",
            "Hello-Kafka",
            "--partitions",
            "2",
        ],
        "",
    );
    assert!(!shrink.status.success());
    let said = format!("{}{}", text(&shrink.stdout), text(&shrink.stderr));
    assert!(
        said.contains("Topic currently has 3 partitions, which is higher than the requested 2."),
        "{said}"
    );
    // The new partitions are on disk: a restarted broker finds all three.
    let _broker = support::restart_broker(support::stop(broker), port);
    assert_eq!(describe(), described);
}

/// `--delete`: silent with --bootstrap-server, ZooKeeper-era messages with --zookeeper (here
/// through the standalone fallback); an unknown topic is Kafka's error, exit 1.
#[test]
fn delete_topics() {
    let (broker, port) = support::start_broker("");
    let b = format!("127.0.0.1:{port}");
    let home = support::tempdir::Dir::new();
    let h = home.path();
    std::fs::create_dir_all(h.join("config")).unwrap();
    support::write_broker_config(&h.join("config"), port, "");
    for topic in ["One", "Two", "Tmp-a", "Tmp-b"] {
        ok(tool(
            h,
            &[
                "kafka-topics.sh",
                "--create",
                "--bootstrap-server",
                &b,
                "--replication-factor",
                "1",
                "--partitions",
                "1",
                "--topic",
                topic,
            ],
            "",
        ));
    }
    // --topic is a regular expression over whole names, as in Kafka.
    let prefix_only = tool(
        h,
        &[
            "kafka-topics.sh",
            "--describe",
            "--bootstrap-server",
            &b,
            "--topic",
            "Tmp",
        ],
        "",
    );
    assert_eq!(
        text(&prefix_only.stdout),
        "Error while executing topic command : Topic 'Tmp' does not exist as expected\n"
    );
    ok(tool(
        h,
        &[
            "kafka-topics.sh",
            "--delete",
            "--bootstrap-server",
            &b,
            "--topic",
            "Tmp-.*",
        ],
        "",
    ));
    let list = ok(tool(
        h,
        &["kafka-topics.sh", "--list", "--bootstrap-server", &b],
        "",
    ));
    assert!(
        !list.contains("Tmp-") && list.lines().any(|l| l == "One"),
        "{list}"
    );
    let deleted = ok(tool(
        h,
        &[
            "kafka-topics.sh",
            "--delete",
            "--bootstrap-server",
            &b,
            "--topic",
            "One",
        ],
        "",
    ));
    assert_eq!(deleted, "");
    let zk = format!("127.0.0.1:{}", support::free_port());
    let deleted = ok(tool(
        h,
        &[
            "kafka-topics.sh",
            "--delete",
            "--zookeeper",
            &zk,
            "--topic",
            "Two",
        ],
        "",
    ));
    assert_eq!(
        deleted,
        "Topic Two is marked for deletion.\n\
         Note: This will have no impact if delete.topic.enable is not set to true.\n"
    );
    let list = ok(tool(
        h,
        &["kafka-topics.sh", "--list", "--bootstrap-server", &b],
        "",
    ));
    assert!(
        !list.lines().any(|l| l == "One" || l == "Two"),
        "{list}\n{}",
        broker.stderr()
    );
    let unknown = tool(
        h,
        &[
            "kafka-topics.sh",
            "--delete",
            "--bootstrap-server",
            &b,
            "--topic",
            "One",
        ],
        "",
    );
    assert_eq!(unknown.status.code(), Some(1));
    assert_eq!(
        text(&unknown.stdout),
        "Error while executing topic command : Topic 'One' does not exist as expected\n"
    );
}

#[test]
fn the_zookeeper_forms_find_registered_brokers_or_fall_back_to_server_properties() {
    let (_broker, port) = support::start_broker("");
    let (_zk, zk_port) = support::start_coordinator("");
    let zk = format!("127.0.0.1:{zk_port}");

    // Nothing registered: the standalone broker of $KAFKA_HOME/config/server.properties is used.
    let home = support::tempdir::Dir::new();
    std::fs::create_dir_all(home.path().join("config")).unwrap();
    support::write_broker_config(&home.path().join("config"), port, "");
    let created = tool(
        home.path(),
        &[
            "kafka-topics.sh",
            "--create",
            "--zookeeper",
            &zk,
            "--replication-factor",
            "1",
            "--partitions",
            "1",
            "--topic",
            "Hello-Kafka",
        ],
        "",
    );
    assert!(text(&created.stderr).contains("no broker is registered in ZooKeeper"));
    assert_eq!(ok(created), "Created topic Hello-Kafka.\n");

    // Registered (as a ZooKeeper-mode Kafka does, written here by kazoo): found through ZooKeeper
    // alone, with a KAFKA_HOME that points nowhere.
    let Some(out) = support::run_python(
        "tools_cross.py",
        &["register", &zk, "0", "127.0.0.1", &port.to_string()],
    ) else {
        return;
    };
    assert!(out.status.success(), "{}", text(&out.stderr));
    let nowhere = support::tempdir::Dir::new();
    let list = tool(
        nowhere.path(),
        &["kafka-topics.sh", "--list", "--zookeeper", &zk],
        "",
    );
    assert!(
        !text(&list.stderr).contains("WARN"),
        "{}",
        text(&list.stderr)
    );
    assert!(ok(list).lines().any(|l| l == "Hello-Kafka"));
    ok(tool(
        nowhere.path(),
        &[
            "kafka-console-producer.sh",
            "--broker-list",
            &format!("127.0.0.1:{port}"),
            "--topic",
            "Hello-Kafka",
        ],
        "via zookeeper\n",
    ));
    let consumed = ok(tool(
        nowhere.path(),
        &[
            "kafka-console-consumer.sh",
            "--zookeeper",
            &zk,
            "--topic",
            "Hello-Kafka",
            "--from-beginning",
            "--max-messages",
            "1",
        ],
        "",
    ));
    assert_eq!(consumed, "via zookeeper\n");
}

#[test]
fn what_our_tools_write_independent_clients_read_and_back() {
    let (_broker, port) = support::start_broker("");
    let b = format!("127.0.0.1:{port}");
    let home = support::tempdir::Dir::new();
    let h = home.path();
    ok(tool(
        h,
        &[
            "kafka-topics.sh",
            "--create",
            "--bootstrap-server",
            &b,
            "--partitions",
            "3",
            "--replication-factor",
            "1",
            "--topic",
            "cross",
        ],
        "",
    ));

    // kafka-python writes keyed records; our consumer reads them all, on the same partitions.
    let Some(out) = support::run_python("tools_cross.py", &["produce", &b, "cross", "30"]) else {
        return;
    };
    assert!(out.status.success(), "{}", text(&out.stderr));
    let python_partitions: BTreeMap<String, i64> = serde_json::from_slice(&out.stdout).unwrap();
    let ours = ok(tool(
        h,
        &[
            "kafka-console-consumer.sh",
            "--bootstrap-server",
            &b,
            "--topic",
            "cross",
            "--from-beginning",
            "--max-messages",
            "30",
            "--property",
            "print.key=true",
            "--property",
            "print.partition=true",
        ],
        "",
    ));
    let mut seen = BTreeMap::new();
    for line in ours.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let partition: i64 = cols[0].strip_prefix("Partition:").unwrap().parse().unwrap();
        assert_eq!(cols[2], format!("v{}", &cols[1][1..]));
        seen.insert(cols[1].to_string(), partition);
    }
    assert_eq!(seen, python_partitions);

    // Our producer writes keyed lines: kafka-python reads them, each key on the partition the
    // Java client (and kafka-python) would pick, so keys stay together whoever writes them.
    let lines: String = (0..30).map(|i| format!("k{i}:w{i}\n")).collect();
    ok(tool(
        h,
        &[
            "kafka-console-producer.sh",
            "--bootstrap-server",
            &b,
            "--topic",
            "cross",
            "--property",
            "parse.key=true",
            "--property",
            "key.separator=:",
        ],
        &lines,
    ));
    let out = support::run_python("tools_cross.py", &["consume", &b, "cross", "60"]).unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let records: Vec<(String, String, i64)> = serde_json::from_slice(&out.stdout).unwrap();
    let ours: BTreeMap<String, i64> = records
        .iter()
        .filter(|(_, v, _)| v.starts_with('w'))
        .map(|(k, _, p)| (k.clone(), *p))
        .collect();
    assert_eq!(ours, python_partitions);

    // And kcat (librdkafka) reads our records too.
    let Some(kcat) = support::kcat() else { return };
    let out = support::system_command(&kcat)
        .args(["-b", &b, "-C", "-t", "cross", "-e", "-q", "-f", "%k=%s\n"])
        .output()
        .unwrap();
    let kcat_lines = text(&out.stdout);
    for i in 0..30 {
        assert!(
            kcat_lines.lines().any(|l| l == format!("k{i}=w{i}")),
            "{kcat_lines}"
        );
    }
}

#[test]
fn start_kafka_zookeeper_starts_both_once_and_says_what_already_runs() {
    let home = support::tempdir::Dir::new();
    let config = home.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    let (zk_port, kafka_port) = (support::free_port(), support::free_port());
    support::write_coordinator_config(&config, zk_port, "");
    support::write_broker_config(&config, kafka_port, "");

    /// Kills the background services the script started, whatever the test's outcome.
    struct Started(Vec<u32>);
    impl Drop for Started {
        fn drop(&mut self) {
            for pid in &self.0 {
                let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            }
        }
    }
    let first = tool(home.path(), &["start-kafka-zookeeper.sh"], "");
    let stdout = text(&first.stdout);
    let started = Started(
        stdout
            .lines()
            .filter_map(|l| l.split("(pid ").nth(1))
            .filter_map(|p| p.trim_end_matches(").").parse().ok())
            .collect(),
    );
    assert!(first.status.success(), "{stdout}\n{}", text(&first.stderr));
    assert_eq!(started.0.len(), 2, "{stdout}");
    assert!(
        stdout.contains(&format!("ZooKeeper started on 127.0.0.1:{zk_port}")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("Kafka started on 127.0.0.1:{kafka_port}")),
        "{stdout}"
    );
    assert_eq!(support::four_letter_word(zk_port, "ruok"), "imok");

    let second = ok(tool(home.path(), &["start-kafka-zookeeper.sh"], ""));
    assert_eq!(
        second,
        format!(
            "ZooKeeper is already running on 127.0.0.1:{zk_port}.\n\
             Kafka is already running on 127.0.0.1:{kafka_port}.\n"
        )
    );
    let b = format!("127.0.0.1:{kafka_port}");
    let created = tool(
        home.path(),
        &[
            "kafka-topics.sh",
            "--create",
            "--zookeeper",
            &format!("localhost:{zk_port}"),
            "--replication-factor",
            "1",
            "--partitions",
            "1",
            "--topic",
            "Hello-Kafka",
        ],
        "",
    );
    assert_eq!(ok(created), "Created topic Hello-Kafka.\n");
    let list = ok(tool(
        home.path(),
        &["kafka-topics.sh", "--list", "--bootstrap-server", &b],
        "",
    ));
    assert!(list.lines().any(|l| l == "Hello-Kafka"));
    drop(started);
}

/// The interactive use of the TP: a line typed in the producer shows in a running consumer at
/// once (no wait for end of input), and Ctrl-C ends the consumer the way Kafka's ends.
#[test]
fn a_typed_line_shows_at_once_and_ctrl_c_ends_the_consumer() {
    let (_broker, port) = support::start_broker("");
    let b = format!("127.0.0.1:{port}");
    let spawn = |args: &[&str]| {
        Command::new(support::labnode())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut producer = spawn(&[
        "kafka-console-producer.sh",
        "--broker-list",
        &b,
        "--topic",
        "live",
    ]);
    let mut typing = producer.stdin.take().unwrap();
    typing.write_all(b"first line\n").unwrap();
    typing.flush().unwrap();

    let mut consumer = spawn(&[
        "kafka-console-consumer.sh",
        "--bootstrap-server",
        &b,
        "--topic",
        "live",
        "--from-beginning",
    ]);
    let stdout = consumer.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let line = rx.recv_timeout(std::time::Duration::from_secs(60));
    assert_eq!(line.as_deref(), Ok("first line"));
    typing.write_all(b"second line\n").unwrap();
    typing.flush().unwrap();
    let line = rx.recv_timeout(std::time::Duration::from_secs(60));
    assert_eq!(line.as_deref(), Ok("second line"));

    let status = Command::new("kill")
        .args(["-INT", &consumer.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = wait_with_deadline(consumer, 30);
    assert_eq!(out.status.code(), Some(130));
    assert_eq!(
        text(&out.stderr).lines().last(),
        Some("Processed a total of 2 messages")
    );
    drop(typing);
    let out = wait_with_deadline(producer, 30);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// Brokers that register in ZooKeeper (`zookeeper.connect`) form a cluster the `--zookeeper`
/// forms find with no help: a replicated topic, records routed to each partition's leader, a
/// group's offsets across brokers, and the replication-factor error naming the live brokers.
#[test]
fn the_zookeeper_forms_with_a_registered_two_broker_cluster() {
    let (_zk, zk_port) = support::start_coordinator("");
    let zk = format!("127.0.0.1:{zk_port}");
    let extra = format!("zookeeper.connect={zk}");
    let (_b0, port0) = support::start_broker(&extra);
    let port1 = support::free_port();
    let dir1 = support::tempdir::Dir::new();
    let config1 = support::write_broker_config(dir1.path(), port1, &extra);
    let properties = std::fs::read_to_string(&config1)
        .unwrap()
        .replace("broker.id=0", "broker.id=1");
    std::fs::write(&config1, properties).unwrap();
    let _b1 = support::restart_broker(dir1, port1);
    let nowhere = support::tempdir::Dir::new();
    let h = nowhere.path();

    // Both brokers register shortly after they start.
    let create = [
        "kafka-topics.sh",
        "--create",
        "--zookeeper",
        &zk,
        "--replication-factor",
        "2",
        "--partitions",
        "2",
        "--topic",
        "replicated",
    ];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let out = tool(h, &create, "");
        if out.status.success() {
            assert_eq!(text(&out.stdout), "Created topic replicated.\n");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            text(&out.stdout)
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    let described = ok(tool(
        h,
        &[
            "kafka-topics.sh",
            "--describe",
            "--zookeeper",
            &zk,
            "--topic",
            "replicated",
        ],
        "",
    ));
    let lines: Vec<&str> = described.lines().collect();
    assert_eq!(
        lines[0],
        "Topic: replicated\tPartitionCount: 2\tReplicationFactor: 2\tConfigs: "
    );
    for (i, line) in lines[1..].iter().enumerate() {
        assert!(
            line.starts_with(&format!("\tTopic: replicated\tPartition: {i}\tLeader: ")),
            "{described}"
        );
    }

    // Written through broker 1, read through ZooKeeper, committed, described.
    ok(tool(
        h,
        &[
            "kafka-console-producer.sh",
            "--broker-list",
            &format!("127.0.0.1:{port1}"),
            "--topic",
            "replicated",
        ],
        "one\ntwo\nthree\nfour\n",
    ));
    let read = ok(tool(
        h,
        &[
            "kafka-console-consumer.sh",
            "--zookeeper",
            &zk,
            "--topic",
            "replicated",
            "--from-beginning",
            "--max-messages",
            "4",
            "--group",
            "cluster-readers",
        ],
        "",
    ));
    let mut got: Vec<&str> = read.lines().collect();
    got.sort_unstable();
    assert_eq!(got, ["four", "one", "three", "two"]);
    let table = ok(tool(
        h,
        &[
            "kafka-consumer-groups.sh",
            "--bootstrap-server",
            &format!("127.0.0.1:{port0}"),
            "--describe",
            "--group",
            "cluster-readers",
        ],
        "",
    ));
    let lag: Vec<&str> = table
        .lines()
        .filter(|l| l.starts_with("cluster-readers "))
        .map(|l| l.split_whitespace().nth(5).unwrap())
        .collect();
    assert_eq!(lag, ["0", "0"], "{table}");

    let three = tool(
        h,
        &[
            "kafka-topics.sh",
            "--create",
            "--zookeeper",
            &zk,
            "--replication-factor",
            "3",
            "--partitions",
            "1",
            "--topic",
            "three",
        ],
        "",
    );
    assert_eq!(three.status.code(), Some(1));
    let msg = text(&three.stdout);
    assert!(
        msg.starts_with("Error while executing topic command : ") && msg.contains('2'),
        "{msg}"
    );
}

/// A large piped input (many batches in flight at once) lands in the partition in line order,
/// as kcat reads it back. Regression: batches sent from separate tasks once raced for the socket.
#[test]
fn a_large_piped_input_keeps_its_order() {
    let (_broker, port) = support::start_broker("");
    let b = format!("127.0.0.1:{port}");
    let home = support::tempdir::Dir::new();
    let h = home.path();
    let lines: String = (0..200_000).map(|i| format!("line {i}\n")).collect();
    ok(tool(
        h,
        &[
            "kafka-console-producer.sh",
            "--bootstrap-server",
            &b,
            "--topic",
            "ordered",
        ],
        &lines,
    ));
    let ours = ok(tool(
        h,
        &[
            "kafka-console-consumer.sh",
            "--bootstrap-server",
            &b,
            "--topic",
            "ordered",
            "--from-beginning",
            "--max-messages",
            "200000",
        ],
        "",
    ));
    assert!(
        ours == lines,
        "our consumer read the lines in another order"
    );
    let Some(kcat) = support::kcat() else { return };
    let out = support::system_command(&kcat)
        .args([
            "-b",
            &b,
            "-C",
            "-t",
            "ordered",
            "-e",
            "-q",
            "-o",
            "beginning",
        ])
        .output()
        .unwrap();
    assert!(
        text(&out.stdout) == lines,
        "kcat read the lines in another order"
    );
}
