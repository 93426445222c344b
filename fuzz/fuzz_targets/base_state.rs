//! The base-state loader: the sync state database as a crashed or tampered file might leave
//! it. Arbitrary bytes as the file, or arbitrary rows in the `base` table; loading and planning
//! from it must fail cleanly or succeed, never panic.
#![no_main]

use std::collections::BTreeMap;
use std::path::Path;

use hyperclay_sync::home::state_store::{Identity, StateStore, state_file};
use libfuzzer_sys::fuzz_target;

fn fields(data: &[u8]) -> Vec<&[u8]> {
    data.split(|b| *b == 0xff).collect()
}

fn int(b: &[u8]) -> i64 {
    let mut a = [0u8; 8];
    for (i, x) in b.iter().take(8).enumerate() {
        a[i] = *x;
    }
    i64::from_le_bytes(a)
}

fuzz_target!(|data: &[u8]| {
    let Ok(home) = tempfile::tempdir() else {
        return;
    };
    let folder = Path::new("/sync");
    let who = Identity {
        server: "http://localhost",
        account_id: "1",
    };
    let file = state_file(home.path(), folder, who);
    let _ = std::fs::create_dir_all(file.parent().unwrap_or(home.path()));
    if data.first() == Some(&0) {
        // Raw bytes as the database file.
        let _ = std::fs::write(&file, &data[1..]);
    } else {
        // A well-formed database with hostile rows.
        let Ok(store) = StateStore::open(home.path(), folder, who) else {
            return;
        };
        drop(store);
        let Ok(db) = rusqlite::Connection::open(&file) else {
            return;
        };
        for row in data.split(|b| *b == 0xfe).take(16) {
            let f = fields(row);
            let text =
                |i: usize| String::from_utf8_lossy(f.get(i).copied().unwrap_or(b"")).into_owned();
            let num = |i: usize| int(f.get(i).copied().unwrap_or(b""));
            // Half the rows get a well-formed checksum (the hash of the field), so that loading
            // gets past the checksum check and the planner sees them; the rest keep raw text.
            let sum = |i: usize| {
                let b = f.get(i).copied().unwrap_or(b"");
                if b.first().is_some_and(|x| x & 1 == 1) {
                    hyperclay_protocol::sha256_hex(b)
                } else {
                    text(i)
                }
            };
            let _ = db.execute(
                "INSERT OR REPLACE INTO base VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                rusqlite::params![text(0), sum(1), num(2), num(3), num(4), text(5), text(6)],
            );
        }
    }
    let Ok(store) = StateStore::open(home.path(), folder, who) else {
        return;
    };
    let Ok(base) = store.base() else {
        return;
    };
    for r in base.values() {
        let _ = r.local_mtime.to_rfc3339();
        let _ = r.remote_modified.to_rfc3339();
    }
    let _ = hyperclay_sync::rules::plan::plan(&base, &BTreeMap::new(), &BTreeMap::new());
});
