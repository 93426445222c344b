//! End to end: the real `hyperclay-sync` binary against a real `hyperclay-server`, in real temp
//! folders. Each test is one scenario and waits on conditions, never on fixed sleeps.

use crate::common;

use common::*;
use hyperclay_protocol::Timestamp;

#[test]
fn first_session_syncs_both_ways_and_backs_up_the_losing_side() {
    let mut rig = Rig::stopped();
    let api = &rig.api;
    assert_eq!(
        api.put("remote-only.html", b"<p>remote</p>", hours_ago(1)),
        200
    );
    assert_eq!(
        api.put("local-wins.html", b"<p>old remote</p>", hours_ago(2)),
        200
    );
    assert_eq!(
        api.put("remote-wins.html", b"<p>new remote</p>", hours_ago(0)),
        200
    );

    let client = &mut rig.client;
    client.write("local-only.html", "<p>local</p>");
    client.write("local-wins.html", "<p>new local</p>");
    client.write("remote-wins.html", "<p>old local</p>");
    set_mtime(&client.path("remote-wins.html"), hours_ago(3));
    client.spawn();
    client.wait_synced();

    assert_eq!(
        client.read("remote-only.html").as_deref(),
        Some("<p>remote</p>")
    );
    assert!(wait_until(DEADLINE, || api
        .get("local-only.html")
        .as_deref()
        == Some("<p>local</p>")));
    assert!(wait_until(DEADLINE, || api
        .get("local-wins.html")
        .as_deref()
        == Some("<p>new local</p>")));
    assert_eq!(
        client.read("remote-wins.html").as_deref(),
        Some("<p>new remote</p>")
    );
    assert_eq!(client.versions("remote-wins"), ["<p>old local</p>"]);
    // The server's save process kept the remote loser as a version.
    assert_eq!(api.versions("local-wins.html"), ["<p>old remote</p>"]);
    assert!(client.log().contains("upload local-only.html"));
}

#[test]
fn a_local_save_reaches_the_server_and_is_not_echoed_back() {
    let rig = Rig::synced_through_proxy(&[]);
    let (api, client, proxy) = (&rig.api, &rig.client, rig.proxy());

    client.write("blog/post.html", "<p>v1</p>");
    assert!(wait_until(DEADLINE, || api
        .get("blog/post.html")
        .as_deref()
        == Some("<p>v1</p>")));
    // A remote edit comes down, and the download is not uploaded back.
    let puts_before = proxy.count("PUT", "/api/local-sync/files/");
    api.save("post", "<p>v2 from the browser</p>");
    assert!(wait_until(DEADLINE, || client
        .read("blog/post.html")
        .as_deref()
        == Some("<p>v2 from the browser</p>")));
    assert_eq!(client.versions("blog/post"), ["<p>v1</p>"]);
    // Let several more polls pass (a marker file must arrive), then count again.
    api.marker("marker");
    assert!(wait_until(DEADLINE, || client
        .read("marker.html")
        .is_some()));
    assert_eq!(proxy.count("PUT", "/api/local-sync/files/"), puts_before);
    // An edit saved here the moment a download lands, at the same size, is the user's and goes
    // up: only the download's own echo (its mtime is the remote time we set) is skipped.
    let (theirs, mine) = ("<p>v4 from the browser</p>", "<p>v5 from my editor!!</p>");
    assert_eq!(theirs.len(), mine.len());
    api.save("post", theirs);
    assert!(wait_until(DEADLINE, || client
        .read("blog/post.html")
        .as_deref()
        == Some(theirs)));
    client.write("blog/post.html", mine);
    assert!(wait_until(DEADLINE, || api
        .get("blog/post.html")
        .as_deref()
        == Some(mine)));
}

