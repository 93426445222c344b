//! Only the latest version is supported, end to end against the reference server: a client below
//! the server's minimum sends nothing, says "Update Hyperclay Sync to keep syncing (version X or
//! later)" and exits 6; one below the latest syncs on and says a newer version exists; a release
//! not signed by a trusted key, or whose bytes were changed on the server, is refused and nothing
//! is replaced; and a real update (this build as an AppImage, updated to the next version built
//! from the same source) replaces the program, which then syncs what the old one could not.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use hyperclay_protocol::release_trusted_comment;
use hyperclay_testkit::client;
use hyperclay_testkit::release::ReleaseKey;

use crate::common::*;

const PLATFORM: &str = "linux-x86_64-appimage";

/// Waits for `child` to exit (killing it at the deadline), with what it printed.
fn finished(mut child: Child, what: &str) -> Output {
    let exited = wait_until(DEADLINE, || child.try_wait().ok().flatten().is_some());
    if !exited {
        let _ = child.kill();
    }
    let out = child.wait_with_output().expect("the child's output");
    assert!(exited, "{what} did not exit: {out:?}");
    out
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `bin run --headless` for `folder`, its output captured.
fn run_headless(bin: &Path, home: &Path, url: &str, token: &str, folder: &Path) -> Child {
    client::headless(bin, home, url, token, folder)
        .env("HYPERCLAY_POLL_SECONDS", "0.2")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the client starts")
}

/// `bin update`, as an AppImage at `image` would run it.
fn update_as_appimage(bin: &Path, home: &Path, url: &str, image: &Path) -> Output {
    let child = client::command(bin, home, url)
        .arg("update")
        .env("APPIMAGE", image)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the update starts");
    finished(child, "hyperclay-sync update")
}

/// A copy of `bin` as an AppImage in a temp dir of its own.
fn appimage_of(bin: &Path) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("Hyperclay-Sync.AppImage");
    std::fs::copy(bin, &image).unwrap();
    (dir, image)
}

fn version_of(bin: &Path) -> String {
    // Through the client's runner (wine) when `bin` is the client under test.
    let mut cmd = if bin == hyperclay_testkit::bin::client() {
        hyperclay_testkit::bin::command_for(bin)
    } else {
        Command::new(bin)
    };
    let out = cmd.arg("--version").output().unwrap();
    let words = String::from_utf8_lossy(&out.stdout).to_string();
    // "hyperclay-sync 0.1.1 (server: …)"
    words
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned()
}

fn server_with(min: Option<&str>, latest: Option<&str>) -> TestServer {
    TestServer::start_with(ServerOptions {
        min_client_version: min.map(str::to_owned),
        latest_client_version: latest.map(str::to_owned),
        download_url: Some("https://downloads.example/sync".into()),
        demo: true,
        ..ServerOptions::default()
    })
}

/// A demo login on a server that accepts only `new` and up, with a file saved while `program`
/// (an older version) was refused: run once, it exits 6 and sends nothing.
struct Waiting {
    server: TestServer,
    token: String,
    /// The account, seen as version `new`.
    api: Api,
    c: Client,
}

fn refused_with_a_file_waiting(program: &Path, new: &str) -> Waiting {
    let server = server_with(Some(new), None);
    let token = server.token("demo");
    let api = Api::as_version(&server.url(), &token, new);
    let c = Client::start_stopped(&server.url(), &token);
    c.write("waited.html", "<p>saved while outdated</p>");
    let out = finished(
        run_headless(program, c.home.path(), &server.url(), &token, &c.folder),
        "the outdated run",
    );
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    assert!(api.paths().is_empty());
    Waiting {
        server,
        token,
        api,
        c,
    }
}

/// Publishes `bytes` as release `version` for `platform`, signed by the key a test build trusts.
fn publish_signed(server: &TestServer, version: &str, platform: &str, bytes: &[u8]) {
    let signature =
        ReleaseKey::committed_test_key().sign(bytes, &release_trusted_comment(version, platform));
    server.publish_release(version, platform, bytes, &signature);
}

