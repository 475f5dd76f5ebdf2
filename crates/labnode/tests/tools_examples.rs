//! The TP's custom producer and consumer, as the Python examples of `labs/tp3/examples/python`
//! (kafka-python), run as written against a real `labnode broker`; the group they form is then
//! described by our `kafka-consumer-groups.sh`.

// Test code: a failed unwrap or index is a failed test with its location.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn example(name: &str) -> PathBuf {
    support::workspace_root()
        .join("labs/tp3/examples/python")
        .join(name)
}

/// Kills the consumer (it runs until Ctrl-C, like the TP's) whatever the test's outcome.
struct Killed(std::process::Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_python_simple_producer_and_consumer_work_as_in_the_tp() {
    let Some(python) = support::python() else {
        return;
    };
    let (broker, port) = support::start_broker("");
    let bootstrap = format!("127.0.0.1:{port}");
    let run_producer = || {
        let out = Command::new(&python)
            .arg(example("SimpleProducer.py"))
            .arg("Hello-Kafka")
            .env("KAFKA_BOOTSTRAP_SERVERS", &bootstrap)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&out.stderr),
            broker.stderr()
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "Message envoye avec succes\n"
        );
    };
    // The topic exists before the consumer subscribes (the TP created it with kafka-topics.sh).
    run_producer();

    let mut consumer = Killed(
        Command::new(&python)
            .arg(example("SimpleConsumer.py"))
            .arg("Hello-Kafka")
            .env("KAFKA_BOOTSTRAP_SERVERS", &bootstrap)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let (tx, lines) = mpsc::channel();
    let stdout = consumer.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let next = || {
        lines
            .recv_timeout(Duration::from_secs(60))
            .expect("the consumer printed nothing for 60 s")
    };
    assert_eq!(next(), "Souscris au topic Hello-Kafka");

    // Like the TP: the consumer listens (its group has no offset yet, so it starts at the end),
    // the producer runs again, the consumer prints its ten records.
    std::thread::sleep(Duration::from_secs(3));
    run_producer();
    let printed: Vec<String> = (0..10).map(|_| next()).collect();
    let expected: Vec<String> = (0..10)
        .map(|i| format!("offset = {}, key = {i}, value = {i}", 10 + i))
        .collect();
    assert_eq!(printed, expected);

    // Auto-commit (every second) shows in our kafka-consumer-groups.sh with no lag.
    let mut table = String::new();
    for _ in 0..50 {
        let out = Command::new(support::labnode())
            .args(["kafka-consumer-groups.sh", "--bootstrap-server", &bootstrap])
            .args(["--describe", "--group", "test"])
            .output()
            .unwrap();
        table = String::from_utf8_lossy(&out.stdout).into_owned();
        let row = table.lines().find(|l| l.starts_with("test "));
        if row.is_some_and(|r| {
            r.split_whitespace()
                .take(6)
                .eq(["test", "Hello-Kafka", "0", "20", "20", "0"])
        }) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let row: Vec<&str> = table
        .lines()
        .find(|l| l.starts_with("test "))
        .unwrap_or_else(|| panic!("no row for group test:\n{table}"))
        .split_whitespace()
        .collect();
    assert_eq!(
        row[..6],
        ["test", "Hello-Kafka", "0", "20", "20", "0"],
        "{table}"
    );
    assert_ne!(row[6], "-", "the live member owns the partition:\n{table}");

    // --members and --state describe the live member and the group's state.
    let describe = |flag: &str| {
        let out = Command::new(support::labnode())
            .args(["kafka-consumer-groups.sh", "--bootstrap-server", &bootstrap])
            .args(["--describe", "--group", "test", flag])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let members = describe("--members");
    let header: Vec<&str> = members
        .lines()
        .nth(1)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID", "#PARTITIONS"],
        "{members}"
    );
    let member: Vec<&str> = members
        .lines()
        .nth(2)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        (member.first(), member.last()),
        (Some(&"test"), Some(&"1")),
        "{members}"
    );
    let state = describe("--state");
    let line: Vec<&str> = state
        .lines()
        .nth(2)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(line.first(), Some(&"test"), "{state}");
    assert!(line.ends_with(&["range", "Stable", "1"]), "{state}");
}
