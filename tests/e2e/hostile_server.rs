//! The real `hyperclay-sync run --headless` against a hostile server (`common/hostile_server.rs`):
//! traversal paths, duplicates, lying sizes and checksums, malformed JSON, a 100,000-entry
//! listing, a listing that pages forever or repeats its cursor, an endless body, redirects to another host, and symlinks in the folder pointing
//! out. The client must write nothing outside its folder, never a file whose bytes do not
//! match, never send the token elsewhere, keep running, and log each refusal with its path.
//!
//! The sync folder sits seven levels deep inside a private sandbox, so any `..` escape lands
//! in the sandbox where the test can see it.

use crate::common;
use crate::hostile;

use std::path::Path;
use std::time::Duration;

use common::{Client, DEADLINE, wait_until};
use hostile::*;
use hyperclay_protocol::{Timestamp, sha256_hex};
use serde_json::json;

const TOKEN: &str = "hostile-test-token-must-not-leak";
const DEPTH: &str = "a/b/c/d/e/f/g";

struct Rig {
    server: HostileServer,
    client: Client,
    sandbox: tempfile::TempDir,
}

impl Rig {
    /// A client syncing `<sandbox>/a/b/c/d/e/f/g/sync` against `script`; `prepare` runs on the
    /// folder (and the sandbox) before the client starts.
    fn start(script: Script, prepare: impl FnOnce(&Path, &Path)) -> Rig {
        let sandbox = tempfile::tempdir().expect("sandbox");
        let folder = sandbox.path().join(DEPTH).join("sync");
        std::fs::create_dir_all(&folder).expect("folder");
        let folder = folder.canonicalize().expect("canonical folder");
        prepare(&folder, sandbox.path());
        let server = HostileServer::start(script);
        let mut client = Client::start_stopped(&server.url, TOKEN);
        client.folder = folder;
        client.spawn();
        Rig {
            server,
            client,
            sandbox,
        }
    }

    fn folder(&self) -> &Path {
        &self.client.folder
    }

    /// Files in the sandbox that are not inside the sync folder (symlink targets the test made
    /// itself are listed in `allowed`).
    fn outside(&self, allowed: &[&str]) -> Vec<String> {
        let inside = format!("{DEPTH}/sync/");
        files_under(self.sandbox.path())
            .into_iter()
            .filter(|p| !p.starts_with(&inside) && !allowed.contains(&p.as_str()))
            .collect()
    }

    fn inside(&self) -> Vec<String> {
        files_under(self.folder())
            .into_iter()
            .filter(|p| !p.starts_with("sites-versions/"))
            // The folder guard's own marker, not something the server sent.
            .filter(|p| p != hyperclay_sync::local::folder_guard::MARKER)
            .collect()
    }

    fn wait_for_file(&self, rel: &str, content: &[u8]) {
        let p = self.folder().join(rel);
        assert!(
            wait_until(DEADLINE, || std::fs::read(&p).is_ok_and(|b| b == content)),
            "{rel} never arrived; log:\n{}",
            self.client.log()
        );
    }

    /// Waits until the client has polled `n` more times: it is still running its session.
    fn wait_polls(&self, n: usize) {
        let start = self.server.polls();
        assert!(
            wait_until(DEADLINE, || self.server.polls() >= start + n),
            "the client stopped polling; log:\n{}",
            self.client.log()
        );
    }

    fn wait_log(&self, deadline: Duration, needle: &str) {
        assert!(
            wait_until(deadline, || self.client.log().contains(needle)),
            "the log never mentions {needle:?}:\n{}",
            self.client.log()
        );
    }

    fn no_token_in_log(&self) {
        assert!(!self.client.log().contains(TOKEN), "the token was logged");
    }
}

fn tag() -> String {
    format!("{:08x}", rand::random::<u32>())
}

/// How a path shows up in the log: as itself or in Rust's quoted form.
fn logged(log: &str, path: &str) -> bool {
    // A refused path is logged neutralised: its control characters shown as U+FFFD.
    let shown: String = path
        .chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect();
    log.contains(path) || log.contains(&format!("{path:?}")) || log.contains(&shown)
}

