//! The HTTP face of the server: routes, shared state, and the cross-cutting layers (DELETE is
//! refused everywhere; every request is logged by method, path and status only, so query
//! strings, headers and bodies, which may hold secrets, never reach the log).

pub mod api;
pub mod body;
pub mod caller;
pub mod cookies;
pub mod device;
pub mod oauth;
pub mod pages;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::Request;
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};

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
}

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
            get(pages::authorize).post(pages::consent),
        )
        .route("/api/local-sync/device/code", post(oauth::device_code))
        .route("/api/local-sync/token", post(oauth::token))
        .route("/api/local-sync/refresh", post(oauth::refresh))
        .route("/api/local-sync/logout", post(oauth::logout))
        .route("/", get(pages::home))
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/logout", post(pages::logout))
        .route("/device", get(device::page_for_code).post(device::answer))
        .route("/save/{name}", post(pages::save))
        .route("/{name}", get(pages::serve_app))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(refuse_delete))
        .layer(middleware::from_fn(log_request))
        .with_state(state)
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
