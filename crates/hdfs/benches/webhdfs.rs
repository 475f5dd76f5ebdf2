//! WebHDFS write and read throughput from a host client, and the Kafka → HDFS sink's records/s,
//! against anchors measured in the same run.
//!
//! ```text
//! cargo build --release -p labnode && cargo bench -p hdfs --bench webhdfs
//! HDFS_BENCH_MB=512 SINK_BENCH_RECORDS=500000 cargo bench -p hdfs --bench webhdfs
//! ```
//!
//! Everything runs as real `labnode` processes on loopback (found at `$LABNODE`, else in
//! `target/*/release` or `target/*/debug`), all with their data in one temp dir on the same
//! disk: two HDFS clusters of a namenode and two datanodes each (replication 2, 128 MiB
//! blocks), a broker and the sink.
//! - WebHDFS: our client CREATEs one file through a namenode's HTTP port (the namenode relays
//!   the bytes to the datanodes, as in the lab where only its port is published), five
//!   rounds, medians. With replication 2 the datanodes store every byte twice on this one disk,
//!   so each write is set against the disk doing the same storage work: two files of the same
//!   size written side by side (one thread each, 1 MiB writes), as the two datanodes do.
//!   What each side syncs:
//!   - cluster 1 runs with `dfs.datanode.synconclose=true`: each datanode fsyncs every block
//!     file (and the directory entry of its rename) before it acknowledges the block, and the
//!     file is only created once all its blocks are acknowledged; its anchor fsyncs each of
//!     its two files at the end.
//!   - cluster 2 runs with Hadoop's default `dfs.datanode.synconclose=false`: blocks may still
//!     be in the page cache when the client is answered; its anchor does not fsync either.
//!   - both namenodes fsync their journal for every namespace change (the CREATE itself).
//!
//!   The file of cluster 1 is then read back (OPEN), set against the issue's original anchor:
//!   one copy of the bytes written and fsync'd.
//! - Sink (into cluster 2, configured like the lab): N records of 100 B are produced first; the
//!   sink is started and timed until HDFS holds all N. Anchor: our Kafka client consuming the
//!   same N records.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use kafka_client::{
    Client, ClientConfig, Consumer, ConsumerConfig, OffsetReset, Producer, ProducerConfig,
    ProducerRecord, TopicPartition,
};
use webhdfs_client::WebHdfs;

const TOPIC: &str = "bench";
const PARTITIONS: i32 = 3;