#[test]
fn traversal_and_forbidden_paths_are_refused_logged_and_never_fetched() {
    let t = tag();
    let good = format!("good-{t}.html");
    let bad: Vec<String> = [
        "../esc-T.html",
        "../../esc-T.txt",
        "../../../../../../../../esc-T.txt",
        "%2e%2e/esc-T.txt",
        "%2E%2E/%2E%2E/esc-T.txt",
        "/abs-T.txt",
        "/tmp/abs-T.txt",
        "C:\\esc-T.txt",
        "C:/esc-T.txt",
        "c:esc-T.txt",
        "sub\\..\\..\\esc-T.txt",
        "..\\esc-T.txt",
        "nul\u{0}-T.txt",
        "sub/nul\u{0}/x-T.txt",
        "a/b/c/d/e/f/deep-T.txt",
        "./dot-T.txt",
        "sub//esc-T.txt",
        "sub/./esc-T.txt",
        "sub/../esc-T.txt",
        "sub/..",
        "",
        "esc-T.txt/",
    ]
    .iter()
    .map(|p| p.replace('T', &t))
    .collect();
    let mut script = Script::serving(&[(&good, b"<p>good</p>")]);
    let mut entries: Vec<serde_json::Value> = bad.iter().map(|p| entry(p, b"pwned")).collect();
    entries.push(entry(&good, b"<p>good</p>"));
    script.full = Reply::json(&changes(entries, "c1"));
    // Even if asked, the server would hand the bytes over: only the client's check protects.
    for p in &bad {
        script.files.insert(url_tail(p), Reply::file(b"pwned"));
    }
    let rig = Rig::start(script, |_, _| {});
    rig.wait_for_file(&good, b"<p>good</p>");
    rig.wait_polls(3);

    assert_eq!(rig.outside(&[]), Vec::<String>::new(), "written outside");
    assert_eq!(rig.inside(), vec![good.clone()], "written inside");
    for abs in [format!("/abs-{t}.txt"), format!("/tmp/abs-{t}.txt")] {
        assert!(!Path::new(&abs).exists(), "{abs} was written");
    }
    let fetched: Vec<String> = rig
        .server
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.target.starts_with("/api/local-sync/files/"))
        .map(|r| r.target)
        .collect();
    assert!(
        fetched
            .iter()
            .all(|f| f == &format!("/api/local-sync/files/{good}")),
        "the client asked for a forbidden path: {fetched:?}"
    );
    let log = rig.client.log();
    for p in bad.iter().filter(|p| !p.is_empty()) {
        assert!(logged(&log, p), "no refusal logged for {p:?}:\n{log}");
    }
    rig.no_token_in_log();
}

#[test]
fn duplicate_paths_in_a_listing_end_in_one_checked_file() {
    let t = tag();
    let dup = format!("dup-{t}.html");
    let up = format!("dupfile-{t}.txt");
    let app = format!("app-{t}.html");
    let mut script = Script::serving(&[]);
    script.full = Reply::json(&changes(
        vec![
            entry(&dup, b"<p>A</p>"),
            entry(&dup, b"<p>B</p>"),
            entry(&up, b"first"),
            entry(&up, b"second"),
            // One app name in two folders: one app, wherever it lands.
            entry(&format!("x/{app}"), b"<p>X</p>"),
            entry(&format!("y/{app}"), b"<p>Y</p>"),
        ],
        "c1",
    ));
    script
        .files
        .insert(url_tail(&dup), Reply::file(b"<p>B</p>"));
    script.files.insert(url_tail(&up), Reply::file(b"second"));
    script
        .files
        .insert(url_tail(&format!("x/{app}")), Reply::file(b"<p>X</p>"));
    script
        .files
        .insert(url_tail(&format!("y/{app}")), Reply::file(b"<p>Y</p>"));
    let rig = Rig::start(script, |_, _| {});
    rig.wait_for_file(&dup, b"<p>B</p>");
    rig.wait_for_file(&up, b"second");
    rig.wait_polls(3);
    let inside = rig.inside();
    let apps: Vec<&String> = inside.iter().filter(|p| p.ends_with(&app)).collect();
    assert_eq!(apps.len(), 1, "one app name, one local file: {inside:?}");
    let content = std::fs::read(rig.folder().join(apps[0])).expect("the app");
    assert!(
        content == b"<p>X</p>" || content == b"<p>Y</p>",
        "{content:?}"
    );
    assert_eq!(inside.len(), 3, "{inside:?}");
    assert_eq!(rig.outside(&[]), Vec::<String>::new());
    // Nothing was local before, so nothing needed a backup.
    assert!(
        files_under(&rig.folder().join("sites-versions")).is_empty(),
        "backups of nothing"
    );
}

#[test]
fn bodies_that_do_not_match_their_size_or_checksum_are_never_written() {
    let t = tag();
    let good = format!("good-{t}.html");
    let long = format!("long-{t}.txt");
    let short = format!("short-{t}.txt");
    let badsum = format!("badsum-{t}.html");
    let nosum = format!("nosum-{t}.txt");
    let mut script = Script::serving(&[(&good, b"<p>good</p>")]);
    script.full = Reply::json(&changes(
        vec![
            entry(&good, b"<p>good</p>"),
            entry(&long, b"hello"),
            entry(&short, &[b'z'; 100]),
            entry(&badsum, b"<p>real</p>"),
            entry(&nosum, b"plain"),
        ],
        "c1",
    ));
    // Longer than announced, under the announced checksum.
    script.files.insert(
        url_tail(&long),
        Reply::file_with_checksum(b"hello, and something appended", &sha256_hex(b"hello")),
    );
    // Content-Length 100, then 10 bytes and a closed connection.
    script.files.insert(
        url_tail(&short),
        Reply::file_with_checksum(b"", &sha256_hex(&[b'z'; 100])).with_body(Body::Truncated {
            declared: 100,
            bytes: vec![b'z'; 10],
        }),
    );
    script.files.insert(
        url_tail(&badsum),
        Reply::file_with_checksum(b"<p>tampered</p>", &sha256_hex(b"<p>real</p>")),
    );
    let mut no = Reply::file(b"plain");
    no.headers.retain(|(k, _)| k != "X-Checksum");
    script.files.insert(url_tail(&nosum), no);
    let rig = Rig::start(script, |_, _| {});
    rig.wait_for_file(&good, b"<p>good</p>");
    // The truncated body is retried on the 1..5 s schedule before it is given up.
    let long_wait = Duration::from_secs(60);
    for p in [&long, &badsum, &nosum, &short] {
        rig.wait_log(long_wait, &format!("error {p}"));
    }
    rig.wait_polls(2);
    assert_eq!(rig.inside(), vec![good], "a refused body left a file");
    assert_eq!(rig.outside(&[]), Vec::<String>::new());
    rig.no_token_in_log();
}

