//! The conformance suite: drives a real `hyperclay-server` over HTTP and checks the protocol
//! (`docs/protocol.md`) to the letter: every endpoint, every row of the error table, and the
//! cases the sync app relies on. See `common` (and docs/protocol.md) for running it against
//! another server with `HYPERCLAY_URL` + `HYPERCLAY_TOKEN`.

use crate::common;
use crate::oauth_flow;

use common::*;
use hyperclay_protocol::{
    ChangesResponse, Entry, EntryKind, ErrorCode, MAX_FILE_BYTES, PutResponse, StatusResponse,
    Timestamp, TokenResponse, VersionsResponse, sha256_hex,
};
use hyperclay_testkit::ServerOptions;

const T1: &str = "2026-01-01T10:00:00.000Z";
const T2: &str = "2026-01-02T10:00:00.000Z";
const T3: &str = "2026-01-03T10:00:00.000Z";

fn ours<'a>(entries: &'a [Entry], prefix: &str) -> Vec<&'a Entry> {
    entries
        .iter()
        .filter(|e| e.path == prefix || e.path.starts_with(&format!("{prefix}/")))
        .collect()
}

fn paths(entries: &[&Entry]) -> Vec<String> {
    let mut p: Vec<String> = entries.iter().map(|e| e.path.clone()).collect();
    p.sort();
    p
}

// ---------------------------------------------------------------- status and authentication

#[test]
fn status_names_the_user_plan_and_sites() {
    let t = Target::new();
    let before = Timestamp::now();
    let s: StatusResponse = t.api().status().ok();
    assert_eq!(s.plan, "paid");
    assert!(!s.user.id.is_empty());
    assert!(s.sites.used <= s.sites.limit);
    if t.local.is_some() {
        assert_eq!(s.user.name, "demo");
        assert_eq!(s.sites, hyperclay_protocol::Sites { used: 0, limit: 50 });
        // Same machine, no skew: the server's time is ours within a generous margin.
        assert!((s.server_time.as_millis() - before.as_millis()).abs() < 60_000);
    }
}

#[test]
fn missing_malformed_and_forged_tokens_are_unauthorized() {
    let t = Target::new();
    t.anonymous().status().expect_error(ErrorCode::Unauthorized);
    t.api_as("not-a-jwt")
        .status()
        .expect_error(ErrorCode::Unauthorized);
    t.api_as("a.b.c")
        .status()
        .expect_error(ErrorCode::Unauthorized);
    // A valid token with its signature altered.
    let mut forged = t.token.clone();
    let last = forged.pop().expect("non-empty token");
    forged.push(if last == 'A' { 'B' } else { 'A' });
    t.api_as(&forged)
        .status()
        .expect_error(ErrorCode::Unauthorized);
    // The right token under the wrong scheme.
    let api = Api::new(&t.url, None);
    api.get_with(
        "/api/local-sync/status",
        &[("Authorization", &format!("Basic {}", t.token))],
    )
    .expect_error(ErrorCode::Unauthorized);
    // Every API route checks, not just status.
    let anon = t.anonymous();
    anon.changes(None, None)
        .expect_error(ErrorCode::Unauthorized);
    anon.get_file("x.txt").expect_error(ErrorCode::Unauthorized);
    anon.put_file("x.txt", b"x", T1)
        .expect_error(ErrorCode::Unauthorized);
    anon.put_folder("x").expect_error(ErrorCode::Unauthorized);
    anon.versions("x.txt").expect_error(ErrorCode::Unauthorized);
    anon.post_with("/api/local-sync/refresh", b"", &[])
        .expect_error(ErrorCode::Unauthorized);
    anon.post_with("/api/local-sync/logout", b"", &[])
        .expect_error(ErrorCode::Unauthorized);
}

#[test]
fn a_token_signed_by_another_server_is_forged() {
    let Some(a) = Target::local() else { return };
    let Some(b) = Target::local() else { return };
    a.api_as(&b.token)
        .status()
        .expect_error(ErrorCode::Unauthorized);
}

#[test]
fn expired_tokens_are_refused_and_day_old_ones_work() {
    let Some(t) = Target::local() else { return };
    let expired = t.server().token_aged("demo", 10 * 24 * 3600 + 5);
    t.api_as(&expired)
        .status()
        .expect_error(ErrorCode::Unauthorized);
    let day_old = t.server().token_aged("demo", 25 * 3600);
    let _: StatusResponse = t.api_as(&day_old).status().ok();
}

#[test]
fn refresh_issues_a_fresh_token_and_logout_revokes() {
    // A refresh retires the token it came from once the new one is used, so this needs a
    // login of its own: the reference server's admin CLI makes one.
    let Some(t) = Target::local() else { return };
    let login = t.server().token("demo");
    let mine: TokenResponse = t
        .api_as(&login)
        .post_with("/api/local-sync/refresh", b"", &[])
        .ok();
    assert!(mine.expires_at > Timestamp::now());
    let ten_days = 10 * 24 * 3600 * 1000;
    let from_now = mine.expires_at.as_millis() - Timestamp::now().as_millis();
    assert!((from_now - ten_days).abs() < 120_000, "{from_now}");
    let api = t.api_as(&mine.access_token);
    let s: StatusResponse = api.status().ok();
    assert_eq!(s.user, mine.user);

    let r = api.post_with("/api/local-sync/logout", b"", &[]);
    assert_eq!(r.status, 204, "{}", r.text());
    api.status().expect_error(ErrorCode::Unauthorized);
    api.post_with("/api/local-sync/refresh", b"", &[])
        .expect_error(ErrorCode::Unauthorized);
    // Logout ended the whole login, the token it was refreshed from too; other logins live.
    t.api_as(&login)
        .status()
        .expect_error(ErrorCode::Unauthorized);
    let _: StatusResponse = t.api().status().ok();
}

#[test]
fn unpaid_accounts_get_402_on_every_call() {
    let Some(t) = Target::local() else { return };
    let free = t.api_as(&t.server().token("free"));
    free.status().expect_error(ErrorCode::SubscriptionRequired);
    free.changes(None, None)
        .expect_error(ErrorCode::SubscriptionRequired);
    free.get_file("x.txt")
        .expect_error(ErrorCode::SubscriptionRequired);
    free.put_file("x.txt", b"x", T1)
        .expect_error(ErrorCode::SubscriptionRequired);
    free.put_folder("x")
        .expect_error(ErrorCode::SubscriptionRequired);
    free.versions("x.txt")
        .expect_error(ErrorCode::SubscriptionRequired);
    free.post_with("/api/local-sync/refresh", b"", &[])
        .expect_error(ErrorCode::SubscriptionRequired);

    // A subscription that lapses is noticed on the next call.
    let token = t.new_account("lapsing", true, 5);
    let api = t.api_as(&token);
    let _: StatusResponse = api.status().ok();
    t.server()
        .cli(&["user", "set", "lapsing", "--plan", "free"]);
    api.status().expect_error(ErrorCode::SubscriptionRequired);
    t.server()
        .cli(&["user", "set", "lapsing", "--plan", "paid"]);
    let _: StatusResponse = api.status().ok();
}

