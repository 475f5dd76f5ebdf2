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

fn detail(report: &serde_json::Value, name: &str, node: &str) -> String {
    result(report, name, node)["detail"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The total lag the sink check reports (`group connect-hdfs-sink: lag N (…)`).
fn sink_lag(report: &serde_json::Value) -> i64 {
    let d = detail(report, "sink lag (sink)", "hadoop-master");
    d.split("lag ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no lag in {d:?}"))
}

/// Produces `key:value` lines to Hello-Kafka from the host with kcat.
fn produce(kcat: &str, lines: &[&str]) {
    let mut producer = Command::new(kcat)
        .args(["-P", "-b", "localhost:20592", "-t", "Hello-Kafka", "-K:"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let stdin = producer.stdin.as_mut().unwrap();
        for l in lines {
            writeln!(stdin, "{l}").unwrap();
        }
    }
    assert!(producer.wait().unwrap().success());
}

/// Runs `script` in e2e-check's master, then waits until jps there shows none of `gone`.
fn stop_on_master(script: &str, gone: &[&str]) {
    master_sh("e2e-check", script, &[]);
    eventually(&format!("{gone:?} to stop"), || {
        let s = services(&status("e2e-check", &[]), "hadoop-master");
        gone.iter().all(|g| !s.iter().any(|x| x == g))
    });
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
    up_docker("e2e-check", None, 11500);

    // A fresh lab: every built-in check passes (the wordcount prints empty batches while it
    // waits for the TP's topic, as Spark does); the TP's milestones do not pass yet.
    let (mut ok, mut report) = (true, serde_json::Value::Null);
    eventually("the stream's first empty batch", || {
        (ok, report) = check_json("e2e-check");
        result(&report, "wordcount batches (stream log)", "hadoop-master")["passed"] == true
    });
    assert!(!ok, "the TP's checks cannot pass on a fresh lab: {report}");
    for c in report["checks"].as_array().unwrap() {
        if c["points"] == 0 {
            assert_eq!(
                c["passed"], true,
                "built-in check failed on a healthy lab: {c}"
            );
        }
    }
    let controller = detail(&report, "controller elected (ZooKeeper)", "hadoop-master");
    assert!(
        controller.contains("is the controller") && controller.contains("[0, 1, 2]"),
        "{controller}"
    );
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
    let keyed: Vec<String> = (0..10).map(|i| format!("{i}:{i}")).collect();
    produce(kcat, &keyed.iter().map(String::as_str).collect::<Vec<_>>());
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
    // Once the topic exists, the wordcount prints a batch header every interval.
    eventually("the stream's first batch", || {
        lab(
            &["logs", "--name", "e2e-check", "hadoop-master", "stream"],
            &[],
        )
        .stdout
        .windows(6)
        .any(|w| w == b"Time: ")
    });
    let (ok, report) = check_json("e2e-check");
    assert!(ok, "{report}");
    assert_eq!(report["points"], report["total_points"]);
    let topics = detail(&report, "topics (partitions, leaders, ISR)", "-");
    assert!(topics.contains("Hello-Kafka 1p r1"), "{topics}");
    let stream = detail(&report, "wordcount batches (stream log)", "hadoop-master");
    assert!(stream.contains("batch(es)"), "{stream}");

    // A consumer that reads Hello-Kafka but never commits: the groups check names it.
    let lazy = Command::new(kcat)
        .args(["-C", "-q", "-b", "localhost:20592", "-G", "lazy-reader"])
        .args(["-X", "enable.auto.commit=false", "Hello-Kafka"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut groups = String::new();
    eventually(
        "the groups check to fail on the consumer that never commits",
        || {
            let report = check_json("e2e-check").1;
            let c = result(&report, "consumer groups (committed offsets, lag)", "-");
            groups = c["detail"].as_str().unwrap().to_owned();
            c["passed"] == false && groups.contains("lazy-reader")
        },
    );
    assert!(
        groups.contains("lazy-reader") && groups.contains("nothing committed for Hello-Kafka/0"),
        "{groups}"
    );
    // Ctrl-C: kcat leaves the group, so the checks below do not wait for its session to end.
    let interrupted = Command::new("kill")
        .args(["-INT", &lazy.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let mut lazy = lazy;
    assert!(lazy.wait().is_ok());

    let added = std::time::Instant::now();
    // The sink and the stream stopped while messages arrive: no batch, and the sink's lag.
    stop_on_master(
        "kill $(jps | awk '/HdfsSink|StreamingWordCount/ {print $1}')",
        &["HdfsSink", "StreamingWordCount"],
    );
    let before = sink_lag(&check_json("e2e-check").1);
    produce(
        kcat,
        &["a:late 1", "b:late 2", "c:late 3", "d:late 4", "e:late 5"],
    );
    let (ok, report) = check_json("e2e-check");
    assert!(!ok);
    let stream = result(&report, "wordcount batches (stream log)", "hadoop-master");
    assert_eq!(stream["passed"], false, "{stream}");
    assert!(
        stream["detail"]
            .as_str()
            .unwrap()
            .contains("stream is not running"),
        "{stream}"
    );
    let after = sink_lag(&report);
    assert_eq!(after, before + 5, "{report}");
    let groups = detail(&report, "consumer groups (committed offsets, lag)", "-");
    assert!(groups.contains("connect-hdfs-sink"), "{groups}");

    // A topic deleted: the topics check no longer lists it.
    lab_ok(
        &[
            "exec",
            "--name",
            "e2e-check",
            "hadoop-master",
            "--",
            "kafka-topics.sh",
            "--delete",
            "--zookeeper",
            "localhost:2181",
            "--topic",
            "Hello-Kafka",
        ],
        &[],
    );
    let mut report = serde_json::Value::Null;
    eventually("the topics check to see Hello-Kafka gone", || {
        report = check_json("e2e-check").1;
        let topics = detail(&report, "topics (partitions, leaders, ISR)", "-");
        !topics.contains("Hello-Kafka") && topics.contains("lab-check")
    });
    let lag = detail(&report, "sink lag (sink)", "hadoop-master");
    assert!(lag.contains("Hello-Kafka: no such topic yet"), "{lag}");
    eprintln!(
        "e2e-check: the stopped sink/stream and deleted topic part took {:?}",
        added.elapsed()
    );

    // Broken on purpose: the brokers, the namenode and the coordinator stopped, the file gone.
    stop_on_master(
        "kafka-server-stop.sh && kill $(jps | awk '/NameNode/ {print $1}')",
        &["Kafka", "NameNode"],
    );
    // The brokers' registrations and /controller go with their sessions.
    eventually("/controller to go with the brokers", || {
        let report = check_json("e2e-check").1;
        detail(&report, "controller elected (ZooKeeper)", "hadoop-master")
            .contains("/controller is missing (registered brokers [])")
    });
    stop_on_master("zookeeper-server-stop.sh", &["QuorumPeerMain"]);
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
            .contains("expected [HdfsSink, Kafka, Kafka, Kafka, NameNode, QuorumPeerMain, StreamingWordCount], jps shows []"),
        "{jps}"
    );
    for (name, says) in [
        ("zookeeper (ruok → imok on 2181)", "127.0.0.1:13681"),
        ("brokers registered", "Metadata from 127.0.0.1:20592"),
        ("produce/consume via kafka-2", "127.0.0.1:20594"),
        ("HDFS health (live datanodes, safe mode)", "127.0.0.1:61570"),
        (
            "controller elected (ZooKeeper)",
            "ZooKeeper at 127.0.0.1:13681",
        ),
    ] {
        let c = result(&report, name, "hadoop-master");
        assert_eq!(c["passed"], false, "{c}");
        assert!(c["detail"].as_str().unwrap().contains(says), "{c}");
    }
    let file = result(
        &report,
        "the wordcount output in /root/out",
        "hadoop-master",
    );
    assert!(
        file["detail"].as_str().unwrap().contains("No such file"),
        "{file}"
    );

    // A class: a second lab, of another spec, and one report over both into a file. Each lab
    // is checked against the spec it was brought up from.
    let _second = LabGuard::new("e2e-check-b", &[]);
    up_docker("e2e-check-b", Some("labs/cluster.yaml"), 11600);
    let file = tempfile::NamedTempFile::new().unwrap();
    let path = file.path().to_str().unwrap();
    let out = lab(
        &["check", "--all", "--format", "json", "--output", path],
        &[],
    );
    assert!(
        !out.status.success(),
        "e2e-check is broken: the report must fail"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("failed; report in {path}")),
        "{stderr}"
    );
    let all: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let in_lab = |lab: &str, name: &str, node: &str| {
        all["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["lab"] == lab && c["name"] == name && c["node"] == node)
            .cloned()
            .unwrap_or_else(|| panic!("no {name} on {node} of {lab} in {all}"))
    };
    assert_eq!(
        in_lab("e2e-check", "brokers registered", "hadoop-master")["passed"],
        false
    );
    let slave = in_lab("e2e-check-b", "services (jps)", "hadoop-slave1");
    assert_eq!(slave["passed"], true, "{slave}");
    assert_eq!(slave["detail"], "Kafka", "{slave}");

    // JUnit for graders.
    let out = lab(&["check", "--name", "e2e-check", "--format", "junit"], &[]);
    let xml = String::from_utf8_lossy(&out.stdout);
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(xml.contains("<failure message="), "{xml}");
}
