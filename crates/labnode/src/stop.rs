//! How labnode's services stop: on SIGTERM (from init, the stop scripts, `lab down`) or on
//! SIGINT (Ctrl-C in a terminal). Shared by every service command, and by the coordinator's own
//! binary.

/// Completes on SIGTERM or SIGINT, saying which. If the handlers cannot be installed it never
/// completes, and says so: the service then stops only with SIGKILL.
pub(crate) async fn signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers; stop this service with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
    }
}
