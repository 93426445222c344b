//! `history`, `restore` and `diff` end to end: the real binary against the real server, with
//! the engine running and without it. Every version that was overwritten, on either side, can
//! be listed and made current again, and a restore is itself backed up on both sides.

use crate::common;

use std::path::Path;
use std::process::Output;

use common::*;
use hyperclay_protocol::Timestamp;

/// `hyperclay-sync ARGS` as the user of `client`'s data folder runs it.
fn cli(home: &Path, url: &str, token: &str, args: &[&str]) -> Output {
    hyperclay_testkit::bin::client_command()
        .args(args)
        .env("HYPERCLAY_SYNC_HOME", home)
        .env("HYPERCLAY_URL", url)
        .env("HYPERCLAY_TOKEN", token)
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
        .output()
        .unwrap()
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn history_json(home: &Path, url: &str, token: &str, path: &str) -> serde_json::Value {
    serde_json::from_str(&ok(cli(home, url, token, &["history", path, "--json"]))).unwrap()
}

fn id_of(bytes: &[u8]) -> String {
    hyperclay_protocol::Checksum::of(bytes).to_hex()[..12].to_owned()
}

/// The versions' checksums, newest first, with where each is and whether current.
fn listed(doc: &serde_json::Value) -> Vec<(String, String, Vec<String>)> {
    doc["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let current = v["current"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_owned())
                .collect();
            (
                v["id"].as_str().unwrap().to_owned(),
                v["where"].as_str().unwrap().to_owned(),
                current,
            )
        })
        .collect()
}

/// The restore command a settled conflict names for `path`, from `status --json`.
fn conflict_command(home: &Path, path: &str) -> Option<String> {
    let status = hyperclay_testkit::client::status(home);
    status["issues"]
        .as_array()?
        .iter()
        .find(|i| i["path"] == path && i["kind"] == "conflict")?["restore"]
        .as_str()
        .map(str::to_owned)
}

/// Runs a `hyperclay-sync restore …` command line as printed (its words have no quotes here).
fn run_printed(home: &Path, url: &str, token: &str, command: &str) -> String {
    let words: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(words[0], "hyperclay-sync", "{command}");
    ok(cli(home, url, token, &words[1..]))
}

#[test]
fn the_loser_of_a_conflict_comes_back_from_either_side_with_the_command_the_report_names() {
    let server = TestServer::start();
    let token = server.token("demo");
    let url = server.url();
    let api = Api::new(&url, &token);
    // local-lost: the server's copy is newer, so the local one loses (kept in sites-versions/).
    // remote-lost: the local copy is newer, so the server's loses (kept in its history).
    assert_eq!(
        api.put("local-lost.html", b"<p>server, newer</p>", hours_ago(0)),
        200
    );
    assert_eq!(
        api.put("remote-lost.html", b"<p>server, older</p>", hours_ago(2)),
        200
    );
    let mut client = Client::start_stopped(&url, &token);
    client.write("local-lost.html", "<p>mine, older</p>");
    set_mtime(&client.path("local-lost.html"), hours_ago(1));
    client.write("remote-lost.html", "<p>mine, newer</p>");
    client.spawn();
    client.wait_synced();
    let home = client.home.path();

    let local_cmd = hyperclay_testkit::wait::until_some(
        DEADLINE,
        std::time::Duration::from_millis(100),
        || conflict_command(home, "local-lost.html"),
    )
    .expect("the conflict names a restore command");
    let remote_cmd = hyperclay_testkit::wait::until_some(
        DEADLINE,
        std::time::Duration::from_millis(100),
        || conflict_command(home, "remote-lost.html"),
    )
    .expect("the conflict names a restore command");
    assert_eq!(
        local_cmd,
        format!(
            "hyperclay-sync restore local-lost.html --version {}",
            id_of(b"<p>mine, older</p>")
        )
    );
    assert_eq!(
        remote_cmd,
        format!(
            "hyperclay-sync restore remote-lost.html --version {}",
            id_of(b"<p>server, older</p>")
        )
    );
    let report = std::fs::read_to_string(home.join("sync-issues.txt")).unwrap();
    assert!(
        report.contains(&local_cmd) && report.contains(&remote_cmd),
        "{report}"
    );

    // With the engine running, both commands work as printed.
    let said = run_printed(home, &url, &token, &local_cmd);
    assert!(said.contains("The server holds version"), "{said}");
    assert_eq!(
        client.read("local-lost.html").as_deref(),
        Some("<p>mine, older</p>")
    );
    assert_eq!(
        api.get("local-lost.html").as_deref(),
        Some("<p>mine, older</p>")
    );
    // What the restore replaced is backed up on both sides: it can be undone the same way.
    assert!(
        client
            .versions("local-lost")
            .contains(&"<p>server, newer</p>".to_owned())
    );
    assert!(
        api.versions("local-lost.html")
            .contains(&"<p>server, newer</p>".to_owned())
    );

    run_printed(home, &url, &token, &remote_cmd);
    assert_eq!(
        client.read("remote-lost.html").as_deref(),
        Some("<p>server, older</p>")
    );
    assert_eq!(
        api.get("remote-lost.html").as_deref(),
        Some("<p>server, older</p>")
    );
    assert!(
        client
            .versions("remote-lost")
            .contains(&"<p>mine, newer</p>".to_owned())
    );
    assert!(
        api.versions("remote-lost.html")
            .contains(&"<p>mine, newer</p>".to_owned())
    );
    // And the engine settles on it: no echo brings another copy back.
    client.wait_synced();
    assert!(wait_until(DEADLINE, || hyperclay_testkit::client::status(
        home
    )["state"]
        == "upToDate"));
    assert_eq!(
        client.read("remote-lost.html").as_deref(),
        Some("<p>server, older</p>")
    );
}

