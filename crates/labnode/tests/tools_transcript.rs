//! The TP3 text as a transcript, run with real processes on this machine: a `$KAFKA_HOME` laid
//! out like the master's (config/zookeeper.properties, server.properties, server-one and
//! server-two), then the TP's commands in the TP's order, each output compared with what the
//! TP shows. (The same sequence inside a Docker lab is the lead's end-to-end test.)
//!
//! Every process started here carries `LAB_NODE=<unique>` so `jps --lab-node` sees only them,
//! and is killed by pid at the end; nothing else on the machine is touched (no
//! `kafka-server-stop.sh`, which stops every broker of the host).

// Test code: a failed unwrap or index is a failed test with its location.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// Processes this test started, killed on drop whatever the outcome.
#[derive(Default)]
struct Started {
    pids: Vec<u32>,
    children: Vec<Child>,
}

impl Drop for Started {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for pid in &self.pids {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
        }
    }
}

struct Node {
    home: support::tempdir::Dir,
    label: String,
}

impl Node {
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(support::labnode());
        c.args(args)
            .env("KAFKA_HOME", self.home.path())
            .env("LAB_NODE", &self.label);
        c
    }

    /// Runs a TP command to completion with `stdin`.
    fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = self
            .command(args)
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
        // Drain the output while waiting (a full pipe would block the tool).
        let pid = child.id();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        match rx.recv_timeout(Duration::from_secs(90)) {
            Ok(out) => out.unwrap(),
            Err(_) => {
                let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
                panic!("{args:?} still running after 90 s");
            }
        }
    }

    fn ok(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "{args:?}: exit {:?}\n{}\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `jps --lab-node`: the daemon names of this node's processes, sorted.
    fn jps(&self) -> Vec<String> {
        let out = self.ok(&["jps", "--lab-node", &self.label], "");
        let mut names: Vec<String> = out
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|n| *n != "Jps")
            .map(str::to_owned)
            .collect();
        names.sort();
        names
    }
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn the_tp3_commands_in_the_tps_order() {
    let node = Node {
        home: support::tempdir::Dir::new(),
        label: format!("tp3-transcript-{}", std::process::id()),
    };
    let config = node.home.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    let (zk, k0, k1, k2) = (
        support::free_port(),
        support::free_port(),
        support::free_port(),
        support::free_port(),
    );
    let data = node.home.path().join("data");
    write(
        &config.join("zookeeper.properties"),
        &format!(
            "dataDir={}/zookeeper\nclientPort={zk}\nmaxClientCnxns=0\n",
            data.display()
        ),
    );
    let server = |id: u32, port: u16| {
        format!(
            "broker.id={id}\nlisteners=PLAINTEXT://localhost:{port}\nlog.dirs={}/kafka-logs-{id}\n\
             num.partitions=1\nzookeeper.connect=localhost:{zk}\ngroup.initial.rebalance.delay.ms=0\n",
            data.display()
        )
    };
    write(&config.join("server.properties"), &server(0, k0));
    write(&config.join("server-one.properties"), &server(1, k1));
    write(&config.join("server-two.properties"), &server(2, k2));
    let mut started = Started::default();

    // ./start-kafka-zookeeper.sh, then jps.
    let out = node.run(&["start-kafka-zookeeper.sh"], "");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    started.pids.extend(
        stdout
            .lines()
            .filter_map(|l| l.split("(pid ").nth(1))
            .filter_map(|p| p.trim_end_matches(").").parse::<u32>().ok()),
    );
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(node.jps(), ["Kafka", "QuorumPeerMain"]);

    // kafka-topics.sh --create --zookeeper localhost:2181 --replication-factor 1 --partitions 1 --topic Hello-Kafka
    let zk_addr = format!("localhost:{zk}");
    let b0 = format!("localhost:{k0}");
    assert_eq!(
        node.ok(
            &[
                "kafka-topics.sh",
                "--create",
                "--zookeeper",
                &zk_addr,
                "--replication-factor",
                "1",
                "--partitions",
                "1",
                "--topic",
                "Hello-Kafka"
            ],
            ""
        ),
        "Created topic Hello-Kafka.\n"
    );
    // kafka-topics.sh --list --zookeeper localhost:2181
    let list = node.ok(&["kafka-topics.sh", "--list", "--zookeeper", &zk_addr], "");
    assert!(list.lines().any(|l| l == "Hello-Kafka"), "{list}");

    // kafka-console-producer.sh --broker-list localhost:9092 --topic Hello-Kafka
    node.ok(
        &[
            "kafka-console-producer.sh",
            "--broker-list",
            &b0,
            "--topic",
            "Hello-Kafka",
        ],
        "Hello Kafka\nBonjour tout le monde\n",
    );
    // kafka-console-consumer.sh --zookeeper localhost:2181 --topic Hello-Kafka --from-beginning
    assert_eq!(
        node.ok(
            &[
                "kafka-console-consumer.sh",
                "--zookeeper",
                &zk_addr,
                "--topic",
                "Hello-Kafka",
                "--from-beginning",
                "--max-messages",
                "2"
            ],
            ""
        ),
        "Hello Kafka\nBonjour tout le monde\n"
    );

    // The custom producer (the Python twin of SimpleProducer.java), then the console consumer
    // sees its ten values after the two lines above.
    if let Some(python) = support::python() {
        let out = Command::new(python)
            .arg(support::workspace_root().join("labs/tp3/examples/python/SimpleProducer.py"))
            .arg("Hello-Kafka")
            .env("KAFKA_BOOTSTRAP_SERVERS", &b0)
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "Message envoye avec succes\n"
        );
        let all = node.ok(
            &[
                "kafka-console-consumer.sh",
                "--zookeeper",
                &zk_addr,
                "--topic",
                "Hello-Kafka",
                "--from-beginning",
                "--max-messages",
                "12",
            ],
            "",
        );
        let expected: String = std::iter::once("Hello Kafka\nBonjour tout le monde\n".to_string())
            .chain((0..10).map(|i| format!("{i}\n")))
            .collect();
        assert_eq!(all, expected);
    }

    // Multi-broker part: kafka-server-start.sh $KAFKA_HOME/config/server-one.properties & (and two)
    for (file, port) in [("server-one.properties", k1), ("server-two.properties", k2)] {
        let path = config.join(file);
        let child = node
            .command(&["kafka-server-start.sh", path.to_str().unwrap()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        started.children.push(child);
        support::wait_for_port(([127, 0, 0, 1], port).into(), Duration::from_secs(30));
    }
    assert_eq!(node.jps(), ["Kafka", "Kafka", "Kafka", "QuorumPeerMain"]);
    for port in [k1, k2] {
        let b = format!("localhost:{port}");
        node.ok(&["kafka-topics.sh", "--list", "--bootstrap-server", &b], "");
    }

    // Running the start script again says what already runs and starts nothing.
    let again = node.ok(&["start-kafka-zookeeper.sh"], "");
    assert!(again.contains("is already running"), "{again}");
    assert_eq!(node.jps(), ["Kafka", "Kafka", "Kafka", "QuorumPeerMain"]);
}