#[test]
fn malformed_checksums_skip_the_entry_or_refuse_the_download() {
    let t = tag();
    let good = format!("good-{t}.html");
    let upper = format!("upper-{t}.html");
    let short = format!("short-{t}.txt");
    let header = format!("header-{t}.txt");
    let mut script = Script::serving(&[(&good, b"<p>good</p>")]);
    let with_sum = |path: &str, bytes: &[u8], checksum: String| {
        let mut e = entry(path, bytes);
        e["checksum"] = json!(checksum);
        e
    };
    script.full = Reply::json(&changes(
        vec![
            entry(&good, b"<p>good</p>"),
            with_sum(
                &upper,
                b"<p>up</p>",
                sha256_hex(b"<p>up</p>").to_uppercase(),
            ),
            with_sum(&short, b"short", sha256_hex(b"short")[..63].to_owned()),
            entry(&header, b"header"),
        ],
        "c1",
    ));
    // Were they asked for, the bytes would come with a sound header.
    script
        .files
        .insert(url_tail(&upper), Reply::file(b"<p>up</p>"));
    script.files.insert(url_tail(&short), Reply::file(b"short"));
    // A sound listing, but the download's header is the right digest in upper case.
    script.files.insert(
        url_tail(&header),
        Reply::file_with_checksum(b"header", &sha256_hex(b"header").to_uppercase()),
    );
    let rig = Rig::start(script, |_, _| {});
    rig.wait_for_file(&good, b"<p>good</p>");
    rig.wait_log(Duration::from_secs(60), &format!("error {header}"));
    rig.wait_polls(2);
    assert_eq!(
        rig.inside(),
        vec![good],
        "a file without a sound checksum was written"
    );
    let fetched: Vec<String> = rig
        .server
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.target.starts_with("/api/local-sync/files/"))
        .map(|r| r.target)
        .collect();
    for p in [&upper, &short] {
        assert!(
            !fetched.contains(&format!("/api/local-sync/files/{p}")),
            "{p} was fetched: {fetched:?}"
        );
    }
    let log = rig.client.log();
    for p in [&upper, &short] {
        assert!(
            log.lines()
                .any(|l| logged(l, p) && l.contains("malformed checksum")),
            "no skip logged for {p}:\n{log}"
        );
    }
    rig.no_token_in_log();
}