#[test]
fn below_the_minimum_nothing_is_sent_and_the_run_exits_6_with_the_update_line() {
    let server = server_with(Some("99.0.0"), None);
    let token = server.token("demo");
    let c = Client::start_stopped(&server.url(), &token);
    c.write("notes.html", "<p>written while outdated</p>");
    c.write("img/a.txt", "an upload");
    let child = run_headless(
        &hyperclay_testkit::bin::client(),
        c.home.path(),
        &server.url(),
        &token,
        &c.folder,
    );
    let out = finished(child, "an outdated headless run");
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    assert!(
        text(&out).contains("Update Hyperclay Sync to keep syncing (version 99.0.0 or later)"),
        "{}",
        text(&out)
    );
    // Nothing went up, and the files are still there for the updated version.
    assert!(
        Api::as_version(&server.url(), &token, "99.0.0")
            .paths()
            .is_empty()
    );
    assert_eq!(
        c.read("notes.html").as_deref(),
        Some("<p>written while outdated</p>")
    );
    // The last state it wrote says why, in the same words.
    let status = c.status();
    assert_eq!(status["state"], "outdated", "{status}");
    assert_eq!(
        status["reason"],
        "Update Hyperclay Sync to keep syncing (version 99.0.0 or later)"
    );
    assert_eq!(status["versionNews"]["required"], true, "{status}");
    assert_eq!(
        status["versionNews"]["download"],
        "https://downloads.example/sync"
    );
    assert!(
        c.log().contains("no longer accepts this version"),
        "{}",
        c.log()
    );
}

#[test]
fn below_the_latest_sync_goes_on_and_status_says_a_newer_version_exists() {
    let server = server_with(None, Some("99.0.0"));
    let token = server.token("demo");
    let c = Client::with_files(&server.url(), &token, &[("notes.html", "<p>hi</p>")]);
    let api = Api::new(&server.url(), &token);
    assert!(
        wait_until(DEADLINE, || api.get("notes.html").as_deref()
            == Some("<p>hi</p>")),
        "the save never reached the server\n{}",
        c.log()
    );
    assert!(
        wait_until(DEADLINE, || c.status()["versionNews"]["version"]
            == "99.0.0"),
        "{}",
        c.status()
    );
    let status = c.status();
    assert_eq!(status["state"], "upToDate", "{status}");
    assert_eq!(status["versionNews"]["required"], false);
    let out = client::command(
        &hyperclay_testkit::bin::client(),
        c.home.path(),
        &server.url(),
    )
    .arg("status")
    .output()
    .unwrap();
    let words = String::from_utf8_lossy(&out.stdout);
    assert!(
        words.contains("version 99.0.0 is available: run `hyperclay-sync update`"),
        "{words}"
    );
    assert!(words.contains("State:     Up to date"), "{words}");
    let json = client::command(
        &hyperclay_testkit::bin::client(),
        c.home.path(),
        &server.url(),
    )
    .args(["status", "--json"])
    .output()
    .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json["newerVersion"]["version"], "99.0.0", "{json}");
    assert_eq!(json["state"], "upToDate");
    // Saves go on as usual.
    c.write("notes.html", "<p>again</p>");
    assert!(wait_until(DEADLINE, || {
        api.get("notes.html").as_deref() == Some("<p>again</p>")
    }));
}

