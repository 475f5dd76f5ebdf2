//! `labnode-coordinator`: the ZooKeeper-compatible coordinator in a binary of its own, which
//! `labnode coordinator` and `zookeeper-server-start.sh` replace themselves with (exec).
//!
//! A process's resident memory counts every page of its executable it has touched, and the
//! kernel maps them 64 KiB at a time: started from the whole multi-call `labnode`, whose
//! services and tools are scattered across 12 MiB of code, an idle coordinator held 6.8 MiB;
//! this binary, with nothing but the coordinator, 3.4 MiB. Its command line stays the one
//! `labnode` was given (`labnode coordinator --config <file>`), so `jps` and
//! `zookeeper-server-stop.sh` know it as before.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;

#[path = "../logging.rs"]
mod logging;
#[path = "../stop.rs"]
mod stop;

/// The same allocator as `labnode`'s, for the same reason (see its `main.rs`).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// How `labnode` starts this binary (and how a person may, too).
const USAGE: &str = "usage: labnode-coordinator coordinator --config <file> \
                     (run by `labnode coordinator --config <file>`)";

fn main() -> ExitCode {
    let Some(config) = config_path(std::env::args_os().skip(1).collect()) else {
        eprintln!("{USAGE}");
        return ExitCode::FAILURE;
    };
    match run(&config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("Error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// The configuration file of `coordinator --config <file>` (or `--config=<file>`).
fn config_path(args: Vec<OsString>) -> Option<PathBuf> {
    let mut args = args.into_iter();
    if args.next()? != "coordinator" {
        return None;
    }
    let first = args.next()?;
    let path = if first == "--config" {
        args.next()?
    } else {
        OsString::from(first.to_str()?.strip_prefix("--config=")?)
    };
    args.next().is_none().then(|| PathBuf::from(path))
}

/// Runs the coordinator in the foreground until SIGTERM or SIGINT.
fn run(config_path: &Path) -> anyhow::Result<()> {
    logging::init();
    let config = coordinator::Config::load(config_path)
        .with_context(|| format!("invalid configuration {}", config_path.display()))?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let server = coordinator::Server::bind(config).await?;
        server.run(stop::cancelled_on_signal()).await
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(args: &[&str]) -> Option<PathBuf> {
        config_path(args.iter().map(OsString::from).collect())
    }

    #[test]
    fn only_the_command_line_labnode_gives_is_taken() {
        assert_eq!(
            path(&["coordinator", "--config", "z.cfg"]),
            Some("z.cfg".into())
        );
        assert_eq!(
            path(&["coordinator", "--config=z.cfg"]),
            Some("z.cfg".into())
        );
        assert_eq!(path(&["coordinator", "--config"]), None);
        assert_eq!(path(&["coordinator", "--config", "a", "b"]), None);
        assert_eq!(path(&["broker", "--config", "z.cfg"]), None);
        assert_eq!(path(&[]), None);
    }
}
