//! Throughput and p99 latency of create, getData and setData with 1 and 16 sessions, our
//! coordinator against Debian's Apache ZooKeeper in the same run with the same client (a
//! wire-level one of its own, [`session`], all sessions on one thread), both fsyncing their
//! transaction log; then the resident memory of each server, idle after start and after the
//! load. Prints a table of ratios.
//!
//! Run: `cargo bench -p labnode --bench coordinator`. Each cell runs in rounds, one on each
//! server per round, the order alternating (ours then ZooKeeper, then ZooKeeper then ours), so
//! both figures of a round come from the same moment of a shared machine. A round opens its
//! sessions, runs a warm-up that is not measured, then measures. The ratio shown is the median
//! of the rounds' ratios, with their spread (lowest..highest); the throughputs are the medians
//! of the rounds, the p99 is over all the rounds' latencies. The load average is printed before
//! and after, as the figures mean little on a busy machine; each round's figures go to stderr.
//!
//! Settings: `LAB_BENCH_SECS` measured seconds per round and server (1 by default, fractions
//! allowed), `LAB_BENCH_ROUNDS` rounds per cell (7 by default), `LAB_BENCH_ONLY` runs only the
//! cells it names, comma-separated (`setData/1,create/16`, or `create` for both of its cells).
//! Our server is the product itself: this package's `labnode coordinator`, as a node runs it
//! (its allocator, its binary), so that its throughput and its memory are what a lab gets;
//! `LABNODE` names another build of it (a `labnode` with its `labnode-coordinator` beside it).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

mod session;
use session::Session;

/// Unmeasured operations before each round's measure, so that its sessions are open and busy.
const WARM_UP: Duration = Duration::from_millis(250);

fn main() -> anyhow::Result<()> {
    let secs: f64 = std::env::var("LAB_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|s: &f64| s.is_finite() && *s > 0.0)
        .unwrap_or(1.0);
    let rounds: usize = std::env::var("LAB_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7)
        .max(1);
    let only = std::env::var("LAB_BENCH_ONLY").unwrap_or_default();
    let java = Path::new("/usr/bin/java");
    let jar = Path::new("/usr/share/java/zookeeper.jar");
    if !java.is_file() || !jar.is_file() {
        bail!("Debian's zookeeper and java are needed (run `make setup`)");
    }
    let load_before = load_average();
    // The client runs on one thread: on this machine a wake-up across CPUs costs tens of µs,
    // and a multi-threaded runtime hands each request between threads on its way out and
    // back, adding that to every round trip (the same for both servers) and taking CPU from
    // the server under test.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let work = std::env::temp_dir().join(format!("coordinator-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;

    let ours = Server::ours(&work.join("ours"))?;
    let apache = Server::apache(java, jar, &work.join("apache"))?;
    rt.block_on(prepare(ours.port))?;
    rt.block_on(prepare(apache.port))?;
    let measure = Duration::from_secs_f64(secs);
    let mut rows = Vec::new();
    for op in [Op::Create, Op::GetData, Op::SetData] {
        for sessions in [1, 16] {
            let label = format!("{}/{sessions}", op.name());
            if !only.is_empty() && !only.split(',').any(|o| o == label || o == op.name()) {
                continue;
            }
            let mut o = Rounds::default();
            let mut a = Rounds::default();
            for round in 0..rounds {
                // Each round creates nodes of its own.
                let tag = format!("r{round}");
                let (first, second) = if round % 2 == 0 {
                    (
                        ("ours", ours.port, &mut o),
                        ("ZooKeeper", apache.port, &mut a),
                    )
                } else {
                    (
                        ("ZooKeeper", apache.port, &mut a),
                        ("ours", ours.port, &mut o),
                    )
                };
                for (server, port, rounds) in [first, second] {
                    let figures = rt
                        .block_on(cell(port, op, sessions, measure, &tag))
                        .with_context(|| format!("{label} round {round} on {server}"))?;
                    rounds.add(figures);
                }
                if let (Some(ours), Some(zk)) = (o.rates.last(), a.rates.last()) {
                    eprintln!("{label} round {round}: ours {ours:.0} ops/s, zk {zk:.0} ops/s");
                }
            }
            rows.push(Row::new(op, sessions, o, a));
        }
    }
    let (ours_idle, apache_idle) = (ours.idle, apache.idle);
    let ours_loaded = Memory::of(ours.child.id())?;
    let apache_loaded = Memory::of(apache.child.id())?;
    drop(ours);
    drop(apache);
    let _ = std::fs::remove_dir_all(&work);

    println!(
        "coordinator vs Apache ZooKeeper 3.8 (Debian), fsync on, client: the bench's own, \
         {rounds} alternating rounds of {secs} s per cell and server (after {} ms of warm-up)",
        WARM_UP.as_millis()
    );
    println!(
        "load average before: {load_before}, after: {}",
        load_average()
    );
    println!(
        "{:<8} {:>8} {:>11} {:>11} {:>7} {:>13} {:>11} {:>11}",
        "op", "sessions", "ours ops/s", "zk ops/s", "ratio", "spread", "ours p99 ms", "zk p99 ms"
    );
    for row in &rows {
        println!(
            "{:<8} {:>8} {:>11.0} {:>11.0} {:>6.2}x {:>5.2}..{:<6.2} {:>11.3} {:>11.3}",
            row.op,
            row.sessions,
            row.ours_ops,
            row.zk_ops,
            row.ratio,
            row.spread.0,
            row.spread.1,
            row.ours_p99_ms,
            row.zk_p99_ms
        );
    }
    println!("{}", Memory::compare("idle", ours_idle, apache_idle));
    println!(
        "{}",
        Memory::compare("after the load", ours_loaded, apache_loaded)
    );
    Ok(())
}

/// A process's resident memory, in KiB.
#[derive(Clone, Copy, Default)]
struct Memory {
    /// VmRSS: everything resident, the binary's pages included (ours are those of the whole
    /// multi-call `labnode`, which every service of a node shares).
    rss: u64,
    /// RssAnon: the process's own memory, shared with no other.
    anon: u64,
}

impl Memory {
    /// Reads `/proc/<pid>/status`.
    fn of(pid: u32) -> anyhow::Result<Memory> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .with_context(|| format!("no {name} in /proc/{pid}/status"))
        };
        Ok(Memory {
            rss: field("VmRSS:")?,
            anon: field("RssAnon:")?,
        })
    }

    /// A line of the table's footer: both servers' figures and how many times less ours is.
    fn compare(when: &str, ours: Memory, zk: Memory) -> String {
        let less = |o: u64, z: u64| z as f64 / o.max(1) as f64;
        format!(
            "RSS {when}: ours {} KiB, zk {} KiB: {:.1}x less; of it anonymous: ours {} KiB, \
             zk {} KiB: {:.1}x less",
            ours.rss,
            zk.rss,
            less(ours.rss, zk.rss),
            ours.anon,
            zk.anon,
            less(ours.anon, zk.anon)
        )
    }
}