#[test]
fn an_upload_is_restored_without_the_engine_byte_for_byte_and_the_restore_can_be_undone() {
    let server = TestServer::start();
    let token = server.token("demo");
    let url = server.url();
    let api = Api::new(&url, &token);
    let v1: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    let v2: Vec<u8> = (0..=255u8).rev().cycle().take(5000).collect();
    let mut client = Client::start_stopped(&url, &token);
    std::fs::create_dir_all(client.path("img")).unwrap();
    std::fs::write(client.path("img/pic.png"), &v1).unwrap();
    client.spawn();
    client.wait_synced();
    assert!(wait_until(DEADLINE, || api
        .versions("img/pic.png")
        .is_empty()
        && api.get("img/pic.png").is_some()));
    // Another client replaces it; this machine downloads it, backing up v1.
    assert_eq!(api.put("img/pic.png", &v2, Timestamp::now()), 200);
    assert!(wait_until(DEADLINE, || std::fs::read(
        client.path("img/pic.png")
    )
    .ok()
        == Some(v2.clone())));
    client.stop();
    let home = client.home.path();

    let doc = history_json(home, &url, &token, "img/pic.png");
    assert_eq!(doc["server"], "reached");
    let versions = listed(&doc);
    assert_eq!(
        versions,
        [
            (
                id_of(&v2),
                "both".to_owned(),
                vec!["local".to_owned(), "server".to_owned()]
            ),
            (id_of(&v1), "both".to_owned(), vec![]),
        ],
        "v1 is both a local backup and a server version: counted once"
    );
    assert_eq!(doc["versions"][1]["size"], 3000);
    assert_eq!(
        doc["versions"][1]["checksum"],
        hyperclay_protocol::Checksum::of(&v1).to_hex()
    );
    let text = ok(cli(home, &url, &token, &["history", "img/pic.png"]));
    assert!(
        text.contains(&id_of(&v1)) && text.contains("current"),
        "{text}"
    );

    let diff = ok(cli(
        home,
        &url,
        &token,
        &["diff", "img/pic.png", "--version", &id_of(&v1)],
    ));
    assert!(
        diff.contains("Binary files differ") && diff.contains("(+2000 bytes)"),
        "{diff}"
    );

    // A dry run changes nothing.
    let dry = ok(cli(
        home,
        &url,
        &token,
        &[
            "restore",
            "img/pic.png",
            "--version",
            &id_of(&v1),
            "--dry-run",
        ],
    ));
    assert!(dry.contains("Would restore"), "{dry}");
    assert_eq!(std::fs::read(client.path("img/pic.png")).unwrap(), v2);

    let said = ok(cli(
        home,
        &url,
        &token,
        &["restore", "img/pic.png", "--version", &id_of(&v1)],
    ));
    assert!(said.contains("Uploaded it to the server"), "{said}");
    assert_eq!(std::fs::read(client.path("img/pic.png")).unwrap(), v1);
    let doc = history_json(home, &url, &token, "img/pic.png");
    assert_eq!(listed(&doc)[0].0, id_of(&v1));
    assert_eq!(
        listed(&doc)[0].2,
        ["local", "server"],
        "current on both sides"
    );
    // Undone the same way: v2 was backed up by both sides' save processes.
    ok(cli(
        home,
        &url,
        &token,
        &["restore", "img/pic.png", "--version", &id_of(&v2)],
    ));
    assert_eq!(std::fs::read(client.path("img/pic.png")).unwrap(), v2);
    let doc = history_json(home, &url, &token, "img/pic.png");
    assert_eq!(listed(&doc)[0].0, id_of(&v2));
    assert_eq!(listed(&doc)[0].2, ["local", "server"]);

    // The next engine start finds both sides holding the same bytes: nothing moves.
    client.spawn();
    client.wait_synced();
    assert_eq!(std::fs::read(client.path("img/pic.png")).unwrap(), v2);
    assert!(
        client.status()["issues"]
            .as_array()
            .is_none_or(|i| i.is_empty())
    );
}

