//! Running the server: open the data dir, build the app, accept connections until shut down.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

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
        own_port: None,
        secure_cookies: opts.secure_cookies,
    })
}

/// Serves on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    mut state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    state.own_port = Some(listener.local_addr()?.port());
    // The peer address feeds the per-address login lockout.
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
