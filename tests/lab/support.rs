//! Shared helpers: run `lab`, find or build `labnode`, decide whether Docker tests can run.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The `lab` binary under test.
pub fn lab_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_lab"))
}

/// The workspace root (`labs/tp3.yaml` is relative to it).
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// True under CI, where nothing may skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The `labnode` these tests run: built beside `lab` (same profile), then copied aside so that
/// a rebuild by someone else during the run (a shared target dir) cannot change the image
/// digest between two `lab up` of one test.
static LABNODE: OnceLock<PathBuf> = OnceLock::new();

/// Builds `labnode` (and the TP's Rust examples, beside it) once and snapshots it (see
/// [`LABNODE`]); `lab()` passes it as LAB_LABNODE.
pub fn ensure_labnode() {
    e2e_lock();
    LABNODE.get_or_init(|| {
        let release = lab_bin().components().any(|c| c.as_os_str() == "release");
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args(["build", "-p", "labnode", "-p", "tp3-examples"])
            .current_dir(root());
        if release {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("cargo runs");
        // A tree another crate is mid-edit in may not build: an existing binary still serves.
        let built = lab_bin().with_file_name("labnode");
        assert!(
            status.success() || built.is_file(),
            "cargo build -p labnode failed"
        );
        if !status.success() {
            eprintln!("WARNING: cargo build -p labnode failed; testing the existing binary");
        }
        let dir = lab_bin().with_file_name("lab-tests");
        std::fs::create_dir_all(&dir).unwrap();
        // labnode runs the coordinator from the binary beside it.
        for name in ["labnode-coordinator", "labnode"] {
            std::fs::copy(built.with_file_name(name), dir.join(name)).unwrap();
        }
        dir.join("labnode")
    });
}

/// Serialises the Docker end-to-end tests of concurrent test processes (a helper's
/// `cargo test -p lab` beside a workspace run): they use the same lab names and host ports.
/// Held until this test process exits; tests of one process still run in parallel.
fn e2e_lock() {
    static LOCK: OnceLock<std::fs::File> = OnceLock::new();
    LOCK.get_or_init(|| {
        let file = std::fs::File::create(std::env::temp_dir().join("lab-e2e-tests.lock")).unwrap();
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive).unwrap();
        file
    });
}

/// True when a Docker daemon answers; otherwise says why the test skips (fails under CI).
pub fn docker_available() -> bool {
    e2e_lock();
    let answered = Command::new("docker")
        .args(["version", "--format", "{{.Server.APIVersion}}"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !answered {
        assert!(
            !in_ci(),
            "CI=true but no Docker daemon answers `docker version`"
        );
        eprintln!("SKIP: no Docker daemon answers (`docker version` failed); these tests need one");
    }
    answered
}

/// Runs `lab <args>` in the workspace root with extra environment.
pub fn lab(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(lab_bin());
    cmd.args(args).current_dir(root());
    if let Some(labnode) = LABNODE.get() {
        cmd.env("LAB_LABNODE", labnode);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("lab runs")
}

/// `lab up --name <name> [-f <spec>] --port-offset <offset> --runtime docker`, which must succeed.
pub fn up_docker(name: &str, spec: Option<&str>, offset: u16) {
    let offset = offset.to_string();
    let mut args = vec!["up", "--name", name];
    if let Some(spec) = spec {
        args.extend(["-f", spec]);
    }
    args.extend(["--port-offset", &offset, "--runtime", "docker"]);
    lab_ok(&args, &[]);
}

/// Runs `sh -c <script>` in lab `lab`'s master and insists it succeeds; returns stdout.
pub fn master_sh(lab: &str, script: &str, env: &[(&str, &str)]) -> String {
    lab_ok(
        &[
            "exec",
            "--name",
            lab,
            "hadoop-master",
            "--",
            "sh",
            "-c",
            script,
        ],
        env,
    )
}

/// Runs `lab <args>` and insists it succeeds; returns stdout.
pub fn lab_ok(args: &[&str], env: &[(&str, &str)]) -> String {
    let out = lab(args, env);
    assert!(
        out.status.success(),
        "lab {args:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `lab status --json` of a lab, parsed.
pub fn status(name: &str, env: &[(&str, &str)]) -> serde_json::Value {
    let out = lab_ok(&["status", "--name", name, "--json"], env);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("status --json is not JSON ({e}): {out}"))
}

/// The jps names of a node in a status report, sorted.
pub fn services(status: &serde_json::Value, node: &str) -> Vec<String> {
    let nodes = status["nodes"].as_array().cloned().unwrap_or_default();
    let node = nodes
        .iter()
        .find(|n| n["node"] == node)
        .unwrap_or_else(|| panic!("no node {node} in {status}"));
    let mut names: Vec<String> = node["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// The services tp3.yaml runs on the master, as jps names them.
pub fn tp3_master_services() -> Vec<String> {
    [
        "HdfsSink",
        "Kafka",
        "Kafka",
        "Kafka",
        "NameNode",
        "QuorumPeerMain",
        "StreamingWordCount",
    ]
    .map(String::from)
    .to_vec()
}

/// Polls `check` until it returns true; panics with `what` after a generous deadline.
pub fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The Python of the test virtualenv `make setup` creates (kafka-python); `None` (a skip,
/// failing under CI) without it.
pub fn venv_python() -> Option<PathBuf> {
    let python = root().join(".venv/bin/python");
    if python.is_file() {
        return Some(python);
    }
    assert!(
        !in_ci(),
        "CI=true but {} is missing (make setup)",
        python.display()
    );
    eprintln!("SKIP: {} is missing (make setup)", python.display());
    None
}

/// Runs `docker <args>` and returns stdout.
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker runs");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Removes a lab (volumes too) when dropped, so a failing test leaves nothing behind.
pub struct LabGuard {
    pub name: String,
    pub env: Vec<(String, String)>,
}

impl LabGuard {
    pub fn new(name: &str, env: &[(&str, &str)]) -> LabGuard {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let guard = LabGuard {
            name: name.to_owned(),
            env,
        };
        guard.down(true);
        guard
    }

    pub fn env(&self) -> Vec<(&str, &str)> {
        self.env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    pub fn down(&self, volumes: bool) -> Output {
        let mut args = vec!["down", "--name", self.name.as_str()];
        if volumes {
            args.push("--volumes");
        }
        lab(&args, &self.env())
    }
}

impl Drop for LabGuard {
    fn drop(&mut self) {
        let _ = self.down(true);
    }
}