#[test]
fn versions_this_machine_never_saw_are_listed_and_restored_from_the_server() {
    let server = TestServer::start();
    let token = server.token("demo");
    let url = server.url();
    let api = Api::new(&url, &token);
    for (i, body) in ["<p>r1</p>\n", "<p>r2</p>\n", "<p>r3</p>\n"]
        .iter()
        .enumerate()
    {
        let at = hours_ago(3 - i as i64);
        assert_eq!(api.put("blog/remote-hist.html", body.as_bytes(), at), 200);
    }
    let client = Client::start(&url, &token);
    client.wait_synced();
    assert!(wait_until(DEADLINE, || client
        .read("blog/remote-hist.html")
        .as_deref()
        == Some("<p>r3</p>\n")));
    let home = client.home.path();

    // By the app's name alone.
    let doc = history_json(home, &url, &token, "remote-hist");
    assert_eq!(doc["path"], "blog/remote-hist.html");
    let ids: Vec<(String, String)> = listed(&doc).into_iter().map(|(id, w, _)| (id, w)).collect();
    assert_eq!(
        ids,
        [
            (id_of(b"<p>r3</p>\n"), "both".to_owned()),
            (id_of(b"<p>r2</p>\n"), "server".to_owned()),
            (id_of(b"<p>r1</p>\n"), "server".to_owned()),
        ]
    );
    let diff = ok(cli(
        home,
        &url,
        &token,
        &["diff", "remote-hist", "--version", &id_of(b"<p>r2</p>\n")],
    ));
    assert!(diff.contains("-<p>r2</p>\n+<p>r3</p>\n"), "{diff}");

    // Restored while the engine runs, by time: the newest saved before r2 was replaced.
    let before = hours_ago(2).offset_by(60_000).to_rfc3339();
    let said = ok(cli(
        home,
        &url,
        &token,
        &["restore", "remote-hist", "--before", &before],
    ));
    assert!(said.contains("The server holds version"), "{said}");
    assert_eq!(
        client.read("blog/remote-hist.html").as_deref(),
        Some("<p>r2</p>\n")
    );
    assert_eq!(
        api.get("blog/remote-hist.html").as_deref(),
        Some("<p>r2</p>\n")
    );
    assert!(
        client
            .versions("blog/remote-hist")
            .contains(&"<p>r3</p>\n".to_owned())
    );
}

