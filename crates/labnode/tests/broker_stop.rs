//! `kafka-server-start.sh` runs the broker in the foreground (and says so, starting nothing,
//! when a broker already runs with the same config); `kafka-server-stop.sh` stops the running
//! brokers with SIGTERM (a clean shutdown) and says so when there is none.
//!
//! Like Apache's script, the stop command signals every broker on the machine, unless
//! `LAB_NODE` names a node (the process runtime): the test scopes both commands to a node of
//! its own so it never stops anyone else's broker.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn kafka_server_stop_stops_a_broker_started_by_kafka_server_start() {
    let port = support::free_port();
    let dir = support::tempdir::Dir::new();
    let config = support::write_broker_config(dir.path(), port, "");
    let node = format!("broker-stop-test-{}", std::process::id());
    let mut broker = support::Process::start_in_node(
        dir,
        &[
            "kafka-server-start.sh",
            config.to_str().unwrap(),
            "--override",
            "num.partitions=2",
        ],
        &node,
    );
    support::wait_for_port(([127, 0, 0, 1], port).into(), Duration::from_secs(30));

    // Starting the same config again (the lab already runs the TP's brokers when the student
    // types `kafka-server-start.sh …/server-one.properties &`) says so and starts nothing.
    let twice = Command::new(support::labnode())
        .args(["kafka-server-start.sh", config.to_str().unwrap()])
        .env("LAB_NODE", &node)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&twice.stdout);
    assert!(twice.status.success(), "{said}");
    assert!(said.contains("already running"), "{said}");
    assert!(
        said.contains(&broker.child.id().to_string()),
        "names the running pid: {said}"
    );
    assert!(broker.child.try_wait().unwrap().is_none());

    let stop = |node: &str| {
        Command::new(support::labnode())
            .arg("kafka-server-stop.sh")
            .env("LAB_NODE", node)
            .output()
            .unwrap()
    };
    // Another node's stop leaves this broker alone.
    let other = stop("some-other-node");
    assert_eq!(other.status.code(), Some(1));
    assert!(broker.child.try_wait().unwrap().is_none());

    let stopped = stop(&node);
    assert!(
        stopped.status.success(),
        "{}",
        String::from_utf8_lossy(&stopped.stdout)
    );
    let start = Instant::now();
    let status = loop {
        if let Some(status) = broker.child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(30) {
            panic!("the broker did not stop: {}", broker.stderr());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = broker.stderr();
    assert!(status.success(), "a clean shutdown: {stderr}");
    assert!(stderr.contains("shut down completed"), "{stderr}");

    let again = stop(&node);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stdout).contains("No kafka server to stop"));
}
