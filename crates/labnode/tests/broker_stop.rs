//! `kafka-server-start.sh` runs the broker in the foreground; `kafka-server-stop.sh` stops
//! every running broker with SIGTERM (a clean shutdown) and says so when there is none.
//!
//! Like Apache's script, the stop command signals every broker on the machine: this test is
//! alone in its test binary so no other test's broker is running at the same time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn kafka_server_stop_stops_a_broker_started_by_kafka_server_start() {
    let port = support::free_port();
    let dir = support::tempdir::Dir::new();
    let config = support::write_broker_config(dir.path(), port, "");
    let mut broker = support::Process::start_in(
        dir,
        &[
            "kafka-server-start.sh",
            config.to_str().unwrap(),
            "--override",
            "num.partitions=2",
        ],
    );
    support::wait_for_port(([127, 0, 0, 1], port).into(), Duration::from_secs(30));

    let stop = Command::new(support::labnode())
        .arg("kafka-server-stop.sh")
        .output()
        .unwrap();
    assert!(
        stop.status.success(),
        "{}",
        String::from_utf8_lossy(&stop.stdout)
    );
    let start = Instant::now();
    let status = loop {
        if let Some(status) = broker.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the broker did not stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "a clean shutdown: {}", broker.stderr());
    assert!(
        broker.stderr().contains("shut down completed"),
        "{}",
        broker.stderr()
    );

    let again = Command::new(support::labnode())
        .arg("kafka-server-stop.sh")
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stdout).contains("No kafka server to stop"));
}