/// The 1, 5 and 15 minute load averages.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// A server process under test, killed on drop.
struct Server {
    child: Child,
    port: u16,
    idle: Memory,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn write_config(dir: &Path, port: u16) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let cfg = dir.join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             maxClientCnxns=0\n4lw.commands.whitelist=ruok\nadmin.enableServer=false\n",
            dir.join("data").display()
        ),
    )?;
    Ok(cfg)
}

impl Server {
    fn ours(dir: &Path) -> anyhow::Result<Server> {
        Server::start(dir, |cfg| {
            // `LABNODE` (as `make bench` sets it) names another build to measure.
            let labnode =
                std::env::var_os("LABNODE").unwrap_or_else(|| env!("CARGO_BIN_EXE_labnode").into());
            let mut command = Command::new(labnode);
            command.arg("coordinator").arg("--config").arg(cfg);
            Ok(command)
        })
    }

    fn apache(java: &Path, jar: &Path, dir: &Path) -> anyhow::Result<Server> {
        Server::start(dir, |cfg| {
            // The command line of Debian's zkServer.sh start-foreground.
            let mut command = Command::new(java);
            command
                .arg("-cp")
                .arg(format!("/etc/zookeeper/conf:{}", jar.display()))
                .arg(format!("-Dzookeeper.log.dir={}", dir.display()))
                .arg("-Dzookeeper.root.logger=WARN,CONSOLE")
                .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
                .arg(cfg);
            Ok(command)
        })
    }

    /// Writes a configuration in `dir` on a free port, runs the command `server` makes for
    /// it, without input or output, and waits until it serves.
    fn start(
        dir: &Path,
        server: impl FnOnce(&Path) -> anyhow::Result<Command>,
    ) -> anyhow::Result<Server> {
        let port = free_port()?;
        let cfg = write_config(dir, port)?;
        let child = server(&cfg)?
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        Server::ready(child, port)
    }

