//! Running the server: open the data dir, build the app, accept connections until shut down.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::admin::{self, AdminError};
use crate::clock::Clock;
use crate::http::{AppState, router};
use crate::login_limits::LoginLimits;
use crate::store::{Store, StoreHandle};
use crate::token::TokenKeys;

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub data_dir: PathBuf,
    pub demo: bool,
    pub clock_skew_ms: i64,
    /// The server is reached over https (a TLS proxy in front): see [`AppState::secure_cookies`].
    pub secure_cookies: bool,
    /// Answer `/changes?wait=N` by long-polling (else ignore `wait`, as older servers do).
    pub long_poll: bool,
    /// How long a device login waits for its user, and the seconds between its polls.
    pub device_lifetime_secs: u64,
    pub device_interval_secs: u64,
}

/// Opens the store (and the signing key) and, with `demo`, makes the demo accounts.
pub fn prepare(opts: &ServeOptions) -> Result<AppState, AdminError> {
    let store = Store::open(&opts.data_dir)?;
    let clock = Clock::with_skew_ms(opts.clock_skew_ms);
    crate::store::grants::purge_expired(store.conn(), clock.now().as_millis())?;
    if opts.demo {
        admin::ensure_demo_accounts(&store)?;
    }
    let keys = TokenKeys::load_or_create(&opts.data_dir)?;
    Ok(AppState {
        store: StoreHandle::new(store),
        saves: crate::save::SaveQueue::default(),
        keys: Arc::new(keys),
        clock,
        login_limits: LoginLimits::default(),
        device_logins: crate::device::DeviceLogins::new(
            opts.device_lifetime_secs,
            opts.device_interval_secs,
        ),
        user_code_limits: LoginLimits::default(),
        own_port: None,
        secure_cookies: opts.secure_cookies,
        long_poll: opts.long_poll,
    })
}

/// How often the server looks for changes another process (the admin CLI) committed.
const FOREIGN_CHANGES_EVERY: Duration = Duration::from_secs(1);

/// Serves on `listener` until `shutdown` resolves. Waiting `/changes` requests are answered at
/// once when it does.
pub async fn serve(
    listener: tokio::net::TcpListener,
    mut state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    state.own_port = Some(listener.local_addr()?.port());
    let bell = Arc::clone(state.store.bell());
    if state.long_poll {
        tokio::spawn(ring_for_foreign_changes(state.store.clone()));
    }
    // The peer address feeds the per-address login lockout.
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            bell.close();
        })
        .await
}

/// The admin CLI writes the same database from its own process (`rm`), which rings no bell
/// here: SQLite's `data_version` moves on such commits, and then every waiter looks again.
async fn ring_for_foreign_changes(store: StoreHandle) {
    let mut seen = None;
    let mut every = tokio::time::interval(FOREIGN_CHANGES_EVERY);
    loop {
        every.tick().await;
        let Ok(now) = store.run(|s| s.data_version()).await else {
            continue;
        };
        if seen.is_some_and(|v| v != now) {
            store.bell().ring_all();
        }
        seen = Some(now);
    }
}
