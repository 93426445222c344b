//! Network changes as the OS reports them (netlink on Linux, the path monitor on macOS, the
//! interface-change notification on Windows, all through `if-watch`), turned into one wake-up for
//! the engine: "an address came up, try the server now". The seed asks that reconnecting be
//! noticed as soon as the user is back online; without this it waits for the next probe.
//!
//! It only wakes: whether the server is reachable is still decided by the engine's own probe
//! (a session start), so a missing or broken watcher costs latency, never correctness. It must
//! never block its caller and never call back more than once per burst of events.

use std::time::{Duration, Instant};

use futures_util::StreamExt;

/// Events closer together than this are one change (an interface coming up brings several
/// addresses at once); the engine is woken once for them.
const BURST: Duration = Duration::from_millis(250);

/// Starts watching on its own thread; `on_up` is called (from that thread) each time an address
/// appears after the start. Fails only if the thread or the OS watcher cannot be created; the
/// engine then keeps its periodic probe alone.
pub fn watch(on_up: impl Fn() + Send + 'static) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("network-watch".into())
        .spawn(move || {
            runtime.block_on(async move {
                let mut watcher = match if_watch::tokio::IfWatcher::new() {
                    Ok(w) => {
                        let _ = ready_tx.send(Ok(()));
                        w
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                // The addresses present at the start come first, as a burst of `Up`s: they are
                // not a change.
                let started = Instant::now();
                let mut last_wake: Option<Instant> = None;
                while let Some(event) = watcher.next().await {
                    let up = match event {
                        Ok(if_watch::IfEvent::Up(_)) => true,
                        Ok(if_watch::IfEvent::Down(_)) => false,
                        Err(e) => {
                            log::debug!("network watcher: {e}");
                            false
                        }
                    };
                    let now = Instant::now();
                    if !up || now.duration_since(started) < BURST {
                        continue;
                    }
                    if last_wake.is_some_and(|t| now.duration_since(t) < BURST) {
                        continue;
                    }
                    last_wake = Some(now);
                    on_up();
                }
            });
        })?;
    ready_rx.recv().unwrap_or_else(|_| {
        Err(std::io::Error::other(
            "the network watcher thread ended before it started",
        ))
    })
}
