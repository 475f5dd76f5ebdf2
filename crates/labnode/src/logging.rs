//! Logging of the long-running commands: `tracing` to stderr (stdout belongs to the command's
//! output, e.g. the wordcount's batches), level from `RUST_LOG` (default `info`), colours only on
//! a terminal so the service logs that init writes under /var/log/lab stay plain text.

use std::io::IsTerminal as _;

/// Installs the subscriber once; a second call (tests, nested commands) is a no-op.
pub(crate) fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(filter)
        .try_init();
}
