//! Throughput and p99 latency of create, getData and setData with 1 and 16 sessions, our
//! coordinator against Debian's Apache ZooKeeper in the same run with the same client (the
//! zookeeper-client crate), both fsyncing their transaction log; then the resident memory of
//! each server, idle after start and after the load. Prints a table of ratios.
//!
//! Run: `cargo bench -p coordinator --bench coordinator` (LAB_BENCH_SECS sets the seconds per
//! cell, 2 by default; LAB_BENCH_ROUNDS how many times each cell runs on each server, 3 by
//! default: the table shows the median throughput and the p99 of all rounds' latencies). Our server runs in a child process (this binary with `--serve`) so
//! its memory is its own.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use zookeeper_client as zk;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(pos) = args.iter().position(|a| a == "--serve") {
        let config = args.get(pos + 1).context("--serve needs a config path")?;
        return serve(Path::new(config));
    }
    let secs: u64 = std::env::var("LAB_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let rounds: usize = std::env::var("LAB_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
        .max(1);
    let java = Path::new("/usr/bin/java");
    let jar = Path::new("/usr/share/java/zookeeper.jar");
    if !java.is_file() || !jar.is_file() {
        bail!("Debian's zookeeper and java are needed (run `make setup`)");
    }
    let rt = tokio::runtime::Runtime::new()?;
    let work = std::env::temp_dir().join(format!("coordinator-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;

    // Both servers run side by side; each cell is measured on ours then on ZooKeeper, so
    // the two figures of a row come from the same minute of a shared machine.
    let ours = Server::ours(&work.join("ours"))?;
    let apache = Server::apache(java, jar, &work.join("apache"))?;
    rt.block_on(prepare(ours.port))?;
    rt.block_on(prepare(apache.port))?;
    let mut ours_rows = Vec::new();
    let mut apache_rows = Vec::new();
    let per_cell = Duration::from_secs(secs);
    for op in [Op::Create, Op::GetData, Op::SetData] {
        for sessions in [1, 16] {
            let mut o = Rounds::default();
            let mut a = Rounds::default();
            for round in 0..rounds {
                // Each round creates nodes of its own.
                let tag = format!("r{round}");
                let tag = tag.as_str();
                // Alternate who goes first, so neither always gets the quieter moment.
                if round % 2 == 0 {
                    o.add(rt.block_on(cell(ours.port, op, sessions, per_cell, tag))?);
                    a.add(rt.block_on(cell(apache.port, op, sessions, per_cell, tag))?);
                } else {
                    a.add(rt.block_on(cell(apache.port, op, sessions, per_cell, tag))?);
                    o.add(rt.block_on(cell(ours.port, op, sessions, per_cell, tag))?);
                }
            }
            ours_rows.push(o.row(op, sessions, per_cell));
            apache_rows.push(a.row(op, sessions, per_cell));
        }
    }
    let (ours_idle, apache_idle) = (ours.idle_rss, apache.idle_rss);
    let ours_loaded = rss_kib(ours.child.id())?;
    let apache_loaded = rss_kib(apache.child.id())?;
    drop(ours);
    drop(apache);
    let _ = std::fs::remove_dir_all(&work);

    println!(
        "coordinator vs Apache ZooKeeper 3.8 (Debian), fsync on, client: zookeeper-client, \
         median of {rounds} rounds of {secs} s per cell"
    );
    println!(
        "{:<8} {:>8} {:>12} {:>12} {:>7} {:>12} {:>12}",
        "op", "sessions", "ours ops/s", "zk ops/s", "ratio", "ours p99 ms", "zk p99 ms"
    );
    for (o, a) in ours_rows.iter().zip(&apache_rows) {
        println!(
            "{:<8} {:>8} {:>12.0} {:>12.0} {:>6.2}x {:>12.3} {:>12.3}",
            o.op,
            o.sessions,
            o.ops_per_sec,
            a.ops_per_sec,
            o.ops_per_sec / a.ops_per_sec.max(f64::MIN_POSITIVE),
            o.p99_ms,
            a.p99_ms
        );
    }
    println!(
        "idle RSS: ours {} KiB, zk {} KiB: {:.1}x less",
        ours_idle,
        apache_idle,
        apache_idle as f64 / ours_idle.max(1) as f64
    );
    println!(
        "RSS after the load: ours {} KiB, zk {} KiB: {:.1}x less",
        ours_loaded,
        apache_loaded,
        apache_loaded as f64 / ours_loaded.max(1) as f64
    );
    Ok(())
}

/// The child process: our coordinator on the given config until killed.
fn serve(config: &Path) -> anyhow::Result<()> {
    let config = coordinator::Config::load(config)?;
    // As `labnode coordinator` runs it.
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let server = coordinator::Server::bind(config).await?;
        server
            .run(coordinator::server::CancellationToken::new())
            .await
    })
}