// ---------------------------------------------------------------- changes

#[test]
fn full_listing_then_incremental_listing() {
    let t = Target::new();
    let api = t.api();
    let d = t.dir();
    let app = format!("{d}/sub/{}", t.app("page"));
    let _: PutResponse = api.put_file(&format!("{d}/a.txt"), b"a", T1).ok();
    let _: PutResponse = api.put_file(&app, b"<p>page</p>", T1).ok();

    let (full, cursor) = drain_changes(&api, None, None);
    assert!(
        full.iter().all(|e| !e.deleted),
        "no tombstones in a full listing"
    );
    let mine = ours(&full, &d);
    assert_eq!(
        paths(&mine),
        vec![
            d.clone(),
            format!("{d}/a.txt"),
            format!("{d}/sub"),
            app.clone()
        ]
    );
    for e in &mine {
        match e.kind {
            EntryKind::Folder => assert!(e.size.is_none() && e.checksum.is_none(), "{e:?}"),
            _ => {
                assert!(e.size.is_some() && e.checksum.is_some(), "{e:?}");
            }
        }
    }
    let a = mine
        .iter()
        .find(|e| e.path == format!("{d}/a.txt"))
        .unwrap();
    assert_eq!(a.kind, EntryKind::Upload);
    assert_eq!(a.size, Some(1));
    assert_eq!(a.checksum.as_deref(), Some(sha256_hex(b"a").as_str()));
    assert_eq!(a.modified_at, ts(T1));
    let p = mine.iter().find(|e| e.path == app).unwrap();
    assert_eq!(p.kind, EntryKind::App);

    // Nothing changed: the incremental listing has nothing of ours.
    let (none, cursor2) = drain_changes(&api, Some(&cursor), None);
    assert!(ours(&none, &d).is_empty(), "{none:?}");

    // One change: exactly that entry.
    let _: PutResponse = api.put_file(&format!("{d}/a.txt"), b"a2", T2).ok();
    let (one, cursor3) = drain_changes(&api, Some(&cursor2), None);
    let one = ours(&one, &d);
    assert_eq!(paths(&one), vec![format!("{d}/a.txt")]);
    assert_eq!(one[0].size, Some(2));
    assert_eq!(one[0].modified_at, ts(T2));
    assert_ne!(cursor3, cursor2);
    // Cursors stay valid: an old one still lists the change.
    let (again, _) = drain_changes(&api, Some(&cursor2), None);
    assert_eq!(paths(&ours(&again, &d)), vec![format!("{d}/a.txt")]);
}

#[test]
fn paging_with_has_more() {
    let t = Target::new();
    let api = t.api();
    let d = t.dir();
    for i in 0..7 {
        let _: PutResponse = api.put_file(&format!("{d}/f{i}.txt"), &[i], T1).ok();
    }
    // Full listing in pages of 3.
    let mut cursor: Option<String> = None;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page: ChangesResponse = api.changes(cursor.as_deref(), Some(3)).ok();
        assert!(page.entries.len() <= 3);
        pages += 1;
        seen.extend(page.entries);
        cursor = Some(page.cursor);
        if !page.has_more {
            break;
        }
        assert!(pages < 10_000);
    }
    assert!(pages >= 3, "8 entries in pages of 3 need at least 3 pages");
    let mine = ours(&seen, &d);
    let mut expected: Vec<String> = (0..7).map(|i| format!("{d}/f{i}.txt")).collect();
    expected.push(d.clone());
    expected.sort();
    assert_eq!(paths(&mine), expected, "every entry exactly once");

    // Incremental paging too.
    let cursor = cursor.unwrap();
    for i in 0..5 {
        let _: PutResponse = api.put_file(&format!("{d}/f{i}.txt"), &[i, i], T2).ok();
    }
    let first: ChangesResponse = api.changes(Some(&cursor), Some(2)).ok();
    assert!(first.has_more);
    assert_eq!(first.entries.len(), 2);
    let (rest, _) = drain_changes(&api, Some(&first.cursor), Some(2));
    let mut all = first.entries.clone();
    all.extend(rest);
    let mine = ours(&all, &d);
    assert_eq!(
        paths(&mine),
        (0..5).map(|i| format!("{d}/f{i}.txt")).collect::<Vec<_>>()
    );
    assert!(mine.iter().all(|e| e.size == Some(2)));
}

#[test]
fn unknown_cursors_expire_and_bad_limits_are_refused() {
    let t = Target::new();
    let api = t.api();
    for bad in ["garbage", "!!", "999999999999999999999999"] {
        api.changes(Some(bad), None)
            .expect_error(ErrorCode::CursorExpired);
    }
    for bad in ["0", "-1", "lots"] {
        api.get(&format!("/api/local-sync/changes?limit={bad}"))
            .expect_error(ErrorCode::InvalidRequest);
    }
    // The maximum is 5000; more is served as 5000, not refused.
    let _: ChangesResponse = api.changes(None, Some(100_000)).ok();
}

#[test]
fn a_cursor_from_another_server_expires() {
    let Some(a) = Target::local() else { return };
    let Some(b) = Target::local() else { return };
    let (_, cursor_b) = drain_changes(&b.api(), None, None);
    a.api()
        .changes(Some(&cursor_b), None)
        .expect_error(ErrorCode::CursorExpired);
}

/// A long-poll started on `api` from `cursor` (on its own thread), answered by the server.
fn wait_for_changes(api: Api, cursor: &str, wait: u64) -> std::thread::JoinHandle<ChangesResponse> {
    let cursor = cursor.to_owned();
    std::thread::spawn(move || api.changes_wait(&cursor, &wait.to_string()).ok())
}

/// Long enough that a reply with entries can only come from the change waking the request (its
/// timeout answers with none); the pause before the change gives the request time to start
/// waiting, but the test passes however the two interleave.
const LONG_WAIT: u64 = 50;

