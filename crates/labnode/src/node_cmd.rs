//! Commands for init (PID 1 of a node) and jps: owned by the foundation.

mod init;
mod jps;
mod services;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

/// The commands of this group.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// PID 1 of a lab node: starts the node's services in order, restarts crashed ones, reaps
    /// zombies, and stops them in reverse order on SIGTERM. SIGHUP starts stopped services again.
    Init(InitArgs),
    /// Lists the node's running services with the names of Apache's Java daemons, as `jps` does.
    Jps(JpsArgs),
}

/// Options of `labnode init`.
#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// The services file `lab` writes into the node.
    #[arg(long, default_value = "/etc/lab/services")]
    services: PathBuf,
    /// Where each service's output goes, as `<service>.log`.
    #[arg(long, default_value = "/var/log/lab")]
    log_dir: PathBuf,
}

/// Options of `jps`, as the JDK's.
#[derive(Debug, Args)]
pub(crate) struct JpsArgs {
    /// Print only the process ids.
    #[arg(short = 'q')]
    quiet: bool,
    /// Print the full name of each daemon's main class.
    #[arg(short = 'l')]
    long: bool,
    /// Print the arguments each daemon was started with.
    #[arg(short = 'm')]
    args: bool,
    /// Accepted for compatibility (JVM arguments); labnode has none.
    #[arg(short = 'v')]
    jvm_args: bool,
    /// Only processes whose environment holds `LAB_NODE=<value>` (the process runtime's label).
    #[arg(long, hide = true)]
    lab_node: Option<String>,
}

impl Command {
    /// Runs the command and returns the process exit code.
    pub(crate) fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            Command::Init(a) => init::run(&a.services, &a.log_dir),
            Command::Jps(a) => {
                let options = jps::Options {
                    quiet: a.quiet,
                    long: a.long,
                    args: a.args,
                    lab_node: a.lab_node,
                };
                let _ = a.jvm_args;
                print!("{}", jps::report(&options));
                Ok(ExitCode::SUCCESS)
            }
        }
    }
}
