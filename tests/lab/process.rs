//! The process runtime: the same plan as local processes, no Docker needed.

use crate::support::*;

#[test]
fn the_tp3_lab_runs_as_local_processes() {
    ensure_labnode();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().to_str().unwrap().to_owned();
    let env = [("LAB_STATE_DIR", state.as_str())];
    let guard = LabGuard::new("e2e-proc", &env);
    lab_ok(
        &[
            "up",
            "--name",
            "e2e-proc",
            "--runtime",
            "process",
            "--port-offset",
            "11400",
        ],
        &env,
    );

    let st = status("e2e-proc", &env);
    let nodes = st["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3, "{st}");
    assert!(
        nodes
            .iter()
            .all(|n| n["state"] == "running" && n["runtime"] == "process"),
        "{st}"
    );
    // The sink and the stream have no probe: `up` may return just before init starts them.
    eventually("every service of the master to run", || {
        services(&status("e2e-proc", &env), "hadoop-master") == tp3_master_services()
    });
    assert_eq!(services(&st, "hadoop-slave1"), ["DataNode"]);
    assert_eq!(services(&st, "hadoop-slave2"), ["DataNode"]);

    // Each node has its own root: configs under it, the listener advertised on the shifted port.
    let conf = std::fs::read_to_string(
        dir.path()
            .join("e2e-proc/hadoop-master/usr/local/kafka/config/server-two.properties"),
    )
    .unwrap();
    assert!(conf.contains("EXTERNAL://localhost:20494"), "{conf}");
    assert!(
        conf.contains(&format!(
            "log.dirs={state}/e2e-proc/hadoop-master/tmp/kafka-logs-2"
        )),
        "{conf}"
    );

    // exec runs in the node's environment.
    let home = master_sh("e2e-proc", "echo $KAFKA_HOME", &env);
    assert_eq!(
        home.trim(),
        format!("{state}/e2e-proc/hadoop-master/usr/local/kafka")
    );
    // The master's tools and mounts are the host's: its python3 (the bundle, with
    // kafka-python) and the examples directory under its root.
    if venv_python().is_some() {
        let python = master_sh(
            "e2e-proc",
            "test -f root/examples/python/SimpleProducer.py && \
             python3 -c 'import kafka, sys; print(sys.prefix); print(kafka.__version__)'",
            &env,
        );
        let lines: Vec<&str> = python.lines().collect();
        assert!(
            lines.first().is_some_and(|p| p.contains("python-")) && lines.len() == 2,
            "{python}"
        );
    }
    let logs = lab_ok(
        &["logs", "--name", "e2e-proc", "hadoop-master", "zookeeper"],
        &env,
    );
    assert!(logs.contains("=== init: starting zookeeper"), "{logs}");

    let down = guard.down(true);
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    let after = status("e2e-proc", &env);
    assert!(after["nodes"].as_array().unwrap().is_empty(), "{after}");
    assert!(!dir.path().join("e2e-proc").exists());
}
