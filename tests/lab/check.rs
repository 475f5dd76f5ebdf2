//! `lab check` on a real lab: built-in checks pass on a healthy lab, the TP's declarative checks
//! pass once the student did the work, and a stopped service fails with a useful detail.

use std::process::{Command, Stdio};

use crate::support::*;

fn check_json(name: &str) -> (bool, serde_json::Value) {
    let out = lab(&["check", "--name", name, "--format", "json"], &[]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "check --format json: {e}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), v)
}

fn result<'a>(report: &'a serde_json::Value, name: &str, node: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name && c["node"] == node)
        .unwrap_or_else(|| panic!("no check {name} on {node} in {report}"))
}

#[test]
fn checks_follow_the_state_of_the_lab() {
    if !docker_available() {
        return;
    }
    let Some(kcat) = ["/usr/bin/kcat"]
        .iter()
        .find(|p| std::path::Path::new(p).is_file())
    else {
        assert!(!in_ci(), "kcat is missing (make setup)");
        eprintln!("SKIP: kcat missing (make setup)");
        return;
    };
    ensure_labnode();
    let _guard = LabGuard::new("e2e-check", &[]);
    lab_ok(
        &[
            "up",
            "--name",
            "e2e-check",
            "--port-offset",
            "2500",
            "--runtime",
            "docker",
        ],
        &[],
    );

    // A fresh lab: every built-in check passes, the TP's milestones do not yet.
    let (ok, report) = check_json("e2e-check");
    assert!(!ok, "the TP's checks cannot pass on a fresh lab: {report}");
    for c in report["checks"].as_array().unwrap() {
        if c["points"] == 0 {
            assert_eq!(
                c["passed"], true,
                "built-in check failed on a healthy lab: {c}"
            );
        }
    }
    let topic = result(&report, "topic Hello-Kafka with 1 partition", "-");
    assert_eq!(topic["passed"], false);
    assert!(
        topic["detail"]
            .as_str()
            .unwrap()
            .contains("no topic `Hello-Kafka`"),
        "{topic}"
    );

    // The student's work: the topic, ten keyed messages from the host, the wordcount output.
    lab_ok(
        &[
            "exec",
            "--name",
            "e2e-check",
            "hadoop-master",
            "--",
            "kafka-topics.sh",
            "--create",
            "--zookeeper",
            "localhost:2181",
            "--replication-factor",
            "1",
            "--partitions",
            "1",
            "--topic",
            "Hello-Kafka",
        ],
        &[],
    );
    let mut producer = Command::new(kcat)
        .args(["-P", "-b", "localhost:11592", "-t", "Hello-Kafka", "-K:"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let stdin = producer.stdin.as_mut().unwrap();
        for i in 0..10 {
            writeln!(stdin, "{i}:{i}").unwrap();
        }
    }
    assert!(producer.wait().unwrap().success());
    lab_ok(
        &[
            "exec",
            "--name",
            "e2e-check",
            "hadoop-master",
            "--",
            "sh",
            "-c",
            "echo '(hello,2)' > /root/out",
        ],
        &[],
    );
    lab_ok(
        &[
            "exec",
            "--name",
            "e2e-check",
            "hadoop-master",
            "--",
            "sh",
            "-c",
            "echo 0 > /tmp/part && hdfs dfs -mkdir -p /topics/Hello-Kafka && hdfs dfs -put /tmp/part /topics/Hello-Kafka/part-0",
        ],
        &[],
    );
    let (ok, report) = check_json("e2e-check");
    assert!(ok, "{report}");
    assert_eq!(report["points"], report["total_points"]);

    // Broken on purpose: the brokers stopped, the file gone.
    lab_ok(
        &[
            "exec",
            "--name",
            "e2e-check",
            "hadoop-master",
            "--",
            "kafka-server-stop.sh",
        ],
        &[],
    );
    eventually("the brokers to stop", || {
        !services(&status("e2e-check", &[]), "hadoop-master").contains(&"Kafka".to_owned())
    });
    lab_ok(
        &[
            "exec",
            "--name",
            "e2e-check",
            "hadoop-master",
            "--",
            "rm",
            "/root/out",
        ],
        &[],
    );
    let (ok, report) = check_json("e2e-check");
    assert!(!ok);
    let jps = result(&report, "services (jps)", "hadoop-master");
    assert_eq!(jps["passed"], false);
    assert!(
        jps["detail"]
            .as_str()
            .unwrap()
            .contains("expected [Kafka, Kafka, Kafka, NameNode, QuorumPeerMain], jps shows [NameNode, QuorumPeerMain]"),
        "{jps}"
    );
    let file = result(
        &report,
        "the wordcount output in /root/out",
        "hadoop-master",
    );
    assert!(
        file["detail"].as_str().unwrap().contains("No such file"),
        "{file}"
    );

    // JUnit for graders.
    let out = lab(&["check", "--name", "e2e-check", "--format", "junit"], &[]);
    let xml = String::from_utf8_lossy(&out.stdout);
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(xml.contains("<failure message="), "{xml}");
}