#[test]
fn a_waiting_listing_answers_with_the_change_that_woke_it() {
    let Some(t) = Target::local() else { return };
    let api = t.api();
    let d = t.dir();
    let (_, cursor) = drain_changes(&api, None, None);
    let waiting = wait_for_changes(t.api(), &cursor, LONG_WAIT);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let _: PutResponse = api.put_file(&format!("{d}/new.txt"), b"n", T1).ok();
    let page = waiting.join().unwrap();
    assert_eq!(
        page.wait,
        Some(LONG_WAIT),
        "the server echoes the wait it honoured"
    );
    assert_eq!(
        paths(&ours(&page.entries, &d)),
        vec![d.clone(), format!("{d}/new.txt")]
    );
    assert_ne!(page.cursor, cursor);

    // A folder wakes it too, and so does a platform delete made by another process (the CLI).
    let waiting = wait_for_changes(t.api(), &page.cursor, LONG_WAIT);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let _: serde_json::Value = api.put_folder(&format!("{d}/sub")).ok();
    let page = waiting.join().unwrap();
    assert_eq!(paths(&ours(&page.entries, &d)), vec![format!("{d}/sub")]);
    let waiting = wait_for_changes(t.api(), &page.cursor, LONG_WAIT);
    std::thread::sleep(std::time::Duration::from_millis(300));
    t.server().rm("demo", &format!("{d}/new.txt"));
    let page = waiting.join().unwrap();
    let gone = ours(&page.entries, &d);
    assert_eq!(paths(&gone), vec![format!("{d}/new.txt")]);
    assert!(gone[0].deleted);
}

#[test]
fn a_waiting_listing_with_nothing_new_ends_empty_with_the_same_cursor() {
    let Some(t) = Target::local() else { return };
    let api = t.api();
    let _: PutResponse = api.put_file(&format!("{}/a.txt", t.dir()), b"a", T1).ok();
    let (_, cursor) = drain_changes(&api, None, None);
    // Another account's writes meanwhile do not end the wait.
    let other = t.api_as(&t.new_account("other", true, 10));
    let waiting = wait_for_changes(t.api(), &cursor, 2);
    let _: PutResponse = other.put_file("theirs.txt", b"t", T1).ok();
    let page = waiting.join().unwrap();
    assert!(page.entries.is_empty(), "{:?}", page.entries);
    assert!(!page.has_more);
    assert_eq!(page.cursor, cursor);
    assert_eq!(page.wait, Some(2));
    // `wait=0` answers at once, and says the server could have waited.
    let page: ChangesResponse = api.changes_wait(&cursor, "0").ok();
    assert_eq!((page.entries.len(), page.wait), (0, Some(0)));
    // Something already there is answered at once, whatever the wait.
    let page: ChangesResponse = api.changes(None, Some(1)).ok();
    let first: ChangesResponse = api.changes_wait(&page.cursor, "60").ok();
    assert!(!first.entries.is_empty());
}

#[test]
fn a_logout_or_a_lapsed_plan_ends_a_wait_with_its_error() {
    let Some(t) = Target::local() else { return };
    let mine: TokenResponse = t.api().post_with("/api/local-sync/refresh", b"", &[]).ok();
    let api = t.api_as(&mine.access_token);
    let (_, cursor) = drain_changes(&api, None, None);
    let waiting = {
        let (api, cursor) = (t.api_as(&mine.access_token), cursor.clone());
        std::thread::spawn(move || api.changes_wait(&cursor, &LONG_WAIT.to_string()))
    };
    std::thread::sleep(std::time::Duration::from_millis(300));
    api.post_with("/api/local-sync/logout", b"", &[]);
    waiting
        .join()
        .unwrap()
        .expect_error(ErrorCode::Unauthorized);

    let payer = t.api_as(&t.new_account("payer", true, 10));
    let (_, cursor) = drain_changes(&payer, None, None);
    let waiting = {
        let cursor = cursor.clone();
        std::thread::spawn(move || payer.changes_wait(&cursor, &LONG_WAIT.to_string()))
    };
    std::thread::sleep(std::time::Duration::from_millis(300));
    t.server().cli(&["user", "set", "payer", "--plan", "free"]);
    waiting
        .join()
        .unwrap()
        .expect_error(ErrorCode::SubscriptionRequired);
}

#[test]
fn waits_beyond_the_bound_or_not_whole_seconds_are_refused() {
    let Some(t) = Target::local() else { return };
    let api = t.api();
    let (_, cursor) = drain_changes(&api, None, None);
    for bad in ["61", "3600", "-1", "+5", "1.5", "soon", ""] {
        api.changes_wait(&cursor, bad)
            .expect_error(ErrorCode::InvalidRequest);
    }
}

#[test]
fn a_server_without_long_polling_ignores_wait() {
    let Some(t) = Target::local_opts(ServerOptions {
        demo: true,
        no_long_poll: true,
        ..ServerOptions::default()
    }) else {
        return;
    };
    let api = t.api();
    let (_, cursor) = drain_changes(&api, None, None);
    // Answered at once, with no `wait` echoed: the client must poll on its own clock.
    let raw: serde_json::Value = api.changes_wait(&cursor, "3600").json();
    assert!(raw.get("wait").is_none(), "{raw}");
    assert_eq!(raw["cursor"], cursor.as_str());
}

#[test]
fn an_accounts_cursor_does_not_move_when_another_account_writes() {
    let Some(t) = Target::local() else { return };
    let a = t.api();
    let b = t.api_as(&t.new_account("busy", true, 10));
    let _: PutResponse = a.put_file(&format!("{}/a.txt", t.dir()), b"a", T1).ok();
    let (_, before) = drain_changes(&a, None, None);
    for i in 0..5u8 {
        let _: PutResponse = b.put_file(&format!("b{i}.txt"), &[i], T1).ok();
    }
    let (_, after) = drain_changes(&a, Some(&before), None);
    assert_eq!(after, before, "B's writes are invisible in A's cursor");
    // And a fresh full listing of A ends at the same place.
    let (_, fresh) = drain_changes(&a, None, None);
    assert_eq!(fresh, before);
}