/// A server process under test, killed on drop.
struct Server {
    child: Child,
    port: u16,
    idle_rss: u64,
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
        let port = free_port()?;
        let cfg = write_config(dir, port)?;
        let child = Command::new(std::env::current_exe()?)
            .arg("--serve")
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        Server::ready(child, port)
    }

    fn apache(java: &Path, jar: &Path, dir: &Path) -> anyhow::Result<Server> {
        let port = free_port()?;
        let cfg = write_config(dir, port)?;
        // The command line of Debian's zkServer.sh start-foreground.
        let child = Command::new(java)
            .arg("-cp")
            .arg(format!("/etc/zookeeper/conf:{}", jar.display()))
            .arg(format!("-Dzookeeper.log.dir={}", dir.display()))
            .arg("-Dzookeeper.root.logger=WARN,CONSOLE")
            .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        Server::ready(child, port)
    }

    /// Waits for `ruok` → `imok`, lets the process settle, and reads its idle RSS.
    fn ready(child: Child, port: u16) -> anyhow::Result<Server> {
        let mut server = Server {
            child,
            port,
            idle_rss: 0,
        };
        let start = Instant::now();
        while ruok(port) != "imok" {
            if start.elapsed() > Duration::from_secs(60) {
                bail!("server on port {port} did not start");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_secs(2));
        server.idle_rss = rss_kib(server.child.id())?;
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

/// VmRSS of a process, in KiB.
fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS")
}

/// One cell of the table.
struct Row {
    op: &'static str,
    sessions: usize,
    ops_per_sec: f64,
    p99_ms: f64,
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

async fn connect(port: u16) -> anyhow::Result<zk::Client> {
    Ok(zk::Client::connector()
        .with_session_timeout(Duration::from_secs(20))
        .connect(&format!("127.0.0.1:{port}"))
        .await?)
}

/// Creates the nodes the cells use and warms the server up (the JVM compiles its hot paths).
async fn prepare(port: u16) -> anyhow::Result<()> {
    let setup = connect(port).await?;
    let open = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    setup.create("/bench", b"", &open).await?;
    setup.create("/bench/data", &[7u8; 100], &open).await?;
    for s in 0..16 {
        setup
            .create(&format!("/bench/d{s}"), &[0u8; 100], &open)
            .await?;
    }
    for op in [Op::Create, Op::GetData, Op::SetData] {
        cell(port, op, 4, Duration::from_secs(1), "warm").await?;
    }
    Ok(())
}

/// The rounds of one cell on one server.
#[derive(Default)]
struct Rounds {
    counts: Vec<usize>,
    latencies: Vec<u64>,
}

impl Rounds {
    fn add(&mut self, (ops, latencies): (usize, Vec<u64>)) {
        self.counts.push(ops);
        self.latencies.extend(latencies);
    }

    /// Median throughput of the rounds and p99 of all their latencies.
    fn row(mut self, op: Op, sessions: usize, per_cell: Duration) -> Row {
        self.counts.sort_unstable();
        let median = self.counts.get(self.counts.len() / 2).copied().unwrap_or(0);
        Row {
            op: op.name(),
            sessions,
            ops_per_sec: median as f64 / per_cell.as_secs_f64(),
            p99_ms: percentile(self.latencies, 0.99),
        }
    }
}

/// Runs `sessions` clients doing `op` back to back for `length`; returns the operations done
/// and their latencies (µs).
async fn cell(
    port: u16,
    op: Op,
    sessions: usize,
    length: Duration,
    tag: &str,
) -> anyhow::Result<(usize, Vec<u64>)> {
    let mut clients = Vec::new();
    for _ in 0..sessions {
        clients.push(connect(port).await?);
    }
    let tag: Arc<str> = Arc::from(tag);
    let deadline = Instant::now() + length;
    let mut tasks = Vec::new();
    for (s, client) in clients.into_iter().enumerate() {
        let tag = Arc::clone(&tag);
        tasks.push(tokio::spawn(async move {
            let open = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
            let data = [1u8; 100];
            let mut latencies = Vec::new();
            let mut n = 0u64;
            while Instant::now() < deadline {
                let start = Instant::now();
                match op {
                    Op::Create => {
                        client
                            .create(&format!("/bench/{tag}-{s}-{sessions}-{n}"), &data, &open)
                            .await?;
                    }
                    Op::GetData => {
                        client.get_data("/bench/data").await?;
                    }
                    Op::SetData => {
                        client
                            .set_data(&format!("/bench/d{s}"), &data, None)
                            .await?;
                    }
                }
                latencies.push(u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX));
                n += 1;
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await??);
    }
    Ok((all.len(), all))
}

fn percentile(mut values: Vec<u64>, p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_unstable();
    let rank = ((values.len() as f64 * p).ceil() as usize).clamp(1, values.len());
    values.get(rank - 1).copied().unwrap_or(0) as f64 / 1000.0
}
