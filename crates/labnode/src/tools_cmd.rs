//! Commands for the TP's Kafka tools (kafka-topics.sh, console producer/consumer, consumer groups, start-kafka-zookeeper.sh).

use std::process::ExitCode;

use clap::Subcommand;

/// The commands of this group.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {}

impl Command {
    /// Runs the command and returns the process exit code.
    pub(crate) fn run(self) -> anyhow::Result<ExitCode> {
        match self {}
    }
}
