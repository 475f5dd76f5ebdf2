//! Commands for the ZooKeeper-compatible coordinator and its start/stop scripts: owned by the coordinator.
//!
//! `labnode coordinator --config zookeeper.properties` and `zookeeper-server-start.sh
//! zookeeper.properties` run the coordinator in the foreground (as Apache's script does without
//! `-daemon`); `zookeeper-server-stop.sh` sends SIGTERM to every running coordinator. The
//! coordinator itself is the `labnode-coordinator` binary, which these commands exec or spawn.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};

/// The commands of this group.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Runs the ZooKeeper-compatible coordinator (jps shows it as QuorumPeerMain).
    Coordinator(CoordinatorArgs),
    /// Starts the coordinator as Apache Kafka's script does: `zookeeper-server-start.sh
    /// [-daemon] zookeeper.properties`.
    #[command(name = "zookeeper-server-start.sh")]
    ZookeeperServerStart(StartArgs),
    /// Stops every running coordinator with SIGTERM, as Apache Kafka's script does.
    #[command(name = "zookeeper-server-stop.sh")]
    ZookeeperServerStop,
}

/// Options of `labnode coordinator`.
#[derive(Debug, Args)]
pub(crate) struct CoordinatorArgs {
    /// The configuration, in ZooKeeper's own format (zoo.cfg / zookeeper.properties).
    #[arg(long)]
    config: PathBuf,
}

/// Arguments of `zookeeper-server-start.sh`: `[-daemon] zookeeper.properties`, with Apache's
/// single-dash `-daemon`.
#[derive(Debug, Args)]
pub(crate) struct StartArgs {
    /// `-daemon` (run in the background, output in `$LOG_DIR/zookeeper.out`) and the
    /// configuration file.
    #[arg(required = true, allow_hyphen_values = true, num_args = 1..=2)]
    args: Vec<String>,
}

impl StartArgs {
    /// Splits `[-daemon] <config>`.
    fn parse(&self) -> anyhow::Result<(bool, PathBuf)> {
        match self.args.as_slice() {
            [flag, config] if flag == "-daemon" => Ok((true, PathBuf::from(config))),
            [config] if !config.starts_with('-') => Ok((false, PathBuf::from(config))),
            _ => anyhow::bail!("USAGE: zookeeper-server-start.sh [-daemon] zookeeper.properties"),
        }
    }
}

impl Command {
    /// Runs the command and returns the process exit code.
    pub(crate) fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            Command::Coordinator(a) => run_coordinator(&a.config),
            Command::ZookeeperServerStart(a) => match a.parse()? {
                (true, config) => daemonize(&config),
                (false, config) => run_coordinator(&config),
            },
            Command::ZookeeperServerStop => stop_all(),
        }
    }
}

/// The coordinator's own binary, installed beside `labnode` (see `bin/labnode-coordinator.rs`
/// for why it is apart).
const COORDINATOR_BIN: &str = "labnode-coordinator";

/// Runs the coordinator in the foreground until SIGTERM or SIGINT: this process becomes it.
fn run_coordinator(config: &Path) -> anyhow::Result<ExitCode> {
    let mut command = coordinator_command(config)?;
    let err = command.exec();
    Err(err).context("cannot start the coordinator")
}

/// `-daemon`: starts the coordinator detached, output in `zookeeper.out`.
fn daemonize(config: &Path) -> anyhow::Result<ExitCode> {
    let mut command = coordinator_command(config)?;
    let log_dir = std::env::var_os("LOG_DIR").map_or_else(|| PathBuf::from("."), PathBuf::from);
    let out = std::fs::File::create(log_dir.join("zookeeper.out"))
        .with_context(|| format!("cannot write {}", log_dir.join("zookeeper.out").display()))?;
    let err = out.try_clone()?;
    command
        .stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .context("cannot start the coordinator")?;
    Ok(ExitCode::SUCCESS)
}

/// The coordinator's binary, beside this labnode, set to run `config` under the command line
/// `labnode coordinator --config <config>` (which jps and [`stop_all`] recognise).
fn coordinator_command(config: &Path) -> anyhow::Result<std::process::Command> {
    let labnode = std::env::current_exe().context("cannot find the labnode binary")?;
    let exe = labnode.with_file_name(COORDINATOR_BIN);
    if !exe.is_file() {
        anyhow::bail!(
            "{} is missing: the coordinator runs from its own binary, built with labnode \
             (`cargo build -p labnode`) and installed beside it",
            exe.display()
        );
    }
    let mut command = std::process::Command::new(exe);
    command
        .arg0("labnode")
        .arg("coordinator")
        .arg("--config")
        .arg(config);
    Ok(command)
}

/// True when a command line (argv) is a running coordinator.
fn is_coordinator(argv: &[&str]) -> bool {
    let base = |s: &str| {
        Path::new(s)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_owned()
    };
    match argv {
        [first, rest @ ..] => {
            let first = base(first);
            first == "zookeeper-server-start.sh"
                || (first == "labnode"
                    && matches!(
                        rest.first(),
                        Some(&"coordinator") | Some(&"zookeeper-server-start.sh")
                    ))
        }
        [] => false,
    }
}

/// Sends SIGTERM to every coordinator process found in /proc. When `LAB_NODE` is set (the
/// process runtime runs several nodes on one host), only that node's coordinators are stopped.
fn stop_all() -> anyhow::Result<ExitCode> {
    let me = std::process::id();
    let node = std::env::var("LAB_NODE")
        .ok()
        .map(|n| format!("LAB_NODE={n}"));
    let mut stopped = 0;
    for entry in std::fs::read_dir("/proc").context("cannot list /proc")? {
        let Ok(entry) = entry else { continue };
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if u32::try_from(pid).is_ok_and(|p| p == me) {
            continue;
        }
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let text = String::from_utf8_lossy(&raw);
        let argv: Vec<&str> = text.split('\0').filter(|s| !s.is_empty()).collect();
        let in_node = node.as_ref().is_none_or(|want| {
            std::fs::read(entry.path().join("environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|kv| kv == want.as_bytes()))
        });
        if is_coordinator(&argv)
            && in_node
            && let Some(pid) = rustix::process::Pid::from_raw(pid)
            && rustix::process::kill_process(pid, rustix::process::Signal::TERM).is_ok()
        {
            stopped += 1;
        }
    }
    if stopped == 0 {
        eprintln!("No zookeeper server to stop");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinator_command_lines_are_recognised() {
        assert!(is_coordinator(&[
            "/usr/bin/labnode",
            "coordinator",
            "--config",
            "x"
        ]));
        assert!(is_coordinator(&["zookeeper-server-start.sh", "x"]));
        assert!(is_coordinator(&[
            "/opt/kafka/bin/zookeeper-server-start.sh",
            "x"
        ]));
        assert!(is_coordinator(&[
            "labnode",
            "zookeeper-server-start.sh",
            "x"
        ]));
        assert!(!is_coordinator(&["labnode", "broker", "--config", "x"]));
        assert!(!is_coordinator(&["zookeeper-server-stop.sh"]));
    }
}
