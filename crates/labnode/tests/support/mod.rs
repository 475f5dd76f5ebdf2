//! Shared helpers of the node-side integration tests: start a real `labnode` process, find free
//! ports, locate the real clients (kcat, Python clients in the venv, zkCli.sh), and apply the rule
//! that a test needing a missing client skips with a reason locally but fails under `CI=true`.
// Test code: a failed setup step should fail the test loudly, so unwrap is the right tool here.
#![allow(dead_code, unreachable_pub, missing_docs)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The `labnode` binary cargo built for these tests.
pub fn labnode() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_labnode"))
}

/// The workspace root (where `.venv` and `labs/` live).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A port that was free a moment ago on 127.0.0.1, and never handed out before in this test
/// process: the kernel may give a port just released again at once, and tests running side by
/// side each start servers on the ports they were given (two datanodes once got the same one,
/// so only one came up).
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if GIVEN.lock().unwrap().insert(port) {
            return port;
        }
    }
}

/// Waits until something accepts TCP connections on `addr`, or panics after `timeout`.
pub fn wait_for_port(addr: SocketAddr, timeout: Duration) {
    let start = Instant::now();
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            start.elapsed() < timeout,
            "nothing listens on {addr} after {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// True when the tests run in CI, where a missing real client is a failure, not a skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Returns the path of a real client program, or `None` after saying why the test skips.
/// Under `CI=true` a missing client fails the test instead (`make setup` installs them all).
pub fn require(program: &str, candidates: &[PathBuf]) -> Option<PathBuf> {
    if let Some(found) = candidates.iter().find(|p| p.is_file()) {
        return Some(found.clone());
    }
    let msg = format!("{program} not found (looked in {candidates:?}); run `make setup`");
    assert!(!in_ci(), "{msg}");
    eprintln!("SKIP: {msg}");
    None
}

/// The Python of the test virtualenv that `make setup` creates (kafka-python, confluent-kafka,
/// aiokafka, kazoo, hdfs). `LAB_PYTHON` overrides it.
pub fn python() -> Option<PathBuf> {
    let mut candidates = vec![workspace_root().join(".venv/bin/python")];
    if let Ok(p) = std::env::var("LAB_PYTHON") {
        candidates.insert(0, PathBuf::from(p));
    }
    require("the test virtualenv's python", &candidates)
}

/// Debian's `kcat`.
pub fn kcat() -> Option<PathBuf> {
    require("kcat", &[PathBuf::from("/usr/bin/kcat")])
}

/// Runs a Python script from `crates/labnode/tests/clients/` with the venv's Python.
pub fn run_python(script: &str, args: &[&str]) -> Option<Output> {
    let py = python()?;
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients")
        .join(script);
    Some(Command::new(py).arg(path).args(args).output().unwrap())
}

/// A running `labnode` process, killed (SIGKILL) when dropped so a failing test leaves nothing behind.
pub struct Process {
    pub child: Child,
    pub dir: tempdir::Dir,
}

impl Process {
    /// Starts `labnode <args…>` with its working directory in a fresh temp dir; stdout and stderr
    /// go to `<dir>/stdout.log` and `<dir>/stderr.log`.
    pub fn start(args: &[&str]) -> Process {
        let dir = tempdir::Dir::new();
        Process::start_in(dir, args)
    }

    /// Like [`Process::start`], in a given directory (to restart on the same data).
    pub fn start_in(dir: tempdir::Dir, args: &[&str]) -> Process {
        Process::spawn(dir, args, None)
    }

    /// Like [`Process::start_in`], as a service of the node `node` (`LAB_NODE`), which scopes
    /// jps and the stop scripts to the processes of that node.
    pub fn start_in_node(dir: tempdir::Dir, args: &[&str], node: &str) -> Process {
        Process::spawn(dir, args, Some(node))
    }

    fn spawn(dir: tempdir::Dir, args: &[&str], node: Option<&str>) -> Process {
        let out = std::fs::File::create(dir.path().join("stdout.log")).unwrap();
        let err = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
        let mut command = Command::new(labnode());
        command
            .args(args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        if let Some(node) = node {
            command.env("LAB_NODE", node);
        }
        let child = command.spawn().unwrap();
        Process { child, dir }
    }

    /// Kills the process with SIGKILL and waits for it; returns its directory for a restart.
    pub fn kill9(mut self) -> tempdir::Dir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::replace(&mut self.dir, tempdir::Dir::detached())
    }

    /// What the process wrote to stderr so far (for assertion messages).
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A tiny temp-dir owner, removed on drop.
pub mod tempdir {
    use std::path::{Path, PathBuf};

    pub struct Dir(Option<PathBuf>);

    impl Dir {
        pub fn new() -> Dir {
            use std::sync::atomic::{AtomicU32, Ordering};
            static N: AtomicU32 = AtomicU32::new(0);
            let path = std::env::temp_dir().join(format!(
                "labnode-test-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&path).unwrap();
            Dir(Some(path))
        }

        pub(crate) fn detached() -> Dir {
            Dir(None)
        }

        pub fn path(&self) -> &Path {
            self.0.as_deref().expect("a live temp dir")
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            if let Some(p) = self.0.take() {
                let _ = std::fs::remove_dir_all(p);
            }
        }
    }
}

/// Writes Hadoop's `core-site.xml` and `hdfs-site.xml` into `dir`: `fs.defaultFS` and
/// `fs.default.name` go to core-site, every other property to hdfs-site.
pub fn write_hadoop_config(dir: &Path, props: &[(String, String)]) {
    let site = |keep: &dyn Fn(&str) -> bool| {
        let mut xml = String::from("<?xml version=\"1.0\"?>\n<configuration>\n");
        for (k, v) in props.iter().filter(|(k, _)| keep(k)) {
            xml.push_str(&format!(
                "  <property><name>{k}</name><value>{v}</value></property>\n"
            ));
        }
        xml + "</configuration>\n"
    };
    let core = |k: &str| k.starts_with("fs.default");
    std::fs::write(dir.join("core-site.xml"), site(&core)).unwrap();
    std::fs::write(dir.join("hdfs-site.xml"), site(&|k| !core(k))).unwrap();
}

/// The properties of a small test HDFS: namenode on 127.0.0.1 at the given ports, 1 MiB blocks,
/// replication 2, 1 s heartbeats, datanodes dead after 12 s. `extra` adds or overrides keys.
pub fn hdfs_props(http_port: u16, rpc_port: u16, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let props = [
        ("fs.defaultFS", format!("hdfs://127.0.0.1:{rpc_port}")),
        (
            "dfs.namenode.http-address",
            format!("127.0.0.1:{http_port}"),
        ),
        ("dfs.replication", "2".into()),
        ("dfs.blocksize", "1m".into()),
        ("dfs.heartbeat.interval", "1".into()),
        ("dfs.namenode.heartbeat.recheck-interval", "1000".into()),
    ];
    let mut props: Vec<(String, String)> =
        props.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    for (k, v) in extra {
        props.retain(|(p, _)| p != k);
        props.push((k.to_string(), v.to_string()));
    }
    props
}

/// Starts `labnode namenode` (its name dir in its own temp dir) with `hdfs_props`.
pub fn start_namenode(http_port: u16, rpc_port: u16, extra: &[(&str, &str)]) -> Process {
    start_namenode_in(tempdir::Dir::new(), http_port, rpc_port, extra)
}

/// Like [`start_namenode`], in a given directory (a restart on the same name dir).
pub fn start_namenode_in(
    dir: tempdir::Dir,
    http_port: u16,
    rpc_port: u16,
    extra: &[(&str, &str)],
) -> Process {
    let mut props = hdfs_props(http_port, rpc_port, extra);
    props.push((
        "dfs.namenode.name.dir".into(),
        dir.path().join("name").display().to_string(),
    ));
    write_hadoop_config(dir.path(), &props);
    let conf = dir.path().display().to_string();
    let p = Process::start_in(dir, &["namenode", "--config", &conf]);
    wait_for_port(
        SocketAddr::from(([127, 0, 0, 1], http_port)),
        Duration::from_secs(30),
    );
    p
}

/// Starts `labnode datanode` for the namenode at `rpc_port` (its data dir in its own temp dir).
pub fn start_datanode(http_port: u16, rpc_port: u16, extra: &[(&str, &str)]) -> Process {
    start_datanode_in(tempdir::Dir::new(), http_port, rpc_port, extra)
}

/// Like [`start_datanode`], in a given directory (a restart on the same blocks).
pub fn start_datanode_in(
    dir: tempdir::Dir,
    http_port: u16,
    rpc_port: u16,
    extra: &[(&str, &str)],
) -> Process {
    let mut props = hdfs_props(0, rpc_port, extra);
    props.push((
        "dfs.datanode.data.dir".into(),
        dir.path().join("data").display().to_string(),
    ));
    props.push((
        "dfs.datanode.http.address".into(),
        format!("127.0.0.1:{http_port}"),
    ));
    write_hadoop_config(dir.path(), &props);
    let conf = dir.path().display().to_string();
    let p = Process::start_in(dir, &["datanode", "--config", &conf]);
    wait_for_port(
        SocketAddr::from(([127, 0, 0, 1], http_port)),
        Duration::from_secs(30),
    );
    p
}

/// A plain HTTP/1.0 GET on 127.0.0.1 (status pages, raw requests): (status line, body).
pub fn http_get(port: u16, target: &str) -> (String, String) {
    use std::io::{Read, Write};
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "GET {target} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n").unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

/// Waits until the namenode's status page shows `n` live datanodes.
pub fn wait_for_live_datanodes(http_port: u16, n: usize, timeout: Duration) {
    let start = Instant::now();
    let want = format!("<th>Live Nodes</th><td>{n}</td>");
    loop {
        let (_, page) = http_get(http_port, "/");
        if page.contains(&want) {
            return;
        }
        assert!(
            start.elapsed() < timeout,
            "no {n} live datanodes after {timeout:?}: {page}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Writes a standalone broker's `server.properties` into `dir` (listener on 127.0.0.1:`port`,
/// data in `<dir>/kafka-logs`, no initial rebalance delay) followed by `extra` lines.
pub fn write_broker_config(dir: &Path, port: u16, extra: &str) -> PathBuf {
    let path = dir.join("server.properties");
    let text = format!(
        "broker.id=0\nlisteners=PLAINTEXT://127.0.0.1:{port}\nlog.dirs={}\n\
         group.initial.rebalance.delay.ms=0\n{extra}\n",
        dir.join("kafka-logs").display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Starts `labnode broker` on a fresh port in a fresh dir and waits until it accepts
/// connections; returns the process and the port.
pub fn start_broker(extra: &str) -> (Process, u16) {
    let port = free_port();
    let dir = tempdir::Dir::new();
    write_broker_config(dir.path(), port, extra);
    (restart_broker(dir, port), port)
}

/// Starts `labnode broker` again on the `server.properties` already in `dir` (same data).
pub fn restart_broker(dir: tempdir::Dir, port: u16) -> Process {
    let config = dir.path().join("server.properties");
    let process = Process::start_in(dir, &["broker", "--config", config.to_str().unwrap()]);
    wait_for_port(
        SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(30),
    );
    process
}

/// Debian's `zkCli.sh` (package `zookeeper`).
pub fn zk_cli() -> Option<PathBuf> {
    require(
        "zkCli.sh",
        &[PathBuf::from("/usr/share/zookeeper/bin/zkCli.sh")],
    )
}

/// Writes a coordinator `zookeeper.properties` into `dir` (clientPort `port`, data in
/// `<dir>/zookeeper`, 500 ms ticks, every four-letter word) followed by `extra` lines.
pub fn write_coordinator_config(dir: &Path, port: u16, extra: &str) -> PathBuf {
    let path = dir.join("zookeeper.properties");
    let text = format!(
        "tickTime=500\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
         4lw.commands.whitelist=*\n{extra}\n",
        dir.join("zookeeper").display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Starts `labnode coordinator` on a fresh port in a fresh dir and waits until it accepts
/// connections; returns the process and the port.
pub fn start_coordinator(extra: &str) -> (Process, u16) {
    let port = free_port();
    let dir = tempdir::Dir::new();
    write_coordinator_config(dir.path(), port, extra);
    (restart_coordinator(dir, port), port)
}

/// Starts `labnode coordinator` again on the `zookeeper.properties` already in `dir`.
pub fn restart_coordinator(dir: tempdir::Dir, port: u16) -> Process {
    let config = dir.path().join("zookeeper.properties");
    let process = Process::start_in(dir, &["coordinator", "--config", config.to_str().unwrap()]);
    wait_for_port(
        SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(30),
    );
    process
}

/// Apache ZooKeeper from Debian's `zookeeper` package, run standalone by a test; killed on drop.
pub struct ApacheZooKeeper {
    pub child: Child,
    pub port: u16,
    pub dir: tempdir::Dir,
}

impl Drop for ApacheZooKeeper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts Debian's ZooKeeper server (`ZooKeeperServerMain`, java and `/usr/share/java/zookeeper.jar`)
/// on a free port with a temp dataDir, and waits until it answers `ruok`.
pub fn start_apache_zookeeper() -> Option<ApacheZooKeeper> {
    let java = require("java", &[PathBuf::from("/usr/bin/java")])?;
    let jar = require(
        "zookeeper.jar",
        &[PathBuf::from("/usr/share/java/zookeeper.jar")],
    )?;
    let dir = tempdir::Dir::new();
    let port = free_port();
    let cfg = dir.path().join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=500\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             4lw.commands.whitelist=*\nadmin.enableServer=false\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.path().join("zookeeper.log")).unwrap();
    let child = Command::new(java)
        .arg("-cp")
        .arg(format!("/etc/zookeeper/conf:{}", jar.display()))
        .arg(format!("-Dzookeeper.log.dir={}", dir.path().display()))
        .arg("-Dzookeeper.root.logger=INFO,CONSOLE")
        .arg("org.apache.zookeeper.server.ZooKeeperServerMain")
        .arg(&cfg)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let zk = ApacheZooKeeper { child, port, dir };
    let start = Instant::now();
    while four_letter_word(port, "ruok") != "imok" {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "Apache ZooKeeper did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(zk)
}

/// Sends a four-letter word to 127.0.0.1:`port` and returns the answer ("" if none).
pub fn four_letter_word(port: u16, word: &str) -> String {
    use std::io::{Read, Write};
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.write_all(word.as_bytes());
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// A command for a system program (kcat, …) without cargo's `LD_LIBRARY_PATH`, which points
/// at build outputs such as rdkafka-sys's bundled librdkafka (built without zstd) and would
/// otherwise replace the system's libraries.
pub fn system_command(program: &Path) -> Command {
    let mut c = Command::new(program);
    c.env_remove("LD_LIBRARY_PATH");
    c
}

/// Writes the `server.properties` of broker `id` of a cluster (listener on 127.0.0.1:`port`,
/// data in `<dir>/kafka-logs`, `zookeeper.connect` to 127.0.0.1:`zk_port`, no initial
/// rebalance delay) followed by `extra` lines.
pub fn write_cluster_broker_config(dir: &Path, id: i32, port: u16, zk_port: u16, extra: &str) {
    let text = format!(
        "broker.id={id}\nlisteners=PLAINTEXT://127.0.0.1:{port}\nlog.dirs={}\n\
         zookeeper.connect=127.0.0.1:{zk_port}\ngroup.initial.rebalance.delay.ms=0\n{extra}\n",
        dir.join("kafka-logs").display()
    );
    std::fs::write(dir.join("server.properties"), text).unwrap();
}

/// Starts broker `id` of a cluster whose ZooKeeper listens on `zk_port`, on a fresh port in a
/// fresh dir; returns the process and the port (restart it with [`restart_broker`]).
pub fn start_cluster_broker(id: i32, zk_port: u16, extra: &str) -> (Process, u16) {
    let port = free_port();
    let dir = tempdir::Dir::new();
    write_cluster_broker_config(dir.path(), id, port, zk_port, extra);
    (restart_broker(dir, port), port)
}

/// Stops a process cleanly (SIGTERM, as `kafka-server-stop.sh`), waits for it, and returns its
/// directory for a restart.
pub fn stop(mut process: Process) -> tempdir::Dir {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(process.child.id().to_string())
        .status();
    let _ = process.child.wait();
    process.kill9()
}