#[test]
fn platform_deletes_are_tombstones_in_incremental_listings_only() {
    let Some(t) = Target::local() else { return };
    let api = t.api();
    let d = t.dir();
    let app = format!("{d}/{}", t.app("gone"));
    let _: PutResponse = api.put_file(&app, b"<p>bye</p>", T1).ok();
    let _: PutResponse = api.put_file(&format!("{d}/keep.txt"), b"k", T1).ok();
    let (_, cursor) = drain_changes(&api, None, None);

    t.server().rm("demo", &app);
    let page = api.changes(Some(&cursor), None);
    let raw: serde_json::Value = page.json();
    let tomb = raw["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == app.as_str())
        .expect("a tombstone for the removed app");
    assert_eq!(tomb["deleted"], true);
    assert_eq!(tomb["kind"], "app");
    assert!(tomb["modifiedAt"].is_string());
    assert!(tomb.get("size").is_none() && tomb.get("checksum").is_none());

    let (full, _) = drain_changes(&api, None, None);
    assert_eq!(
        paths(&ours(&full, &d)),
        vec![d.clone(), format!("{d}/keep.txt")]
    );
    api.get_file(&app).expect_error(ErrorCode::NotFound);
    // Nothing is lost: the removed content is a version.
    let v: VersionsResponse = api.versions(&app).ok();
    assert_eq!(v.versions[0].checksum, sha256_hex(b"<p>bye</p>"));
    // The name is free again and the path can be written anew.
    let saved: PutResponse = api.put_file(&app, b"<p>back</p>", T2).ok();
    assert_eq!(saved.entry.path, app);

    // Removing a folder tombstones everything in it.
    let (_, cursor) = drain_changes(&api, None, None);
    t.server().rm("demo", &d);
    let (inc, _) = drain_changes(&api, Some(&cursor), None);
    let gone = ours(&inc, &d);
    assert_eq!(gone.len(), 3, "{gone:?}");
    assert!(gone.iter().all(|e| e.deleted));
}

#[test]
fn a_delete_during_a_full_listing_reaches_the_client() {
    let Some(t) = Target::local() else { return };
    let api = t.api();
    let d = t.dir();
    for i in 0..4 {
        let _: PutResponse = api.put_file(&format!("{d}/f{i}.txt"), &[i], T1).ok();
    }
    let first: ChangesResponse = api.changes(None, Some(2)).ok();
    assert!(first.has_more);
    let listed = first.entries[1].path.clone();
    assert_eq!(listed, format!("{d}/f0.txt"));
    t.server().rm("demo", &listed);
    let (rest, _) = drain_changes(&api, Some(&first.cursor), Some(2));
    let tomb = rest.iter().find(|e| e.path == listed).expect("tombstone");
    assert!(tomb.deleted);
}

// ---------------------------------------------------------------- files and the save process

#[test]
fn get_returns_bytes_and_headers() {
    let t = Target::new();
    let api = t.api();
    let app = format!("{}/{}", t.dir(), t.app("home"));
    let body = b"<!doctype html><p>hi</p>";
    let put: PutResponse = api.put_file(&app, body, T1).ok();
    assert_eq!(put.entry.path, app);
    assert_eq!(put.entry.kind, EntryKind::App);
    assert_eq!(
        put.entry.checksum.as_deref(),
        Some(sha256_hex(body).as_str())
    );
    let r = api.get_file(&app);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, body);
    assert_eq!(r.header("x-modified-at").as_deref(), Some(T1));
    assert_eq!(r.header("x-checksum"), Some(sha256_hex(body)));
    assert!(r.header("content-type").unwrap().starts_with("text/html"));

    // Unicode and spaces in upload names survive the percent-encoding both ways.
    let odd = format!("{}/Logo Final (2) über.PNG", t.dir());
    let _: PutResponse = api.put_file(&odd, b"\x89PNG", T1).ok();
    assert_eq!(api.get_file(&odd).body, b"\x89PNG");
    let (full, _) = drain_changes(&api, None, None);
    assert!(full.iter().any(|e| e.path == odd));
}

#[test]
fn missing_files_and_routes_are_not_found() {
    let t = Target::new();
    let api = t.api();
    api.get_file(&format!("{}/nothing.txt", t.dir()))
        .expect_error(ErrorCode::NotFound);
    api.versions(&format!("{}/nothing.txt", t.dir()))
        .expect_error(ErrorCode::NotFound);
    api.get("/api/local-sync/no-such-route")
        .expect_error(ErrorCode::NotFound);
    // A folder is not a file.
    let _: PutResponse = api.put_folder(&t.dir()).ok();
    api.get(&format!("/api/local-sync/files/{}", t.dir()))
        .expect_error(ErrorCode::NotFound);
}

#[test]
fn identical_content_is_a_no_op() {
    let t = Target::new();
    let api = t.api();
    let d = t.dir();
    let f = format!("{d}/same.txt");
    let first: PutResponse = api.put_file(&f, b"same", T1).ok();
    let (_, cursor) = drain_changes(&api, None, None);
    let again: PutResponse = api.put_file(&f, b"same", T2).ok();
    assert_eq!(again.entry, first.entry, "no new modifiedAt");
    let v: VersionsResponse = api.versions(&f).ok();
    assert!(v.versions.is_empty(), "{v:?}");
    let (inc, _) = drain_changes(&api, Some(&cursor), None);
    assert!(ours(&inc, &d).is_empty(), "no change recorded: {inc:?}");
}

#[test]
fn overwriting_keeps_every_old_version() {
    let t = Target::new();
    let api = t.api();
    let f = format!("{}/{}", t.dir(), t.app("doc"));
    let _: PutResponse = api.put_file(&f, b"v1", T1).ok();
    let _: PutResponse = api.put_file(&f, b"v2", T2).ok();
    let _: PutResponse = api.put_file(&f, b"v3!", T3).ok();
    assert_eq!(api.get_file(&f).body, b"v3!");
    let v: VersionsResponse = api.versions(&f).ok();
    assert_eq!(v.versions.len(), 2, "{v:?}");
    assert_eq!(v.versions[0].checksum, sha256_hex(b"v2"), "newest first");
    assert_eq!(v.versions[0].size, 2);
    assert_eq!(v.versions[1].checksum, sha256_hex(b"v1"));
    assert!(v.versions[0].saved_at >= v.versions[1].saved_at);
    for (info, bytes) in v.versions.iter().zip([&b"v2"[..], &b"v1"[..]]) {
        let r = api.get(&format!(
            "/api/local-sync/versions/{}/{}",
            enc(&f),
            urlencode(&info.id)
        ));
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.body, bytes);
    }
    api.get(&format!("/api/local-sync/versions/{}/999999999", enc(&f)))
        .expect_error(ErrorCode::NotFound);
}

