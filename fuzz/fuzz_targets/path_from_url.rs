//! The path validator on URL tails as a server or client would receive them: whatever it
//! accepts must be a safe folder-relative path that stays inside the sync folder and survives
//! an encode/decode round trip unchanged. Must never panic.
#![no_main]

use std::path::{Component, Path};

use hyperclay_protocol::RemotePath;
use libfuzzer_sys::fuzz_target;

fn check_safe(p: &RemotePath) {
    let s = p.as_str();
    assert!(
        !s.is_empty() && !s.starts_with('/') && !s.ends_with('/'),
        "{s:?}"
    );
    assert!(!s.contains('\\') && !s.contains('\0'), "{s:?}");
    for seg in s.split('/') {
        assert!(!seg.is_empty() && seg != "." && seg != "..", "{s:?}");
    }
    assert!(s.split('/').count() <= 6, "{s:?}");
    let folder = Path::new("/sync");
    let joined = hyperclay_sync::local::join_inside(folder, p).expect("accepted paths join");
    assert!(joined.starts_with(folder) && joined != folder, "{s:?}");
    assert!(
        joined
            .components()
            .all(|c| matches!(c, Component::RootDir | Component::Normal(_))),
        "{s:?} → {joined:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = RemotePath::file_from_url(text) {
        check_safe(&p);
        assert_eq!(RemotePath::file_from_url(&p.to_url_path()).as_ref(), Ok(&p));
        assert_eq!(RemotePath::file(p.as_str()).as_ref(), Ok(&p));
    }
    if let Ok(p) = RemotePath::file(text) {
        check_safe(&p);
    }
    if let Ok(p) = RemotePath::folder_from_url(text) {
        let s = p.as_str();
        assert!(
            !s.contains("..") || s.split('/').all(|seg| seg != ".."),
            "{s:?}"
        );
        assert!(
            !s.contains('\\') && !s.contains('\0') && !s.starts_with('/'),
            "{s:?}"
        );
    }
});