#[test]
fn deletions_are_respected_on_both_sides_even_after_a_restart() {
    let server = TestServer::start();
    let token = server.token("demo");
    let api = Api::new(&server.url(), &token);
    let mut client = Client::with_files(
        &server.url(),
        &token,
        &[
            ("gone-locally.html", "<p>a</p>"),
            ("gone-remotely.html", "<p>b</p>"),
        ],
    );
    client.wait_synced();
    assert!(wait_until(DEADLINE, || api
        .get("gone-remotely.html")
        .is_some()));

    std::fs::remove_file(client.path("gone-locally.html")).unwrap();
    server.rm("demo", "gone-remotely.html");
    api.marker("marker1");
    assert!(wait_until(DEADLINE, || client
        .read("marker1.html")
        .is_some()));
    assert!(client.read("gone-locally.html").is_none());
    assert!(api.get("gone-remotely.html").is_none());
    assert_eq!(api.get("gone-locally.html").as_deref(), Some("<p>a</p>"));

    client.stop();
    client.spawn();
    client.wait_synced();
    api.marker("marker2");
    assert!(wait_until(DEADLINE, || client
        .read("marker2.html")
        .is_some()));
    assert!(
        client.read("gone-locally.html").is_none(),
        "re-downloaded after restart"
    );
    assert!(
        api.get("gone-remotely.html").is_none(),
        "re-uploaded after restart"
    );

    // An edit brings each back to the other side.
    client.write("gone-remotely.html", "<p>b2</p>");
    assert!(wait_until(DEADLINE, || api
        .get("gone-remotely.html")
        .as_deref()
        == Some("<p>b2</p>")));
    api.save("gone-locally", "<p>a2</p>");
    assert!(wait_until(DEADLINE, || client
        .read("gone-locally.html")
        .as_deref()
        == Some("<p>a2</p>")));
}

#[test]
fn a_rename_is_a_new_file_and_an_app_elsewhere_is_updated_in_place() {
    let mut rig = Rig::stopped();
    let api = &rig.api;
    assert_eq!(
        api.put("deep/er/hello.html", b"<p>remote</p>", hours_ago(2)),
        200
    );
    let client = &mut rig.client;
    client.write("hello.html", "<p>local newer</p>");
    client.write("old-name.png", "png");
    client.spawn();
    client.wait_synced();
    assert!(wait_until(DEADLINE, || api
        .get("deep/er/hello.html")
        .as_deref()
        == Some("<p>local newer</p>")));
    assert!(
        api.get("hello.html").is_none(),
        "the app must stay in its remote folder"
    );
    assert!(client.read("deep/er/hello.html").is_none());

    client.write("hello.html", "<p>edit 2</p>");
    assert!(wait_until(DEADLINE, || api
        .get("deep/er/hello.html")
        .as_deref()
        == Some("<p>edit 2</p>")));

    std::fs::rename(client.path("old-name.png"), client.path("new-name.png")).unwrap();
    assert!(wait_until(DEADLINE, || api.get("new-name.png").as_deref()
        == Some("png")));
    assert_eq!(api.get("old-name.png").as_deref(), Some("png"));
}

#[test]
fn offline_makes_no_requests_and_reconnecting_reconciles_both_ways() {
    let mut server = TestServer::start();
    let token = server.token("demo");
    let proxy = Proxy::start(&server.url());
    let api = Api::new(&server.url(), &token);
    let client = Client::with_files(&proxy.url, &token, &[("a.html", "<p>a1</p>")]);
    client.wait_synced();
    assert!(wait_until(DEADLINE, || api.get("a.html").is_some()));

    server.stop();
    // Offline at once (with the cause), and the session given up after the poll's retries
    // (1 + 2 + 3 + 4 + 5 s): from then on, only probes.
    assert!(wait_until(DEADLINE, || client.status()["online"] == false));
    assert!(wait_until(std::time::Duration::from_secs(40), || client
        .log()
        .contains("Offline:")));
    let total = |p: &Proxy| p.seen.lock().unwrap().len();
    let (all_before, probes_before) = (total(&proxy), proxy.count("GET", "/api/local-sync/status"));
    client.write("made-offline.html", "<p>offline</p>");
    // While offline only the status probe goes out, once per poll interval.
    assert!(wait_until(DEADLINE, || proxy
        .count("GET", "/api/local-sync/status")
        >= probes_before + 3));
    let probes = proxy.count("GET", "/api/local-sync/status") - probes_before;
    assert_eq!(
        total(&proxy) - all_before,
        probes,
        "only status probes while offline"
    );
    server.restart();
    let api = Api::new(&server.url(), &token);
    api.marker("remote-while-offline");
    assert!(wait_until(DEADLINE, || api
        .get("made-offline.html")
        .as_deref()
        == Some("<p>offline</p>")));
    assert!(wait_until(DEADLINE, || client
        .read("remote-while-offline.html")
        .is_some()));
    assert_eq!(client.status()["online"], true);
}