fn main() -> anyhow::Result<()> {
    let Some(labnode) = find_labnode() else {
        println!(
            "SKIP: no labnode binary (build it: cargo build --release -p labnode, or set LABNODE)"
        );
        return Ok(());
    };
    let mb: u64 = env_number("HDFS_BENCH_MB", 256);
    let records: usize = env_number("SINK_BENCH_RECORDS", 200_000);
    let work = std::env::temp_dir().join(format!("hdfs-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    println!(
        "labnode: {}\nwork dir: {}\n",
        labnode.display(),
        work.display()
    );
    let result = run(&labnode, &work, mb, records);
    let _ = std::fs::remove_dir_all(&work);
    result
}

fn run(labnode: &Path, work: &Path, mb: u64, records: usize) -> anyhow::Result<()> {
    let mut procs = Procs(Vec::new());
    let synced = start_cluster(labnode, &work.join("synced"), true, &mut procs)?;
    let cached = start_cluster(labnode, &work.join("cached"), false, &mut procs)?;
    let rt = tokio::runtime::Runtime::new()?;
    // Rounds interleave the cases, so a busy moment of the machine hits them all; medians.
    let mut cases: [Vec<f64>; 6] = Default::default();
    // Each timed case starts with nothing dirty in the page cache (`sync` first), so no case
    // pays for the writeback of the one before.
    for round in 0..ROUNDS {
        rustix::fs::sync();
        cases[0].push(disk_write_mb_s(work, mb, REPLICATION, true)?);
        rustix::fs::sync();
        let (w, r) = rt.block_on(webhdfs_round_trip(&synced, mb, round))?;
        cases[1].push(w);
        rustix::fs::sync();
        cases[2].push(disk_write_mb_s(work, mb, REPLICATION, false)?);
        rustix::fs::sync();
        cases[3].push(rt.block_on(webhdfs_round_trip(&cached, mb, round))?.0);
        rustix::fs::sync();
        cases[4].push(disk_write_mb_s(work, mb, 1, true)?);
        cases[5].push(r);
    }
    let [
        sync_anchor,
        sync_write,
        cache_anchor,
        cache_write,
        one_copy,
        read,
    ] = cases.map(median);
    println!(
        "WebHDFS, one {mb} MiB file, replication {REPLICATION} on one disk, 128 MiB blocks; \
         medians of {ROUNDS} rounds"
    );
    let rows = [
        ("datanodes sync each block (synconclose=true):", None),
        (
            "  anchor: disk, 2 files side by side, fsync'd",
            Some((sync_anchor, sync_anchor)),
        ),
        (
            "  WebHDFS CREATE (client → namenode → 2 DNs)",
            Some((sync_write, sync_anchor)),
        ),
        ("Hadoop's default, no sync (synconclose=false):", None),
        (
            "  anchor: disk, 2 files side by side, no fsync",
            Some((cache_anchor, cache_anchor)),
        ),
        (
            "  WebHDFS CREATE (client → namenode → 2 DNs)",
            Some((cache_write, cache_anchor)),
        ),
        ("read:", None),
        (
            "  anchor: disk, one file, fsync'd (issue's)",
            Some((one_copy, one_copy)),
        ),
        (
            "  WebHDFS OPEN (datanodes → namenode → client)",
            Some((read, one_copy)),
        ),
    ];
    println!("{:<48} {:>8} {:>8}", "case", "MB/s", "ratio");
    for (case, figures) in rows {
        match figures {
            Some((mb_s, anchor)) => println!("{case:<48} {mb_s:>8.0} {:>8.2}", mb_s / anchor),
            None => println!("{case}"),
        }
    }
    println!(
        "target: CREATE with synconclose ≥ 0.50 × the disk storing the same bytes, synced alike\n\
         (the no-sync anchor writes at memory speed: those rows show the data path's CPU cost)\n"
    );

    let kafka_port = free_port()?;
    procs.0.push(start_broker(labnode, work, kafka_port)?);
    let bootstrap = format!("127.0.0.1:{kafka_port}");
    let consume = rt.block_on(produce_then_consume(&bootstrap, records))?;
    let sink = sink_records_per_sec(labnode, work, &rt, &bootstrap, &cached, records, &mut procs)?;
    println!(
        "Kafka → HDFS sink, {records} records of 100 B, {PARTITIONS} partitions, flush.size 50000"
    );
    println!("{:<44} {:>10} {:>8}", "case", "records/s", "ratio");
    println!(
        "{:<44} {:>10.0} {:>8}",
        "anchor: kafka-client consumer, same records", consume, "1.00"
    );
    println!(
        "{:<44} {:>10.0} {:>8.2}",
        "sink: Kafka → WebHDFS files, committed",
        sink,
        sink / consume
    );
    Ok(())
}

/// Replicas of each block, as in the lab.
const REPLICATION: usize = 2;

/// Starts a namenode and `REPLICATION` datanodes under `dir`; returns the WebHDFS URL.
fn start_cluster(
    labnode: &Path,
    dir: &Path,
    sync_on_close: bool,
    procs: &mut Procs,
) -> anyhow::Result<String> {
    let (http, rpc) = (free_port()?, free_port()?);
    let cluster = Cluster {
        labnode,
        dir,
        http,
        rpc,
        sync_on_close,
    };
    procs.0.push(cluster.start_node("namenode", 0)?);
    for i in 0..REPLICATION {
        procs
            .0
            .push(cluster.start_node(&format!("datanode{i}"), free_port()?)?);
    }
    wait_live_datanodes(http, REPLICATION)?;
    Ok(format!("http://127.0.0.1:{http}"))
}

/// Child processes, killed when dropped.
struct Procs(Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn env_number<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn find_labnode() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("LABNODE") {
        return Some(PathBuf::from(p));
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target");
    [
        "x86_64-unknown-linux-gnu/release",
        "release",
        "x86_64-unknown-linux-gnu/debug",
        "debug",
    ]
    .iter()
    .map(|d| root.join(d).join("labnode"))
    .find(|p| p.is_file())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Rounds of each WebHDFS case.
const ROUNDS: usize = 5;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// An anchor: `copies` files of `mb` MiB written side by side, one thread each, sequentially
/// in 1 MiB writes, each fsync'd at the end (`sync`) or not; MB/s of one file's bytes.
fn disk_write_mb_s(work: &Path, mb: u64, copies: usize, sync: bool) -> anyhow::Result<f64> {
    let start = Instant::now();
    std::thread::scope(|s| {
        let writers: Vec<_> = (0..copies)
            .map(|i| {
                s.spawn(move || write_file(&work.join(format!("disk-anchor{i}.bin")), mb, sync))
            })
            .collect();
        writers.into_iter().try_for_each(|w| {
            w.join()
                .map_err(|_| anyhow::anyhow!("anchor writer panicked"))?
        })
    })?;
    let secs = start.elapsed().as_secs_f64();
    for i in 0..copies {
        std::fs::remove_file(work.join(format!("disk-anchor{i}.bin")))?;
    }
    Ok(mb as f64 / secs)
}

fn write_file(path: &Path, mb: u64, sync: bool) -> anyhow::Result<()> {
    use std::io::Write;
    let chunk = vec![0x5au8; 1 << 20];
    let mut f = std::fs::File::create(path)?;
    for _ in 0..mb {
        f.write_all(&chunk)?;
    }
    if sync {
        f.sync_all()?;
    }
    Ok(())
}

/// One HDFS cluster's settings, shared by its nodes.
struct Cluster<'a> {
    labnode: &'a Path,
    dir: &'a Path,
    http: u16,
    rpc: u16,
    sync_on_close: bool,
}

impl Cluster<'_> {
    /// Starts the namenode (`name == "namenode"`) or a datanode serving on `dn_port`.
    fn start_node(&self, name: &str, dn_port: u16) -> anyhow::Result<Child> {
        let dir = self.dir.join(name);
        std::fs::create_dir_all(&dir)?;
        let props = [
            ("fs.defaultFS", format!("hdfs://127.0.0.1:{}", self.rpc)),
            (
                "dfs.namenode.http-address",
                format!("127.0.0.1:{}", self.http),
            ),
            ("dfs.replication", REPLICATION.to_string()),
            (
                "dfs.namenode.name.dir",
                dir.join("name").display().to_string(),
            ),
            (
                "dfs.datanode.data.dir",
                dir.join("data").display().to_string(),
            ),
            ("dfs.datanode.http.address", format!("127.0.0.1:{dn_port}")),
            ("dfs.datanode.synconclose", self.sync_on_close.to_string()),
            ("dfs.heartbeat.interval", "1".into()),
        ];
        let mut xml = String::from("<configuration>\n");
        for (k, v) in props {
            xml.push_str(&format!(
                "<property><name>{k}</name><value>{v}</value></property>\n"
            ));
        }
        xml.push_str("</configuration>\n");
        std::fs::write(dir.join("hdfs-site.xml"), &xml)?;
        let role = if name == "namenode" {
            "namenode"
        } else {
            "datanode"
        };
        let child = Command::new(self.labnode)
            .args([role, "--config"])
            .arg(&dir)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("stderr.log"))?)
            .spawn()?;
        wait_port(if role == "namenode" {
            self.http
        } else {
            dn_port
        })?;
        Ok(child)
    }
}