#[test]
fn malformed_json_is_logged_and_the_client_recovers_when_the_server_does() {
    let t = tag();
    let good = format!("good-{t}.html");
    let mut script = Script::serving(&[(&good, b"<p>good</p>")]);
    let sane_full = script.full.clone();
    script.full = Reply::raw_json(r#"{"serverTime": "yesterday", "entries": [{"path": "#);
    let rig = Rig::start(script, |_, _| {});
    rig.wait_log(DEADLINE, "Sync stopped");
    assert!(
        wait_until(DEADLINE, || !rig.client.status()["error"].is_null()),
        "the error never reached status: {}",
        rig.client.status()
    );
    // Wrong types where the shape is right.
    rig.server.edit(|s| {
        s.full = Reply::json(&json!({
            "serverTime": Timestamp::now().to_rfc3339(), "cursor": 7, "hasMore": "no",
            "entries": [{"path": ["x"], "kind": "app"}],
        }))
    });
    let tries = rig.server.count("GET", "/api/local-sync/changes");
    assert!(
        wait_until(DEADLINE, || rig
            .server
            .count("GET", "/api/local-sync/changes")
            > tries + 2),
        "the client stopped trying"
    );
    assert!(rig.inside().is_empty(), "{:?}", rig.inside());
    // The status reply malformed too.
    rig.server
        .edit(|s| s.status = Reply::raw_json(r#"{"plan": "paid"}"#));
    let tries = rig.server.count("GET", "/api/local-sync/status");
    assert!(
        wait_until(DEADLINE, || rig
            .server
            .count("GET", "/api/local-sync/status")
            > tries + 2),
        "the client stopped trying"
    );
    rig.server.edit(|s| {
        s.status = Reply::json(&status_json());
        s.full = sane_full;
    });
    rig.wait_for_file(&good, b"<p>good</p>");
    rig.wait_polls(2);
}

#[test]
fn a_hundred_thousand_entry_listing_is_handled() {
    let t = tag();
    let mut entries: Vec<serde_json::Value> = (0..50_000)
        .map(|i| json!({"path": format!("f{i}"), "kind": "folder", "modifiedAt": modified_at()}))
        .collect();
    entries.extend((0..49_995).map(|i| {
        json!({"path": format!("gone{i}.txt"), "kind": "upload", "deleted": true,
               "modifiedAt": modified_at()})
    }));
    let files: Vec<(String, Vec<u8>)> = (0..5)
        .map(|i| {
            (
                format!("f{i}/real-{t}-{i}.txt"),
                format!("real {i}").into_bytes(),
            )
        })
        .collect();
    let mut script = Script::serving(&[]);
    for (p, b) in &files {
        entries.push(entry(p, b));
        script.files.insert(url_tail(p), Reply::file(b));
    }
    assert_eq!(entries.len(), 100_000);
    script.full = Reply::json(&changes(entries, "c1"));
    let rig = Rig::start(script, |_, _| {});
    for (p, b) in &files {
        rig.wait_for_file(p, b);
    }
    rig.wait_polls(3);
    assert_eq!(rig.inside().len(), 5, "{:?}", rig.inside());
}

/// While a session reads and compares both sides (here a listing that trickles in for seconds),
/// the status says "syncing", never "up to date": nothing has been compared yet.
#[test]
fn the_status_says_syncing_while_a_session_reads_the_listing() {
    let entries: Vec<serde_json::Value> = (0..4_000)
        .map(|i| {
            json!({"path": format!("gone{i}.txt"), "kind": "upload", "deleted": true,
                   "modifiedAt": modified_at()})
        })
        .collect();
    let listing = serde_json::to_vec(&changes(entries, "c1")).unwrap();
    assert!(listing.len() > 3 * 64 * 1024, "four pieces at least");
    let mut script = Script::serving(&[]);
    script.full = Reply::json(&changes(vec![], "c1")).with_body(Body::Slow {
        bytes: listing,
        pause_ms: 1_000,
    });
    let rig = Rig::start(script, |_, _| {});
    let mut during = serde_json::Value::Null;
    assert!(wait_until(DEADLINE, || {
        during = rig.client.status();
        during["online"] == true
    }));
    assert_eq!(during["state"], "syncing", "{during}");
    assert_eq!(
        during["progress"],
        json!({"done": 0, "total": 0}),
        "{during}"
    );
    assert!(wait_until(DEADLINE, || rig.client.status()["state"] == "upToDate"));
    assert!(rig.client.status()["lastSync"].is_string());
}

#[test]
fn an_endless_body_never_leaves_a_partial_file_and_other_files_still_arrive() {
    let t = tag();
    let slow = format!("slow-{t}.html");
    let goods: Vec<(String, Vec<u8>)> = (0..3)
        .map(|i| {
            (
                format!("good{i}-{t}.html"),
                format!("<p>{i}</p>").into_bytes(),
            )
        })
        .collect();
    let refs: Vec<(&str, &[u8])> = goods
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_slice()))
        .collect();
    let mut script = Script::serving(&refs);
    let mut entries: Vec<serde_json::Value> = goods.iter().map(|(p, b)| entry(p, b)).collect();
    entries.insert(0, entry(&slow, &[b'x'; 1 << 20]));
    script.full = Reply::json(&changes(entries, "c1"));
    script.files.insert(
        url_tail(&slow),
        Reply::file_with_checksum(b"", &sha256_hex(&[b'x'; 1 << 20])).with_body(Body::Endless),
    );
    let rig = Rig::start(script, |_, _| {});
    let mut partial = false;
    for (p, b) in &goods {
        let path = rig.folder().join(p);
        assert!(
            wait_until(DEADLINE, || {
                partial |= rig.inside().iter().any(|f| f.contains("slow"));
                std::fs::read(&path).is_ok_and(|c| &c == b)
            }),
            "{p} never arrived while another body was endless; log:\n{}",
            rig.client.log()
        );
    }
    assert!(
        rig.server
            .count("GET", &format!("/api/local-sync/files/{slow}"))
            >= 1,
        "the endless body was never requested, so this proved nothing"
    );
    assert!(!partial, "a partial slow file appeared");
    assert!(
        rig.inside().iter().all(|f| !f.contains("slow")),
        "{:?}",
        rig.inside()
    );
}

#[test]
fn redirects_to_another_host_are_never_followed_with_the_token() {
    let t = tag();
    let other = Bystander::start();
    let good = format!("good-{t}.html");
    let moved = format!("moved-{t}.html");
    let mut script = Script::serving(&[(&good, b"<p>good</p>")]);
    let sane_status = script.status.clone();
    script.status = Reply::redirect(302, &format!("{}/api/local-sync/status", other.url));
    let rig = Rig::start(script, |_, _| {});
    rig.wait_log(DEADLINE, "Sync stopped");
    let tries = rig.server.count("GET", "/api/local-sync/status");
    assert!(wait_until(DEADLINE, || rig
        .server
        .count("GET", "/api/local-sync/status")
        > tries + 1));
    // Now the session works, but one file's download redirects (307 keeps method and, in a
    // naive client, the Authorization header).
    rig.server.edit(|s| {
        s.status = sane_status;
        s.full = Reply::json(&changes(
            vec![entry(&good, b"<p>good</p>"), entry(&moved, b"<p>m</p>")],
            "c1",
        ));
        s.files.insert(
            url_tail(&moved),
            Reply::redirect(307, &format!("{}/api/local-sync/files/{moved}", other.url)),
        );
    });
    rig.wait_for_file(&good, b"<p>good</p>");
    rig.wait_log(Duration::from_secs(40), &format!("error {moved}"));
    rig.wait_polls(2);
    let leaked: Vec<Seen> = other
        .requests()
        .into_iter()
        .filter(|r| r.authorization.is_some())
        .collect();
    assert!(
        leaked.is_empty(),
        "the token went to another host: {leaked:?}"
    );
    assert!(
        other.requests().is_empty(),
        "the client followed a redirect at all: {:?}",
        other.requests()
    );
    assert!(!rig.folder().join(&moved).exists());
    rig.no_token_in_log();
}

#[cfg(unix)]
#[test]
fn symlinks_pointing_outside_are_never_written_through() {
    use std::os::unix::fs::symlink;
    let t = tag();
    let link = format!("link-{t}.html");
    let app = format!("app-{t}.html");
    let future = Timestamp::now().offset_by(86_400_000).to_rfc3339();
    let newer = |path: &str, bytes: &[u8]| {
        let mut e = entry(path, bytes);
        e["modifiedAt"] = json!(future);
        e
    };
    let newer_file = |bytes: &[u8]| {
        let mut r = Reply::file(bytes);
        for h in r.headers.iter_mut().filter(|(k, _)| k == "X-Modified-At") {
            h.1 = future.clone();
        }
        r
    };
    let mut script = Script::serving(&[]);
    script.full = Reply::json(&changes(
        vec![
            newer(&link, b"<p>remote</p>"),
            newer("linkdir/inner.txt", b"remote inner"),
            newer(&app, b"<p>new</p>"),
        ],
        "c1",
    ));
    script
        .files
        .insert(url_tail(&link), newer_file(b"<p>remote</p>"));
    script
        .files
        .insert(url_tail("linkdir/inner.txt"), newer_file(b"remote inner"));
    script
        .files
        .insert(url_tail(&app), newer_file(b"<p>new</p>"));
    let rig = Rig::start(script, |folder, sandbox| {
        let out = sandbox.join("outside");
        std::fs::create_dir_all(out.join("dir")).expect("outside dir");
        std::fs::create_dir_all(out.join("versions")).expect("outside versions");
        std::fs::write(out.join("target.html"), "<p>outside original</p>").expect("target");
        symlink(out.join("target.html"), folder.join(&link)).expect("file link");
        symlink(out.join("dir"), folder.join("linkdir")).expect("dir link");
        // Backups too: a sites-versions that points out must not receive them.
        symlink(out.join("versions"), folder.join("sites-versions")).expect("versions link");
        std::fs::write(folder.join(&app), "<p>old</p>").expect("app");
        let old = filetime::FileTime::from_unix_time(1_600_000_000, 0);
        filetime::set_file_mtime(folder.join(&app), old).expect("mtime");
    });
    let outside_target = rig.sandbox.path().join("outside/target.html");
    rig.wait_log(DEADLINE, &link);
    rig.wait_log(DEADLINE, "linkdir/inner.txt");
    rig.wait_polls(3);
    assert_eq!(
        std::fs::read_to_string(&outside_target).expect("target"),
        "<p>outside original</p>",
        "written through the file symlink"
    );
    assert!(
        !rig.sandbox.path().join("outside/dir/inner.txt").exists(),
        "written through the folder symlink"
    );
    assert!(
        files_under(&rig.sandbox.path().join("outside/versions")).is_empty(),
        "a backup went through the sites-versions symlink"
    );
    assert_eq!(
        rig.outside(&["outside/target.html"]),
        Vec::<String>::new(),
        "written outside"
    );
    // The old app could not be backed up (sites-versions points out), so it was not replaced.
    rig.wait_log(DEADLINE, &app);
    assert_eq!(
        std::fs::read_to_string(rig.folder().join(&app)).expect("app"),
        "<p>old</p>",
        "replaced without a backup"
    );
    // The outside file's content never went up either.
    let leaked: Vec<Seen> = rig
        .server
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT" && r.body == b"<p>outside original</p>")
        .collect();
    assert!(leaked.is_empty(), "a file outside the folder was uploaded");
}

#[test]
fn an_endless_body_does_not_stop_polling() {
    let t = tag();
    let slow = format!("slow-{t}.html");
    let good = format!("good-{t}.html");
    let mut script = Script::serving(&[(&good, b"<p>good</p>")]);
    script.full = Reply::json(&changes(
        vec![entry(&slow, &[b'x'; 1 << 20]), entry(&good, b"<p>good</p>")],
        "c1",
    ));
    script.files.insert(
        url_tail(&slow),
        Reply::file_with_checksum(b"", &sha256_hex(&[b'x'; 1 << 20])).with_body(Body::Endless),
    );
    let rig = Rig::start(script, |_, _| {});
    rig.wait_for_file(&good, b"<p>good</p>");
    // A remote change made now must arrive while the endless body still trickles.
    let later = format!("later-{t}.html");
    rig.server.edit(|s| {
        s.incremental = Reply::json(&changes(vec![entry(&later, b"<p>later</p>")], "c2"));
        s.files
            .insert(url_tail(&later), Reply::file(b"<p>later</p>"));
    });
    rig.wait_polls(1);
    rig.wait_for_file(&later, b"<p>later</p>");
}

#[test]
fn a_put_reply_naming_a_path_outside_is_never_followed() {
    let t = tag();
    let mine = format!("mine-{t}.html");
    let evil = format!("../../../evil-{t}.html");
    let mut script = Script::serving(&[]);
    // "Your app lives at ../../../evil.html now", then a newer copy listed there.
    script.put_path = Some(evil.clone());
    let rig = Rig::start(script, |folder, _| {
        std::fs::write(folder.join(&mine), "<p>mine</p>").expect("mine");
    });
    assert!(
        wait_until(DEADLINE, || rig
            .server
            .count("PUT", "/api/local-sync/files/")
            >= 1),
        "the local file was never uploaded; log:\n{}",
        rig.client.log()
    );
    let future = Timestamp::now().offset_by(86_400_000).to_rfc3339();
    rig.server.edit(|s| {
        let mut e = entry(&evil, b"<p>pwned</p>");
        e["modifiedAt"] = json!(future);
        s.incremental = Reply::json(&changes(vec![e], "c2"));
        s.files
            .insert(url_tail(&evil), Reply::file(b"<p>pwned</p>"));
    });
    rig.wait_polls(3);
    rig.wait_log(DEADLINE, &evil);
    assert_eq!(rig.outside(&[]), Vec::<String>::new(), "written outside");
    assert_eq!(
        std::fs::read_to_string(rig.folder().join(&mine)).expect("mine"),
        "<p>mine</p>",
        "the local file was replaced by what the server listed outside"
    );
    assert!(
        rig.inside().iter().all(|p| !p.contains("evil")),
        "{:?}",
        rig.inside()
    );
    let fetched = rig.server.count("GET", "/api/local-sync/files/");
    assert_eq!(fetched, 0, "the client fetched a path outside the folder");
}

#[test]
fn an_oversize_download_is_refused_and_never_written() {
    let t = tag();
    let big = format!("big-{t}.bin");
    let good = format!("good-{t}.html");
    let huge = vec![b'h'; (hyperclay_protocol::MAX_FILE_BYTES + 1024 * 1024) as usize];
    let mut script = Script::serving(&[(&good, b"<p>good</p>")]);
    script.full = Reply::json(&changes(
        vec![entry(&big, &huge), entry(&good, b"<p>good</p>")],
        "c1",
    ));
    script.files.insert(url_tail(&big), Reply::file(&huge));
    let rig = Rig::start(script, |_, _| {});
    rig.wait_for_file(&good, b"<p>good</p>");
    rig.wait_log(DEADLINE, &big);
    rig.wait_polls(2);
    assert!(
        !rig.folder().join(&big).exists(),
        "an over-limit file was written"
    );
    assert_eq!(rig.inside(), vec![good]);
}

#[test]
fn names_a_filesystem_cannot_tell_apart_and_windows_device_names_are_skipped_once() {
    let t = tag();
    let upper = format!("img{t}/Photo.png");
    let lower = format!("img{t}/photo.png");
    let nfc = format!("caf\u{e9}-{t}.txt");
    let nfd = format!("cafe\u{301}-{t}.txt");
    let good = format!("good-{t}.txt");
    let devices: Vec<String> = [
        "CON",
        "nul.txt",
        "Com1.tar.gz",
        "lpt1 .txt",
        "aux/x.png",
        "prn.html",
        "notes.txt ",
    ]
    .iter()
    .map(|n| format!("r{t}/{n}"))
    .collect();
    let mut listed: Vec<(&str, &[u8])> = vec![
        (&upper, b"upper"),
        (&lower, b"lower"),
        (&nfc, b"composed"),
        (&nfd, b"decomposed"),
        (&good, b"good"),
    ];
    listed.extend(devices.iter().map(|d| (d.as_str(), b"device".as_slice())));
    let mut script = Script::serving(&listed);
    // Every poll sends all of them again: a client that took turns would fetch on every poll.
    script.incremental = script.full.clone();
    let rig = Rig::start(script, |_, _| {});
    rig.wait_for_file(&good, b"good");
    rig.wait_for_file(&upper, b"upper");
    rig.wait_for_file(&nfc, b"composed");
    rig.wait_polls(5);

    let mut want = vec![good.clone(), upper.clone(), nfc.clone()];
    want.sort();
    let mut inside = rig.inside();
    inside.sort();
    assert_eq!(
        inside, want,
        "only the first of each colliding pair, no device name"
    );
    let fetches = rig
        .server
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.target.starts_with("/api/local-sync/files/"))
        .count();
    assert_eq!(
        fetches, 3,
        "each kept file fetched once, nothing skipped ever fetched"
    );
    let log = rig.client.log();
    for skipped in [&lower, &nfd].into_iter().chain(&devices) {
        let line = format!("skip {skipped:?}");
        assert_eq!(
            log.matches(&line).count(),
            1,
            "{line} not logged once:\n{log}"
        );
    }
    assert!(
        log.contains("differs only in case or Unicode form"),
        "{log}"
    );
    let status = rig.client.status();
    assert_eq!(status["online"], true, "{status}");
    assert!(status["error"].is_null(), "{status}");
    assert_eq!(rig.outside(&[]), Vec::<String>::new());
}

