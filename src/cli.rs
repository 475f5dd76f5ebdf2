//! The `lab` commands; the only module that prints for humans.

use std::process::ExitCode;

/// Parses the command line and runs the command.
pub(crate) fn run() -> anyhow::Result<ExitCode> {
    Ok(ExitCode::SUCCESS)
}