#[test]
fn a_release_signed_by_another_key_or_changed_on_the_server_is_refused_and_nothing_replaced() {
    let server = server_with(None, None);
    let bin = hyperclay_testkit::bin::client();
    let (_dir, image) = appimage_of(&bin);
    let before = std::fs::read(&image).unwrap();
    let home = tempfile::tempdir().unwrap();
    let payload = b"#!/bin/sh\necho not a real release\n".repeat(100);

    let stranger = ReleaseKey::generate();
    let comment = release_trusted_comment("99.0.0", PLATFORM);
    server.publish_release(
        "99.0.0",
        PLATFORM,
        &payload,
        &stranger.sign(&payload, &comment),
    );
    let out = update_as_appimage(&bin, home.path(), &server.url(), &image);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("not signed by the Hyperclay release key: refused"),
        "{}",
        text(&out)
    );
    assert_eq!(std::fs::read(&image).unwrap(), before);

    // Signed by the key this test build trusts, then its bytes changed where the server keeps
    // them (a compromised server or mirror): the download does not match, nothing is replaced.
    let trusted = ReleaseKey::committed_test_key();
    let comment = release_trusted_comment("99.0.1", PLATFORM);
    server.publish_release(
        "99.0.1",
        PLATFORM,
        &payload,
        &trusted.sign(&payload, &comment),
    );
    let sha = hyperclay_protocol::sha256_hex(&payload);
    let blob = server.data_dir().join("blobs").join(&sha[..2]).join(&sha);
    let mut evil = payload.clone();
    evil[5] ^= 0x20;
    std::fs::write(&blob, &evil).expect("the release's blob on the server");
    let out = update_as_appimage(&bin, home.path(), &server.url(), &image);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("does not match the release's SHA-256: refused"),
        "{}",
        text(&out)
    );
    assert_eq!(std::fs::read(&image).unwrap(), before);
    // No half download is left behind.
    let left: Vec<_> = std::fs::read_dir(home.path().join("updates"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn an_outdated_appimage_updates_itself_to_the_next_version_which_then_syncs_what_waited() {
    let bin = hyperclay_testkit::bin::client();
    let next = hyperclay_testkit::bin::next_client();
    let (old, new) = (version_of(&bin), version_of(&next));
    assert_ne!(old, new, "the next-version build is this same version");
    let (_dir, image) = appimage_of(&bin);
    // As the old version: refused, nothing sent.
    let Waiting {
        server,
        token,
        api,
        c,
    } = refused_with_a_file_waiting(&image, &new);

    // The next version is published, signed by the key a test build trusts; the old one
    // updates itself from the feed, though the server no longer accepts it for anything else.
    let bytes = std::fs::read(&next).unwrap();
    publish_signed(&server, &new, PLATFORM, &bytes);
    let out = update_as_appimage(&image, c.home.path(), &server.url(), &image);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("Updated to version {new}")),
        "{}",
        text(&out)
    );
    assert_eq!(
        std::fs::read(&image).unwrap(),
        bytes,
        "the AppImage was not replaced"
    );
    assert_eq!(version_of(&image), new);

    // The same data folder and login, now as the new version: what waited goes up.
    let mut child = run_headless(&image, c.home.path(), &server.url(), &token, &c.folder);
    let synced = wait_until(DEADLINE, || {
        api.get("waited.html").as_deref() == Some("<p>saved while outdated</p>")
    });
    let _ = hyperclay_testkit::terminate_client(&mut child, DEADLINE);
    assert!(synced, "the updated version did not sync\n{}", c.log());
}

