//! The changes parser: any bytes as a `/changes` reply. A reply that parses must round-trip,
//! and every entry path the client would accept must be safe to write. Must never panic.
#![no_main]

use std::path::Path;

use hyperclay_protocol::{ChangesResponse, RemotePath};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(reply) = serde_json::from_slice::<ChangesResponse>(data) else {
        return;
    };
    let again: ChangesResponse =
        serde_json::from_str(&serde_json::to_string(&reply).expect("serialises"))
            .expect("round-trips");
    assert_eq!(again, reply);
    let _ = reply.server_time.to_rfc3339();
    for entry in &reply.entries {
        let _ = entry.modified_at.to_rfc3339();
        if let Ok(p) = RemotePath::file(&entry.path) {
            let joined = hyperclay_sync::local::join_inside(Path::new("/sync"), &p)
                .expect("accepted paths join");
            assert!(joined.starts_with("/sync/"), "{:?}", entry.path);
            assert!(!entry.path.split('/').any(|s| s == ".." || s == "."));
        }
    }
});
