//! Replication cost and failover time of a three-broker cluster, measured with an independent
//! native client (rdkafka) against brokers in child processes and Debian's Apache ZooKeeper.
//!
//! ```text
//! cargo bench -p broker --bench cluster
//! ```
//!
//! - Throughput: the same number of 100-byte messages produced as fast as librdkafka batches
//!   them to a 3-partition topic with acks=1 and replication factor 1 (the anchor), then with
//!   acks=all and replication factor 3 (every record copied to two followers before the
//!   answer). Target: the replicated case at ≥ 40 % of the anchor.
//! - Failover: an idempotent acks=all producer; the leader of the partition is killed (kill -9,
//!   then a clean SIGTERM stop), and the time from the kill to the first acknowledged produce
//!   is measured. Target: ≤ zookeeper.session.timeout.ms + 2 s.
//!
//! The bench re-runs itself as each broker child (`CLUSTER_BENCH_BROKER=<config>`), so a child
//! can be killed with SIGKILL like a real broker.
//!
//! With `CLUSTER_BENCH_KEEP=1` the work directory (brokers' and ZooKeeper's logs) is kept, each
//! kill's wall-clock time is printed and the failover producer's librdkafka debug log goes to
//! stderr, so the time from a kill to the first acknowledgement can be taken apart.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::ClientConfig;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;

/// Env var that turns this executable into a broker child.
const CHILD: &str = "CLUSTER_BENCH_BROKER";
/// Env var that keeps the work directory and logs what the failover producer does.
const KEEP: &str = "CLUSTER_BENCH_KEEP";
const SESSION_TIMEOUT_MS: u64 = 2000;
const MESSAGES: usize = 200_000;
const SIZE: usize = 100;
const FAILOVERS: usize = 3;

fn main() {
    if let Ok(config) = std::env::var(CHILD) {
        run_broker(Path::new(&config));
        return;
    }
    if std::env::args().any(|a| a == "--test") {
        return; // `cargo test --benches` must not run a benchmark
    }
    let work = std::env::temp_dir().join(format!("cluster-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work).expect("temp dir");
    let Some(zk) = start_zookeeper(&work) else {
        eprintln!("SKIP: Debian's ZooKeeper (java, /usr/share/java/zookeeper.jar) is missing");
        return;
    };
    let mut brokers: Vec<BrokerChild> = (1..=3)
        .map(|id| BrokerChild::start(&work, id, zk.1))
        .collect();
    let servers = brokers
        .iter()
        .map(|b| format!("127.0.0.1:{}", b.port))
        .collect::<Vec<_>>()
        .join(",");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        wait_brokers(&servers, 3);
        create(&servers, "rf1", 1).await;
        create(&servers, "rf3", 3).await;
        wait_leaders(&servers, "rf3", 3);
        // Alternated twice, so a machine shared with other work weighs on both alike.
        let mut anchor = Vec::new();
        let mut replicated = Vec::new();
        for _ in 0..2 {
            anchor.push(throughput(&servers, "rf1", "1").await);
            replicated.push(throughput(&servers, "rf3", "all").await);
        }
        let mut kills = Vec::new();
        for round in 0..FAILOVERS * 2 {
            let clean = round % 2 == 1;
            kills.push((clean, failover(&servers, &mut brokers, clean).await));
        }
        report(&anchor, &replicated, &kills);
    });
    drop(brokers);
    drop(zk);
    if diagnosing() {
        eprintln!("work directory kept: {}", work.display());
    } else {
        let _ = std::fs::remove_dir_all(&work);
    }
}

/// True when [`KEEP`] asks for the logs.
fn diagnosing() -> bool {
    std::env::var_os(KEEP).is_some()
}

/// Milliseconds since the Unix epoch, to line the client's events up with the servers' logs.
fn wall_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// Prints librdkafka's log lines with a wall-clock time in diagnosis (else drops them, as the
/// default context does without a logger).
struct Stamped;

impl ClientContext for Stamped {
    fn log(&self, _level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        if diagnosing() {
            eprintln!("{} rdkafka {fac}: {log_message}", wall_ms());
        }
    }
}