#[test]
fn a_server_that_pages_forever_ends_the_session_with_a_clear_error() {
    let mut script = Script::serving(&[]);
    script.endless_pages = Some(5_000);
    let rig = Rig::start(script, |_, _| {});
    rig.wait_log(Duration::from_secs(120), "more than 250000 entries");
    assert!(
        wait_until(DEADLINE, || rig.client.status()["error"]
            .as_str()
            .is_some_and(|e| e.contains("250000 entries"))),
        "the error never reached status: {}",
        rig.client.status()
    );
    // Nothing of the endless listing was written.
    assert!(rig.inside().is_empty(), "{:?}", rig.inside());
    rig.no_token_in_log();
}

#[test]
fn a_server_that_repeats_its_cursor_ends_the_session_with_a_clear_error() {
    let t = tag();
    let mut script = Script::serving(&[]);
    let mut page = changes(
        vec![entry(&format!("loop-{t}.html"), b"<p>loop</p>")],
        "same",
    );
    page["hasMore"] = json!(true);
    script.full = Reply::json(&page);
    script.incremental = Reply::json(&page);
    let rig = Rig::start(script, |_, _| {});
    rig.wait_log(DEADLINE, "repeated a listing cursor");
    assert!(
        wait_until(DEADLINE, || rig.client.status()["error"]
            .as_str()
            .is_some_and(|e| e.contains("repeated a listing cursor"))),
        "the error never reached status: {}",
        rig.client.status()
    );
    assert!(rig.inside().is_empty(), "{:?}", rig.inside());
}