fn start_broker(labnode: &Path, work: &Path, port: u16) -> anyhow::Result<Child> {
    let dir = work.join("broker");
    std::fs::create_dir_all(&dir)?;
    let config = dir.join("server.properties");
    std::fs::write(
        &config,
        format!(
            "broker.id=0\nlisteners=PLAINTEXT://127.0.0.1:{port}\nlog.dirs={}\n\
             num.partitions={PARTITIONS}\ngroup.initial.rebalance.delay.ms=0\n",
            dir.join("logs").display()
        ),
    )?;
    let child = Command::new(labnode)
        .args(["broker", "--config"])
        .arg(&config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr.log"))?)
        .spawn()?;
    wait_port(port)?;
    Ok(child)
}

fn wait_port(port: u16) -> anyhow::Result<()> {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(30),
            "port {port} never opened"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

fn wait_live_datanodes(http: u16, n: usize) -> anyhow::Result<()> {
    use std::io::{Read, Write};
    let want = format!("<th>Live Nodes</th><td>{n}</td>");
    let start = Instant::now();
    loop {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", http))?;
        write!(s, "GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
        let mut page = String::new();
        s.read_to_string(&mut page)?;
        if page.contains(&want) && page.contains("Safe mode is OFF") {
            return Ok(());
        }
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(30),
            "datanodes never came up"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// (write MB/s, read MB/s) of one file through WebHDFS.
async fn webhdfs_round_trip(url: &str, mb: u64, round: usize) -> anyhow::Result<(f64, f64)> {
    let path = format!("/bench/file{round}.bin");
    let client = WebHdfs::new(url, "bench")?;
    let chunk = bytes::Bytes::from(
        (0..1u32 << 20)
            .map(|i| (i % 251) as u8)
            .collect::<Vec<u8>>(),
    );
    let body =
        futures_util::stream::iter((0..mb).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
    let start = Instant::now();
    client
        .create(&path, reqwest::Body::wrap_stream(body), true)
        .await?;
    let write = mb as f64 / start.elapsed().as_secs_f64();
    let start = Instant::now();
    let mut stream = client.open(&path, 0, None).await?.bytes_stream();
    let mut total = 0u64;
    while let Some(c) = stream.next().await {
        total += c?.len() as u64;
    }
    let read = mb as f64 / start.elapsed().as_secs_f64();
    anyhow::ensure!(total == mb << 20, "read {total} bytes of {}", mb << 20);
    // Its blocks go at the next heartbeats, so the rounds do not pile up dirty pages.
    client.delete(&path, false).await?;
    Ok((write, read))
}

/// Produces `n` records of 100 B, then times a plain consumer reading them all: records/s.
async fn produce_then_consume(bootstrap: &str, n: usize) -> anyhow::Result<f64> {
    let client = Client::connect(bootstrap, ClientConfig::default()).await?;
    let mut producer = Producer::new(client.clone(), ProducerConfig::default()).await?;
    for i in 0..n {
        let value = format!("{i:0>100}");
        producer.send(ProducerRecord::new(TOPIC, value)).await?;
    }
    producer.flush().await?;
    let config = ConsumerConfig {
        auto_offset_reset: OffsetReset::Earliest,
        ..ConsumerConfig::default()
    };
    let mut consumer = Consumer::new(client, config);
    consumer.assign((0..PARTITIONS).map(|p| (TopicPartition::new(TOPIC, p), None)));
    let start = Instant::now();
    let mut seen = 0;
    while seen < n {
        seen += consumer.poll().await?.len();
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(300),
            "consumer stalled at {seen}"
        );
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

/// Starts the sink on the produced records and times it until HDFS holds them all.
fn sink_records_per_sec(
    labnode: &Path,
    work: &Path,
    rt: &tokio::runtime::Runtime,
    bootstrap: &str,
    url: &str,
    n: usize,
    procs: &mut Procs,
) -> anyhow::Result<f64> {
    let config = work.join("hdfs-sink.properties");
    std::fs::write(
        &config,
        format!(
            "topics={TOPIC}\ntopics.dir=/topics\nflush.size=50000\nrotate.interval.ms=1000\n\
             format=raw\nbootstrap.servers={bootstrap}\nhdfs.url={url}\n"
        ),
    )?;
    let start = Instant::now();
    procs.0.push(
        Command::new(labnode)
            .args(["sink", "--config"])
            .arg(&config)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(work.join("sink.log"))?)
            .spawn()?,
    );
    let client = WebHdfs::new(url, "bench")?;
    loop {
        let stored = rt.block_on(stored_records(&client))?;
        if stored >= n {
            return Ok(n as f64 / start.elapsed().as_secs_f64());
        }
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(600),
            "sink stalled at {stored}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Records in committed files, from the offsets in their names.
async fn stored_records(client: &WebHdfs) -> anyhow::Result<usize> {
    let mut total = 0;
    for p in 0..PARTITIONS {
        let dir = format!("/topics/{TOPIC}/partition={p}");
        let files = match client.list(&dir).await {
            Ok(f) => f,
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(e.into()),
        };
        for f in files {
            let Some((_, offsets)) = f.path_suffix.split_once(&format!("{TOPIC}+{p}+")) else {
                continue;
            };
            let offsets = offsets.trim_end_matches(".txt");
            if let Some((s, e)) = offsets.split_once('+') {
                let (s, e): (usize, usize) = (s.parse()?, e.parse()?);
                total += e - s + 1;
            }
        }
    }
    Ok(total)
}
