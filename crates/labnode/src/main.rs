//! `labnode`: everything that runs inside a lab node, in one static binary.
//!
//! It is a multi-call binary: `labnode <command> …`, or invoked through a link named after one
//! of the TP's tools (`kafka-topics.sh`, `jps`, …), as Apache's scripts are. Each group of
//! commands lives in its own module, owned by the part of the lab it serves.

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod hdfs_cmd;
mod kafka_cmd;
mod logging;
mod node_cmd;
mod stop;
mod stream_cmd;
mod tools_cmd;
mod zk_cmd;

/// The WebHDFS data path streams through buffers of hundreds of KiB (each socket read of the
/// HTTP server is a fresh one, freed once the bytes are passed on); glibc's allocator hands such
/// memory back to the kernel as it is freed, so each new buffer paid its pages again in faults
/// (about a fault per 8 KiB relayed). jemalloc keeps freed pages a while for reuse.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// The whole command line of `labnode`.
#[derive(Debug, Parser)]
#[command(name = "labnode", version, about = "Services and tools of a lab node")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Every command, grouped by the part of the lab that owns it.
#[derive(Debug, Subcommand)]
enum Command {
    #[command(flatten)]
    Node(node_cmd::Command),
    #[command(flatten)]
    Kafka(kafka_cmd::Command),
    #[command(flatten)]
    Zk(zk_cmd::Command),
    #[command(flatten)]
    Tools(tools_cmd::Command),
    #[command(flatten)]
    Hdfs(hdfs_cmd::Command),
    #[command(flatten)]
    Stream(stream_cmd::Command),
}

/// One group's commands alone, as `labnode` parses them when the command line names one of
/// them (see [`parse`]).
#[derive(Debug, Parser)]
#[command(name = "labnode")]
struct Group<C: Subcommand> {
    #[command(subcommand)]
    command: C,
}

/// Parses a command line. Building the whole command tree of every tool touches much of the
/// binary's code and text (megabytes of resident memory, kept by the long-running services), so
/// a command line whose first word is a command of one group is parsed by that group alone; the
/// whole tree parses the rest (no command, `--help`, a misspelt command).
fn parse(args: &[OsString]) -> Result<Command, clap::Error> {
    alone(args, Command::Node)
        .or_else(|| alone(args, Command::Kafka))
        .or_else(|| alone(args, Command::Zk))
        .or_else(|| alone(args, Command::Tools))
        .or_else(|| alone(args, Command::Hdfs))
        .or_else(|| alone(args, Command::Stream))
        .unwrap_or_else(|| Cli::try_parse_from(args).map(|cli| cli.command))
}

/// The command line parsed by the group `C`, if its first word is one of `C`'s commands.
fn alone<C: Subcommand>(
    args: &[OsString],
    wrap: fn(C) -> Command,
) -> Option<Result<Command, clap::Error>> {
    let name = args.get(1)?.to_str()?;
    C::has_subcommand(name)
        .then(|| Group::<C>::try_parse_from(args).map(|group| wrap(group.command)))
}

fn main() -> ExitCode {
    let command = match parse(&multi_call_args(std::env::args_os())) {
        Ok(command) => command,
        Err(usage) => {
            let _ = usage.print();
            return usage_exit_code(&usage);
        }
    };
    let result = match command {
        Command::Node(c) => c.run(),
        Command::Kafka(c) => c.run(),
        Command::Zk(c) => c.run(),
        Command::Tools(c) => c.run(),
        Command::Hdfs(c) => c.run(),
        Command::Stream(c) => c.run(),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("Error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// `--help` and `--version` succeed; a usage error exits 1, as Kafka's and ZooKeeper's scripts
/// do (clap's own default is 2), so scripts written for Apache's tools see the same codes.
fn usage_exit_code(usage: &clap::Error) -> ExitCode {
    if usage.use_stderr() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Turns `kafka-topics.sh --list …` (called through a link) into `labnode kafka-topics.sh --list …`.
fn multi_call_args(args: impl Iterator<Item = OsString>) -> Vec<OsString> {
    let mut args: Vec<OsString> = args.collect();
    let called_as = args
        .first()
        .and_then(|a| Path::new(a).file_name())
        .map(|n| n.to_os_string());
    if let Some(name) = called_as
        && name != "labnode"
        && let Some(first) = args.first_mut()
    {
        *first = name;
        args.insert(0, OsString::from("labnode"));
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tool_link_becomes_a_subcommand() {
        let args = multi_call_args(["/usr/local/kafka/bin/jps".into()].into_iter());
        assert_eq!(args, vec![OsString::from("labnode"), OsString::from("jps")]);
    }

    #[test]
    fn usage_errors_exit_1_and_help_exits_0() {
        let bad = Cli::try_parse_from(["labnode", "kafka-topics.sh", "--no-such-flag"]);
        assert_eq!(usage_exit_code(&bad.unwrap_err()), ExitCode::FAILURE);
        let help = Cli::try_parse_from(["labnode", "kafka-topics.sh", "--help"]);
        assert_eq!(usage_exit_code(&help.unwrap_err()), ExitCode::SUCCESS);
    }

    #[test]
    fn a_group_alone_parses_as_the_whole_tree_does() {
        let lines: [&[&str]; 6] = [
            &["labnode", "coordinator", "--config", "zoo.cfg"],
            &["labnode", "zookeeper-server-start.sh", "-daemon", "zoo.cfg"],
            &["labnode", "jps", "-l"],
            &[
                "labnode",
                "kafka-topics.sh",
                "--list",
                "--bootstrap-server",
                "h:9092",
            ],
            &["labnode", "coordinator", "--no-such-flag"],
            &["labnode", "coordinator", "--help"],
        ];
        for line in lines {
            let args: Vec<OsString> = line.iter().map(OsString::from).collect();
            let whole = Cli::try_parse_from(&args).map(|cli| cli.command);
            let alone = parse(&args);
            match (whole, alone) {
                (Ok(w), Ok(a)) => assert_eq!(format!("{w:?}"), format!("{a:?}"), "{line:?}"),
                (Err(w), Err(a)) => {
                    assert_eq!(w.kind(), a.kind(), "{line:?}");
                    assert_eq!(w.to_string(), a.to_string(), "{line:?}");
                }
                (w, a) => panic!("{line:?}: the whole tree gives {w:?}, the group {a:?}"),
            }
        }
    }

    #[test]
    fn labnode_itself_is_left_alone() {
        let args = multi_call_args(["/bin/labnode".into(), "jps".into()].into_iter());
        assert_eq!(
            args,
            vec![OsString::from("/bin/labnode"), OsString::from("jps")]
        );
    }
}