/// Issue 23, 6: `read_stable` checked where a symlink pointed, then opened it by path, so a link
/// swapped between a file inside and one outside sent the outside bytes up. Here a thread swaps
/// the link (atomically, by rename) for some seconds while the engine runs; no PUT body may ever
/// hold the outside file's bytes.
#[cfg(unix)]
#[test]
fn a_symlink_swapped_between_inside_and_outside_never_uploads_the_outside_bytes() {
    use std::os::unix::fs::symlink;
    const SECRET: &[u8] = b"<p>outside secret, never upload</p>";
    let t = tag();
    let inside = format!("inside-{t}.html");
    let link = format!("swapped-{t}.html");
    let rig = Rig::start(Script::serving(&[]), |folder, sandbox| {
        std::fs::create_dir_all(sandbox.join("outside")).expect("outside");
        std::fs::write(sandbox.join("outside/secret.html"), SECRET).expect("secret");
        std::fs::write(folder.join(&inside), "<p>inside</p>").expect("inside");
        symlink(folder.join(&inside), folder.join(&link)).expect("link");
    });
    let put_of = |name: &str| {
        rig.server
            .count("PUT", &format!("/api/local-sync/files/{name}"))
    };
    assert!(
        wait_until(DEADLINE, || put_of(&inside) > 0),
        "the inside file never went up; log:\n{}",
        rig.client.log()
    );
    let (folder, secret) = (
        rig.folder().to_path_buf(),
        rig.sandbox.path().join("outside/secret.html"),
    );
    let inside_path = folder.join(&inside);
    let started = std::time::Instant::now();
    let mut swaps = 0_u32;
    // Bounded both ways: some seconds, and at most this many swaps.
    while started.elapsed() < Duration::from_secs(6) && swaps < 200_000 {
        let target = if swaps.is_multiple_of(2) {
            &secret
        } else {
            &inside_path
        };
        let tmp = folder.join(format!(".swap-{t}.tmp"));
        let _ = std::fs::remove_file(&tmp);
        symlink(target, &tmp).expect("new link");
        std::fs::rename(&tmp, folder.join(&link)).expect("swap");
        swaps += 1;
        if swaps.is_multiple_of(64) {
            // Let the engine's watcher see the change and read in between.
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    symlink(&inside_path, folder.join(format!(".final-{t}.tmp"))).expect("final link");
    std::fs::rename(folder.join(format!(".final-{t}.tmp")), folder.join(&link)).expect("final");
    rig.wait_polls(3);
    let leaked: Vec<String> = rig
        .server
        .requests()
        .iter()
        .filter(|r| r.method == "PUT" && r.body.windows(SECRET.len()).any(|w| w == SECRET))
        .map(|r| r.target.clone())
        .collect();
    assert!(
        leaked.is_empty(),
        "the outside file's bytes went up {} times ({swaps} swaps), first to {:?}",
        leaked.len(),
        leaked.first()
    );
    rig.no_token_in_log();
}

/// Characters that must never reach a terminal, a log or a report from the network: control
/// characters (C0, DEL, C1), bidi controls and zero-width characters (issue 23, 4).
fn unsafe_chars(text: &str) -> Vec<char> {
    text.chars()
        .filter(|&c| {
            (c.is_control() && c != '\n')
                || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
                    | '\u{2066}'..='\u{2069}' | '\u{2060}' | '\u{FEFF}')
        })
        .collect()
}

/// Every string in a JSON value must be one inert line.
fn assert_inert_json(v: &serde_json::Value, what: &str) {
    match v {
        serde_json::Value::String(s) => {
            assert!(
                unsafe_chars(s).is_empty() && !s.contains('\n'),
                "{what} holds raw server text: {s:?}"
            );
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| assert_inert_json(x, what)),
        serde_json::Value::Object(o) => o.values().for_each(|x| assert_inert_json(x, what)),
        _ => {}
    }
}

/// A line a forger wrote: it starts as the log's own lines or the report's headings would.
fn forged_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.contains("FORGED") && l.trim_start().starts_with('['))
        .collect()
}

