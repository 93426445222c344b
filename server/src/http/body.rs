//! Reading a file body under the 20 MiB limit while it streams in: at most the limit is ever
//! held in memory. An over-limit body is read on (and thrown away) up to a cap before the 413,
//! so that a client still writing its body sees the reply instead of a reset connection.

use axum::body::Body;
use axum::http::HeaderMap;
use axum::http::header::CONTENT_LENGTH;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use hyperclay_protocol::MAX_FILE_BYTES;

use crate::error::ServerError;

/// How much of an over-limit body is drained before answering.
const DRAIN_CAP: u64 = 4 * MAX_FILE_BYTES;

/// The most a body of a route anyone may call (the login and consent forms, `/token`, the
/// device pages) may be: such bodies are a few hundred bytes, and each one waiting is memory
/// an unauthenticated caller chose. 100 callers declaring 2 MB each once took 186 MB.
pub const SMALL_BODY_BYTES: usize = 16 * 1024;

/// How much of an over-limit small body is read on (and thrown away) before the 413, so that a
/// client still writing a slightly large body sees the reply; a declared length over it is
/// refused before any byte is read.
const SMALL_DRAIN_CAP: u64 = 4 * SMALL_BODY_BYTES as u64;

/// A small body (see [`SMALL_BODY_BYTES`]): never more than that is held.
pub async fn read_small_body(headers: &HeaderMap, body: Body) -> Result<Bytes, ServerError> {
    read_within(headers, body, SMALL_BODY_BYTES as u64, SMALL_DRAIN_CAP)
        .await
        .map_err(|e| match e {
            ServerError::TooLarge => ServerError::BodyTooLarge(SMALL_BODY_BYTES),
            e => e,
        })
}

pub async fn read_file_body(headers: &HeaderMap, body: Body) -> Result<Bytes, ServerError> {
    read_limited(headers, body, MAX_FILE_BYTES).await
}

pub async fn read_limited(
    headers: &HeaderMap,
    body: Body,
    limit: u64,
) -> Result<Bytes, ServerError> {
    read_within(headers, body, limit, DRAIN_CAP).await
}

/// At most `limit` bytes of `body`; one more is [`ServerError::TooLarge`], answered after
/// reading on to `drain_cap` (or at once when the declared length is over it).
async fn read_within(
    headers: &HeaderMap,
    body: Body,
    limit: u64,
    drain_cap: u64,
) -> Result<Bytes, ServerError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > drain_cap) {
        return Err(ServerError::TooLarge);
    }
    let mut buf =
        BytesMut::with_capacity(usize::try_from(declared.unwrap_or(0).min(limit)).unwrap_or(0));
    let mut total: u64 = 0;
    let mut over = declared.is_some_and(|n| n > limit);
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ServerError::InvalidRequest(format!("the request body could not be read: {e}"))
        })?;
        total = total.saturating_add(chunk.len() as u64);
        if total > limit {
            if !over {
                over = true;
                buf = BytesMut::new();
            }
            if total > drain_cap {
                break;
            }
            continue;
        }
        if !over {
            buf.extend_from_slice(&chunk);
        }
    }
    if over {
        return Err(ServerError::TooLarge);
    }
    Ok(buf.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accepts_up_to_the_limit_and_refuses_one_byte_more() {
        let h = HeaderMap::new();
        let ok = read_limited(&h, Body::from(vec![7u8; 100]), 100)
            .await
            .unwrap();
        assert_eq!(ok.len(), 100);
        let err = read_limited(&h, Body::from(vec![7u8; 101]), 100)
            .await
            .unwrap_err();
        assert!(matches!(err, ServerError::TooLarge));
    }
}
