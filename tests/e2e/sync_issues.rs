//! End to end: the sync-issues list, the quota line and "syncing N of M", read through the engine
//! library's `EngineHandle::state()`, with the engine talking to the real `hyperclay-server`
//! (through the fault-injecting proxy where a test needs failures) in real temp folders. Also:
//! one file's retries never hold up another file's upload.

use crate::common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use hyperclay_protocol::Timestamp;
use hyperclay_sync::engine::{Engine, EngineHandle};
use hyperclay_sync::home::config::EngineConfig;
use hyperclay_sync::status::state::{Command, EngineState, IssueKind, Progress};
use hyperclay_sync::status::text::Summary;

const SITE_LIMIT: &str = "You've run out of sites. We can't sync any more sites.";

/// The engine of one test, on its own home and folder; every state it publishes is kept.
struct Running {
    engine: Option<Engine>,
    handle: EngineHandle,
    folder: PathBuf,
    seen: Arc<Mutex<Vec<EngineState>>>,
    _home: tempfile::TempDir,
    _folder: tempfile::TempDir,
}

impl Running {
    /// Starts syncing `files` (already in the folder) with `url` as `token`'s account.
    fn start(url: &str, token: &str, files: &[(&str, &str)]) -> Running {
        Running::start_with(url, token, |folder| {
            for (rel, content) in files {
                write(folder, rel, content);
            }
        })
    }

    /// Starts syncing once `prepare` has filled the folder.
    fn start_with(url: &str, token: &str, prepare: impl FnOnce(&Path)) -> Running {
        let home = tempfile::tempdir().unwrap();
        let folder_dir = tempfile::tempdir().unwrap();
        let folder = folder_dir.path().canonicalize().unwrap();
        prepare(&folder);
        let config = EngineConfig {
            home: home.path().to_path_buf(),
            server_url: url.to_owned(),
            token_override: Some(token.to_owned()),
            poll_interval: Duration::from_millis(300),
            stall_window: hyperclay_sync::home::config::DEFAULT_STALL_WINDOW,
            folder: Some(folder.clone()),
        };
        let seen: Arc<Mutex<Vec<EngineState>>> = Arc::default();
        let s = seen.clone();
        let engine = Engine::start(
            config,
            Box::new(move |state| s.lock().unwrap().push(state.clone())),
        )
        .unwrap();
        // As `run --headless` does: sync is on.
        engine.handle().send(Command::SetEnabled(true));
        Running {
            handle: engine.handle(),
            engine: Some(engine),
            folder,
            seen,
            _home: home,
            _folder: folder_dir,
        }
    }

    fn state(&self) -> EngineState {
        self.handle.state()
    }

    fn issue(&self, path: &str) -> Option<IssueKind> {
        self.state()
            .issues
            .into_iter()
            .find(|i| i.path == path)
            .map(|i| i.kind)
    }

    fn write(&self, rel: &str, content: &str) {
        write(&self.folder, rel, content);
    }

    fn synced(&self) -> bool {
        let s = self.state();
        s.online && s.last_sync.is_some()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.handle.send(Command::Shutdown);
        if let Some(engine) = self.engine.take() {
            engine.join();
        }
    }
}