/// The Windows build's own update, run by the Wine stage (installer/windows/wine/test.sh) with the
/// installed `hyperclay-sync.exe` as the client under test and the next version's setup, built by
/// the stage as `HYPERCLAY_TEST_NEXT_SETUP` (version `HYPERCLAY_TEST_NEXT_VERSION`): refused as
/// outdated, the app downloads the setup from the feed, checks it, runs it silently; the setup
/// replaces the programs (and starts the tray, stopped here: this part has no display); the new
/// version's engine then syncs what the old one could not.
#[test]
#[ignore = "Windows only: installer/windows/wine/test.sh runs it under Wine"]
fn an_installed_windows_app_updates_itself_through_its_setup_then_syncs_as_the_new_version() {
    let setup = PathBuf::from(std::env::var_os("HYPERCLAY_TEST_NEXT_SETUP").expect(
        "HYPERCLAY_TEST_NEXT_SETUP: the next version's setup (installer/windows/wine/test.sh)",
    ));
    let new = std::env::var("HYPERCLAY_TEST_NEXT_VERSION").expect("HYPERCLAY_TEST_NEXT_VERSION");
    let bin = hyperclay_testkit::bin::client();
    assert_ne!(version_of(&bin), new, "the installed app is already {new}");
    let Waiting {
        server,
        token,
        api,
        c,
    } = refused_with_a_file_waiting(&bin, &new);
    publish_signed(
        &server,
        &new,
        "windows-x86_64",
        &std::fs::read(&setup).unwrap(),
    );
    // The login is handed down: the setup starts the tray with this environment.
    let child = client::command(&bin, c.home.path(), &server.url())
        .arg("update")
        .env("HYPERCLAY_TOKEN", &token)
        .env("HYPERCLAY_POLL_SECONDS", "0.5")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = finished(child, "hyperclay-sync.exe update");
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("updating Hyperclay Sync to version {new}")),
        "{}",
        text(&out)
    );
    let updated = wait_until(DEADLINE * 3, || version_of(&bin) == new);
    assert!(updated, "the setup did not install {new}\n{}", c.log());
    // The setup starts the new tray (its child, not this test's). This part of the Wine stage has
    // no display for it, so it is stopped by name, and the new version's engine is run here, as
    // the same user with the same data folder: the server accepts only `new` (its minimum), so
    // a sync proves which version made it.
    let stop_tray = || {
        let _ = Command::new("wine")
            .args(["taskkill", "/F", "/IM", "hyperclay-sync-tray.exe"])
            .output();
    };
    let synced = wait_until(DEADLINE * 3, || {
        stop_tray();
        let mut run = run_headless(&bin, c.home.path(), &server.url(), &token, &c.folder);
        let arrived = wait_until(DEADLINE, || {
            api.get("waited.html").as_deref() == Some("<p>saved while outdated</p>")
        });
        let _ = run.kill();
        let _ = run.wait();
        arrived
    });
    stop_tray();
    assert!(
        synced,
        "the new version did not sync what waited\n{}",
        c.log()
    );
}

#[test]
fn a_download_cut_short_or_longer_than_announced_leaves_the_running_version_and_no_part_file() {
    use crate::hostile::{Body, HostileServer, Reply, Script};
    let bin = hyperclay_testkit::bin::client();
    let (_dir, image) = appimage_of(&bin);
    let before = std::fs::read(&image).unwrap();
    let home = tempfile::tempdir().unwrap();
    let payload = b"#!/bin/sh\necho the next version\n".repeat(2000);
    let signature = ReleaseKey::committed_test_key()
        .sign(&payload, &release_trusted_comment("99.0.0", PLATFORM));
    let feed = serde_json::json!({
        "version": "99.0.0",
        "platform": PLATFORM,
        "size": payload.len(),
        "sha256": hyperclay_protocol::sha256_hex(&payload),
        "url": "/downloads/next",
        "signature": signature,
    });
    let mut script = Script::serving(&[]);
    script
        .other
        .insert("/api/local-sync/releases/latest".into(), Reply::json(&feed));
    let bodies = [
        Body::Truncated {
            declared: payload.len(),
            bytes: payload[..payload.len() / 2].to_vec(),
        },
        // The announced bytes, then more: a body is never taken past the size the feed signed.
        Body::Bytes([payload.clone(), b"tail".repeat(10)].concat()),
    ];
    for body in bodies {
        let mut script = script.clone();
        script.other.insert(
            "/downloads/next".into(),
            Reply::json(&serde_json::json!({})).with_body(body.clone()),
        );
        let server = HostileServer::start(script);
        let out = update_as_appimage(&bin, home.path(), &server.url, &image);
        assert!(!out.status.success(), "{body:?}: {}", text(&out));
        assert!(
            text(&out).contains("cannot download the update") || text(&out).contains("refused"),
            "{}",
            text(&out)
        );
        assert_eq!(std::fs::read(&image).unwrap(), before);
        let left: Vec<_> = std::fs::read_dir(home.path().join("updates"))
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{left:?}");
        // Neither the feed nor the file is asked for with a login.
        let asked: Vec<_> = server
            .requests()
            .into_iter()
            .filter(|r| r.target.contains("releases") || r.target.contains("downloads"))
            .collect();
        assert_eq!(asked.len(), 2, "{asked:?}");
        assert!(asked.iter().all(|r| r.authorization.is_none()), "{asked:?}");
    }
}
