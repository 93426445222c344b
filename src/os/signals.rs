//! Waiting for the signals that ask the app to stop, for both binaries: SIGINT or SIGTERM on Unix
//! (Ctrl-C in a terminal, the desktop session or a service manager ending), Ctrl-C elsewhere.

/// Blocks the calling thread until a stop signal arrives. A signal that arrives before the call
/// keeps its default effect (the process ends).
pub fn wait_for_stop() -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut term = signal(SignalKind::terminate())?;
            tokio::select! {
                r = tokio::signal::ctrl_c() => r,
                _ = term.recv() => Ok(()),
            }
        }
        #[cfg(not(unix))]
        {
            tokio::signal::ctrl_c().await
        }
    })
}