fn write(folder: &Path, rel: &str, content: &str) {
    let path = folder.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

fn skipped_hint(kind: Option<IssueKind>) -> Option<String> {
    match kind {
        Some(IssueKind::Skipped { hint, .. }) => Some(hint),
        _ => None,
    }
}

#[test]
fn a_name_the_rules_refuse_is_a_skipped_issue_with_a_hint_until_it_is_renamed() {
    let server = TestServer::start();
    let token = server.token("demo");
    let api = Api::new(&server.url(), &token);
    let engine = Running::start(
        &server.url(),
        &token,
        &[
            ("Hello World.html", "<p>hello</p>"),
            ("ok.html", "<p>ok</p>"),
        ],
    );
    assert!(wait_until(DEADLINE, || engine.synced()));
    assert!(wait_until(DEADLINE, || api.get("ok.html").is_some()));
    let hint = skipped_hint(engine.issue("Hello World.html"));
    assert!(
        hint.as_deref().is_some_and(|h| h.contains("rename")),
        "{:?}",
        engine.state().issues
    );
    assert!(engine.issue("ok.html").is_none());

    std::fs::rename(
        engine.folder.join("Hello World.html"),
        engine.folder.join("hello-world.html"),
    )
    .unwrap();
    assert!(wait_until(DEADLINE, || api
        .get("hello-world.html")
        .is_some()));
    assert!(wait_until(DEADLINE, || engine
        .issue("Hello World.html")
        .is_none()));
    assert!(engine.state().issues.is_empty());
}

/// Moving a folder out of the sync folder reports the folder alone, not each file in it: the
/// issues of the files inside go with it.
#[test]
fn a_folder_moved_away_takes_the_issues_of_its_files_with_it() {
    let server = TestServer::start();
    let token = server.token("demo");
    let engine = Running::start(
        &server.url(),
        &token,
        &[
            ("My Stuff/a.txt", "a"),
            ("My Stuff/deep/b.txt", "b"),
            ("My Stuffing/c.txt", "c"),
        ],
    );
    assert!(wait_until(DEADLINE, || engine.synced()));
    let listed = || -> Vec<String> {
        let mut paths: Vec<String> = engine.state().issues.into_iter().map(|i| i.path).collect();
        paths.sort();
        paths
    };
    // The folders are skipped too, each with its own issue.
    assert_eq!(
        listed(),
        [
            "My Stuff",
            "My Stuff/a.txt",
            "My Stuff/deep",
            "My Stuff/deep/b.txt",
            "My Stuffing",
            "My Stuffing/c.txt"
        ]
    );

    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::rename(
        engine.folder.join("My Stuff"),
        elsewhere.path().join("My Stuff"),
    )
    .unwrap();
    assert!(
        wait_until(DEADLINE, || listed()
            == ["My Stuffing", "My Stuffing/c.txt"]),
        "{:?}",
        listed()
    );
}

#[test]
fn an_app_over_the_quota_is_held_back_until_a_site_frees_and_the_line_stays_until_then() {
    let server = TestServer::start();
    server.add_user("small", "pw-small", true, 1);
    let token = server.token("small");
    let api = Api::new(&server.url(), &token);
    let engine = Running::start(&server.url(), &token, &[("one.html", "<p>1</p>")]);
    assert!(wait_until(DEADLINE, || api.get("one.html").is_some()));

    engine.write("two.html", "<p>2</p>");
    assert!(wait_until(DEADLINE, || engine.issue("two.html")
        == Some(IssueKind::HeldBack)));
    let line = || engine.state().error.map(|e| e.message());
    assert_eq!(line().as_deref(), Some(SITE_LIMIT));

    // Another file goes up (uploads are never limited): the quota line stays, the app is still
    // held back.
    engine.write("notes.txt", "notes");
    assert!(wait_until(DEADLINE, || api.get("notes.txt").is_some()));
    assert!(wait_until(DEADLINE, || engine.synced()));
    assert_eq!(line().as_deref(), Some(SITE_LIMIT));
    assert_eq!(engine.issue("two.html"), Some(IssueKind::HeldBack));
    assert!(api.get("two.html").is_none());

    // A site frees: the app is tried again by itself, without another save, and the line goes.
    server.cli(&["user", "set", "small", "--site-limit", "2"]);
    assert!(wait_until(DEADLINE, || api.get("two.html").as_deref()
        == Some("<p>2</p>")));
    assert!(wait_until(DEADLINE, || line().is_none()));
    assert!(engine.issue("two.html").is_none());
}

#[test]
fn a_file_whose_uploads_fail_does_not_hold_up_another_and_fails_as_an_issue() {
    let server = TestServer::start();
    let token = server.token("demo");
    let proxy = Proxy::start(&server.url());
    let api = Api::new(&server.url(), &token);
    let engine = Running::start(&proxy.url, &token, &[]);
    assert!(wait_until(DEADLINE, || engine.synced()));

    let slow = "PUT /api/local-sync/files/slow.html";
    proxy.fail(slow, 500, "internal");
    engine.write("slow.html", "<p>slow</p>");
    assert!(wait_until(DEADLINE, || proxy
        .count("PUT", "/api/local-sync/files/slow.html")
        >= 2));
    // slow.html is between its retries (1 + 5 tries, 15 s in all): another save goes up now,
    // before slow.html's schedule has run out.
    engine.write("fast.html", "<p>fast</p>");
    assert!(wait_until(DEADLINE, || api.get("fast.html").is_some()));
    assert!(
        proxy.count("PUT", "/api/local-sync/files/slow.html") < 6,
        "fast.html waited for slow.html's retries"
    );
    assert!(engine.issue("slow.html").is_none(), "not given up yet");
    // Meanwhile the line is not "Up to date": a file waits for its next try.
    let line = || Summary::of(&engine.state()).line();
    assert!(
        wait_until(DEADLINE, || line() == "Syncing: 1 file to try again"),
        "{}",
        line()
    );

    // After the last retry it is a failed issue, and the next change of the file syncs it.
    assert!(wait_until(Duration::from_secs(40), || matches!(
        engine.issue("slow.html"),
        Some(IssueKind::Failed { .. })
    )));
    assert_eq!(proxy.count("PUT", "/api/local-sync/files/slow.html"), 6);
    assert!(
        wait_until(DEADLINE, || line() == "Up to date"),
        "{}",
        line()
    );
    proxy.heal();
    engine.write("slow.html", "<p>slow again</p>");
    assert!(wait_until(DEADLINE, || api.get("slow.html").as_deref()
        == Some("<p>slow again</p>")));
    assert!(wait_until(DEADLINE, || engine.issue("slow.html").is_none()));
}

#[test]
fn a_first_sync_shows_n_of_m_and_a_conflict_names_its_backup() {
    let server = TestServer::start();
    let token = server.token("demo");
    let api = Api::new(&server.url(), &token);
    for i in 0..30 {
        let path = format!("f/page-{i}.txt");
        assert_eq!(api.put(&path, b"remote", Timestamp::now()), 200);
    }
    assert_eq!(
        api.put("both.html", b"<p>remote, newer</p>", Timestamp::now()),
        200
    );
    // The local copy is older and was never synced: last write wins, the local one is backed up.
    let engine = Running::start_with(&server.url(), &token, |folder| {
        write(folder, "both.html", "<p>local, older</p>");
        let old = Timestamp::now().offset_by(-3_600_000).to_system_time();
        filetime::set_file_mtime(
            folder.join("both.html"),
            filetime::FileTime::from_system_time(old),
        )
        .unwrap();
    });
    assert!(wait_until(DEADLINE, || engine.synced()
        && engine.state().progress.is_none()
        && std::fs::read_to_string(engine.folder.join("f/page-29.txt"))
            .is_ok()));
    let progress: Vec<Progress> = engine
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter_map(|s| s.progress)
        .collect();
    // The first sync's count reaches M of M. (Looks at our own downloads coming back may
    // follow it as a short count of their own, when a rescan meanwhile made them unawaited.)
    assert!(
        progress.iter().any(|p| p.total >= 30 && p.done == p.total),
        "{progress:?}"
    );
    assert!(progress.iter().all(|p| p.done <= p.total));
    assert_eq!(
        std::fs::read_to_string(engine.folder.join("both.html")).unwrap(),
        "<p>remote, newer</p>"
    );
    match engine.issue("both.html") {
        Some(IssueKind::Conflict { backup, .. }) => {
            assert!(backup.contains("sites-versions"), "{backup}");
        }
        other => panic!("no conflict issue: {other:?}"),
    }
}
