use hyperclay_protocol::{Checksum, Timestamp, VersionInfo};

use super::*;

fn t(ms: i64) -> Timestamp {
    Timestamp::from_millis(1_800_000_000_000 + ms)
}

fn backup(bytes: &[u8], at: i64) -> LocalBackup {
    LocalBackup {
        rel: format!("sites-versions/x/{at}.html"),
        kept_at: t(at),
        checksum: Checksum::of(bytes),
        size: bytes.len() as u64,
    }
}

fn server(bytes: &[u8], id: &str, at: i64) -> VersionInfo {
    VersionInfo {
        id: id.to_owned(),
        saved_at: t(at),
        checksum: Checksum::of(bytes).to_hex(),
        size: bytes.len() as u64,
    }
}

fn current(bytes: &[u8], at: i64) -> Current {
    Current {
        checksum: Checksum::of(bytes),
        size: bytes.len() as u64,
        modified_at: t(at),
    }
}

#[test]
fn the_same_bytes_on_both_sides_are_one_version_and_the_list_is_newest_first() {
    let versions = merge(
        &[backup(b"v1", 150), backup(b"v2", 250)],
        &[server(b"v1", "7", 100), server(b"v0", "3", 50)],
        Some(current(b"v3", 300)),
        Some(current(b"v3", 300)),
    );
    let ids: Vec<&str> = versions.iter().map(|v| v.id.as_str()).collect();
    let id = |b: &[u8]| version_id(&Checksum::of(b));
    assert_eq!(ids, [id(b"v3"), id(b"v2"), id(b"v1"), id(b"v0")]);
    assert_eq!(versions[0].place(), Place::Both);
    assert!(versions[0].current_here && versions[0].current_on_server);
    assert_eq!(versions[1].place(), Place::Local);
    let v1 = &versions[2];
    assert_eq!(v1.place(), Place::Both);
    // The server knows when it was saved; the backup only when it was replaced.
    assert_eq!(v1.saved_at, t(100));
    assert_eq!(v1.server_id.as_deref(), Some("7"));
    assert_eq!(versions[3].place(), Place::Server);
    assert_eq!(versions[3].to_json().checksum, Checksum::of(b"v0").to_hex());
}

#[test]
fn sides_that_differ_each_mark_their_own_current() {
    let versions = merge(
        &[],
        &[],
        Some(current(b"here", 2)),
        Some(current(b"there", 1)),
    );
    assert_eq!(versions[0].current_words(), "current here");
    assert_eq!(versions[1].current_words(), "current on the server");
    let json = serde_json::to_value(versions[1].to_json()).unwrap();
    assert_eq!(json["where"], "server");
    assert_eq!(json["current"], serde_json::json!(["server"]));
    assert_eq!(json["savedAt"], t(1).to_rfc3339());
}

#[test]
fn a_version_is_chosen_by_a_prefix_of_its_checksum_or_by_time() {
    let versions = merge(
        &[backup(b"a", 10), backup(b"b", 20)],
        &[server(b"c", "1", 5)],
        None,
        None,
    );
    let b = version_id(&Checksum::of(b"b"));
    assert_eq!(by_id(&versions, &b).unwrap().checksum, Checksum::of(b"b"));
    assert_eq!(
        by_id(&versions, &b[..6].to_ascii_uppercase())
            .unwrap()
            .checksum,
        Checksum::of(b"b")
    );
    assert!(matches!(
        by_id(&versions, "abc"),
        Err(ChooseError::NotAnId(_))
    ));
    assert!(matches!(
        by_id(&versions, "zzzzzzzz"),
        Err(ChooseError::NotAnId(_))
    ));
    assert!(matches!(
        by_id(&versions, "000000000000"),
        Err(ChooseError::NoSuchVersion(_))
    ));
    assert_eq!(
        before(&versions, t(15)).unwrap().checksum,
        Checksum::of(b"a")
    );
    assert_eq!(
        before(&versions, t(20)).unwrap().checksum,
        Checksum::of(b"b")
    );
    assert!(matches!(
        before(&versions, t(1)),
        Err(ChooseError::NoneBefore(_))
    ));
}

#[test]
fn malformed_server_checksums_are_left_out() {
    let mut bad = server(b"x", "1", 1);
    bad.checksum = "nope".into();
    assert!(merge(&[], &[bad], None, None).is_empty());
}

#[test]
fn text_from_elsewhere_is_escaped_and_commands_are_quoted() {
    assert_eq!(escape("a\x1b[2Jb\tc\n"), "a\\u{1b}[2Jb\tc\\n");
    assert_eq!(shell_quote("blog/post.html"), "blog/post.html");
    assert_eq!(shell_quote("my pic's.png"), "'my pic'\\''s.png'");
    let c = restore_command("hello.html", &Checksum::of(b"x"));
    assert_eq!(
        c,
        format!(
            "hyperclay-sync restore hello.html --version {}",
            version_id(&Checksum::of(b"x"))
        )
    );
}

proptest::proptest! {
    /// Whatever the two histories hold, each content is listed once, newest first, and none
    /// that either side kept is missing.
    #[test]
    fn every_content_is_listed_once_newest_first(
        local in proptest::collection::vec((0u8..6, 0i64..1000), 0..12),
        remote in proptest::collection::vec((0u8..6, 0i64..1000), 0..12),
        here in proptest::option::of((0u8..6, 0i64..1000)),
    ) {
        let body = |n: u8| vec![n; usize::from(n) + 1];
        let backups: Vec<LocalBackup> = local.iter().map(|&(n, at)| backup(&body(n), at)).collect();
        let server_versions: Vec<VersionInfo> = remote
            .iter()
            .enumerate()
            .map(|(i, &(n, at))| server(&body(n), &i.to_string(), at))
            .collect();
        let here = here.map(|(n, at)| current(&body(n), at));
        let versions = merge(&backups, &server_versions, here, None);
        let mut seen = std::collections::HashSet::new();
        for v in &versions {
            proptest::prop_assert!(seen.insert(v.checksum));
        }
        for n in local.iter().chain(&remote).map(|(n, _)| *n) {
            proptest::prop_assert!(seen.contains(&Checksum::of(&body(n))));
        }
        proptest::prop_assert!(versions.windows(2).all(|w| w[0].saved_at >= w[1].saved_at));
        if let Some(h) = here {
            proptest::prop_assert!(versions.iter().any(|v| v.checksum == h.checksum && v.current_here));
        }
    }
}