#[test]
fn older_writes_are_stale() {
    let t = Target::new();
    let api = t.api();
    let f = format!("{}/s.txt", t.dir());
    let _: PutResponse = api.put_file(&f, b"newer", T2).ok();
    let body = api
        .put_file(&f, b"older", T1)
        .expect_error(ErrorCode::Stale);
    let entry = body.entry.expect("stale carries the server's entry");
    assert_eq!(entry.path, f);
    assert_eq!(entry.modified_at, ts(T2));
    assert_eq!(entry.checksum, Some(sha256_hex(b"newer")));
    assert_eq!(api.get_file(&f).body, b"newer");
    let v: VersionsResponse = api.versions(&f).ok();
    assert!(v.versions.is_empty());
    // Same time, new content: not older, so accepted.
    let _: PutResponse = api.put_file(&f, b"tie", T2).ok();
}

#[test]
fn future_times_are_clamped_to_the_servers_clock() {
    let t = Target::new();
    let api = t.api();
    let f = format!("{}/future.txt", t.dir());
    let put: PutResponse = api.put_file(&f, b"x", "2999-01-01T00:00:00.000Z").ok();
    assert!(put.entry.modified_at <= put.server_time, "{put:?}");
    assert!(put.entry.modified_at.as_millis() > put.server_time.as_millis() - 60_000);
    // A later real edit is not refused as stale because of the claimed future.
    let now = Timestamp::now().to_rfc3339();
    std::thread::sleep(std::time::Duration::from_millis(5));
    let r = api.put_file(&f, b"y", &Timestamp::now().to_rfc3339());
    assert_eq!(r.status, 200, "{now}: {}", r.text());
}

#[test]
fn put_needs_a_modification_time_and_a_matching_checksum() {
    let t = Target::new();
    let api = t.api();
    let f = format!("{}/h.txt", t.dir());
    api.put_with(&format!("/api/local-sync/files/{}", enc(&f)), b"x", &[])
        .expect_error(ErrorCode::InvalidRequest);
    api.put_with(
        &format!("/api/local-sync/files/{}", enc(&f)),
        b"x",
        &[("X-Modified-At", "yesterday")],
    )
    .expect_error(ErrorCode::InvalidRequest);
    api.put_with(
        &format!("/api/local-sync/files/{}", enc(&f)),
        b"x",
        &[("X-Modified-At", T1), ("X-Checksum", &sha256_hex(b"y"))],
    )
    .expect_error(ErrorCode::InvalidRequest);
    let ok: PutResponse = api
        .put_with(
            &format!("/api/local-sync/files/{}", enc(&f)),
            b"x",
            &[("X-Modified-At", T1), ("X-Checksum", &sha256_hex(b"x"))],
        )
        .ok();
    assert_eq!(ok.entry.size, Some(1));
}

#[test]
fn twenty_mib_is_accepted_and_one_byte_more_is_too_large() {
    let t = Target::new();
    let api = t.api();
    let max = MAX_FILE_BYTES as usize;
    let big = vec![b'a'; max];
    let f = format!("{}/big.bin", t.dir());
    let put: PutResponse = api.put_file(&f, &big, T1).ok();
    assert_eq!(put.entry.size, Some(MAX_FILE_BYTES));
    let mut over = big;
    over.push(b'b');
    api.put_file(&format!("{}/over.bin", t.dir()), &over, T1)
        .expect_error(ErrorCode::TooLarge);
    api.get_file(&format!("{}/over.bin", t.dir()))
        .expect_error(ErrorCode::NotFound);
    assert_eq!(api.get_file(&f).body.len(), max);
}

#[test]
fn folders_are_created_with_parents_idempotently() {
    let t = Target::new();
    let api = t.api();
    let d = t.dir();
    let deep = format!("{d}/a/b/c/d");
    let r: PutResponse = api.put_folder(&deep).ok();
    assert_eq!(r.entry.path, deep);
    assert_eq!(r.entry.kind, EntryKind::Folder);
    let (full, cursor) = drain_changes(&api, None, None);
    assert_eq!(
        paths(&ours(&full, &d)),
        vec![
            d.clone(),
            format!("{d}/a"),
            format!("{d}/a/b"),
            format!("{d}/a/b/c"),
            deep.clone()
        ]
    );
    let again: PutResponse = api.put_folder(&deep).ok();
    assert_eq!(again.entry, r.entry);
    let (inc, _) = drain_changes(&api, Some(&cursor), None);
    assert!(ours(&inc, &d).is_empty());

    api.put_folder(&format!("{deep}/e/f"))
        .expect_error(ErrorCode::InvalidPath);
    api.put_folder(&format!("{d}/Caps"))
        .expect_error(ErrorCode::InvalidName);
    // A file where a folder is, and a folder where a file is.
    api.put_file(&format!("{d}/a"), b"x", T1)
        .expect_error(ErrorCode::InvalidPath);
    let _: PutResponse = api.put_file(&format!("{d}/file"), b"x", T1).ok();
    api.put_folder(&format!("{d}/file"))
        .expect_error(ErrorCode::InvalidPath);
    api.put_file(&format!("{d}/file/inner.txt"), b"x", T1)
        .expect_error(ErrorCode::InvalidPath);
}

#[test]
fn hostile_and_malformed_paths_are_refused() {
    let t = Target::new();
    let api = t.api();
    let invalid_path = [
        "%2e%2e/x.txt",
        "a/%2e%2e/x.txt",
        "%2E%2E%2Fx.txt",
        "a/%2e/x.txt",
        "%2Fetc%2Fpasswd",
        "/etc/passwd",
        "a//x.txt",
        "a%5Cx.txt",
        "a%5C..%5Cx.txt",
        "x%00.txt",
        "a/b/c/d/e/f/x.txt",
        "c:/x.txt",
        "%ff%fe.txt",
    ];
    for p in invalid_path {
        api.get(&format!("/api/local-sync/files/{p}"))
            .expect_error(ErrorCode::InvalidPath);
        api.put_raw(p, b"x", T1)
            .expect_error(ErrorCode::InvalidPath);
        api.get(&format!("/api/local-sync/versions/{p}"))
            .expect_error(ErrorCode::InvalidPath);
    }
    api.get("/api/local-sync/files/")
        .expect_error(ErrorCode::InvalidPath);
    let invalid_name = [
        "Hello.html",
        "hello%20world.html",
        "a--b.html",
        "-a.html",
        "con.html",
        "Folder/x.txt",
        "x%7Cy.txt",
        ".hidden",
        "trailing.",
        "trailing%20",
        // Windows device names, for every kind of file and folder, in any case and extension.
        "nul.txt",
        "COM1.tar.gz",
        "lpt1%20.png",
        "aux/x.txt",
    ];
    for p in invalid_name {
        api.put_raw(p, b"x", T1)
            .expect_error(ErrorCode::InvalidName);
        api.get(&format!("/api/local-sync/files/{p}"))
            .expect_error(ErrorCode::InvalidName);
    }
    api.put_with("/api/local-sync/folders/a%2F..%2Fb", b"", &[])
        .expect_error(ErrorCode::InvalidPath);
    // Nothing hostile got in.
    let (full, _) = drain_changes(&api, None, None);
    assert!(
        full.iter()
            .all(|e| !e.path.contains("..") && !e.path.starts_with('/'))
    );
}