#[test]
fn server_errors_are_retried_on_the_schedule_then_given_up() {
    let rig = Rig::synced_through_proxy(&[]);
    let (api, client, proxy) = (&rig.api, &rig.client, rig.proxy());

    proxy.fail("PUT /api/local-sync/files/flaky.html", 500, "internal");
    client.write("flaky.html", "<p>x</p>");
    // 1 try + 5 retries (1+2+3+4+5 s apart), then it stops.
    assert!(wait_until(std::time::Duration::from_secs(40), || client
        .log()
        .contains("error flaky.html")));
    assert_eq!(proxy.count("PUT", "/api/local-sync/files/flaky.html"), 6);
    // Later polls do not retry it: the next change of the file does.
    api.marker("marker");
    assert!(wait_until(DEADLINE, || client
        .read("marker.html")
        .is_some()));
    assert_eq!(proxy.count("PUT", "/api/local-sync/files/flaky.html"), 6);
    proxy.heal();
    client.write("flaky.html", "<p>y</p>");
    assert!(wait_until(DEADLINE, || api.get("flaky.html").as_deref()
        == Some("<p>y</p>")));
}

/// A server restarting refuses connections for a few seconds: the polls meeting it are retried
/// on the schedule, so the session lives on (no "offline", no full listing) and a save made
/// meanwhile goes up once the server is back.
#[test]
fn a_server_restart_costs_neither_offline_nor_the_session() {
    let mut rig = Rig::synced(&[]);
    let url = rig.server.url();
    let sessions = |log: &str| log.matches("Session started").count();
    let before = sessions(&rig.client.log());
    assert!(before >= 1, "{}", rig.client.log());

    rig.server.stop();
    // Down long enough for polls to meet a refused connection (one 0.2 s apart at most, and
    // the first retry comes 1 s after the first failure), well within the 15 s of retries;
    // meanwhile the status says so.
    assert!(wait_until(DEADLINE, || rig
        .client
        .log()
        .contains("Connection refused")));
    let said = |status: &serde_json::Value| {
        let reason = status["reason"].as_str().unwrap_or_default();
        status["state"] == "offline"
            && reason.starts_with(&format!("cannot reach {url}: "))
            && reason.ends_with("; trying again")
    };
    assert!(
        wait_until(DEADLINE, || said(&rig.client.status())),
        "{}",
        rig.client.status()
    );
    std::thread::sleep(std::time::Duration::from_secs(2));
    rig.server.restart();
    assert_eq!(rig.server.url(), url, "restarted on the same port");
    let (client, api) = (&rig.client, Api::new(&url, &rig.token));
    api.marker("after-restart");
    assert!(wait_until(DEADLINE, || client
        .read("after-restart.html")
        .is_some()));

    let log = client.log();
    assert!(log.contains("trying again"), "{log}");
    assert!(!log.contains("Offline:"), "{log}");
    assert_eq!(sessions(&log), before, "a new session began: {log}");
    // The status file is written after the marker lands: wait for it, not for the file.
    assert!(
        wait_until(DEADLINE, || {
            let status = client.status();
            status["online"] == true && status["state"] == "upToDate"
        }),
        "{}",
        client.status()
    );
}