const HOSTILE_NAME: &str = "demo\u{1b}]0;owned\u{7}\nAccount:   FORGED\u{202E}txt.exe\u{200B}";

#[test]
fn the_account_name_reaches_the_status_output_as_one_inert_line() {
    let mut script = Script::serving(&[]);
    let mut status = status_json();
    status["user"]["name"] = json!(HOSTILE_NAME);
    script.status = Reply::json(&status);
    let rig = Rig::start(script, |_, _| {});
    rig.client.wait_synced();
    let out = hyperclay_testkit::bin::client_command()
        .arg("status")
        .env("HYPERCLAY_SYNC_HOME", rig.client.home.path())
        .env("HYPERCLAY_URL", &rig.server.url)
        .env("HYPERCLAY_TOKEN", TOKEN)
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
        .output()
        .expect("status");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(text.contains("demo"), "{text}");
    assert_eq!(unsafe_chars(&text), Vec::<char>::new(), "{text:?}");
    assert_eq!(
        text.lines().filter(|l| l.starts_with("Account:")).count(),
        1,
        "a forged Account line: {text}"
    );
    assert_inert_json(&rig.client.status(), "status.json");
    assert_eq!(
        unsafe_chars(&rig.client.log()),
        Vec::<char>::new(),
        "sync.log"
    );
}