/// Issue 23, 5 and 9: names that display as something they are not (bidi controls, zero-width
/// and other invisible characters, line separators), the console devices `CONIN$`/`CONOUT$`,
/// and Windows 8.3 short names are refused on every route, as uploads and apps, and nothing
/// with such a name is stored.
#[test]
fn names_that_lie_about_themselves_are_refused() {
    let t = Target::new();
    let api = t.api();
    let deceptive = [
        // `photo<U+202E>gnp.exe`: an .exe that displays as "photoexe.png".
        "photo%E2%80%AEgnp.exe",
        // U+2067 RIGHT-TO-LEFT ISOLATE, U+202A–U+202D, U+2066, U+2068, U+2069.
        "%E2%81%A7rtl.txt",
        "a%E2%80%AAb.txt",
        "a%E2%80%ABb.txt",
        "a%E2%80%ACb.txt",
        "a%E2%80%ADb.txt",
        "a%E2%81%A6b.txt",
        "a%E2%81%A8b.txt",
        "a%E2%81%A9b.txt",
        // LRM, RLM, ALM.
        "a%E2%80%8Eb.txt",
        "a%E2%80%8Fb.txt",
        "a%D8%9Cb.txt",
        // Zero-width space, non-joiner, joiner; word joiner; BOM.
        "zero%E2%80%8Bwidth.txt",
        "a%E2%80%8Cb.txt",
        "a%E2%80%8Db.txt",
        "a%E2%81%A0b.txt",
        "%EF%BB%BFbom.txt",
        // Line and paragraph separators.
        "two%E2%80%A8lines.txt",
        "two%E2%80%A9paragraphs.txt",
        // In a folder too.
        "docs/photo%E2%80%AEgnp.exe",
    ];
    let windows = [
        "CONIN$",
        "conin%24.txt",
        "CONOUT$.log",
        "ConOut%24.tar.gz",
        "HELLOW~1.TXT",
        "hellow~1.txt",
        "PROGRA~1",
        "a/ab~12.png",
    ];
    for p in deceptive.iter().chain(windows.iter()) {
        api.put_raw(p, b"x", T1)
            .expect_error(ErrorCode::InvalidName);
        api.get(&format!("/api/local-sync/files/{p}"))
            .expect_error(ErrorCode::InvalidName);
        api.get(&format!("/api/local-sync/versions/{p}"))
            .expect_error(ErrorCode::InvalidName);
    }
    let (full, _) = drain_changes(&api, None, None);
    for e in &full {
        assert!(
            !e.path.chars().any(|c| matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}' | '\u{61c}' | '~' | '$')),
            "{:?} got in",
            e.path
        );
    }
}

#[test]
fn delete_is_never_allowed() {
    let t = Target::new();
    let api = t.api();
    let f = format!("{}/keep.txt", t.dir());
    let _: PutResponse = api.put_file(&f, b"keep", T1).ok();
    for route in [
        format!("/api/local-sync/files/{}", enc(&f)),
        format!("/api/local-sync/folders/{}", t.dir()),
        "/api/local-sync/status".to_owned(),
        "/api/local-sync/changes".to_owned(),
        format!("/api/local-sync/versions/{}", enc(&f)),
        "/api/local-sync/nowhere".to_owned(),
    ] {
        api.delete(&route).expect_error(ErrorCode::MethodNotAllowed);
        t.anonymous()
            .delete(&route)
            .expect_error(ErrorCode::MethodNotAllowed);
    }
    assert_eq!(api.get_file(&f).body, b"keep");
    // Other methods a route does not have are 405 as well.
    api.post_with(&format!("/api/local-sync/files/{}", enc(&f)), b"x", &[])
        .expect_error(ErrorCode::MethodNotAllowed);
}

// ---------------------------------------------------------------- apps

#[test]
fn an_app_in_another_folder_is_updated_where_it_is() {
    let t = Target::new();
    let api = t.api();
    let d = t.dir();
    let name = t.app("moved");
    let remote = format!("{d}/deep/er/{name}");
    let _: PutResponse = api.put_file(&remote, b"<p>1</p>", T1).ok();
    let local = format!("{d}/{name}");
    let put: PutResponse = api.put_file(&local, b"<p>2</p>", T2).ok();
    assert_eq!(put.entry.path, remote, "the remote folder wins");
    assert_eq!(api.get_file(&remote).body, b"<p>2</p>");
    api.get_file(&local).expect_error(ErrorCode::NotFound);
    let v: VersionsResponse = api.versions(&remote).ok();
    assert_eq!(v.versions[0].checksum, sha256_hex(b"<p>1</p>"));
    let (full, _) = drain_changes(&api, None, None);
    assert!(!full.iter().any(|e| e.path == local));
    // At the top level too, and the other extension names the same app.
    let clay = format!("{}.htmlclay", name.trim_end_matches(".html"));
    let put: PutResponse = api.put_file(&clay, b"<p>3</p>", T3).ok();
    assert_eq!(put.entry.path, remote);
}

#[test]
fn an_app_name_owned_by_another_account_is_taken() {
    let Some(t) = Target::local() else { return };
    let other = t.api_as(&t.new_account("other", true, 10));
    let name = t.app("mine");
    let _: PutResponse = other.put_file(&name, b"<p>other</p>", T1).ok();
    let api = t.api();
    api.put_file(&name, b"<p>me</p>", T2)
        .expect_error(ErrorCode::NameTaken);
    api.put_file(&format!("{}/{name}", t.dir()), b"<p>me</p>", T2)
        .expect_error(ErrorCode::NameTaken);
    assert_eq!(other.get_file(&name).body, b"<p>other</p>");
    // Uploads are per account, matched by full path.
    let _: PutResponse = other.put_file("same.txt", b"o", T1).ok();
    let _: PutResponse = api.put_file("same.txt", b"me", T1).ok();
    assert_eq!(other.get_file("same.txt").body, b"o");
}

