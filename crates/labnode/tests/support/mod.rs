//! Shared helpers of the node-side integration tests: start a real `labnode` process, find free
//! ports, locate the real clients (kcat, Python clients in the venv, zkCli.sh), and apply the rule
//! that a test needing a missing client skips with a reason locally but fails under `CI=true`.
#![allow(dead_code, unreachable_pub, missing_docs)]

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
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits until something accepts TCP connections on `addr`, or panics after `timeout`.
pub fn wait_for_port(addr: SocketAddr, timeout: Duration) {
    let start = Instant::now();
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(start.elapsed() < timeout, "nothing listens on {addr} after {timeout:?}");
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
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients").join(script);
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
        let out = std::fs::File::create(dir.path().join("stdout.log")).unwrap();
        let err = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
        let child = Command::new(labnode())
            .args(args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap();
        Process { child, dir }
    }

    /// Kills the process with SIGKILL and waits for it; returns its directory for a restart.
    pub fn kill9(mut self) -> tempdir::Dir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let dir = std::mem::replace(&mut self.dir, tempdir::Dir::detached());
        dir
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