#[test]
fn editor_save_patterns_end_with_the_last_content_and_no_partial_version() {
    use std::io::Write;
    let rig = Rig::synced(&[("page.html", "<p>start</p>")]);
    let (api, client) = (&rig.api, &rig.client);
    assert!(wait_until(DEADLINE, || api.get("page.html").is_some()));

    // Temp file + rename (most editors' atomic save).
    client.write(".page.html.tmp", "<p>atomic</p>");
    std::fs::rename(client.path(".page.html.tmp"), client.path("page.html")).unwrap();
    assert!(wait_until(DEADLINE, || api.get("page.html").as_deref()
        == Some("<p>atomic</p>")));

    // Truncate, then write a moment later.
    let mut f = std::fs::File::create(client.path("page.html")).unwrap();
    drop(f);
    f = std::fs::OpenOptions::new()
        .write(true)
        .open(client.path("page.html"))
        .unwrap();
    f.write_all(b"<p>after truncate</p>").unwrap();
    drop(f);
    assert!(wait_until(DEADLINE, || api.get("page.html").as_deref()
        == Some("<p>after truncate</p>")));

    // 50 rapid saves.
    for i in 0..50 {
        client.write("page.html", &format!("<p>save {i}</p>"));
    }
    assert!(wait_until(DEADLINE, || api.get("page.html").as_deref()
        == Some("<p>save 49</p>")));
    assert!(api.get(".page.html.tmp").is_none());
    // No version the server kept is partial: each is one of the complete contents written.
    let mut complete: Vec<String> = (0..50).map(|i| format!("<p>save {i}</p>")).collect();
    complete.extend(["<p>start</p>", "<p>atomic</p>", "<p>after truncate</p>"].map(String::from));
    let versions = api.versions("page.html");
    assert!(!versions.is_empty());
    for v in versions {
        assert!(
            complete.contains(&v),
            "partial version on the server: {v:?}"
        );
    }
}

#[test]
fn files_over_20_mib_are_never_sent_and_20_mib_is() {
    let rig = Rig::synced(&[]);
    let (api, client) = (&rig.api, &rig.client);
    let limit = hyperclay_protocol::MAX_FILE_BYTES as usize;
    std::fs::write(client.path("too-big.bin"), vec![b'x'; limit + 1]).unwrap();
    std::fs::write(client.path("just-fits.bin"), vec![b'y'; limit]).unwrap();
    assert!(wait_until(std::time::Duration::from_secs(60), || api
        .get("just-fits.bin")
        .is_some_and(|s| s.len() == limit)));
    assert!(wait_until(DEADLINE, || client
        .log()
        .contains("skip too-big.bin")));
    assert!(api.get("too-big.bin").is_none());
}

#[test]
fn site_limit_and_name_taken_are_shown_to_the_user() {
    let server = TestServer::start();
    server.add_user("small", "pw-small", true, 1);
    let small = server.token("small");
    let client = Client::with_files(&server.url(), &small, &[("one.html", "<p>1</p>")]);
    client.wait_synced();
    client.write("two.html", "<p>2</p>");
    assert!(wait_until(DEADLINE, || client.status()["error"]
        == "You've run out of sites. We can't sync any more sites."));
    // More sites, and the next save of the file goes through and clears the message.
    server.cli(&["user", "set", "small", "--site-limit", "5"]);
    client.write("two.html", "<p>2 again</p>");
    assert!(wait_until(DEADLINE, || client.status()["error"].is_null()));
    let small_api = Api::new(&server.url(), &small);
    assert_eq!(small_api.get("two.html").as_deref(), Some("<p>2 again</p>"));

    let demo_api = Api::new(&server.url(), &server.token("demo"));
    assert_eq!(
        demo_api.put("taken.html", b"<p>demo's</p>", hours_ago(0)),
        200
    );
    server.add_user("other", "pw-other", true, 50);
    let other = Client::start(&server.url(), &server.token("other"));
    other.wait_synced();
    other.write("taken.html", "<p>mine?</p>");
    assert!(wait_until(DEADLINE, || other.status()["error"]
        .as_str()
        .is_some_and(|e| e.contains("name is taken"))));
}

#[test]
fn an_unpaid_account_is_told_and_syncs_once_it_pays() {
    let server = TestServer::start();
    let client = Client::with_files(
        &server.url(),
        &server.token("free"),
        &[("f.html", "<p>f</p>")],
    );
    assert!(wait_until(DEADLINE, || client.status()["error"]
        == "Sync is for paid subscribers"));
    server.cli(&["user", "set", "free", "--plan", "paid"]);
    client.wait_synced();
    assert!(wait_until(DEADLINE, || client.status()["error"].is_null()));
    let api = Api::new(&server.url(), &server.token("free"));
    assert!(wait_until(DEADLINE, || api.get("f.html").is_some()));
}

