//! HDFS under failures, with real processes: a datanode killed (SIGKILL) in the middle of a
//! write, its blocks re-replicated from the survivors; the namenode killed and restarted on
//! the same name directory.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{
    free_port, start_datanode, start_namenode, start_namenode_in, wait_for_live_datanodes,
};

/// GETFILEBLOCKLOCATIONS of a file: the hosts of each block.
fn block_hosts(http: u16, path: &str) -> Vec<Vec<String>> {
    let (_, body) = support::http_get(http, &format!("/webhdfs/v1{path}?op=GETFILEBLOCKLOCATIONS"));
    let v: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    v["BlockLocations"]["BlockLocation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            b["names"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h.as_str().unwrap().to_string())
                .collect()
        })
        .collect()
}

#[test]
fn a_datanode_killed_mid_write_loses_nothing_and_its_blocks_are_re_replicated() {
    let Some(py) = support::python() else { return };
    let (http, rpc) = (free_port(), free_port());
    let _nn = start_namenode(http, rpc, &[]);
    let dn_ports = [free_port(), free_port(), free_port()];
    let mut first = Some(start_datanode(dn_ports[0], rpc, &[]));
    let _second = start_datanode(dn_ports[1], rpc, &[]);
    wait_for_live_datanodes(http, 2, Duration::from_secs(30));

    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/hdfs_slow_write.py");
    let url = format!("http://127.0.0.1:{http}");
    let mut child = Command::new(py)
        .args([script.to_str().unwrap(), &url, "/faults/big.bin", "8"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "half");
    // Half the file is on its way: kill one of the two datanodes, then let the client finish.
    let first_dir = first.take().unwrap().kill9();
    writeln!(child.stdin.take().unwrap(), "go").unwrap();
    let result = lines
        .next()
        .expect("the client printed its result")
        .unwrap();
    assert!(child.wait().unwrap().success());
    let r: serde_json::Value = serde_json::from_str(&result).unwrap();
    assert_eq!(
        r["written"], r["read"],
        "the file read back is the file written"
    );

    // A third datanode joins; once the killed one is declared dead (12 s here), every block is
    // back to 2 replicas, none on the dead node.
    let _third = start_datanode(dn_ports[2], rpc, &[]);
    let dead = format!("127.0.0.1:{}", dn_ports[0]);
    let start = Instant::now();
    loop {
        let hosts = block_hosts(http, "/faults/big.bin");
        assert_eq!(hosts.len(), 8, "8 MiB in 1 MiB blocks");
        if hosts.iter().all(|h| h.len() == 2 && !h.contains(&dead)) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "not re-replicated: {hosts:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let before_return = block_hosts(http, "/faults/big.bin");

    // The killed datanode comes back with the blocks it had: those now have 3 replicas, and
    // the extra ones are dropped until every block has 2 again.
    let _back = support::start_datanode_in(first_dir, dn_ports[0], rpc, &[]);
    wait_for_live_datanodes(http, 3, Duration::from_secs(30));
    let start = Instant::now();
    loop {
        let hosts = block_hosts(http, "/faults/big.bin");
        let total: usize = hosts.iter().map(Vec::len).sum();
        if hosts.iter().all(|h| h.len() == 2) && start.elapsed() > Duration::from_secs(3) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "extra replicas kept ({total} for 8 blocks): {hosts:?}, before: {before_return:?}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let sha = support::run_python("hdfs_sha.py", &[&url, "/faults/big.bin"]).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&sha.stdout).trim(),
        r["written"].as_str().unwrap()
    );
}

#[test]
fn the_namespace_survives_a_namenode_kill_9() {
    let Some(_) = support::python() else { return };
    let (http, rpc) = (free_port(), free_port());
    let nn = start_namenode(http, rpc, &[]);
    let _dns: Vec<_> = (0..2)
        .map(|_| start_datanode(free_port(), rpc, &[]))
        .collect();
    wait_for_live_datanodes(http, 2, Duration::from_secs(30));
    let url = format!("http://127.0.0.1:{http}");
    let work = support::tempdir::Dir::new();
    let out = support::run_python(
        "hdfs_ops.py",
        &[&url, &work.path().display().to_string(), "3"],
    )
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let before = support::http_get(http, "/webhdfs/v1/lab?op=LISTSTATUS").1;
    let big_before = block_hosts(http, "/lab/big.bin");
    let big_sha = {
        let out = support::run_python("hdfs_sha.py", &[&url, "/lab/big.bin"]).unwrap();
        String::from_utf8(out.stdout).unwrap()
    };

    let dir = nn.kill9();
    let _nn = start_namenode_in(dir, http, rpc, &[]);
    wait_for_live_datanodes(http, 2, Duration::from_secs(30));
    let after = support::http_get(http, "/webhdfs/v1/lab?op=LISTSTATUS").1;
    assert_eq!(before, after, "the listing is the same after the restart");
    // Block locations come back from the datanodes' reports.
    let start = Instant::now();
    while block_hosts(http, "/lab/big.bin") != big_before {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "blocks not reported again"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // And the data reads back.
    let sha = |path: &str| {
        let out = support::run_python("hdfs_sha.py", &[&url, path]).unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(sha("/lab/big.bin"), big_sha);
    // And the restarted namenode takes new writes.
    let work2 = support::tempdir::Dir::new();
    let out = support::run_python(
        "hdfs_ops.py",
        &[&url, &work2.path().display().to_string(), "1", "/after"],
    )
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
