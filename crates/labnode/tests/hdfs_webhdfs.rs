//! HDFS through real WebHDFS clients: a real `labnode namenode` and two `labnode datanode`
//! processes, driven by HdfsCLI (the `hdfs` package) and by raw HTTP for what must be refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::time::Duration;

use support::{free_port, start_datanode, start_namenode, wait_for_live_datanodes};

/// A namenode and two datanodes on free ports.
struct Cluster {
    http: u16,
    _namenode: support::Process,
    _datanodes: Vec<support::Process>,
}

fn cluster() -> Cluster {
    let (http, rpc) = (free_port(), free_port());
    let namenode = start_namenode(http, rpc, &[]);
    let datanodes = (0..2)
        .map(|_| start_datanode(free_port(), rpc, &[]))
        .collect();
    wait_for_live_datanodes(http, 2, Duration::from_secs(30));
    Cluster {
        http,
        _namenode: namenode,
        _datanodes: datanodes,
    }
}

#[test]
fn hdfscli_every_operation_and_a_20mb_round_trip() {
    let Some(_) = support::python() else { return };
    let c = cluster();
    let work = support::tempdir::Dir::new();
    let url = format!("http://127.0.0.1:{}", c.http);
    let out = support::run_python(
        "hdfs_ops.py",
        &[&url, &work.path().display().to_string(), "21"],
    )
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "hdfs_ops.py failed:\n{stderr}");
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    assert_eq!(r["home"], "/user/student/rel");
    assert_eq!(r["dir_status"]["type"], "DIRECTORY");
    assert_eq!(r["dir_status"]["permission"], "750");
    assert_eq!(r["dir_status"]["owner"], "student");
    assert_eq!(r["small_ok"], true);
    assert_eq!(r["range"], "webhdfs");
    assert_eq!(r["exists_error"], "FileAlreadyExistsException");
    assert_eq!(r["appended"], "new+more");
    assert_eq!(r["big_sha_ok"], true);
    assert_eq!(r["big_len"], 21 * 1024 * 1024 + 12345);
    assert_eq!(r["cross_block_range_ok"], true);

    let names: Vec<&str> = r["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "big.bin", "small.txt"]);
    assert_eq!(r["content"]["fileCount"], 2);
    assert_eq!(r["content"]["length"], 21 * 1024 * 1024 + 12345 + 8);
    assert_eq!(
        r["content"]["spaceConsumed"],
        (21 * 1024 * 1024 + 12345 + 8) * 2
    );

    // 1 MiB blocks: 22 of them, each on both datanodes.
    let locations = r["locations"].as_array().unwrap();
    assert_eq!(locations.len(), 22);
    for (i, l) in locations.iter().enumerate() {
        assert_eq!(l["offset"], i as u64 * 1024 * 1024);
        assert_eq!(l["hosts"].as_array().unwrap().len(), 2, "{l}");
    }
    assert!(
        r["locations_content_type"].is_null(),
        "JSON replies carry no Content-Type"
    );

    let s = &r["renamed_status"];
    assert_eq!(s["permission"], "600");
    assert_eq!(s["owner"], "alice");
    assert_eq!(s["group"], "staff");
    assert_eq!(s["modificationTime"], 1000);
    assert_eq!(s["replication"], 1);
    assert_eq!(s["length"], 8);
    assert!(!r["rename_missing_error"].is_null());
    assert_eq!(
        r["delete_nonempty_error"],
        "PathIsNotEmptyDirectoryException"
    );
    assert_eq!(r["delete_recursive"], true);
    assert_eq!(r["delete_missing"], false);
    assert!(r["missing_status"].is_null());
    assert_eq!(r["open_missing_error"], "FileNotFoundException");
    assert_eq!(r["odd_name"], "odd");
}

#[test]
fn bad_paths_and_parameters_are_refused_with_remote_exceptions() {
    let c = cluster();
    let cases = [
        (
            "/webhdfs/v1/a/../b?op=GETFILESTATUS",
            "400",
            "IllegalArgumentException",
        ),
        (
            "/webhdfs/v1/a/%2e%2e/b?op=GETFILESTATUS",
            "400",
            "IllegalArgumentException",
        ),
        (
            "/webhdfs/v1/a%2F..%2F..%2Fetc?op=LISTSTATUS",
            "400",
            "IllegalArgumentException",
        ),
        (
            "/webhdfs/v1/a%00b?op=GETFILESTATUS",
            "400",
            "IllegalArgumentException",
        ),
        (
            "/webhdfs/v1/%ff?op=GETFILESTATUS",
            "400",
            "IllegalArgumentException",
        ),
        (
            "/webhdfs/v1/x?op=NOSUCHOP",
            "400",
            "UnsupportedOperationException",
        ),
        ("/webhdfs/v1/x?op=MKDIRS", "400", "IllegalArgumentException"),
        (
            "/webhdfs/v1/x?op=LISTSTATUS",
            "404",
            "FileNotFoundException",
        ),
        (
            "/webhdfs/v1/x?op=OPEN&offset=-1",
            "400",
            "IllegalArgumentException",
        ),
        (
            "/webhdfs/v1/x?op=GETFILESTATUS&user.name=a%0Ab",
            "400",
            "IllegalArgumentException",
        ),
    ];
    for (target, status, exception) in cases {
        let (line, body) = support::http_get(c.http, target);
        assert!(line.contains(status), "{target}: {line} {body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        assert_eq!(
            v["RemoteException"]["exception"], exception,
            "{target}: {body}"
        );
    }
    // Booleans arrive capitalised from Java clients.
    let (line, body) = support::http_get(c.http, "/webhdfs/v1/x?op=DELETE&recursive=True");
    assert!(line.contains("400"), "DELETE is not a GET: {line} {body}");
    // An oversized query is refused, not read.
    let long = format!("/webhdfs/v1/x?op=GETFILESTATUS&junk={}", "a".repeat(20_000));
    let (line, _) = support::http_get(c.http, &long);
    assert!(line.contains("400") || line.contains("431"), "{line}");
    // The status page.
    let (line, page) = support::http_get(c.http, "/dfshealth.html");
    assert!(line.contains("200"), "{line}");
    assert!(page.contains("<th>Live Nodes</th><td>2</td>"), "{page}");
}
