//! The session's bookkeeping with made-up outcomes: no server, no transfers, a state store in a
//! temp folder. Each test names the rule it holds.

use std::path::PathBuf;

use hyperclay_protocol::EntryKind;

use super::*;
use crate::home::state_store::{Identity, StateStore};
use crate::rules::plan::RemoteFile;
use crate::status::state::{EngineState, IssueKind, UserError};

struct Desk {
    _home: tempfile::TempDir,
    reporter: Reporter,
    book: Book,
}

fn desk() -> Desk {
    let home = tempfile::tempdir().unwrap();
    let folder = home.path().join("folder");
    std::fs::create_dir(&folder).unwrap();
    let who = Identity {
        server: "http://127.0.0.1:9",
        account_id: "u1",
    };
    let store = StateStore::open(home.path(), &folder, who).unwrap();
    let picture = Picture::new(
        store,
        BTreeMap::new(),
        BTreeSet::new(),
        RemoteFiles::default(),
        BTreeSet::new(),
    );
    let state = EngineState::starting(
        who.server.to_owned(),
        folder,
        PathBuf::from("/l/sync.log"),
        true,
    );
    Desk {
        reporter: Reporter::detached(state, home.path()),
        book: Book::new(picture, [], Duration::from_secs(10)),
        _home: home,
    }
}

fn local(path: &str, bytes: &[u8]) -> LocalFile {
    LocalFile {
        path: path.to_owned(),
        size: bytes.len() as u64,
        mtime: Timestamp::from_millis(1_700_000_000_000),
        checksum: Checksum::of(bytes),
    }
}

fn stamp(size: u64, inode: u64) -> Stamp {
    Stamp {
        size,
        mtime_ns: 1_700_000_000_000_000_000,
        ctime_ns: 1_700_000_000_000_000_000,
        inode,
    }
}

fn entry(path: &str, bytes: &[u8]) -> Entry {
    Entry {
        path: path.to_owned(),
        kind: EntryKind::App,
        size: Some(bytes.len() as u64),
        modified_at: Timestamp::from_millis(1_700_000_000_000),
        checksum: Some(Checksum::of(bytes).to_hex()),
        deleted: false,
    }
}

fn uploaded(path: &str, bytes: &[u8]) -> Outcome {
    Outcome::Uploaded {
        key: key_of(path),
        local: local(path, bytes),
        stamp: stamp(bytes.len() as u64, 7),
        entry: entry(path, bytes),
    }
}

fn failed(path: &str, error: RemoteError) -> Outcome {
    Outcome::Failed {
        key: key_of(path),
        path: path.to_owned(),
        error,
    }
}

fn server_trouble() -> RemoteError {
    RemoteError::Server {
        status: 503,
        message: "busy".to_owned(),
    }
}

fn issues_of(d: &Desk) -> Vec<(String, IssueKind)> {
    d.reporter
        .state()
        .issues
        .into_iter()
        .map(|i| (i.path, i.kind))
        .collect()
}

fn none() -> HashSet<Key> {
    HashSet::new()
}

#[test]
fn a_local_save_is_planned_as_an_upload_and_once_uploaded_is_not_planned_again() {
    let mut d = desk();
    let actions = d
        .book
        .local_read(&d.reporter, local("hello.html", b"<p>1</p>"));
    assert!(
        matches!(actions.as_slice(), [Action::Upload { local, .. }] if local.path == "hello.html"),
        "{actions:?}"
    );
    d.book
        .apply_all(
            vec![uploaded("hello.html", b"<p>1</p>")],
            &none(),
            &d.reporter,
        )
        .unwrap();
    let record = d.book.synced_record(&key_of("hello.html")).unwrap();
    assert_eq!(record.checksum, Checksum::of(b"<p>1</p>"));
    // The same content read again (a save without changes) plans nothing.
    let again = d
        .book
        .local_read(&d.reporter, local("hello.html", b"<p>1</p>"));
    assert!(again.is_empty(), "{again:?}");
}

#[test]
fn a_failing_upload_is_retried_on_the_schedule_then_listed_as_failed() {
    let mut d = desk();
    let mut failures = 0;
    while d.book.retries_pending() == 1 || failures == 0 {
        d.book
            .apply_all(
                vec![failed("a.png", server_trouble())],
                &none(),
                &d.reporter,
            )
            .unwrap();
        failures += 1;
        assert!(failures <= 10, "never given up");
        if d.book.retries_pending() == 1 {
            assert!(
                issues_of(&d).is_empty(),
                "no issue while a retry is pending"
            );
        }
    }
    // One try and one retry at each of 1, 2, 3, 4 and 5 s.
    assert_eq!(failures, 6);
    let issues = issues_of(&d);
    assert!(
        matches!(issues.as_slice(), [(p, IssueKind::Failed { .. })] if p == "a.png"),
        "{issues:?}"
    );
}

#[test]
fn a_retry_comes_due_as_the_plan_for_that_file_alone() {
    let mut d = desk();
    let _ = d.book.local_read(&d.reporter, local("a.html", b"a"));
    let _ = d.book.local_read(&d.reporter, local("b.html", b"b"));
    d.book
        .apply_all(
            vec![failed("a.html", server_trouble())],
            &none(),
            &d.reporter,
        )
        .unwrap();
    let later = Instant::now() + Duration::from_secs(60);
    let due = d.book.take_due(later);
    assert!(
        matches!(due.retries.as_slice(), [Action::Upload { local, .. }] if local.path == "a.html"),
        "{:?}",
        due.retries
    );
    assert!(d.book.take_due(later).retries.is_empty(), "handed out once");
}

