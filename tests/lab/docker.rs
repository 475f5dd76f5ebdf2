//! Docker end-to-end: up → status → exec → down, two labs side by side, restart recovery.
//! Each test owns a lab name and a host port offset, so they run in parallel and beside a
//! student's own `tp3` lab. The tests' offsets (11000 to 11800) put every published port
//! (2181, 9092–9094 and 50070, shifted) outside Linux's ephemeral range (32768–60999), where
//! any client socket of a concurrent test could hold it by chance when `lab up` checks it.

use crate::support::*;

/// Containers or networks carrying the lab's label.
fn labelled(kind: &str, lab: &str) -> Vec<String> {
    let filter = format!("label=lab.name={lab}");
    let out = match kind {
        "container" => docker(&["ps", "-a", "-q", "--filter", &filter]),
        "network" => docker(&["network", "ls", "-q", "--filter", &filter]),
        _ => docker(&["volume", "ls", "-q", "--filter", &filter]),
    };
    out.lines().map(str::to_owned).collect()
}

fn node_states(status: &serde_json::Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = status["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["object"].as_str().unwrap().to_owned(),
                n["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn up_status_exec_down() {
    if !docker_available() {
        return;
    }
    ensure_labnode();
    let guard = LabGuard::new("e2e-basic", &[]);
    up_docker("e2e-basic", None, 11000);

    let st = status("e2e-basic", &[]);
    assert_eq!(
        node_states(&st),
        [
            ("e2e-basic-hadoop-master".into(), "running".into()),
            ("e2e-basic-hadoop-slave1".into(), "running".into()),
            ("e2e-basic-hadoop-slave2".into(), "running".into()),
        ]
    );
    // The sink and the stream have no probe: `up` may return just before init starts them.
    eventually("every service of the master to run", || {
        services(&status("e2e-basic", &[]), "hadoop-master") == tp3_master_services()
    });

    // exec works, the hostname is the node name, and the static labnode resolves other nodes.
    let host = lab_ok(
        &[
            "exec",
            "--name",
            "e2e-basic",
            "hadoop-master",
            "--",
            "hostname",
        ],
        &[],
    );
    assert_eq!(host.trim(), "hadoop-master");
    let out = lab(
        &[
            "exec",
            "--name",
            "e2e-basic",
            "hadoop-slave1",
            "--",
            "kafka-topics.sh",
            "--bootstrap-server",
            "hadoop-master:9093",
            "--list",
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "name resolution from slave1: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The TP's login environment: bash, KAFKA_HOME, the configs.
    let env = lab_ok(
        &[
            "exec",
            "--name",
            "e2e-basic",
            "hadoop-master",
            "--",
            "bash",
            "-lc",
            "echo $KAFKA_HOME; ls $KAFKA_HOME/config; jps",
        ],
        &[],
    );
    for want in [
        "/usr/local/kafka",
        "server-one.properties",
        "zookeeper.properties",
        "QuorumPeerMain",
        "Jps",
    ] {
        assert!(env.contains(want), "{want} missing from:\n{env}");
    }
    // The published port is shifted and advertised as such.
    let conf = lab_ok(
        &[
            "exec",
            "--name",
            "e2e-basic",
            "hadoop-master",
            "--",
            "cat",
            "/usr/local/kafka/config/server.properties",
        ],
        &[],
    );
    assert!(conf.contains("EXTERNAL://localhost:20092"), "{conf}");

    let down = guard.down(false);
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    assert!(labelled("container", "e2e-basic").is_empty());
    assert!(labelled("network", "e2e-basic").is_empty());
    assert!(
        !labelled("volume", "e2e-basic").is_empty(),
        "volumes are kept without --volumes"
    );
    // Idempotent, and --volumes removes the data.
    assert!(guard.down(true).status.success());
    assert!(labelled("volume", "e2e-basic").is_empty());
}

#[test]
fn two_labs_side_by_side() {
    if !docker_available() {
        return;
    }
    ensure_labnode();
    let a = LabGuard::new("e2e-side-a", &[]);
    let b = LabGuard::new("e2e-side-b", &[]);
    up_docker("e2e-side-a", None, 11100);
    up_docker("e2e-side-b", None, 11200);
    for name in ["e2e-side-a", "e2e-side-b"] {
        let st = status(name, &[]);
        assert!(node_states(&st).iter().all(|(_, s)| s == "running"), "{st}");
        eventually("every service of the master to run", || {
            services(&status(name, &[]), "hadoop-master") == tp3_master_services()
        });
    }
    // Each lab has its own network; the same node name resolves inside each.
    assert_eq!(labelled("network", "e2e-side-a").len(), 1);
    assert_eq!(labelled("network", "e2e-side-b").len(), 1);
    // A third lab on a taken port range is refused, naming the holder.
    let out = lab(
        &[
            "up",
            "--name",
            "e2e-side-c",
            "--port-offset",
            "11100",
            "--runtime",
            "docker",
        ],
        &[],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is held by container e2e-side-a-hadoop-master"),
        "{err}"
    );
    assert!(labelled("container", "e2e-side-c").is_empty());
    drop(a);
    drop(b);
}

#[test]
fn services_come_back_after_a_restart_and_up_again_changes_nothing() {
    if !docker_available() {
        return;
    }
    ensure_labnode();
    let _lab = LabGuard::new("e2e-restart", &[]);
    up_docker("e2e-restart", None, 11300);
    let ids = docker(&[
        "ps",
        "-q",
        "--no-trunc",
        "--filter",
        "label=lab.name=e2e-restart",
    ]);

    // `lab up` again: the same containers, still running.
    let out = lab(&["up", "--name", "e2e-restart", "--runtime", "docker"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("already up"));
    assert_eq!(
        docker(&[
            "ps",
            "-q",
            "--no-trunc",
            "--filter",
            "label=lab.name=e2e-restart"
        ]),
        ids
    );

    // `docker restart`: init starts the services again.
    docker(&["restart", "e2e-restart-hadoop-master"]);
    eventually("the services after docker restart", || {
        services(&status("e2e-restart", &[]), "hadoop-master") == tp3_master_services()
    });

    // Stopped on purpose (kafka-server-stop.sh): stays stopped; `lab up` starts it again.
    lab_ok(
        &[
            "exec",
            "--name",
            "e2e-restart",
            "hadoop-master",
            "--",
            "kafka-server-stop.sh",
        ],
        &[],
    );
    eventually("the brokers to stop", || {
        !services(&status("e2e-restart", &[]), "hadoop-master").contains(&"Kafka".to_owned())
    });
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(
        services(&status("e2e-restart", &[]), "hadoop-master"),
        [
            "HdfsSink",
            "NameNode",
            "QuorumPeerMain",
            "StreamingWordCount"
        ]
    );
    lab_ok(&["up", "--name", "e2e-restart", "--runtime", "docker"], &[]);
    // The sink and the stream have no probe: `up` may return just before init starts them.
    eventually("every service of the master to run again", || {
        services(&status("e2e-restart", &[]), "hadoop-master") == tp3_master_services()
    });
}
