//! How labnode's services stop: on SIGTERM (from init, the stop scripts, `lab down`) or on
//! SIGINT (Ctrl-C in a terminal). Shared by every service command, and by the coordinator's own
//! binary.

use tokio_util::sync::CancellationToken;

/// A token cancelled on SIGTERM or SIGINT ([`signal`]), for the services that stop through
/// one. Call it inside the runtime: it spawns the task that waits.
pub(crate) fn cancelled_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        signal().await;
        cancel.cancel();
    });
    token
}

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
