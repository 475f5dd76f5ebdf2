//! The sink configured the TP's way, by `zookeeper.connect` (it finds the brokers registered
//! in our coordinator), writing `format=json` lines: key, value, partition, offset, timestamp.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::time::{Duration, Instant};

use support::{
    free_port, start_broker, start_coordinator, start_datanode, start_namenode,
    wait_for_live_datanodes,
};

#[test]
fn the_sink_finds_kafka_through_zookeeper_and_writes_json_lines() {
    let Some(_) = support::python() else { return };
    let (_zk, zk_port) = start_coordinator("");
    let (_broker, kafka_port) = start_broker(&format!("zookeeper.connect=127.0.0.1:{zk_port}"));
    let (http, rpc) = (free_port(), free_port());
    let _nn = start_namenode(http, rpc, &[]);
    let _dns: Vec<_> = (0..2)
        .map(|_| start_datanode(free_port(), rpc, &[]))
        .collect();
    wait_for_live_datanodes(http, 2, Duration::from_secs(30));

    let dir = support::tempdir::Dir::new();
    let config = dir.path().join("hdfs-sink.properties");
    std::fs::write(
        &config,
        format!(
            "topics=zk-json\nflush.size=40\nrotate.interval.ms=500\nformat=json\n\
             zookeeper.connect=127.0.0.1:{zk_port}\nhdfs.url=webhdfs://127.0.0.1:{http}\n"
        ),
    )
    .unwrap();
    let _sink = support::Process::start_in(dir, &["sink", "--config", config.to_str().unwrap()]);
    let bootstrap = format!("127.0.0.1:{kafka_port}");
    let out =
        support::run_python("sink_produce.py", &[&bootstrap, "zk-json", "2", "100", "1"]).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let url = format!("http://127.0.0.1:{http}");
    let start = Instant::now();
    let v = loop {
        let out = support::run_python("hdfs_sink_check.py", &[&url, "/topics", "zk-json"]).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let n: usize = v["lines"]
            .as_object()
            .map_or(0, |m| m.values().map(|l| l.as_array().unwrap().len()).sum());
        if n >= 100 {
            break v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "{n} of 100 records in HDFS"
        );
        std::thread::sleep(Duration::from_secs(1));
    };
    let mut values = Vec::new();
    for (part, lines) in v["lines"].as_object().unwrap() {
        let p: i64 = part.strip_prefix("partition=").unwrap().parse().unwrap();
        for (i, line) in lines.as_array().unwrap().iter().enumerate() {
            let rec: serde_json::Value = serde_json::from_str(line.as_str().unwrap()).unwrap();
            assert_eq!(rec["topic"], "zk-json");
            assert_eq!(rec["partition"], p);
            assert_eq!(rec["offset"], i as i64, "offsets in order from 0");
            assert!(rec["timestamp"].as_i64().unwrap() > 0);
            assert!(rec["key"].is_null());
            values.push(rec["value"].as_str().unwrap().to_string());
        }
        for f in v["files"][part].as_array().unwrap() {
            assert!(f.as_str().unwrap().ends_with(".json"), "{f}");
        }
    }
    values.sort();
    let expected: Vec<String> = (0..100).map(|i| format!("msg-{i:06}")).collect();
    assert_eq!(values, expected);
}
