//! Running the server: open the data dir, build the app, accept connections until shut down.
//!
//! The server faces hostile traffic, so every connection is bounded (issue 23, 1): at most
//! [`ConnectionLimits::max_connections`] open at once (below the process's open-file limit, so
//! `accept` never fails for want of a descriptor), at most `max_per_address` from one address
//! (an IPv6 /64); a connection over either is answered `503 busy` and closed. A request's
//! headers must arrive within `header_timeout`, which hyper also applies to a kept-alive
//! connection waiting for its next request (the idle timeout). Bodies are bounded in
//! `http::router`. Nothing here parses HTTP: hyper does, one connection at a time.

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::response::IntoResponse;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower_service::Service;

use crate::admin::{self, AdminError};
use crate::client_addr::{TrustedProxies, address_key};
use crate::client_version::VersionPolicy;
use crate::clock::Clock;
use crate::error::ServerError;
use crate::http::{AppState, router};
use crate::login_limits::LoginLimits;
use crate::slots::{MAX_WAITS_PER_ACCOUNT, Slot, Slots};
use crate::store::{Store, StoreHandle};
use crate::token::TokenKeys;

/// Connections open at once, unless the open-file limit is lower (see
/// [`ConnectionLimits::effective_max_connections`]).
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Connections one address may hold open: a browser opens 6, a sync client 1 or 2, an office
/// behind one NAT a few dozen; one address can never take every connection.
pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: usize = 256;
/// A request's headers must arrive whole within this; a kept-alive connection may idle as long.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(20);
/// Descriptors kept for everything but connections: the database and its WAL, blobs being
/// written and read, the listener, stdio.
const RESERVED_DESCRIPTORS: usize = 64;
/// Refused connections being answered at once; past it a refused connection is just closed.
const REFUSALS_AT_ONCE: usize = 64;
/// How long a refused connection may take to send the request its 503 answers.
const REFUSAL_DEADLINE: Duration = Duration::from_secs(2);
/// How long a shutdown waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The bounds on connections (see the module doc).
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub max_per_address: usize,
    pub header_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_per_address: DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
        }
    }
}

impl ConnectionLimits {
    /// `max_connections`, lowered to fit the process's open-file limit with
    /// [`RESERVED_DESCRIPTORS`] and the refusals to spare (at least 1).
    pub fn effective_max_connections(&self) -> usize {
        let fitting = open_file_limit()
            .map(|n| n.saturating_sub(RESERVED_DESCRIPTORS + REFUSALS_AT_ONCE))
            .unwrap_or(usize::MAX);
        self.max_connections.min(fitting).max(1)
    }
}

/// The soft limit on open files (`ulimit -n`), where there is one.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn open_file_limit() -> Option<usize> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct we pass, which lives for the call.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
    (ok && limit.rlim_cur != libc::RLIM_INFINITY)
        .then(|| usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX))
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn open_file_limit() -> Option<usize> {
    None
}

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
    /// Proxies whose `X-Forwarded-For` names the client (`--trusted-proxy`).
    pub trusted_proxies: Vec<IpAddr>,
    /// The client versions accepted and recommended (`--min-client-version` and friends).
    pub client_versions: VersionPolicy,
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
        waits: Slots::new(MAX_WAITS_PER_ACCOUNT),
        trusted_proxies: TrustedProxies::new(opts.trusted_proxies.iter().copied()),
        client_versions: Arc::new(opts.client_versions.clone()),
    })
}

/// How often the server looks for changes another process (the admin CLI) committed.
const FOREIGN_CHANGES_EVERY: Duration = Duration::from_secs(1);

/// Serves on `listener` until `shutdown` resolves, within `limits`. Waiting `/changes` requests
/// are answered at once when it does; other requests in flight get [`SHUTDOWN_GRACE`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    mut state: AppState,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    state.own_port = Some(listener.local_addr()?.port());
    let bell = Arc::clone(state.store.bell());
    if state.long_poll {
        tokio::spawn(ring_for_foreign_changes(state.store.clone()));
    }
    let gate = Gate::new(&limits, state.trusted_proxies.clone());
    tracing::info!(
        max_connections = gate.open.available_permits(),
        per_address = limits.max_per_address,
        header_timeout_secs = limits.header_timeout.as_secs_f64(),
        trusted_proxies = ?state.trusted_proxies,
        "connection limits"
    );
    let app = router(state);
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
        };
        let Some(admitted) = gate.admit(peer.ip()) else {
            gate.refuse(stream);
            continue;
        };
        let conn = builder.serve_connection(TokioIo::new(stream), per_request(app.clone(), peer));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended");
            }
            drop(admitted);
        });
    }
    bell.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight at shutdown were cut off");
    }
    Ok(())
}

/// The router for one connection's requests, each told the connection's peer (for the
/// per-address limits, through [`crate::client_addr::ClientAddr`]).
fn per_request(
    app: Router,
    peer: SocketAddr,
) -> impl hyper::service::Service<
    hyper::Request<Incoming>,
    Response = axum::response::Response,
    Error = Infallible,
    Future = impl Send,
> + Clone {
    hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        app.clone().call(req)
    })
}

/// A connection taken in: its places in the server's and its address's counts.
struct Admitted {
    _open: OwnedSemaphorePermit,
    _address: Option<Slot<IpAddr>>,
}

/// Which connections are taken in.
struct Gate {
    open: Arc<Semaphore>,
    per_address: Slots<IpAddr>,
    trusted_proxies: TrustedProxies,
    refusing: Arc<Semaphore>,
}

impl Gate {
    fn new(limits: &ConnectionLimits, trusted_proxies: TrustedProxies) -> Gate {
        Gate {
            open: Arc::new(Semaphore::new(limits.effective_max_connections())),
            per_address: Slots::new(limits.max_per_address.max(1)),
            trusted_proxies,
            refusing: Arc::new(Semaphore::new(REFUSALS_AT_ONCE)),
        }
    }

    /// Places for a connection from `peer`, or `None` when the server or the address is full.
    /// A trusted proxy speaks for many clients, so it has no per-address bound.
    fn admit(&self, peer: IpAddr) -> Option<Admitted> {
        let open = Arc::clone(&self.open).try_acquire_owned().ok()?;
        let address = if self.trusted_proxies.trusts(peer) {
            None
        } else {
            Some(self.per_address.take(address_key(peer))?)
        };
        Some(Admitted {
            _open: open,
            _address: address,
        })
    }

    /// Answers a connection over the limits `503 busy` (once it sends its request, within
    /// [`REFUSAL_DEADLINE`]) and closes it; when too many are being refused, closes it at once.
    fn refuse(&self, stream: TcpStream) {
        let Ok(permit) = Arc::clone(&self.refusing).try_acquire_owned() else {
            drop(stream);
            return;
        };
        tokio::spawn(async move {
            let busy = hyper::service::service_fn(|_req: hyper::Request<Incoming>| async {
                Ok::<_, Infallible>(ServerError::Busy.into_response())
            });
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(REFUSAL_DEADLINE)
                .keep_alive(false);
            let conn = builder.serve_connection(TokioIo::new(stream), busy);
            let _ = tokio::time::timeout(REFUSAL_DEADLINE, conn).await;
            drop(permit);
        });
    }
}

/// An `accept` that failed: a connection reset before it was taken is nothing; anything else
/// (out of descriptors, above all) is logged and waited out a moment, so the loop does not spin.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::Interrupted
    ) {
        return;
    }
    tracing::warn!(error = %e, "accept failed");
    tokio::time::sleep(Duration::from_millis(100)).await;
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