#[test]
fn creating_an_app_past_the_quota_is_site_limit() {
    let Some(t) = Target::local() else { return };
    let api = t.api_as(&t.new_account("small", true, 2));
    let _: PutResponse = api.put_file("one.html", b"1", T1).ok();
    let _: PutResponse = api.put_file("blog/two.html", b"2", T1).ok();
    let e = api
        .put_file("three.html", b"3", T1)
        .expect_error(ErrorCode::SiteLimit);
    assert_eq!(
        e.message,
        "You've run out of sites. We can't sync any more sites."
    );
    // Updating an existing app and uploading files still work.
    let _: PutResponse = api.put_file("one.html", b"1b", T2).ok();
    let _: PutResponse = api.put_file("img.png", b"png", T1).ok();
    let s: StatusResponse = api.status().ok();
    assert_eq!(s.sites, hyperclay_protocol::Sites { used: 2, limit: 2 });
    t.server()
        .cli(&["user", "set", "small", "--site-limit", "3"]);
    let _: PutResponse = api.put_file("three.html", b"3", T1).ok();
}

#[test]
fn concurrent_saves_all_land_with_their_own_versions() {
    // The server stores bodies in parallel, outside its store lock: every save must still land
    // whole, with its own version history, and concurrent saves of one path must serialise.
    let t = Target::new();
    let d = t.dir();
    let (url, token) = (t.url.clone(), t.token.clone());
    let times = |i: usize| format!("2026-01-01T10:00:{:02}.000Z", i);
    let shared = format!("{d}/shared.txt");
    let own: Vec<String> = (0..8)
        .map(|w| {
            if w % 2 == 0 {
                format!("{d}/{w}/{}", t.app(&format!("app{w}")))
            } else {
                format!("{d}/{w}/file{w}.bin")
            }
        })
        .collect();
    let accepted: Vec<(usize, u16)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..8)
            .map(|w| {
                let (url, token, shared, own) = (&url, &token, &shared, &own[w]);
                s.spawn(move || {
                    let api = Api::new(url, Some(token));
                    for v in 0..5 {
                        let body = format!("worker {w} version {v}").repeat(1 + 300 * w);
                        let put: PutResponse = api.put_file(own, body.as_bytes(), &times(v)).ok();
                        assert_eq!(put.entry.checksum, Some(sha256_hex(body.as_bytes())));
                    }
                    // Everyone writes the shared file once, each with its own time.
                    let r = api.put_file(shared, format!("from {w}").as_bytes(), &times(10 + w));
                    (w, r.status)
                })
            })
            .collect();
        workers.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let api = t.api();
    for (w, own) in own.iter().enumerate() {
        let body = |v: usize| format!("worker {w} version {v}").repeat(1 + 300 * w);
        assert_eq!(api.get_file(own).body, body(4).as_bytes(), "{own}");
        let vs: VersionsResponse = api.versions(own).ok();
        let sums: Vec<String> = vs.versions.iter().map(|v| v.checksum.clone()).collect();
        let want: Vec<String> = (0..4)
            .rev()
            .map(|v| sha256_hex(body(v).as_bytes()))
            .collect();
        assert_eq!(sums, want, "{own}: every older version, newest first");
    }
    // The newest write of the shared file always wins; an older one either landed first (and
    // is now a version) or was refused as stale, never lost in between.
    let ok = accepted.iter().filter(|(_, s)| *s == 200).count();
    assert!(
        accepted.iter().all(|(_, s)| *s == 200 || *s == 409),
        "{accepted:?}"
    );
    assert_eq!(api.get_file(&shared).body, b"from 7");
    let vs: VersionsResponse = api.versions(&shared).ok();
    assert_eq!(vs.versions.len(), ok - 1, "{accepted:?} {vs:?}");
    // The listing has every file once, with distinct change numbers and the final checksums.
    let (listing, _) = drain_changes(&api, None, None);
    let files: Vec<&Entry> = ours(&listing, &d)
        .into_iter()
        .filter(|e| e.kind != EntryKind::Folder)
        .collect();
    assert_eq!(files.len(), 9, "{files:?}");
}

#[test]
fn a_refused_save_leaves_no_row_and_a_bad_body_is_not_stored() {
    let Some(t) = Target::local() else { return };
    let api = t.api_as(&t.new_account("refused", true, 1));
    let _: PutResponse = api.put_file("only.html", b"1", T1).ok();
    let (_, cursor) = drain_changes(&api, None, None);
    api.put_file("two.html", b"<p>two</p>", T1)
        .expect_error(ErrorCode::SiteLimit);
    let _: PutResponse = api.put_file("s.txt", b"new", T2).ok();
    api.put_file("s.txt", b"old", T1)
        .expect_error(ErrorCode::Stale);
    let _: PutResponse = api.put_file("file", b"f", T1).ok();
    api.put_file("file/under.txt", b"under", T1)
        .expect_error(ErrorCode::InvalidPath);
    let (inc, _) = drain_changes(&api, Some(&cursor), None);
    assert_eq!(
        inc.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(),
        ["s.txt", "file"],
        "only the accepted saves are changes"
    );
    api.get_file("two.html").expect_error(ErrorCode::NotFound);
    api.get_file("file/under.txt")
        .expect_error(ErrorCode::NotFound);
    assert_eq!(api.get_file("s.txt").body, b"new");
    let v: VersionsResponse = api.versions("s.txt").ok();
    assert!(v.versions.is_empty(), "{v:?}");
    // The refused bodies may be on disk, unreferenced; saving the same bytes later reuses them.
    let _: PutResponse = api.put_file("two.txt", b"<p>two</p>", T1).ok();
    assert_eq!(api.get_file("two.txt").body, b"<p>two</p>");
    let _: PutResponse = api.put_file("old.txt", b"old", T1).ok();
    assert_eq!(api.get_file("old.txt").body, b"old");
    // A body that does not match its X-Checksum is refused before anything is written.
    let bad = b"not what the header says";
    api.put_with(
        &format!("/api/local-sync/files/{}", enc("bad.txt")),
        bad,
        &[("X-Modified-At", T1), ("X-Checksum", &sha256_hex(b"other"))],
    )
    .expect_error(ErrorCode::InvalidRequest);
    let sum = sha256_hex(bad);
    let blob = t
        .server()
        .data_dir()
        .join("blobs")
        .join(&sum[..2])
        .join(&sum);
    assert!(!blob.exists(), "{blob:?}");
}