    /// Waits for `ruok` → `imok`, lets the process settle, and reads its idle memory.
    fn ready(child: Child, port: u16) -> anyhow::Result<Server> {
        let mut server = Server {
            child,
            port,
            idle: Memory::default(),
        };
        let start = Instant::now();
        while ruok(port) != "imok" {
            if start.elapsed() > Duration::from_secs(60) {
                bail!("server on port {port} did not start");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_secs(2));
        server.idle = Memory::of(server.child.id())?;
        Ok(server)
    }
}

fn ruok(port: u16) -> String {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = s.write_all(b"ruok");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// One cell of the table.
struct Row {
    op: &'static str,
    sessions: usize,
    ours_ops: f64,
    zk_ops: f64,
    /// Median of the rounds' ratios (ours / ZooKeeper).
    ratio: f64,
    /// Lowest and highest of the rounds' ratios.
    spread: (f64, f64),
    ours_p99_ms: f64,
    zk_p99_ms: f64,
}

impl Row {
    fn new(op: Op, sessions: usize, ours: Rounds, zk: Rounds) -> Row {
        let mut ratios: Vec<f64> = ours
            .rates
            .iter()
            .zip(&zk.rates)
            .map(|(o, a)| o / a.max(f64::MIN_POSITIVE))
            .collect();
        ratios.sort_by(f64::total_cmp);
        Row {
            op: op.name(),
            sessions,
            ours_ops: median(ours.rates.clone()),
            zk_ops: median(zk.rates.clone()),
            ratio: median(ratios.clone()),
            spread: (
                ratios.first().copied().unwrap_or(0.0),
                ratios.last().copied().unwrap_or(0.0),
            ),
            ours_p99_ms: percentile(ours.latencies, 0.99),
            zk_p99_ms: percentile(zk.latencies, 0.99),
        }
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

#[derive(Clone, Copy)]
enum Op {
    Create,
    GetData,
    SetData,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::GetData => "getData",
            Op::SetData => "setData",
        }
    }
}

/// Creates the nodes the cells use and warms the server up (the JVM compiles its hot paths).
async fn prepare(port: u16) -> anyhow::Result<()> {
    let mut setup = Session::open(port).await?;
    setup.create("/bench", b"").await?;
    setup.create("/bench/data", &[7u8; 100]).await?;
    for s in 0..16 {
        setup.create(&format!("/bench/d{s}"), &[0u8; 100]).await?;
    }
    setup.close().await?;
    for op in [Op::Create, Op::GetData, Op::SetData] {
        cell(port, op, 4, Duration::from_secs(1), "warm").await?;
    }
    Ok(())
}

/// The rounds of one cell on one server.
#[derive(Default)]
struct Rounds {
    /// Operations per second, one per round.
    rates: Vec<f64>,
    latencies: Vec<u64>,
}

impl Rounds {
    fn add(&mut self, measured: Measured) {
        self.rates
            .push(measured.latencies.len() as f64 / measured.length.as_secs_f64());
        self.latencies.extend(measured.latencies);
    }
}

/// What one round on one server measured.
struct Measured {
    /// How long the measure lasted.
    length: Duration,
    /// The latencies (µs) of the operations that started in it.
    latencies: Vec<u64>,
}

/// Opens `sessions` clients, runs `op` back to back on each through a warm-up, then measures
/// for `length`.
async fn cell(
    port: u16,
    op: Op,
    sessions: usize,
    length: Duration,
    tag: &str,
) -> anyhow::Result<Measured> {
    let mut clients = Vec::new();
    for _ in 0..sessions {
        clients.push(Session::open(port).await?);
    }
    let tag: Arc<str> = Arc::from(tag);
    let from = Instant::now() + WARM_UP;
    let until = from + length;
    let mut tasks = Vec::new();
    for (s, mut client) in clients.into_iter().enumerate() {
        let tag = Arc::clone(&tag);
        tasks.push(tokio::spawn(async move {
            let data = [1u8; 100];
            let mut latencies = Vec::new();
            let mut n = 0u64;
            loop {
                let start = Instant::now();
                if start >= until {
                    break;
                }
                match op {
                    Op::Create => {
                        client
                            .create(&format!("/bench/{tag}-{s}-{sessions}-{n}"), &data)
                            .await?;
                    }
                    Op::GetData => {
                        client.get_data("/bench/data").await?;
                    }
                    Op::SetData => {
                        client.set_data(&format!("/bench/d{s}"), &data).await?;
                    }
                }
                if start >= from {
                    latencies.push(u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX));
                }
                n += 1;
            }
            client.close().await?;
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    Ok(Measured { length, latencies })
}

fn percentile(mut values: Vec<u64>, p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_unstable();
    let rank = ((values.len() as f64 * p).ceil() as usize).clamp(1, values.len());
    values.get(rank - 1).copied().unwrap_or(0) as f64 / 1000.0
}