#[test]
fn an_app_refused_for_the_quota_is_held_back_with_the_quota_line_and_planned_when_a_site_frees() {
    let mut d = desk();
    let _ = d.book.local_read(&d.reporter, local("new.html", b"n"));
    d.book
        .apply_all(
            vec![failed("new.html", RemoteError::SiteLimit)],
            &none(),
            &d.reporter,
        )
        .unwrap();
    assert_eq!(d.reporter.state().error, Some(UserError::SiteLimit));
    assert!(
        matches!(issues_of(&d).as_slice(), [(p, IssueKind::HeldBack)] if p == "new.html"),
        "{:?}",
        issues_of(&d)
    );
    let now = Instant::now();
    assert!(!d.book.quota_check_due(now), "asked a poll interval later");
    assert!(d.book.quota_check_due(now + Duration::from_secs(11)));
    d.book.quota_asked(now + Duration::from_secs(11));
    assert!(!d.book.quota_check_due(now + Duration::from_secs(12)));
    let plan = d.book.held_back_plan();
    assert!(
        matches!(plan.as_slice(), [Action::Upload { local, .. }] if local.path == "new.html"),
        "{plan:?}"
    );
}

#[test]
fn a_stalled_upload_is_not_tried_again_until_the_content_changes() {
    let mut d = desk();
    let actions = d.book.local_read(&d.reporter, local("big.png", b"v1"));
    assert_eq!(
        d.book.prepare(actions.clone(), &d.reporter).transfers.len(),
        1
    );
    let stalled = Outcome::Stalled {
        key: key_of("big.png"),
        path: "big.png".to_owned(),
        what: schedule::Stalled::Upload(Checksum::of(b"v1")),
    };
    d.book
        .apply_all(vec![stalled], &none(), &d.reporter)
        .unwrap();
    assert!(d.book.prepare(actions, &d.reporter).transfers.is_empty());
    let changed = d.book.local_read(&d.reporter, local("big.png", b"v2"));
    assert_eq!(d.book.prepare(changed, &d.reporter).transfers.len(), 1);
}

#[test]
fn our_own_download_coming_back_is_an_echo_and_a_later_write_is_not() {
    let mut d = desk();
    let written = stamp(3, 42);
    let downloaded = Outcome::Downloaded {
        key: key_of("news.html"),
        remote: RemoteFile {
            path: "blog/news.html".to_owned(),
            size: 3,
            modified_at: Timestamp::from_millis(1_700_000_000_000),
            checksum: Checksum::of(b"new"),
        },
        local: local("news.html", b"new"),
        stamp: Some(written),
        backup: None,
        staged: None,
    };
    d.book
        .apply_all(vec![downloaded], &none(), &d.reporter)
        .unwrap();
    assert!(d.book.is_echo("news.html", Some(written)));
    let edited = Stamp { size: 9, ..written };
    assert!(!d.book.is_echo("news.html", Some(edited)));
}

#[test]
fn a_conflict_settled_by_a_download_names_where_the_losing_copy_is_kept() {
    let mut d = desk();
    let key = key_of("x.html");
    let downloaded = Outcome::Downloaded {
        key: key.clone(),
        remote: RemoteFile {
            path: "x.html".to_owned(),
            size: 6,
            modified_at: Timestamp::from_millis(1_700_000_000_000),
            checksum: Checksum::of(b"theirs"),
        },
        local: local("x.html", b"theirs"),
        stamp: Some(stamp(6, 3)),
        backup: Some("sites-versions/x/2026-12-08.html".to_owned()),
        staged: None,
    };
    d.book
        .apply_all(vec![downloaded], &HashSet::from([key]), &d.reporter)
        .unwrap();
    let issues = issues_of(&d);
    assert!(
        matches!(issues.as_slice(), [(p, IssueKind::Conflict { backup, .. })]
            if p == "x.html" && backup == "sites-versions/x/2026-12-08.html"),
        "{issues:?}"
    );
}

#[test]
fn an_outcome_that_ends_the_session_still_lets_the_others_be_recorded() {
    let mut d = desk();
    let end = d.book.apply_all(
        vec![
            failed("a.html", RemoteError::Unauthorized),
            uploaded("b.html", b"b"),
        ],
        &none(),
        &d.reporter,
    );
    assert!(end.is_err());
    assert!(d.book.synced_record(&key_of("b.html")).is_some());
}

#[test]
fn watcher_signals_come_due_once() {
    let mut d = desk();
    let now = Instant::now();
    d.book.watcher_saw(Seen::Saved("a.html".to_owned()), now);
    let later = now + Duration::from_secs(5);
    let due = d.book.take_due(later);
    assert_eq!(due.looks, [("a.html".to_owned(), false)]);
    assert!(!due.rescan);
    assert!(d.book.take_due(later).looks.is_empty());
    d.book.watcher_saw(Seen::Overflow, later);
    assert!(d.book.take_due(later + Duration::from_secs(5)).rescan);
}

#[test]
fn a_file_gone_here_ends_its_issue_and_brings_down_a_remote_edit_only_if_one_is_known() {
    let mut d = desk();
    d.book
        .tell(&d.reporter, issues::too_large("gone.png", 30 << 20));
    assert_eq!(issues_of(&d).len(), 1);
    let plan = d.book.local_gone(&d.reporter, "gone.png");
    assert!(plan.is_empty(), "nothing known remotely: {plan:?}");
    assert!(issues_of(&d).is_empty());
}
