//! `/changes`: full and incremental listings of an account's tree, paged by the account's own
//! change order (its cursors say nothing about other accounts).

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
    let head = store.head(account_id)?;
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
        wait: None,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use hyperclay_protocol::RemotePath;
    use proptest::prelude::*;

    use super::*;
    use crate::save;
    use crate::store::{Plan, accounts};

    const FILES: [&str; 6] = [
        "a.txt",
        "d/b.txt",
        "d/e/c.txt",
        "x.html",
        "d/y.html",
        "d/e/z.htmlclay",
    ];

    #[derive(Debug, Clone)]
    enum Op {
        Put(usize, u8),
        RmFile(usize),
        RmFolder(bool),
        Page(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..FILES.len(), 0u8..3).prop_map(|(i, c)| Op::Put(i, c)),
            (0..FILES.len()).prop_map(Op::RmFile),
            any::<bool>().prop_map(Op::RmFolder),
            (1usize..4).prop_map(Op::Page),
        ]
    }

    /// A client that knows nothing, lists, and then follows the changes feed.
    #[derive(Default)]
    struct Client {
        cursor: Option<String>,
        view: BTreeMap<String, Option<String>>,
    }

    impl Client {
        fn page(&mut self, store: &Store, account: i64, limit: usize) -> bool {
            let r = changes(
                store,
                account,
                self.cursor.as_deref(),
                limit,
                Timestamp::from_millis(0),
            )
            .unwrap();
            for e in r.entries {
                if e.deleted {
                    self.view.remove(&e.path);
                } else {
                    self.view.insert(e.path, e.checksum);
                }
            }
            self.cursor = Some(r.cursor);
            r.has_more
        }
    }

    fn live(store: &Store, account: i64) -> BTreeMap<String, Option<String>> {
        let mut stmt = store
            .conn()
            .prepare("SELECT path, checksum FROM entries WHERE account_id = ?1 AND deleted = 0")
            .unwrap();
        stmt.query_map([account], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        /// Whatever happens between pages, a client that applies every page ends up with
        /// exactly the server's tree: nothing missed, nothing resurrected.
        #[test]
        fn following_the_feed_converges_on_the_server_tree(ops in proptest::collection::vec(op(), 1..40)) {
            let dir = tempfile::tempdir().unwrap();
            let mut store = Store::open(dir.path()).unwrap();
            let account = accounts::create(store.conn(), "p", "x", Plan::Paid, 100).unwrap().unwrap();
            let mut client = Client::default();
            let mut clock = 1_000_000i64;
            for op in ops {
                clock += 1000;
                let now = Timestamp::from_millis(clock);
                match op {
                    Op::Put(i, c) => {
                        let path = RemotePath::file(FILES[i]).unwrap();
                        save::save_file(&mut store, &account, &path, &[c], now).unwrap();
                    }
                    Op::RmFile(i) => {
                        let _ = save::remove(&mut store, &account, FILES[i], now);
                    }
                    Op::RmFolder(deep) => {
                        let _ = save::remove(&mut store, &account, if deep { "d/e" } else { "d" }, now);
                    }
                    Op::Page(limit) => {
                        client.page(&store, account.id, limit);
                    }
                }
            }
            while client.page(&store, account.id, 2) {}
            prop_assert_eq!(&client.view, &live(&store, account.id));
            // And a new session's full listing agrees too.
            let mut fresh = Client::default();
            while fresh.page(&store, account.id, 3) {}
            prop_assert_eq!(&fresh.view, &client.view);
        }
    }
}