/// Produces [`MESSAGES`] to `topic` with `acks`; returns messages per second.
async fn throughput(servers: &str, topic: &str, acks: &str) -> f64 {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", servers)
        .set("acks", acks)
        .set("linger.ms", "5")
        .set("batch.num.messages", "10000")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .expect("producer");
    let payload = vec![b'x'; SIZE];
    let start = Instant::now();
    let mut pending = Vec::with_capacity(MESSAGES);
    for i in 0..MESSAGES {
        let key = (i % 64).to_string();
        loop {
            match producer.send_result(FutureRecord::to(topic).key(&key).payload(&payload)) {
                Ok(f) => {
                    pending.push(f);
                    break;
                }
                Err((_, _)) => tokio::time::sleep(Duration::from_millis(1)).await,
            }
        }
    }
    let mut ok = 0usize;
    for f in pending {
        if let Ok(Ok(_)) = f.await {
            ok += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(
        ok, MESSAGES,
        "every message acknowledged ({topic}, acks={acks})"
    );
    MESSAGES as f64 / secs
}

/// Kills (or stops) the leader of `rf3`/0 while an idempotent acks=all producer sends one
/// message at a time; returns the time from the kill to the first acknowledgement of a message
/// sent after it, then restarts the broker and waits for the full ISR.
async fn failover(servers: &str, brokers: &mut [BrokerChild], clean: bool) -> Duration {
    let mut config = ClientConfig::new();
    if diagnosing() {
        config
            .set("debug", "broker,topic,metadata,msg,eos")
            .set_log_level(RDKafkaLogLevel::Debug);
    }
    let producer: FutureProducer<Stamped> = config
        .set("bootstrap.servers", servers)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", "0")
        // Short client backoffs. librdkafka re-queries the leader of a partition whose broker
        // is down only on its 1 s topic scan, and when one answer both drops the lost broker
        // and names the new leader it may park the partition until the next scan (its debug
        // log: "Reverting from preferred replica 2 to leader -1"): up to 2 s of each figure
        // were the client's while the cluster had the new leader ~20 ms after the session
        // expired. A periodic refresh every 200 ms stands in for what the Java client does
        // (it asks for metadata again after each failed connection to the leader).
        .set("topic.metadata.refresh.interval.ms", "200")
        .set("retry.backoff.ms", "50")
        .set("retry.backoff.max.ms", "200")
        .set("reconnect.backoff.max.ms", "200")
        .set("message.timeout.ms", "60000")
        .create_with_context(Stamped)
        .expect("producer");
    let send = |i: usize| {
        let producer = producer.clone();
        async move {
            let value = i.to_string();
            producer
                .send(
                    FutureRecord::to("rf3")
                        .partition(0)
                        .key("k")
                        .payload(&value),
                    Duration::from_secs(60),
                )
                .await
        }
    };
    for i in 0..50 {
        send(i).await.expect("a produce before the kill");
    }
    let leader = leaders(servers, "rf3")
        .and_then(|l| l.first().copied())
        .expect("a leader");
    let victim = brokers
        .iter_mut()
        .find(|b| b.id == leader)
        .expect("the leader's process");
    let killed = Instant::now();
    if diagnosing() {
        eprintln!(
            "{} bench: stopping broker {leader} (clean: {clean})",
            wall_ms()
        );
    }
    if clean {
        victim.stop();
    } else {
        victim.kill();
    }
    send(50).await.expect("a produce after the kill");
    let took = killed.elapsed();
    if diagnosing() {
        eprintln!("{} bench: first acknowledgement after {took:?}", wall_ms());
    }
    producer.flush(Duration::from_secs(10)).expect("flush");
    victim.restart();
    wait_leaders(servers, "rf3", 3);
    took
}

fn report(anchors: &[f64], runs: &[f64], kills: &[(bool, Duration)]) {
    println!("\nruns (msg/s): acks=1 RF=1 {anchors:.0?}, acks=all RF=3 {runs:.0?}");
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let (anchor, replicated) = (mean(anchors), mean(runs));
    let ratio = replicated / anchor;
    println!("cluster bench: 3 brokers (child processes), Apache ZooKeeper, rdkafka client");
    println!(
        "{:<48} {:>14} {:>10} {:>8}",
        "case", "value", "ratio", "target"
    );
    println!(
        "{:<48} {:>10.0} m/s {:>10} {:>8}",
        "produce 100 B, acks=1, RF=1 (anchor, mean of 2)", anchor, "1.00", ""
    );
    println!(
        "{:<48} {:>10.0} m/s {:>10.2} {:>8}",
        "produce 100 B, acks=all, RF=3 (mean of 2)", replicated, ratio, "≥ 0.40"
    );
    let budget = Duration::from_millis(SESSION_TIMEOUT_MS) + Duration::from_secs(2);
    for (clean, took) in kills {
        let how = if *clean { "clean stop" } else { "kill -9" };
        println!(
            "{:<48} {:>12.2} s {:>10.2} {:>8}",
            format!("leader {how} → first acknowledged produce"),
            took.as_secs_f64(),
            took.as_secs_f64() / budget.as_secs_f64(),
            "≤ 1.00"
        );
    }
    println!(
        "(failover ratios are against the session timeout {} ms + 2 s)",
        SESSION_TIMEOUT_MS
    );
}

/// Creates `topic` (3 partitions). Retried: right after the brokers register, Metadata may
/// name no controller yet, and librdkafka's admin client then waits without asking again.
async fn create(servers: &str, topic: &str, rf: i32) {
    for _ in 0..5 {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", servers)
            .create()
            .expect("admin");
        let r = admin
            .create_topics(
                &[NewTopic::new(topic, 3, TopicReplication::Fixed(rf))],
                &AdminOptions::new().operation_timeout(Some(Duration::from_secs(5))),
            )
            .await;
        match r.as_deref() {
            Ok([Ok(_)]) | Ok([Err((_, RDKafkaErrorCode::TopicAlreadyExists))]) => return,
            other => eprintln!("creating {topic}: {other:?}; again"),
        }
    }
    panic!("cannot create {topic}");
}

/// The leader of each partition, if all have one.
fn leaders(servers: &str, topic: &str) -> Option<Vec<i32>> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", servers)
        .create()
        .ok()?;
    let md = c.fetch_metadata(Some(topic), Duration::from_secs(5)).ok()?;
    let t = md.topics().iter().find(|t| t.name() == topic)?;
    let leaders: Vec<i32> = t.partitions().iter().map(|p| p.leader()).collect();
    (!leaders.is_empty() && leaders.iter().all(|l| *l >= 0)).then_some(leaders)
}

/// Waits until every partition of `topic` has a leader and `isr` in-sync replicas.
fn wait_leaders(servers: &str, topic: &str, isr: usize) {
    let start = Instant::now();
    loop {
        let c: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", servers)
            .create()
            .expect("client");
        let ok = c
            .fetch_metadata(Some(topic), Duration::from_secs(5))
            .ok()
            .and_then(|md| {
                let t = md.topics().iter().find(|t| t.name() == topic)?;
                Some(
                    !t.partitions().is_empty()
                        && t.partitions()
                            .iter()
                            .all(|p| p.leader() >= 0 && p.isr().len() == isr),
                )
            })
            .unwrap_or(false);
        if ok {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{topic}: ISR of {isr}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn wait_brokers(servers: &str, n: usize) {
    let start = Instant::now();
    loop {
        let c: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", servers)
            .create()
            .expect("client");
        if c.fetch_metadata(None, Duration::from_secs(5))
            .is_ok_and(|md| md.brokers().len() == n)
        {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{n} brokers register"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One broker child process.
struct BrokerChild {
    id: i32,
    port: u16,
    config: PathBuf,
    child: Option<Child>,
}

impl BrokerChild {
    fn start(work: &Path, id: i32, zk_port: u16) -> BrokerChild {
        let port = free_port();
        let dir = work.join(format!("broker-{id}"));
        std::fs::create_dir_all(&dir).expect("broker dir");
        let config = dir.join("server.properties");
        std::fs::write(
            &config,
            format!(
                "broker.id={id}\nlisteners=PLAINTEXT://127.0.0.1:{port}\nlog.dirs={}\n\
                 zookeeper.connect=127.0.0.1:{zk_port}\n\
                 zookeeper.session.timeout.ms={SESSION_TIMEOUT_MS}\n\
                 replica.lag.time.max.ms=5000\nmin.insync.replicas=2\n",
                dir.join("logs").display()
            ),
        )
        .expect("config");
        let mut b = BrokerChild {
            id,
            port,
            config,
            child: None,
        };
        b.restart();
        b
    }

    fn restart(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.config.with_file_name("broker.log"))
            .expect("log");
        let child = Command::new(std::env::current_exe().expect("own path"))
            .env(CHILD, &self.config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("broker child");
        self.child = Some(child);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let start = Instant::now();
        while TcpStream::connect(addr).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "broker {} starts",
                self.id
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let _ = c.wait();
        }
    }
}

impl Drop for BrokerChild {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Debian's ZooKeeper process, killed on drop (also when the bench panics).
struct ZooKeeper(Child, u16);

impl Drop for ZooKeeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Debian's ZooKeeper (`ZooKeeperServerMain`), with its port.
fn start_zookeeper(work: &Path) -> Option<ZooKeeper> {
    let jar = Path::new("/usr/share/java/zookeeper.jar");
    if !jar.is_file() || !Path::new("/usr/bin/java").is_file() {
        return None;
    }
    let port = free_port();
    let cfg = work.join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=500\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             admin.enableServer=false\n",
            work.join("zk").display()
        ),
    )
    .ok()?;
    let log = std::fs::File::create(work.join("zookeeper.log")).ok()?;
    let child = Command::new("/usr/bin/java")
        .arg("-cp")
        .arg(format!("/etc/zookeeper/conf:{}", jar.display()))
        .arg("org.apache.zookeeper.server.ZooKeeperServerMain")
        .arg(&cfg)
        .stdin(Stdio::null())
        .stdout(log.try_clone().ok()?)
        .stderr(log)
        .spawn()
        .ok()?;
    let zk = ZooKeeper(child, port);
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "ZooKeeper starts"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(zk)
}

/// The child: one broker until SIGTERM.
fn run_broker(config: &Path) {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
    let config = broker::config::BrokerConfig::load(config, &[]).expect("broker config");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let server = broker::BrokerServer::bind(config)
            .await
            .expect("broker start");
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("signal handler");
        server
            .run(async move {
                term.recv().await;
            })
            .await;
    });
}
