//! HDFS through two more clients: OpenDAL's webhdfs service (a Rust WebHDFS client written by
//! others, with its `noredirect` two-step writes and LISTSTATUS_BATCH) and our own
//! `hdfs dfs` shell, run as the TP runs it, configured by `HADOOP_CONF_DIR`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::process::Command;
use std::time::Duration;

use support::{free_port, start_datanode, start_namenode, wait_for_live_datanodes};

struct Cluster {
    http: u16,
    rpc: u16,
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
        rpc,
        _namenode: namenode,
        _datanodes: datanodes,
    }
}

/// Deterministic bytes that differ block to block.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 4093) as u8).collect()
}

#[test]
fn opendal_webhdfs_round_trip() {
    let c = cluster();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        opendal::install_default();
        let builder = opendal::services::Webhdfs::default()
            .endpoint(&format!("http://127.0.0.1:{}", c.http))
            .user_name("rustacean")
            .root("/dal");
        let op = opendal::Operator::new(builder).unwrap();
        let data = pattern(3 * 1024 * 1024 + 17);
        op.create_dir("in/").await.unwrap();
        op.write("in/data.bin", data.clone()).await.unwrap();
        op.write("in/small.txt", "small").await.unwrap();
        let back = op.read("in/data.bin").await.unwrap().to_vec();
        assert!(back == data, "the 3 MiB file reads back identical");
        let part = op
            .read_with("in/data.bin")
            .range(1_048_570..1_048_590)
            .await
            .unwrap();
        assert_eq!(part.to_vec(), data[1_048_570..1_048_590].to_vec());
        let meta = op.stat("in/data.bin").await.unwrap();
        assert_eq!(meta.content_length(), data.len() as u64);
        let mut names: Vec<String> = op
            .list("in/")
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.name().to_string())
            .collect();
        names.sort();
        assert!(
            names.contains(&"data.bin".to_string()) && names.contains(&"small.txt".to_string()),
            "{names:?}"
        );
        // OpenDAL writes with overwrite=true.
        op.write("in/small.txt", "replaced").await.unwrap();
        assert_eq!(op.read("in/small.txt").await.unwrap().to_vec(), b"replaced");
        op.delete("in/data.bin").await.unwrap();
        assert!(!op.exists("in/data.bin").await.unwrap());
        let missing = op.read("in/nope").await.unwrap_err();
        assert_eq!(missing.kind(), opendal::ErrorKind::NotFound);
    });
}

#[test]
fn hdfs_dfs_shell_commands() {
    let c = cluster();
    let conf = support::tempdir::Dir::new();
    support::write_hadoop_config(
        conf.path(),
        &[
            ("fs.defaultFS".into(), format!("hdfs://127.0.0.1:{}", c.rpc)),
            (
                "dfs.namenode.http-address".into(),
                format!("0.0.0.0:{}", c.http),
            ),
        ],
    );
    let dfs = |args: &[&str]| {
        let out = Command::new(support::labnode())
            .arg("hdfs")
            .arg("dfs")
            .args(args)
            .env("HADOOP_CONF_DIR", conf.path())
            .env("HADOOP_USER_NAME", "student")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let local = conf.path().join("words.txt");
    std::fs::write(&local, "Hello-Kafka\nbonjour\n").unwrap();
    let local = local.display().to_string();

    assert_eq!(
        dfs(&["-mkdir", "/tp/in"]).0,
        Some(1),
        "no -p: the parent must exist"
    );
    assert_eq!(dfs(&["-mkdir", "-p", "/tp/in"]).0, Some(0));
    let (code, _, err) = dfs(&["-put", &local, "/tp/in"]);
    assert_eq!(code, Some(0), "{err}");
    let (code, _, err) = dfs(&["-put", &local, "/tp/in"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("File exists"), "{err}");
    assert_eq!(dfs(&["-put", "-f", &local, "/tp/in/words.txt"]).0, Some(0));
    let (code, out, _) = dfs(&["-cat", "/tp/in/words.txt"]);
    assert_eq!((code, out.as_str()), (Some(0), "Hello-Kafka\nbonjour\n"));
    let (code, out, _) = dfs(&["-ls", "/tp/in"]);
    assert_eq!(code, Some(0));
    assert!(out.starts_with("Found 1 items\n"), "{out}");
    assert!(out.contains("-rw-r--r--   2 student supergroup"), "{out}");
    assert!(out.trim_end().ends_with("/tp/in/words.txt"), "{out}");
    let (_, out, _) = dfs(&["-du", "-s", "/tp"]);
    assert!(out.starts_with("20 "), "{out}");
    assert!(out.contains(" 40 "), "20 bytes, 40 with replicas: {out}");
    let (_, out, _) = dfs(&["-tail", "/tp/in/words.txt"]);
    assert_eq!(out, "Hello-Kafka\nbonjour\n");
    let got = conf.path().join("got.txt");
    assert_eq!(
        dfs(&["-get", "/tp/in/words.txt", &got.display().to_string()]).0,
        Some(0)
    );
    assert_eq!(
        std::fs::read_to_string(&got).unwrap(),
        "Hello-Kafka\nbonjour\n"
    );
    let (code, _, err) = dfs(&["-rm", "/tp/in"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("Is a directory"), "{err}");
    let (code, out, _) = dfs(&["-rm", "-r", "/tp"]);
    assert_eq!((code, out.as_str()), (Some(0), "Deleted /tp\n"));
    let (code, _, err) = dfs(&["-ls", "/tp"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("No such file or directory"), "{err}");
}
