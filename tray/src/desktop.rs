//! Small calls into the desktop that the tray's event loop makes: opening a file or folder, the
//! clipboard, stop signals, expected panics of GUI libraries, waiting for a dialog's future. Each
//! either returns at once or is meant for a helper thread; none may block the UI thread, and none
//! knows about the engine or the tray's views.

use std::path::PathBuf;

/// Puts `text` on the clipboard. GTK serves it from this (long-running) process, and asks a
/// clipboard manager, if there is one, to keep it after exit. Runs on the UI thread, as GTK
/// requires; it does not block.
#[cfg(target_os = "linux")]
pub fn copy_to_clipboard(text: &str) {
    let clipboard = gtk::Clipboard::get(&gtk::gdk::SELECTION_CLIPBOARD);
    clipboard.set_text(text);
    clipboard.store();
}

/// The view offers copying only where [`super::view::CAN_COPY`] is true.
#[cfg(not(target_os = "linux"))]
pub fn copy_to_clipboard(_text: &str) {
    log::warn!("copying is not available on this platform");
}

/// Opens a folder or file with the desktop's default app, on a helper thread (it may start a
/// process and wait for it).
pub fn open_in_background(path: PathBuf, create_dir: bool) {
    std::thread::spawn(move || {
        if create_dir && let Err(e) = std::fs::create_dir_all(&path) {
            log::warn!("cannot create {}: {e}", path.display());
        }
        if let Err(e) = open::that_detached(&path) {
            log::warn!("cannot open {}: {e}", path.display());
        }
    });
}

/// Calls `then` once on SIGTERM or SIGINT (a desktop session ending, Ctrl-C in a terminal), so
/// the engine can finish the transfer in hand instead of dying mid-write.
pub fn on_stop_signal(then: impl FnOnce() + Send + 'static) {
    let spawned = std::thread::Builder::new()
        .name("stop-signals".into())
        .spawn(move || match hyperclay_sync::os::signals::wait_for_stop() {
            Ok(()) => {
                log::info!("stop signal received: quitting");
                then();
            }
            Err(e) => log::warn!("cannot watch for stop signals: {e}"),
        });
    if let Err(e) = spawned {
        log::warn!("cannot watch for stop signals: {e}");
    }
}

/// Runs `f`, turning a panic into its message. The default hook is silenced meanwhile: these
/// panics are expected failures (no display, no tray library) that the caller reports in one
/// line, not crashes to print with a backtrace.
pub fn catch_panic<T>(f: impl FnOnce() -> T + std::panic::UnwindSafe) -> Result<T, String> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(f);
    std::panic::set_hook(hook);
    result.map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "an unknown failure".to_owned())
    })
}

/// Waits for a future on the current (helper) thread; the dialog future needs no runtime.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};

    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }

    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(output) => return output,
            Poll::Pending => std::thread::park(),
        }
    }
}