#[test]
fn listed_paths_and_a_put_replys_path_never_forge_a_line_in_the_log_or_the_report() {
    let t = tag();
    let up = format!("up-{t}.html");
    let mut script = Script::serving(&[]);
    script.full = Reply::json(&changes(
        vec![
            entry("bad\n[INFO] download FORGED-LINE.txt", b"x"),
            entry("esc\u{1b}[2J\u{9b}31m\u{202E}gnp.exe", b"y"),
        ],
        "c1",
    ));
    // Every PUT reply claims the file now lives at a path with a forged line in it.
    script.put_path = Some(format!("{up}\n[INFO] download FORGED-PUT"));
    let rig = Rig::start(script, |folder, _| {
        std::fs::write(folder.join(&up), "<p>up</p>").expect("up");
    });
    let report = rig.client.home.path().join("sync-issues.txt");
    assert!(
        wait_until(DEADLINE, || {
            std::fs::read_to_string(&report).is_ok_and(|r| r.contains("bad") && r.contains("esc"))
        }),
        "the refused paths never reached the report; log:\n{}",
        rig.client.log()
    );
    assert!(
        wait_until(DEADLINE, || rig
            .server
            .count("PUT", "/api/local-sync/files/")
            > 0),
        "the upload never went up"
    );
    rig.wait_log(DEADLINE, &up);
    rig.wait_polls(3);
    let log = rig.client.log();
    let report = std::fs::read_to_string(&report).expect("report");
    for (name, text) in [("sync.log", &log), ("sync-issues.txt", &report)] {
        assert_eq!(forged_lines(text), Vec::<&str>::new(), "{name}:\n{text}");
        assert_eq!(unsafe_chars(text), Vec::<char>::new(), "{name}:\n{text}");
    }
    // The PUT reply's path was refused, not used: no mapping, no file under it.
    assert!(!rig.inside().iter().any(|p| p.contains("FORGED")));
    assert_inert_json(&rig.client.status(), "status.json");
}

#[test]
fn a_5xx_message_is_one_short_inert_line_in_the_status_and_the_tray_line() {
    let long = "x".repeat(5000);
    let mut script = Script::serving(&[]);
    let mut down = Reply::raw_json(
        &json!({
            "error": "internal",
            "message": format!("down\u{1b}]0;owned\u{7}\n[INFO] download FORGED\u{202E}{long}"),
        })
        .to_string(),
    );
    down.status = 503;
    script.status = down;
    let rig = Rig::start(script, |_, _| {});
    let status = || rig.client.status();
    // The retry schedule (1 + 2 + 3 + 4 + 5 s) runs before the engine calls itself offline.
    assert!(
        wait_until(DEADLINE * 3, || {
            let s = status();
            s["online"] == false && s.to_string().contains("503")
        }),
        "never offline with the server's error; status {}\nlog:\n{}",
        status(),
        rig.client.log()
    );
    let s = status();
    assert_inert_json(&s, "status.json");
    let reason = s["reason"].as_str().unwrap_or_default();
    assert!(
        reason.chars().count() < 400,
        "the tray line is {} long",
        reason.len()
    );
    let log = rig.client.log();
    assert_eq!(forged_lines(&log), Vec::<&str>::new(), "sync.log:\n{log}");
    assert_eq!(unsafe_chars(&log), Vec::<char>::new(), "sync.log");
}
