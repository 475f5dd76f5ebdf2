//! `start-kafka-zookeeper.sh`: the TP image's helper script. Starts ZooKeeper (our coordinator)
//! with `$KAFKA_HOME/config/zookeeper.properties`, waits until it opens a session, then Kafka (our
//! broker) with `$KAFKA_HOME/config/server.properties`, waits until it answers ApiVersions; both
//! in the background with their output in `$KAFKA_HOME/logs/`. Running it again says what is
//! already running instead of starting a second copy.

use std::path::{Path, PathBuf};
use std::process::{Child, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use kafka_client::{Connection, ConnectionConfig};
use tokio::net::TcpStream;

use super::{kafka_home, props};

/// Options of `start-kafka-zookeeper.sh`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// How long to wait for each service to answer.
    #[arg(long, default_value_t = 60)]
    wait_seconds: u64,
}

/// One of the two services this script starts.
#[derive(Debug)]
struct Service {
    /// The name students know (`ZooKeeper`, `Kafka`).
    name: &'static str,
    /// The labnode subcommand that runs it.
    command: &'static str,
    config: PathBuf,
    log: PathBuf,
    addr: String,
}

/// Runs `start-kafka-zookeeper.sh`.
pub(crate) async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let home = kafka_home();
    let zk_config = home.join("config/zookeeper.properties");
    let kafka_config = home.join("config/server.properties");
    let services = [
        Service {
            name: "ZooKeeper",
            command: "coordinator",
            addr: props::zookeeper_address(&props::read_file(&zk_config)?),
            config: zk_config,
            log: home.join("logs/zookeeper.out"),
        },
        Service {
            name: "Kafka",
            command: "broker",
            addr: props::broker_address(&props::read_file(&kafka_config)?),
            config: kafka_config,
            log: home.join("logs/kafkaServer.out"),
        },
    ];
    let wait = Duration::from_secs(args.wait_seconds);
    for s in &services {
        if answers(s).await? {
            println!("{} is already running on {}.", s.name, s.addr);
            continue;
        }
        println!(
            "Starting {} with {} (log: {})",
            s.name,
            s.config.display(),
            s.log.display()
        );
        let mut child = spawn(s)?;
        if let Err(e) = wait_until_ready(s, &mut child, wait).await {
            // Leave nothing half-started behind: a later run starts afresh.
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
        println!("{} started on {} (pid {}).", s.name, s.addr, child.id());
    }
    Ok(ExitCode::SUCCESS)
}

/// True when the service answers on its address: a ZooKeeper session, or ApiVersions.
/// An error when something else holds the port.
async fn answers(s: &Service) -> anyhow::Result<bool> {
    if s.command == "broker" {
        let config = ConnectionConfig {
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(5),
            ..ConnectionConfig::default()
        };
        return match Connection::open(&s.addr, &config).await {
            Ok(_) => Ok(true),
            Err(kafka_client::Error::Connect { .. }) => Ok(false),
            Err(e) => bail!("{} does not answer like a Kafka broker: {e}", s.addr),
        };
    }
    if tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(&s.addr))
        .await
        .map_or(true, |r| r.is_err())
    {
        return Ok(false);
    }
    // A session handshake, not `ruok`: Kafka's zookeeper.properties does not whitelist the
    // four-letter words, and ZooKeeper 3.5+ only answers `srvr` by default.
    let connector = zookeeper_client::Client::connector()
        .with_connection_timeout(Duration::from_secs(3))
        .with_session_timeout(Duration::from_secs(6));
    match tokio::time::timeout(Duration::from_secs(5), connector.connect(&s.addr)).await {
        Ok(Ok(_session)) => Ok(true),
        _ => bail!("{} is in use, but not by a ZooKeeper server", s.addr),
    }
}

/// Starts `labnode <command> --config <file>` in its own process group, output to its log.
fn spawn(s: &Service) -> anyhow::Result<Child> {
    use std::os::unix::process::CommandExt;
    if let Some(dir) = s.log.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&s.log)
        .with_context(|| format!("cannot open {}", s.log.display()))?;
    let exe = std::env::current_exe().context("cannot find the labnode binary")?;
    std::process::Command::new(exe)
        .arg(s.command)
        .arg("--config")
        .arg(&s.config)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .with_context(|| format!("cannot start {}", s.name))
}

/// Waits until the service answers; an error with its log's tail if it exits or takes too long.
async fn wait_until_ready(s: &Service, child: &mut Child, wait: Duration) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            bail!(
                "{} exited ({status}) before answering on {}; last lines of {}:\n{}",
                s.name,
                s.addr,
                s.log.display(),
                tail(&s.log, 10)
            );
        }
        if answers(s).await.unwrap_or(false) {
            return Ok(());
        }
        if start.elapsed() > wait {
            bail!(
                "{} does not answer on {} after {wait:?}; last lines of {}:\n{}",
                s.name,
                s.addr,
                s.log.display(),
                tail(&s.log, 10)
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines
        .get(lines.len().saturating_sub(n)..)
        .unwrap_or_default()
        .join("\n")
}
