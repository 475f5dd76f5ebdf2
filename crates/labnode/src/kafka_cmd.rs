//! Commands for the Kafka broker and its start/stop scripts: owned by the broker.
//!
//! `labnode broker --config server.properties` and `kafka-server-start.sh server.properties`
//! run the broker in the foreground until SIGTERM or SIGINT; `kafka-server-stop.sh` sends
//! SIGTERM to every running broker, found through /proc as Apache's script finds its JVMs.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

/// The commands of this group.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Runs the Kafka-compatible broker in the foreground.
    Broker {
        /// Kafka's server.properties.
        #[arg(long)]
        config: PathBuf,
        #[command(flatten)]
        overrides: Overrides,
    },
    /// Apache's start script: `kafka-server-start.sh [-daemon] server.properties [--override k=v]…`.
    #[command(name = "kafka-server-start.sh")]
    KafkaServerStart {
        /// Accepted for compatibility; run the command with `&` to background it.
        #[arg(long = "daemon", short = 'd', hide = true)]
        daemon: bool,
        /// Kafka's server.properties.
        config: PathBuf,
        #[command(flatten)]
        overrides: Overrides,
    },
    /// Apache's stop script: SIGTERM to every running broker.
    #[command(name = "kafka-server-stop.sh")]
    KafkaServerStop,
}

/// `--override key=value`, applied after the file (Kafka's start script has the same flag).
#[derive(Debug, Args)]
pub(crate) struct Overrides {
    /// A property that replaces the file's value (repeatable).
    #[arg(long = "override", value_name = "KEY=VALUE")]
    values: Vec<String>,
}

impl Command {
    /// Runs the command and returns the process exit code.
    pub(crate) fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            Command::Broker { config, overrides } => run_broker(&config, &overrides.values),
            Command::KafkaServerStart {
                daemon,
                config,
                overrides,
            } => {
                if daemon {
                    eprintln!("-daemon is ignored: the broker runs in the foreground (use &)");
                }
                run_broker(&config, &overrides.values)
            }
            Command::KafkaServerStop => stop_brokers(),
        }
    }
}

fn run_broker(path: &Path, overrides: &[String]) -> anyhow::Result<ExitCode> {
    if let Some(pid) = running_with_config(path)? {
        // The lab starts the TP's three brokers itself, so the TP's own
        // `kafka-server-start.sh …/server-one.properties &` finds its broker already there.
        println!(
            "A Kafka broker is already running with {} (pid {pid}); nothing to start. \
             Stop it first with kafka-server-stop.sh to restart it.",
            path.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    crate::logging::init();
    for o in overrides {
        anyhow::ensure!(o.contains('='), "--override {o:?}: expected key=value");
    }
    let config = broker::config::BrokerConfig::load(path, overrides)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let server = broker::BrokerServer::bind(config).await?;
        server.run(crate::stop::signal()).await;
        Ok(ExitCode::SUCCESS)
    })
}

/// Signals every broker process (`labnode broker …` or `kafka-server-start.sh …`). When
/// `LAB_NODE` is set (the process runtime runs several nodes on one host), only the brokers
/// of that node (those with the same `LAB_NODE` in their environment) are stopped.
fn stop_brokers() -> anyhow::Result<ExitCode> {
    let me = std::process::id();
    let node = std::env::var("LAB_NODE")
        .ok()
        .map(|n| format!("LAB_NODE={n}"));
    let mut signalled = 0;
    for pid in broker_pids(node.as_deref())? {
        if pid == me {
            continue;
        }
        let Some(target) = i32::try_from(pid)
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        else {
            continue;
        };
        match rustix::process::kill_process(target, rustix::process::Signal::TERM) {
            Ok(()) => signalled += 1,
            Err(e) => eprintln!("cannot signal broker process {pid}: {e}"),
        }
    }
    if signalled == 0 {
        println!("No kafka server to stop");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// The pid of another broker of this node started with the same config file, if any.
fn running_with_config(path: &Path) -> anyhow::Result<Option<u32>> {
    let Ok(wanted) = path.canonicalize() else {
        return Ok(None); // a missing file is reported by the config loader
    };
    let node = std::env::var("LAB_NODE")
        .ok()
        .map(|n| format!("LAB_NODE={n}"));
    let me = std::process::id();
    for pid in broker_pids(node.as_deref())? {
        if pid == me {
            continue;
        }
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let Ok(cwd) = std::fs::read_link(format!("/proc/{pid}/cwd")) else {
            continue;
        };
        let same = cmdline
            .split(|b| *b == 0)
            .filter_map(|a| std::str::from_utf8(a).ok())
            .filter(|a| a.ends_with(".properties"))
            .any(|a| cwd.join(a).canonicalize().is_ok_and(|p| p == wanted));
        if same {
            return Ok(Some(pid));
        }
    }
    Ok(None)
}

/// Process ids whose command line runs a broker (with `node_tag` in their environment, if given).
fn broker_pids(node_tag: Option<&str>) -> anyhow::Result<Vec<u32>> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").context("cannot list /proc")? {
        let Ok(entry) = entry else { continue };
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let in_node = node_tag.is_none_or(|tag| {
            std::fs::read(entry.path().join("environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|kv| kv == tag.as_bytes()))
        });
        if is_broker_command(&args) && in_node {
            pids.push(pid);
        }
    }
    Ok(pids)
}

/// `labnode broker …` or `…/kafka-server-start.sh …` (a link to labnode, or `labnode
/// kafka-server-start.sh …`).
fn is_broker_command(args: &[&[u8]]) -> bool {
    let name = |a: &[u8]| {
        Path::new(std::str::from_utf8(a).unwrap_or_default())
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default()
    };
    let first = args.first().map(|a| name(a)).unwrap_or_default();
    let second = args.get(1).map(|a| name(a)).unwrap_or_default();
    first == "kafka-server-start.sh"
        || (first == "labnode" && (second == "broker" || second == "kafka-server-start.sh"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_command_lines_are_recognised() {
        assert!(is_broker_command(&[
            b"/usr/local/bin/labnode",
            b"broker",
            b"--config"
        ]));
        assert!(is_broker_command(&[
            b"/opt/kafka/bin/kafka-server-start.sh",
            b"x"
        ]));
        assert!(is_broker_command(&[
            b"labnode",
            b"kafka-server-start.sh",
            b"x"
        ]));
        assert!(!is_broker_command(&[b"labnode", b"kafka-server-stop.sh"]));
        assert!(!is_broker_command(&[b"/bin/bash", b"broker"]));
    }
}
