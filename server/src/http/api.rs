//! The sync API proper: status, changes, files, folders and version history. Every handler
//! checks the bearer token and the paid plan first, then the path, and only then touches data.
//! Paths are taken from the raw request URI (still percent-encoded) so that no `%2e%2e` or
//! `%2f` is decoded before the protocol's path rules see it.

use axum::Json;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use hyperclay_protocol::{
    CHANGES_DEFAULT_LIMIT, CHANGES_MAX_LIMIT, CHANGES_MAX_WAIT_SECS, ChangesResponse,
    ClientVersions, EntryKind, HEADER_CHECKSUM, HEADER_MODIFIED_AT, PutResponse, RemotePath, Sites,
    StatusResponse, Timestamp, User, VersionsResponse,
};
use serde::Deserialize;

use super::AppState;
use super::body::read_file_body;
use crate::error::ServerError;
use crate::listing;
use crate::save::{self, Saved};
use crate::store::entries::Row;
use crate::store::{Account, entries, releases};

const FILES: &str = "/api/local-sync/files/";
const FOLDERS: &str = "/api/local-sync/folders/";
const VERSIONS: &str = "/api/local-sync/versions/";

pub(crate) fn user_of(account: &Account) -> User {
    User {
        id: account.public_id(),
        name: account.name.clone(),
    }
}

fn raw_tail<'a>(uri: &'a Uri, prefix: &str) -> &'a str {
    uri.path().strip_prefix(prefix).unwrap_or("")
}

pub async fn empty_path(State(st): State<AppState>, headers: HeaderMap) -> ServerError {
    match st.paid(&headers).await {
        Err(e) => e,
        Ok(_) => hyperclay_protocol::PathError::Empty.into(),
    }
}

