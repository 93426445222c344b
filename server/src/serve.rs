//! Running the server: open the data dir, build the app, accept connections until shut down.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use crate::admin::{self, AdminError};
use crate::clock::Clock;
use crate::http::{AppState, router};
use crate::store::{Store, StoreHandle};
use crate::token::TokenKeys;

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub data_dir: PathBuf,
    pub demo: bool,
    pub clock_skew_ms: i64,
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
    })
}

/// Serves on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
