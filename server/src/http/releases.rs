//! The release feed: the newest release of a platform and its file. No authentication and no
//! version check, as an outdated client must reach it to update. Only GETs without bodies; a
//! file is streamed from the blob store in pieces (up to
//! [`crate::release::MAX_RELEASE_BYTES`]), so a download holds one connection, bounded as
//! every connection is, and no more than a piece of memory.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::HeaderValue;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use hyperclay_protocol::ReleaseResponse;
use semver::Version;
use tokio::io::AsyncReadExt;

use super::AppState;
use crate::error::ServerError;
use crate::release::is_platform;
use crate::store::releases::{self, Release};

/// How much of a release file is read and sent at once.
const PIECE_BYTES: usize = 64 << 10;

/// Where the reference server serves a release's file: a path on this server.
fn file_url(release: &Release) -> String {
    format!(
        "/api/local-sync/releases/{}/{}/file",
        release.platform, release.version
    )
}

/// `GET /releases/latest?platform=P`. The query is read as pairs, so that no query (a
/// repeated `platform`, stray fields) can get anything but the protocol's own replies.
pub async fn latest(
    State(st): State<AppState>,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Json<ReleaseResponse>, ServerError> {
    let mut platforms = q
        .into_iter()
        .filter(|(k, _)| k == "platform")
        .map(|(_, v)| v);
    let platform = match (platforms.next(), platforms.next()) {
        (Some(one), None) => one,
        _ => String::new(),
    };
    if !is_platform(&platform) {
        return Err(ServerError::InvalidRequest(format!(
            "platform must be one of {}",
            hyperclay_protocol::RELEASE_PLATFORMS.join(", ")
        )));
    }
    let found = {
        let platform = platform.clone();
        st.store
            .run(move |s| releases::newest_for(s.conn(), &platform))
            .await?
    };
    let release =
        found.ok_or_else(|| ServerError::NotFound(format!("no release for {platform}")))?;
    Ok(Json(ReleaseResponse {
        url: file_url(&release),
        version: release.version,
        platform: release.platform,
        size: release.size,
        sha256: release.sha256,
        signature: release.signature,
    }))
}

/// `GET /releases/{platform}/{version}/file`: the file's bytes.
pub async fn file(
    State(st): State<AppState>,
    Path((platform, version)): Path<(String, String)>,
) -> Result<Response, ServerError> {
    let missing = || ServerError::NotFound("no such release".into());
    // Only a known platform and a semver version can name a row; anything else is not looked up.
    let version = match (is_platform(&platform), Version::parse(&version)) {
        (true, Ok(v)) => v.to_string(),
        _ => return Err(missing()),
    };
    let release = st
        .store
        .run(move |s| releases::find(s.conn(), &platform, &version))
        .await?
        .ok_or_else(missing)?;
    let path = st.store.blobs().file_path(&release.sha256)?;
    let file = tokio::fs::File::open(&path).await?;
    // A body whose length on disk is not the row's would end the reply short or long.
    if file.metadata().await?.len() != release.size {
        return Err(ServerError::Internal(format!(
            "release file {} has the wrong size",
            release.sha256
        )));
    }
    let pieces = stream::try_unfold(file, |mut file| async move {
        let mut piece = vec![0u8; PIECE_BYTES];
        let n = file.read(&mut piece).await?;
        piece.truncate(n);
        Ok::<_, std::io::Error>((n > 0).then(|| (bytes::Bytes::from(piece), file)))
    });
    let mut resp = Body::from_stream(pieces).into_response();
    let headers = resp.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(CONTENT_LENGTH, HeaderValue::from(release.size));
    Ok(resp)
}