#[test]
fn a_refused_token_logs_out() {
    let server = TestServer::start();
    let client = Client::start(&server.url(), "not-a-valid-token");
    assert!(wait_until(DEADLINE, || client.log().contains("logged out")));
    assert!(client.status()["account"].is_null());
}

#[test]
fn a_token_older_than_a_day_is_refreshed() {
    let server = TestServer::start();
    let proxy = Proxy::start(&server.url());
    let client = Client::start(&proxy.url, &server.token_aged("demo", 25 * 3600));
    client.wait_synced();
    assert_eq!(proxy.count("POST", "/api/local-sync/refresh"), 1);
    assert!(client.log().contains("Login refreshed"));
}

#[test]
fn a_day_old_token_is_refreshed_on_use_while_sync_is_off() {
    use hyperclay_sync::engine::Engine;
    use hyperclay_sync::home::config::EngineConfig;
    use hyperclay_sync::home::settings::{self, Settings};
    use hyperclay_sync::status::state::Command;

    let server = TestServer::start();
    let proxy = Proxy::start(&server.url());
    let (home, folder) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // Sync switched off, as a user may leave it in the tray for days.
    settings::save(home.path(), &Settings::default()).unwrap();
    let config = EngineConfig {
        server_url: proxy.url.clone(),
        token_override: Some(server.token_aged("demo", 25 * 3600)),
        folder: Some(folder.path().to_path_buf()),
        ..EngineConfig::from_vars(|k| {
            (k == "HYPERCLAY_SYNC_HOME").then(|| home.path().display().to_string())
        })
        .unwrap()
    };
    let engine = Engine::start(config, Box::new(|_| {})).unwrap();
    let refreshes = || proxy.count("POST", "/api/local-sync/refresh");
    assert!(
        wait_until(DEADLINE, || refreshes() == 1),
        "no refresh at start"
    );
    // A command is a use too, but the fresh token is not due again for a day.
    engine.handle().send(Command::SetEnabled(false));
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(refreshes(), 1);
    assert_eq!(
        proxy.count("GET", "/api/local-sync/changes"),
        0,
        "synced while off"
    );
    engine.handle().send(Command::Shutdown);
    engine.join();
}

#[test]
fn clock_skew_either_way_still_lets_the_newer_side_win() {
    for skew in [3_600_000i64, -3_600_000] {
        let server = TestServer::start_with(ServerOptions {
            clock_skew_ms: skew,
            demo: true,
            ..ServerOptions::default()
        });
        let token = server.token("demo");
        let api = Api::new(&server.url(), &token);
        // The server's "now" is skewed; a remote copy saved 10 minutes ago (server clock).
        let server_now = Timestamp::now().offset_by(skew);
        assert_eq!(
            api.put(
                "skew.html",
                b"<p>remote older</p>",
                server_now.offset_by(-600_000)
            ),
            200
        );
        // And a remote copy saved just now, against a local one from 5 minutes ago.
        assert_eq!(
            api.put("skew2.html", b"<p>remote newer</p>", server_now),
            200
        );
        let mut client = Client::start_stopped(&server.url(), &token);
        client.write("skew.html", "<p>local newer</p>");
        client.write("skew2.html", "<p>local older</p>");
        set_mtime(
            &client.path("skew2.html"),
            Timestamp::now().offset_by(-300_000),
        );
        client.spawn();
        client.wait_synced();
        assert!(
            wait_until(DEADLINE, || api.get("skew.html").as_deref()
                == Some("<p>local newer</p>")),
            "skew {skew}"
        );
        assert_eq!(
            client.read("skew2.html").as_deref(),
            Some("<p>remote newer</p>"),
            "skew {skew}"
        );
    }
}

