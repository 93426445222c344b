//! The HTTP face of the server: routes, shared state, and the cross-cutting layers (DELETE is
//! refused everywhere; then an API call naming no accepted client version is refused (426,
//! [`crate::client_version`]); every request is logged by method, path and status only, so query
//! strings, headers and bodies, which may hold secrets, never reach the log).

pub mod api;
pub mod body;
pub mod caller;
pub mod cookies;
pub mod device;
pub mod oauth;
pub mod pages;
pub mod releases;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::Request;
use axum::extract::State;
use axum::http::Method;
use axum::http::header::USER_AGENT;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post, put};
use tower_http::timeout::RequestBodyTimeoutLayer;

use crate::clock::Clock;
use crate::error::ServerError;
use crate::store::StoreHandle;
use crate::token::TokenKeys;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: StoreHandle,
    /// Sync PUTs waiting to be committed together (group commit).
    pub saves: crate::save::SaveQueue,
    pub keys: Arc<TokenKeys>,
    pub clock: Clock,
    pub login_limits: crate::login_limits::LoginLimits,
    /// Device logins waiting for their user (RFC 8628).
    pub device_logins: crate::device::DeviceLogins,
    /// Guesses of device user codes on `/device`, limited as password guesses are.
    pub user_code_limits: crate::login_limits::LoginLimits,
    /// The port this server listens on: never a valid OAuth callback (`None` until serving).
    pub own_port: Option<u16>,
    /// Reached over https (behind a TLS proxy): cookies get `Secure` and the `__Host-` prefix.
    pub secure_cookies: bool,
    /// Whether `/changes` honours `wait` (long-polling); off, it ignores it as a server from
    /// before long-polling does.
    pub long_poll: bool,
    /// Waiting `/changes` requests per account id.
    pub waits: crate::slots::Slots<i64>,
    /// Proxies whose `X-Forwarded-For` is believed (see [`crate::client_addr`]).
    pub trusted_proxies: crate::client_addr::TrustedProxies,
    /// The client versions accepted (426 below) and recommended (`/status`).
    pub client_versions: Arc<crate::client_version::VersionPolicy>,
}

/// A request to a route anyone may call must arrive whole (headers, then its small body)
/// within this; a slow password check still fits.
pub const SMALL_REQUEST_DEADLINE: Duration = Duration::from_secs(20);
/// A file body (authenticated routes only) may pause this long between two pieces.
pub const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/local-sync/status", get(api::status))
        .route("/api/local-sync/changes", get(api::changes))
        .route(
            "/api/local-sync/files/",
            get(api::empty_path).put(api::empty_path),
        )
        .route(
            "/api/local-sync/files/{*path}",
            get(api::get_file).put(api::put_file),
        )
        .route("/api/local-sync/folders/", put(api::empty_path))
        .route("/api/local-sync/folders/{*path}", put(api::put_folder))
        .route("/api/local-sync/versions/", get(api::empty_path))
        .route("/api/local-sync/versions/{*path}", get(api::versions))
        .route(
            "/api/local-sync/authorize",
            small(get(pages::authorize).post(pages::consent)),
        )
        .route(
            "/api/local-sync/device/code",
            small(post(oauth::device_code)),
        )
        .route("/api/local-sync/token", small(post(oauth::token)))
        .route("/api/local-sync/refresh", small(post(oauth::refresh)))
        .route("/api/local-sync/logout", small(post(oauth::logout)))
        .route("/api/local-sync/releases/latest", get(releases::latest))
        .route(
            "/api/local-sync/releases/{platform}/{version}/file",
            get(releases::file),
        )
        .route("/", get(pages::home))
        .route("/login", small(get(pages::login_form).post(pages::login)))
        .route("/logout", small(post(pages::logout)))
        .route(
            "/device",
            small(get(device::page_for_code).post(device::answer)),
        )
        .route("/save/{name}", post(pages::save))
        .route("/{name}", get(pages::serve_app))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(RequestBodyTimeoutLayer::new(BODY_IDLE_TIMEOUT))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state.client_versions),
            refuse_outdated_clients,
        ))
        .layer(middleware::from_fn(refuse_delete))
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

/// The routes anyone may call before authenticating take only small bodies
/// ([`body::SMALL_BODY_BYTES`], for the form and JSON extractors too) and must arrive within
/// [`SMALL_REQUEST_DEADLINE`], so a caller cannot hold memory or a connection with a body it
/// declares large or sends slowly.
fn small(route: MethodRouter<AppState>) -> MethodRouter<AppState> {
    route
        .layer(DefaultBodyLimit::max(body::SMALL_BODY_BYTES))
        .layer(middleware::from_fn(within_small_deadline))
}

/// The deadline of [`small`] routes, answered with the protocol's error body (408
/// `request_timeout`); tower-http's `TimeoutLayer` would answer with an empty one.
async fn within_small_deadline(req: Request, next: Next) -> Response {
    match tokio::time::timeout(SMALL_REQUEST_DEADLINE, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ServerError::RequestTimeout(SMALL_REQUEST_DEADLINE.as_secs()).into_response(),
    }
}

async fn not_found() -> ServerError {
    ServerError::NotFound("no such route".into())
}

async fn method_not_allowed() -> ServerError {
    ServerError::MethodNotAllowed
}

/// The sync API can never delete: DELETE is 405 on every route, known or not, before any
/// authentication.
async fn refuse_delete(req: Request, next: Next) -> Response {
    if req.method() == Method::DELETE {
        return ServerError::MethodNotAllowed.into_response();
    }
    next.run(req).await
}

/// Right after [`refuse_delete`] and before any authentication: an API call (every route under
/// `/api/local-sync/` but the release feed and the consent page) whose `User-Agent` names no
/// client version, or one below the minimum, is 426 `client_outdated`.
async fn refuse_outdated_clients(
    State(policy): State<Arc<crate::client_version::VersionPolicy>>,
    req: Request,
    next: Next,
) -> Response {
    if crate::client_version::is_checked(req.uri().path()) {
        let user_agent = req.headers().get(USER_AGENT).map(|v| v.as_bytes());
        if let Err(outdated) = policy.check(user_agent) {
            return outdated.into_response();
        }
    }
    next.run(req).await
}

async fn log_request(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let started = Instant::now();
    let resp = next.run(req).await;
    tracing::info!(
        %method,
        %path,
        status = resp.status().as_u16(),
        ms = started.elapsed().as_millis() as u64,
        "request"
    );
    resp
}