pub async fn status(
    State(st): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<StatusResponse>, ServerError> {
    let (account, _) = st.paid(&headers).await?;
    let id = account.id;
    let (used, newest_release) = st
        .store
        .run(move |s| {
            Ok((
                entries::count_live_apps(s.conn(), id)?,
                releases::newest_version(s.conn())?,
            ))
        })
        .await?;
    let policy = &st.client_versions;
    Ok(Json(StatusResponse {
        server_time: st.clock.now(),
        user: user_of(&account),
        plan: account.plan.as_str().to_owned(),
        sites: Sites {
            used,
            limit: account.site_limit,
        },
        client: Some(ClientVersions {
            latest: policy.latest(newest_release).to_string(),
            minimum: policy.minimum().to_string(),
            download: policy.download().to_owned(),
        }),
    }))
}

#[derive(Debug, Deserialize)]
pub struct ChangesQuery {
    cursor: Option<String>,
    limit: Option<String>,
    wait: Option<String>,
}

/// `wait` must be a whole number of seconds, at most [`CHANGES_MAX_WAIT_SECS`].
pub fn parse_wait(raw: Option<&str>) -> Result<Option<u64>, ServerError> {
    let Some(s) = raw else { return Ok(None) };
    match s.parse::<u64>() {
        Ok(n) if n <= CHANGES_MAX_WAIT_SECS && !s.starts_with('+') => Ok(Some(n)),
        _ => Err(ServerError::InvalidRequest(format!(
            "wait must be a whole number of seconds from 0 to {CHANGES_MAX_WAIT_SECS}"
        ))),
    }
}

/// `limit` must be a positive integer; above the maximum it is lowered to it.
pub fn parse_limit(raw: Option<&str>) -> Result<usize, ServerError> {
    match raw {
        None => Ok(CHANGES_DEFAULT_LIMIT),
        Some(s) => match s.parse::<u64>() {
            Ok(0) | Err(_) => Err(ServerError::InvalidRequest(
                "limit must be a positive integer".into(),
            )),
            Ok(n) => Ok(usize::try_from(n)
                .unwrap_or(CHANGES_MAX_LIMIT)
                .min(CHANGES_MAX_LIMIT)),
        },
    }
}

pub async fn changes(
    State(st): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<ChangesQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ChangesResponse>, ServerError> {
    let (account, _) = st.paid(&headers).await?;
    let Query(q) =
        query.map_err(|_| ServerError::InvalidRequest("the query string is malformed".into()))?;
    let limit = parse_limit(q.limit.as_deref())?;
    // A server without long-polling ignores `wait`, unchecked, as one from before it did.
    let wait = if st.long_poll {
        parse_wait(q.wait.as_deref())?
    } else {
        None
    };
    let id = account.id;
    // Subscribed before the first read, so a change committed after that read still rings.
    let mut bell = st.store.bell().subscribe(id);
    let page = |cursor: Option<String>| {
        let now = st.clock.now();
        st.store
            .run(move |s| listing::changes(s, id, cursor.as_deref(), limit, now))
    };
    let mut reply = page(q.cursor.clone()).await?;
    let Some(wait) = wait else {
        return Ok(Json(reply));
    };
    // Only an incremental listing with nothing new waits: a full listing always has its pages.
    if let Some(cursor) = q.cursor.as_ref().filter(|_| reply.entries.is_empty()) {
        // Held until the reply: one account cannot hold every connection with waits.
        let _slot = st.waits.take(id).ok_or(ServerError::TooManyWaits)?;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(wait);
        while reply.entries.is_empty() && !reply.has_more && !st.store.bell().is_closed() {
            match tokio::time::timeout_at(deadline, bell.changed()).await {
                Ok(Ok(())) => {
                    // A logout or a lapsed plan meanwhile ends the wait with its 401 or 402.
                    st.paid(&headers).await?;
                    reply = page(Some(cursor.clone())).await?;
                }
                Ok(Err(_)) | Err(_) => break,
            }
        }
    }
    reply.wait = Some(wait);
    Ok(Json(reply))
}

pub async fn get_file(
    State(st): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ServerError> {
    let (account, _) = st.paid(&headers).await?;
    let path = RemotePath::file_from_url(raw_tail(&uri, FILES))?;
    let id = account.id;
    let row = st
        .store
        .run(move |s| {
            entries::get_live(s.conn(), id, path.as_str())?
                .filter(|r| r.kind != EntryKind::Folder)
                .ok_or_else(|| ServerError::NotFound(format!("no file at {path}")))
        })
        .await?;
    file_reply(&st, row).await
}

/// The reply to a file GET of `row`. Its bytes are read outside the store lock: a body is never
/// changed or removed, so the row's checksum names the same bytes for good.
pub(crate) async fn file_reply(st: &AppState, row: Row) -> Result<Response, ServerError> {
    let sum = row
        .checksum
        .clone()
        .ok_or_else(|| ServerError::Internal(format!("{} has no checksum", row.path)))?;
    let bytes = st.store.get_blob(sum).await?;
    Ok(file_response(&row, bytes))
}

/// The reply to a file GET: the bytes with their type, modification time and checksum.
pub(crate) fn file_response(row: &Row, bytes: Vec<u8>) -> Response {
    let (path, modified_at, checksum) = (
        row.path.as_str(),
        row.modified_at,
        row.checksum.as_deref().unwrap_or_default(),
    );
    let mut resp = Body::from(bytes).into_response();
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type(path)));
    if let Ok(v) = HeaderValue::from_str(&modified_at.to_rfc3339()) {
        h.insert(HEADER_MODIFIED_AT, v);
    }
    if let Ok(v) = HeaderValue::from_str(checksum) {
        h.insert(HEADER_CHECKSUM, v);
    }
    resp
}

pub async fn put_file(
    State(st): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<PutResponse>, ServerError> {
    let (account, _) = st.paid(&headers).await?;
    let path = RemotePath::file_from_url(raw_tail(&uri, FILES))?;
    let claimed = headers
        .get(HEADER_MODIFIED_AT)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| Timestamp::parse(v).ok())
        .ok_or_else(|| {
            ServerError::InvalidRequest(
                "X-Modified-At must be an RFC 3339 time (e.g. 2026-11-26T10:00:00.123Z)".into(),
            )
        })?;
    let expected = headers
        .get(HEADER_CHECKSUM)
        .map(|v| v.to_str().unwrap_or("").to_owned());
    let bytes = read_file_body(&headers, body).await?;
    // The body goes to disk first, outside the store lock, so concurrent uploads overlap; only
    // the checks and the row writes below are serialised, and concurrent ones share a commit.
    let blob = st.store.put_blob(bytes, expected).await?;
    let modified_at = st.clock.clamp(claimed);
    let saved = st
        .saves
        .save(&st.store, account, path, blob, modified_at)
        .await?;
    if let Saved::Written(e) = &saved {
        // Logged right after the commit: the benchmark (xtask) reads this line's time and
        // checksum as the moment that content was committed.
        tracing::info!(
            path = %e.path,
            size = e.size.unwrap_or(0),
            checksum = %e.checksum.as_deref().unwrap_or(""),
            "saved"
        );
    }
    Ok(Json(PutResponse {
        server_time: st.clock.now(),
        entry: saved.entry().clone(),
    }))
}

pub async fn put_folder(
    State(st): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Json<PutResponse>, ServerError> {
    let (account, _) = st.paid(&headers).await?;
    let path = RemotePath::folder_from_url(raw_tail(&uri, FOLDERS))?;
    let now = st.clock.now();
    let entry = st
        .store
        .run(move |s| save::ensure_folder(s, &account, &path, now))
        .await?;
    Ok(Json(PutResponse {
        server_time: st.clock.now(),
        entry,
    }))
}

/// `versions/{path}` lists; `versions/{path}/{id}` fetches. When a tail could be read either
/// way, an existing file at the whole tail wins.
pub async fn versions(
    State(st): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ServerError> {
    let (account, _) = st.paid(&headers).await?;
    let tail = raw_tail(&uri, VERSIONS).to_owned();
    let whole = RemotePath::file_from_url(&tail);
    let id = account.id;
    enum Reply {
        List(VersionsResponse),
        Bytes(String, String),
    }
    let reply = st
        .store
        .run(move |s| {
            if let Ok(p) = &whole
                && entries::get(s.conn(), id, p.as_str())?.is_some()
            {
                let versions = entries::versions(s.conn(), id, p.as_str())?;
                return Ok(Reply::List(VersionsResponse { versions }));
            }
            if let Some((prefix, vid)) = tail.rsplit_once('/')
                && let (Ok(p), Ok(vid)) = (RemotePath::file_from_url(prefix), vid.parse::<i64>())
            {
                let sum = entries::version_checksum(s.conn(), id, p.as_str(), vid)?
                    .ok_or_else(|| ServerError::NotFound(format!("{p} has no version {vid}")))?;
                return Ok(Reply::Bytes(p.as_str().to_owned(), sum));
            }
            match whole {
                Err(e) => Err(e.into()),
                Ok(p) => Err(ServerError::NotFound(format!("no file at {p}"))),
            }
        })
        .await?;
    Ok(match reply {
        Reply::List(v) => Json(v).into_response(),
        Reply::Bytes(path, sum) => {
            let bytes = st.store.get_blob(sum.clone()).await?;
            let mut resp = Body::from(bytes).into_response();
            resp.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(content_type(&path)));
            if let Ok(v) = HeaderValue::from_str(&sum) {
                resp.headers_mut().insert(HEADER_CHECKSUM, v);
            }
            resp
        }
    })
}

/// A Content-Type from the file extension; the bytes are served as stored either way.
pub fn content_type(path: &str) -> &'static str {
    let ext = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "html" | "htmlclay" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "txt" | "md" => "text/plain; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "pdf" => "application/pdf",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_defaults_clamps_and_refuses_nonsense() {
        assert_eq!(parse_limit(None).unwrap(), CHANGES_DEFAULT_LIMIT);
        assert_eq!(parse_limit(Some("7")).unwrap(), 7);
        assert_eq!(parse_limit(Some("999999")).unwrap(), CHANGES_MAX_LIMIT);
        for bad in ["0", "-1", "x", ""] {
            assert!(parse_limit(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(content_type("a/b.HTML"), "text/html; charset=utf-8");
        assert_eq!(content_type("x"), "application/octet-stream");
    }
}
