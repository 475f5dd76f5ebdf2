//! `labnode init` as a real process: start order, logs, restart with backoff, stopped on
//! purpose stays stopped (SIGHUP starts it again), orphans reaped, reverse-order shutdown.

// Test helpers may unwrap: a failed setup step should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::Process;

fn log(dir: &Path, service: &str) -> String {
    std::fs::read_to_string(dir.join("logs").join(format!("{service}.log"))).unwrap_or_default()
}

fn starts(dir: &Path, service: &str) -> usize {
    log(dir, service).matches("=== init: starting").count()
}

fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Direct children of `pid` and their state letter (from /proc).
fn children(pid: u32) -> Vec<(u32, char, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().filter_map(Result::ok) {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid …: comm may hold spaces, so split after the last ')'.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let comm = head
            .split_once('(')
            .map(|(_, c)| c.to_owned())
            .unwrap_or_default();
        let mut fields = rest.split_whitespace();
        let state = fields.next().and_then(|s| s.chars().next()).unwrap_or('?');
        let ppid: u32 = fields.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        if ppid == pid {
            out.push((child, state, comm));
        }
    }
    out
}

fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Starts `labnode init` on a services file with this text, beside shell scripts
/// (`name`, `body`) that services run as `sh NAME` (the file format has no quoting).
fn start_init(services: &str, scripts: &[(&str, &str)]) -> Process {
    let dir = support::tempdir::Dir::new();
    std::fs::write(dir.path().join("services"), services).unwrap();
    for (name, body) in scripts {
        std::fs::write(dir.path().join(name), body).unwrap();
    }
    Process::start_in(
        dir,
        &["init", "--services", "services", "--log-dir", "logs"],
    )
}

#[test]
fn services_start_in_order_and_log_to_their_files() {
    let port = support::free_port();
    let init = start_init(
        &format!(
            "# first waits for its port\nfirst ready={port} -- python3 -m http.server {port} --bind 127.0.0.1\nsecond -- sh second.sh\n"
        ),
        &[("second.sh", "echo second-started\nexec sleep 1000\n")],
    );
    let dir = init.dir.path().to_owned();
    eventually("second to start", || {
        log(&dir, "second").contains("second-started")
    });
    // `second` starts only once `first` accepts connections on its ready port.
    let err = init.stderr();
    let first_ready = err.find("started first").expect("first started");
    let second = err.find("started second").expect("second started");
    assert!(first_ready < second, "{err}");
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    assert_eq!(
        children(init.child.id()).len(),
        2,
        "{:?}",
        children(init.child.id())
    );
}

#[test]
fn a_crashed_service_restarts_and_one_stopped_on_purpose_stays_stopped() {
    let init = start_init(
        "crasher -- sh crasher.sh\nsleeper -- sleep 1000\n",
        &[("crasher.sh", "echo boom\nexit 3\n")],
    );
    let dir = init.dir.path().to_owned();
    eventually("three starts of the crasher", || {
        starts(&dir, "crasher") >= 3
    });
    assert!(
        init.stderr().contains("crasher crashed (exit code 3)"),
        "{}",
        init.stderr()
    );
    assert!(log(&dir, "crasher").contains("boom"));

    let sleeping = || {
        children(init.child.id())
            .into_iter()
            .find(|(_, _, c)| c == "sleep")
    };
    eventually("the sleeper", || sleeping().is_some());
    signal(sleeping().unwrap().0, "-TERM");
    eventually("init to notice the stop", || {
        init.stderr().contains("sleeper stopped (signal 15)")
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        starts(&dir, "sleeper"),
        1,
        "a service stopped on purpose must stay stopped"
    );

    // SIGHUP starts it again.
    signal(init.child.id(), "-HUP");
    eventually("the sleeper to start again", || {
        starts(&dir, "sleeper") == 2
    });
}

#[test]
fn orphans_are_reaped_and_sigterm_stops_everything_in_reverse_order() {
    let mut init = start_init(
        "a -- sleep 1000\nb -- sh b.sh\n",
        &[("b.sh", "(sleep 0.2 &)\nexec sleep 1000\n")],
    );
    let pid = init.child.id();
    // The orphaned `sleep 0.2` is re-parented to init (a subreaper) and must not stay a zombie.
    eventually("two running services", || {
        children(pid)
            .iter()
            .filter(|(_, s, c)| c == "sleep" && *s != 'Z')
            .count()
            == 2
    });
    std::thread::sleep(Duration::from_secs(1));
    let zombies: Vec<_> = children(pid)
        .into_iter()
        .filter(|(_, s, _)| *s == 'Z')
        .collect();
    assert!(zombies.is_empty(), "zombies left: {zombies:?}");

    signal(pid, "-TERM");
    let status = init.child.wait().unwrap();
    assert!(status.success(), "init exit: {status}");
    let err = init.stderr();
    let b = err.find("init: b stopped").expect("b stopped");
    let a = err.find("init: a stopped").expect("a stopped");
    assert!(b < a, "reverse order expected:\n{err}");
}

#[test]
fn a_bad_services_file_is_a_clear_error() {
    let dir = support::tempdir::Dir::new();
    std::fs::write(dir.path().join("services"), "a ready=x -- sleep 1\n").unwrap();
    let mut init = Process::start_in(
        dir,
        &["init", "--services", "services", "--log-dir", "logs"],
    );
    let status = init.child.wait().unwrap();
    assert!(!status.success());
    let err = init.stderr();
    assert!(err.contains("invalid services file"), "{err}");
    assert!(
        err.contains("line 1: `ready=x`: expected ready=PORT"),
        "{err}"
    );
}

#[test]
fn jps_names_a_daemon_started_under_any_name() {
    // A labnode called through a link named `zookeeper-server-start.sh` (as in the image) is
    // the coordinator, which jps shows as `QuorumPeerMain`.
    let dir = support::tempdir::Dir::new();
    let link = dir.path().join("zookeeper-server-start.sh");
    std::os::unix::fs::symlink(support::labnode(), &link).unwrap();
    let port = support::free_port();
    let conf = dir.path().join("zookeeper.properties");
    std::fs::write(
        &conf,
        format!("dataDir={}/zk\nclientPort={port}\n", dir.path().display()),
    )
    .unwrap();
    let mut zk = Command::new(&link)
        .arg(&conf)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    support::wait_for_port(([127, 0, 0, 1], port).into(), Duration::from_secs(30));
    let out = Command::new(support::labnode())
        .arg("jps")
        .output()
        .unwrap();
    let _ = zk.kill();
    let _ = zk.wait();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("{} QuorumPeerMain\n", zk.id())),
        "{text}"
    );
    assert!(
        text.lines().last().unwrap_or_default().ends_with(" Jps"),
        "{text}"
    );
}
