//! Commands for the Kafka broker and its start/stop scripts: owned by the broker.

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
