//! Debian's `zkCli.sh` against a real `labnode coordinator`: ls, create -e -s, get, set, stat,
//! delete, deleteall, getEphemerals, addWatch, in one session fed on stdin.

// Test helpers outside #[test] functions: a panic there is the test failing, as intended.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

fn zkcli(port: u16, commands: &str) -> Option<String> {
    let cli = support::zk_cli()?;
    // zkCli prints results on stderr and events on stdout: one stream keeps their order.
    let mut child = Command::new("sh")
        .args(["-c", "exec \"$0\" \"$@\" 2>&1"])
        .arg(cli)
        .args(["-server", &format!("127.0.0.1:{port}")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(commands.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn zkcli_session_commands() {
    let (server, port) = support::start_coordinator("");
    let script = "create /zc first\n\
                  create -e -s /zc/e- v\n\
                  getEphemerals\n\
                  addWatch -m PERSISTENT_RECURSIVE /zc\n\
                  create /zc/x\n\
                  set /zc/x 2\n\
                  get /zc/x\n\
                  delete /zc/x\n\
                  set /zc second\n\
                  get /zc\n\
                  stat /zc\n\
                  ls /zc\n\
                  deleteall /zc\n\
                  ls /\n\
                  quit\n";
    let Some(out) = zkcli(port, script) else {
        return;
    };
    let expect = [
        "Created /zc\n",
        "Created /zc/e-0000000000\n",
        "[/zc/e-0000000000]\n",
        "WatchedEvent state:SyncConnected type:NodeCreated path:/zc/x\n",
        "WatchedEvent state:SyncConnected type:NodeDataChanged path:/zc/x\n",
        "WatchedEvent state:SyncConnected type:NodeDeleted path:/zc/x\n",
        "\nsecond\n",
        "cversion = 3\n",
        "dataVersion = 1\n",
        "numChildren = 1\n",
        "[e-0000000000]\n",
        "WatchedEvent state:SyncConnected type:NodeDeleted path:/zc\n",
        "[zookeeper]\n",
    ];
    let mut from = 0;
    for line in expect {
        match out.get(from..).and_then(|rest| rest.find(line)) {
            Some(at) => from += at + line.len(),
            None => panic!(
                "zkCli output lacks {line:?} (in order):\n{out}\nserver:\n{}",
                server.stderr()
            ),
        }
    }
    assert!(!out.contains("ConnectionLoss"), "{out}");
}

#[test]
fn zkcli_one_shot_commands() {
    let (_server, port) = support::start_coordinator("");
    let Some(cli) = support::zk_cli() else { return };
    let run = |args: &[&str]| {
        let out = Command::new(&cli)
            .args(["-server", &format!("127.0.0.1:{port}")])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    };
    assert!(run(&["create", "/one", "v1"]).contains("Created /one"));
    assert!(run(&["get", "/one"]).contains("\nv1\n"));
    run(&["set", "/one", "v2"]);
    assert!(run(&["stat", "/one"]).contains("dataVersion = 1"));
    assert!(run(&["ls", "/"]).contains("[one, zookeeper]"));
    let out = run(&["delete", "/one"]);
    assert!(!out.contains("Node does not exist"), "{out}");
    assert!(run(&["get", "/one"]).contains("Node does not exist: /one"));
}