#[test]
fn an_expired_cursor_starts_a_new_session_with_a_full_listing() {
    let rig = Rig::synced_through_proxy(&[]);
    let (api, client, proxy) = (&rig.api, &rig.client, rig.proxy());
    let full = |p: &Proxy| p.count("GET", "/api/local-sync/changes?limit");
    let sessions = full(proxy);
    proxy.fail(
        "GET /api/local-sync/changes?limit=1000&cursor",
        410,
        "cursor_expired",
    );
    // The long-poll already held open ends with this change; the next one gets the 410.
    api.marker("wake-the-poll");
    assert!(wait_until(DEADLINE, || full(proxy) > sessions));
    proxy.heal();
    api.marker("after-410");
    assert!(wait_until(DEADLINE, || client
        .read("after-410.html")
        .is_some()));
    assert!(client.log().contains("New session: the cursor expired"));
}

#[test]
fn a_stale_upload_takes_the_servers_copy_and_keeps_the_local_one_as_a_backup() {
    let rig = Rig::synced_through_proxy(&[("s.html", "<p>v1</p>")]);
    let (api, client, proxy) = (&rig.api, &rig.client, rig.proxy());
    assert!(wait_until(DEADLINE, || api.get("s.html").is_some()));
    // The server gets a newer copy the client has not polled yet, and refuses the local save.
    api.save("s", "<p>server newer</p>");
    proxy.fail("PUT /api/local-sync/files/s.html", 409, "stale");
    client.write("s.html", "<p>local edit</p>");
    assert!(wait_until(DEADLINE, || client.read("s.html").as_deref()
        == Some("<p>server newer</p>")));
    assert!(
        client
            .versions("s")
            .contains(&"<p>local edit</p>".to_owned())
    );
}

#[test]
fn names_the_protocol_forbids_are_skipped_and_logged_once() {
    let rig = Rig::synced(&[("Bad Name.html", "<p>1</p>")]);
    let (api, client) = (&rig.api, &rig.client);
    client.write("Bad Name.html", "<p>2</p>");
    client.write("fine.html", "<p>ok</p>");
    assert!(wait_until(DEADLINE, || api.get("fine.html").is_some()));
    assert_eq!(client.log().matches("skip Bad Name.html").count(), 1);
    assert!(!api.paths().iter().any(|p| p.contains("Bad")));
}

#[test]
fn a_token_revoked_while_syncing_logs_out() {
    let server = TestServer::start();
    let token = server.token("demo");
    let client = Client::start(&server.url(), &token);
    client.wait_synced();
    assert_eq!(client.status()["account"], "demo");
    let revoked = ureq::post(format!("{}/api/local-sync/logout", server.url()))
        .header("User-Agent", hyperclay_testkit::http::client_user_agent())
        .header("Authorization", format!("Bearer {token}"))
        .send_empty()
        .unwrap();
    assert_eq!(revoked.status(), 204);
    assert!(wait_until(DEADLINE, || client.status()["account"].is_null()));
    assert!(client.log().contains("logged out"));
}

#[test]
fn a_lapsed_subscription_pauses_sync_until_it_is_paid_again() {
    let server = TestServer::start();
    server.add_user("payer", "pw-payer", true, 50);
    let token = server.token("payer");
    let api = Api::new(&server.url(), &token);
    let client = Client::start(&server.url(), &token);
    client.wait_synced();
    server.cli(&["user", "set", "payer", "--plan", "free"]);
    assert!(wait_until(DEADLINE, || client.status()["error"]
        == "Sync is for paid subscribers"));
    client.write("while-unpaid.html", "<p>u</p>");
    server.cli(&["user", "set", "payer", "--plan", "paid"]);
    assert!(wait_until(DEADLINE, || client.status()["error"].is_null()));
    assert!(wait_until(DEADLINE, || api
        .get("while-unpaid.html")
        .is_some()));
}