#[test]
fn accounts_never_see_each_others_files() {
    let Some(t) = Target::local() else { return };
    let a = t.api();
    let b = t.api_as(&t.new_account("bee", true, 10));
    let secret = format!("{}/secret.txt", t.dir());
    let app = format!("{}/{}", t.dir(), t.app("private"));
    let _: PutResponse = a.put_file(&secret, b"a's secret", T1).ok();
    let _: PutResponse = a.put_file(&secret, b"a's secret v2", T2).ok();
    let _: PutResponse = a.put_file(&app, b"<p>a</p>", T1).ok();

    let (listing, _) = drain_changes(&b, None, None);
    assert!(listing.is_empty(), "{listing:?}");
    b.get_file(&secret).expect_error(ErrorCode::NotFound);
    b.get_file(&app).expect_error(ErrorCode::NotFound);
    b.versions(&secret).expect_error(ErrorCode::NotFound);
    b.get(&format!("/api/local-sync/versions/{}/1", enc(&secret)))
        .expect_error(ErrorCode::NotFound);
    // B writing the same upload path makes B's own file.
    let _: PutResponse = b.put_file(&secret, b"b's", T3).ok();
    assert_eq!(a.get_file(&secret).body, b"a's secret v2");
    assert_eq!(b.get_file(&secret).body, b"b's");
    // B cannot save A's app through the platform endpoint either.
    let stem = app.rsplit('/').next().unwrap().trim_end_matches(".html");
    b.post_with(&format!("/save/{stem}"), b"<p>b</p>", &[])
        .expect_error(ErrorCode::NotFound);
    assert_eq!(a.get_file(&app).body, b"<p>a</p>");
}

// ---------------------------------------------------------------- the platform side

#[test]
fn the_platform_serves_and_saves_apps() {
    let Some(t) = Target::local() else { return };
    let api = t.api();
    let d = t.dir();
    let name = t.app("site");
    let stem = name.trim_end_matches(".html").to_owned();
    let path = format!("{d}/{name}");
    let _: PutResponse = api.put_file(&path, b"<p>v1</p>", T1).ok();
    let (_, cursor) = drain_changes(&api, None, None);

    let served = t.anonymous().get(&format!("/{stem}"));
    assert_eq!(served.status, 200);
    assert_eq!(served.body, b"<p>v1</p>");
    assert!(
        served
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    t.anonymous()
        .get("/no-such-app")
        .expect_error(ErrorCode::NotFound);

    let before = Timestamp::now();
    let saved: PutResponse = api
        .post_with(&format!("/save/{stem}"), b"<p>v2</p>", &[])
        .ok();
    assert_eq!(saved.entry.path, path);
    assert!(saved.entry.modified_at.as_millis() >= before.as_millis() - 1000);
    assert_eq!(t.anonymous().get(&format!("/{stem}")).body, b"<p>v2</p>");
    let (inc, _) = drain_changes(&api, Some(&cursor), None);
    assert_eq!(paths(&ours(&inc, &d)), vec![path.clone()]);
    let v: VersionsResponse = api.versions(&path).ok();
    assert_eq!(v.versions[0].checksum, sha256_hex(b"<p>v1</p>"));

    t.anonymous()
        .post_with(&format!("/save/{stem}"), b"x", &[])
        .expect_error(ErrorCode::Unauthorized);

    // The owner's browser session works too.
    let cookie = oauth_flow::login_cookie(&t, "demo", "demo");
    let r = t.anonymous().post_with(
        &format!("/save/{stem}"),
        b"<p>v3</p>",
        &[("Cookie", &cookie)],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(api.get_file(&path).body, b"<p>v3</p>");
}

// ---------------------------------------------------------------- durability and the clock

#[test]
fn a_restart_keeps_everything() {
    let Some(mut t) = Target::local() else { return };
    let api = t.api();
    let d = t.dir();
    let f = format!("{d}/{}", t.app("durable"));
    let _: PutResponse = api.put_file(&f, b"<p>1</p>", T1).ok();
    let _: PutResponse = api.put_file(&f, b"<p>2</p>", T2).ok();
    let _: PutResponse = api.put_folder(&format!("{d}/empty")).ok();
    let other_login = t.server().token("demo");
    let revoked: TokenResponse = t
        .api_as(&other_login)
        .post_with("/api/local-sync/refresh", b"", &[])
        .ok();
    let r = t
        .api_as(&revoked.access_token)
        .post_with("/api/local-sync/logout", b"", &[]);
    assert_eq!(r.status, 204);
    let (before, cursor) = drain_changes(&api, None, None);
    let url = t.url.clone();
    t.server()
        .cli(&["user", "set", "demo", "--site-limit", "7"]);

    t.server_mut().restart();
    assert_eq!(t.server().url(), url, "same port");

    let api = t.api();
    let (after, _) = drain_changes(&api, None, None);
    assert_eq!(after, before);
    assert_eq!(api.get_file(&f).body, b"<p>2</p>");
    let v: VersionsResponse = api.versions(&f).ok();
    assert_eq!(v.versions.len(), 1);
    let (inc, _) = drain_changes(&api, Some(&cursor), None);
    assert!(inc.is_empty(), "old cursors stay valid: {inc:?}");
    t.api_as(&revoked.access_token)
        .status()
        .expect_error(ErrorCode::Unauthorized);
    let s: StatusResponse = api.status().ok();
    assert_eq!(
        s.sites,
        hyperclay_protocol::Sites { used: 1, limit: 7 },
        "--demo keeps admin changes"
    );
}

#[test]
fn the_servers_clock_can_be_skewed_for_tests() {
    let Some(t) = Target::local_opts(ServerOptions {
        clock_skew_ms: -3_600_000,
        demo: true,
        ..ServerOptions::default()
    }) else {
        return;
    };
    let api = t.api();
    let s: StatusResponse = api.status().ok();
    let behind = Timestamp::now().as_millis() - s.server_time.as_millis();
    assert!((behind - 3_600_000).abs() < 60_000, "{behind}");
    // Our now is in the server's future: clamped to the server's now.
    let put: PutResponse = api
        .put_file(
            &format!("{}/x.txt", t.dir()),
            b"x",
            &Timestamp::now().to_rfc3339(),
        )
        .ok();
    assert!(put.entry.modified_at <= put.server_time);

    // Tokens from the test support follow the server's clock: eleven days ahead, a token made
    // on the system clock would already be expired.
    let Some(ahead) = Target::local_opts(ServerOptions {
        clock_skew_ms: 11 * 24 * 3_600_000,
        demo: true,
        ..ServerOptions::default()
    }) else {
        return;
    };
    let s: StatusResponse = ahead.api().status().ok();
    assert!(s.server_time.as_millis() > Timestamp::now().as_millis() + 10 * 24 * 3_600_000);
}