#[test]
fn history_lists_this_machines_versions_when_the_server_cannot_be_reached() {
    let server = TestServer::start();
    let token = server.token("demo");
    let url = server.url();
    let api = Api::new(&url, &token);
    let mut client = Client::with_files(&url, &token, &[("offline.html", "<p>one</p>")]);
    client.wait_synced();
    assert!(wait_until(DEADLINE, || api.get("offline.html").is_some()));
    api.save("offline", "<p>two</p>");
    assert!(wait_until(DEADLINE, || client
        .read("offline.html")
        .as_deref()
        == Some("<p>two</p>")));
    client.stop();
    let home = client.home.path();
    let dead = "http://127.0.0.1:9";
    let text = ok(cli(home, dead, &token, &["history", "offline.html"]));
    assert!(text.contains("The server cannot be reached"), "{text}");
    assert!(text.contains(&id_of(b"<p>one</p>")), "{text}");
    let doc = history_json(home, dead, &token, "offline.html");
    assert_eq!(doc["server"], "unreachable");
    assert_eq!(listed(&doc).len(), 2);
}

#[test]
fn a_restore_refuses_a_file_that_is_not_synced_and_a_version_that_does_not_exist() {
    let server = TestServer::start();
    let token = server.token("demo");
    let url = server.url();
    let client = Client::with_files(
        &url,
        &token,
        &[
            ("Hello World.html", "<p>hi</p>"),
            ("fine.html", "<p>ok</p>"),
        ],
    );
    client.wait_synced();
    let home = client.home.path();
    let out = cli(
        home,
        &url,
        &token,
        &["restore", "Hello World.html", "--version", "abcdef"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not synced"), "{err}");
    // Too large to sync: the running engine lists it as a sync issue, and restore says why.
    let big = vec![b'x'; (20 << 20) + 1];
    std::fs::write(client.path("big.bin"), &big).unwrap();
    assert!(wait_until(DEADLINE, || client.status()["issues"]
        .as_array()
        .is_some_and(|i| i.iter().any(|i| i["path"] == "big.bin"))));
    let out = cli(
        home,
        &url,
        &token,
        &["restore", "big.bin", "--version", "abcdef"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("big.bin is not synced") && err.contains("20 MiB"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(client.path("big.bin")).unwrap().len(),
        big.len()
    );
    let out = cli(
        home,
        &url,
        &token,
        &["restore", "fine.html", "--version", "abcdef123456"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no version abcdef123456"), "{err}");
    assert_eq!(client.read("fine.html").as_deref(), Some("<p>ok</p>"));
}

#[test]
fn the_engine_prunes_old_backups_to_the_retention_and_keeps_the_newest() {
    let server = TestServer::start();
    let token = server.token("demo");
    let mut client = Client::start_stopped(&server.url(), &token);
    let dir = client.path("sites-versions/old");
    std::fs::create_dir_all(&dir).unwrap();
    // Fifteen versions made on one day 40 days ago, and one recent: the newest ten are kept
    // (the recent one and nine of that day, its newest among them), the six oldest go.
    const DAY: i64 = 24 * 3_600_000;
    let then = Timestamp::now().offset_by(-40 * DAY).as_millis();
    let day = Timestamp::from_millis(then - then.rem_euclid(DAY) + 3_600_000);
    let mut names = Vec::new();
    for i in 0..15 {
        let at = day.offset_by(i * 60_000).to_system_time();
        let name = format!("{}.html", hyperclay_sync::local::write::version_stem(at));
        std::fs::write(dir.join(&name), format!("<p>{i}</p>")).unwrap();
        names.push(name);
    }
    let recent = format!(
        "{}.html",
        hyperclay_sync::local::write::version_stem(std::time::SystemTime::now())
    );
    std::fs::write(dir.join(&recent), "<p>recent</p>").unwrap();
    std::fs::write(dir.join("notes.txt"), "not a version").unwrap();
    client.write("old.html", "<p>current</p>");
    client.spawn();
    client.wait_synced();
    let left = || -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    };
    assert!(wait_until(DEADLINE, || left().len() == 11), "{:?}", left());
    let kept = left();
    assert!(kept.contains(&recent) && kept.contains(&"notes.txt".to_owned()));
    for (i, name) in names.iter().enumerate() {
        assert_eq!(kept.contains(name), i >= 6, "{name}: {kept:?}");
    }
}