#[test]
fn empty_folders_sync_both_ways_and_a_folder_deleted_here_stays_deleted() {
    let mut rig = Rig::stopped();
    let api = &rig.api;
    assert_eq!(api.put_folder("remote-empty"), 200);
    assert_eq!(api.put_folder("deep/er"), 200);
    let client = &mut rig.client;
    std::fs::create_dir_all(client.path("local-empty/inner")).unwrap();
    std::fs::create_dir_all(client.path("Bad Folder")).unwrap();
    std::fs::create_dir_all(client.path("node_modules/pkg")).unwrap();
    client.spawn();
    client.wait_synced();
    let has = |p: &str| api.paths().iter().any(|q| q == p);

    assert!(client.path("remote-empty").is_dir());
    assert!(client.path("deep/er").is_dir());
    assert!(wait_until(DEADLINE, || has("local-empty/inner")));
    // The watcher pushes a new folder at once, and a new remote one comes down at a poll.
    std::fs::create_dir(client.path("made-here")).unwrap();
    assert!(wait_until(DEADLINE, || has("made-here")));
    // An ignored name stays out even when the server has it too.
    assert_eq!(api.put_folder("node_modules"), 200);
    assert_eq!(api.put_folder("made-there"), 200);
    assert!(wait_until(DEADLINE, || client.path("made-there").is_dir()));
    // Names the protocol forbids are skipped and logged once; ignored folders stay local.
    assert!(!api.paths().iter().any(|p| p.starts_with("Bad")));
    assert_eq!(client.log().matches("skip Bad Folder").count(), 1);
    assert!(!client.log().contains("folder node_modules"));

    // Deleted here after it was synced: not re-created, even after a restart, and kept remotely.
    std::fs::remove_dir(client.path("remote-empty")).unwrap();
    client.stop();
    client.spawn();
    client.wait_synced();
    api.marker("polled");
    assert!(wait_until(DEADLINE, || client
        .read("polled.html")
        .is_some()));
    assert!(!path_exists(&client.path("remote-empty")));
    assert!(has("remote-empty"));
    // ... until something new arrives in it.
    assert_eq!(
        api.put("remote-empty/new.txt", b"new", Timestamp::now()),
        200
    );
    assert!(wait_until(DEADLINE, || client
        .read("remote-empty/new.txt")
        .as_deref()
        == Some("new")));
}

/// Reconnecting is noticed when the OS reports the network back, not at the next probe. In a
/// network namespace of its own (this needs root, as CI runs), the loopback goes down before the
/// engine starts and comes back up while it waits out a 60 s probe interval: only the OS's
/// notification can bring it online within the test's deadline.
#[test]
fn coming_back_online_reconnects_before_the_next_probe() {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: a network namespace needs root (CI runs as root)");
        return;
    }
    // unshare(CLONE_NEWNET) moves only the calling thread (and what it starts) into the new
    // namespace, so the whole test runs on a thread of its own.
    let outcome = std::thread::spawn(|| {
        let ip = |args: &[&str]| {
            let ok = std::process::Command::new("ip")
                .args(args)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "ip {args:?} failed");
        };
        let unshared = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        assert_eq!(unshared, 0, "{}", std::io::Error::last_os_error());
        ip(&["link", "set", "lo", "up"]);
        let server = TestServer::start();
        let token = server.token("demo");
        ip(&["link", "set", "lo", "down"]);

        let (home, folder) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut engine = hyperclay_testkit::bin::client_command()
            .args(["run", "--headless", "--folder"])
            .arg(folder.path())
            .env("HYPERCLAY_SYNC_HOME", home.path())
            .env("HYPERCLAY_URL", server.url())
            .env("HYPERCLAY_TOKEN", &token)
            .env("HYPERCLAY_POLL_SECONDS", "60")
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let log = || std::fs::read_to_string(home.path().join("logs/sync.log")).unwrap_or_default();
        let online = || {
            std::fs::read(home.path().join("status.json"))
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .is_some_and(|s| s["online"] == true)
        };
        // The first failure is said even though the engine was never online.
        let said_offline = wait_until(DEADLINE, || log().contains("Offline:"));
        ip(&["link", "set", "lo", "up"]);
        let back = wait_until(DEADLINE, online);
        let _ = engine.kill();
        let _ = engine.wait();
        (said_offline, back, log())
    })
    .join()
    .unwrap();
    let (said_offline, back, log) = outcome;
    assert!(said_offline, "the first failure was not logged:\n{log}");
    assert!(back, "not back online before the next probe:\n{log}");
    assert!(log.contains("The network changed"), "{log}");
}
