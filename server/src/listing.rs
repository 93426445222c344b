//! `/changes`: full and incremental listings of an account's tree, paged by change order.

use hyperclay_protocol::{ChangesResponse, Timestamp};

use crate::cursor::Cursor;
use crate::error::ServerError;
use crate::store::{Store, entries};

/// One page of changes for `account_id` after `cursor` (`None`: a full listing from the start).
pub fn changes(
    store: &Store,
    account_id: i64,
    cursor: Option<&str>,
    limit: usize,
    now: Timestamp,
) -> Result<ChangesResponse, ServerError> {
    let head = store.head()?;
    let instance = store.instance();
    let cursor = match cursor {
        None => Cursor::Full {
            pos: 0,
            start: head,
        },
        Some(s) => Cursor::decode(s, instance, head).ok_or(ServerError::CursorExpired)?,
    };
    let (pos, tombstones_after) = match cursor {
        Cursor::Incremental { pos } => (pos, None),
        Cursor::Full { pos, start } => (pos, Some(start)),
    };
    let mut rows = entries::changed_after(
        store.conn(),
        account_id,
        pos,
        tombstones_after,
        limit.saturating_add(1),
    )?;
    let has_more = rows.len() > limit;
    rows.truncate(limit);
    let next = if has_more {
        let last = rows
            .last()
            .map(|r| u64::try_from(r.seq).unwrap_or(0))
            .unwrap_or(pos);
        match cursor {
            Cursor::Incremental { .. } => Cursor::Incremental { pos: last },
            Cursor::Full { start, .. } => Cursor::Full { pos: last, start },
        }
    } else {
        Cursor::Incremental { pos: head }
    };
    Ok(ChangesResponse {
        server_time: now,
        cursor: next.encode(instance),
        has_more,
        entries: rows.iter().map(|r| r.to_entry()).collect(),
    })
}
