//! End to end: remote changes reach the folder through the long-poll (no poll clock at all),
//! pushes go on while it waits, a server that dies mid-wait is noticed, and a server without
//! long-polling gets the plain poll. The real `hyperclay-sync` binary against a real
//! `hyperclay-server`, through a counting proxy.

use crate::common;

use common::*;
use hyperclay_protocol::Timestamp;

/// A plain poll so slow it can never be what brings a change within a test's deadline.
const NEVER: &str = "3600";

fn long_polls(proxy: &Proxy) -> usize {
    proxy
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.path.starts_with("/api/local-sync/changes") && r.path.contains("wait=25"))
        .count()
}

#[test]
fn remote_changes_arrive_by_long_poll_and_pushes_go_on_while_it_waits() {
    let server = TestServer::start();
    let token = server.token("demo");
    let proxy = Proxy::start(&server.url());
    let api = Api::new(&server.url(), &token);
    let mut client = Client::start_stopped(&proxy.url, &token);
    client.spawn_polling_every(NEVER);
    client.wait_synced();
    assert!(wait_until(DEADLINE, || long_polls(&proxy) >= 1));

    assert_eq!(api.put("news.html", b"<p>news</p>", Timestamp::now()), 200);
    assert!(
        wait_until(DEADLINE, || client.read("news.html").as_deref()
            == Some("<p>news</p>")),
        "the change never arrived; log:\n{}",
        client.log()
    );
    // An edit saved in the browser (the platform's own save) and a folder come the same way.
    api.save("news", "<p>edited</p>");
    assert!(wait_until(DEADLINE, || client.read("news.html").as_deref()
        == Some("<p>edited</p>")));
    assert_eq!(api.put_folder("later"), 200);
    assert!(wait_until(DEADLINE, || client.path("later").is_dir()));

    // The engine is not held up by the wait: a local save is pushed while a poll is open.
    client.write("mine.html", "<p>mine</p>");
    assert!(wait_until(DEADLINE, || api.get("mine.html").as_deref()
        == Some("<p>mine</p>")));
    // And the next remote change still arrives after our own came back as a change.
    assert_eq!(api.put("more.html", b"<p>more</p>", Timestamp::now()), 200);
    assert!(wait_until(DEADLINE, || client.read("more.html").as_deref()
        == Some("<p>more</p>")));
    assert!(
        !client.log().contains("polling every"),
        "no fallback against a long-polling server"
    );
}

#[test]
fn a_server_that_dies_during_the_wait_is_noticed_and_the_client_comes_back() {
    let mut server = TestServer::start();
    let token = server.token("demo");
    let api = Api::new(&server.url(), &token);
    let mut client = Client::start_stopped(&server.url(), &token);
    // The offline probe follows the plain poll's clock.
    client.spawn_polling_every("0.5");
    client.wait_synced();
    server.stop();
    assert!(
        wait_until(DEADLINE, || client.status()["online"] == false),
        "still online with the server gone; log:\n{}",
        client.log()
    );
    server.restart();
    assert!(wait_until(DEADLINE, || client.status()["online"] == true));
    assert_eq!(api.put("back.html", b"<p>back</p>", Timestamp::now()), 200);
    assert!(wait_until(DEADLINE, || client.read("back.html").as_deref()
        == Some("<p>back</p>")));
}

#[test]
fn a_server_without_long_polling_gets_the_plain_poll() {
    let server = TestServer::start_with(ServerOptions {
        demo: true,
        no_long_poll: true,
        ..ServerOptions::default()
    });
    let token = server.token("demo");
    let proxy = Proxy::start(&server.url());
    let api = Api::new(&server.url(), &token);
    let mut client = Client::start_stopped(&proxy.url, &token);
    client.spawn_polling_every("0.2");
    client.wait_synced();
    assert_eq!(
        api.put("polled.html", b"<p>polled</p>", Timestamp::now()),
        200
    );
    assert!(
        wait_until(DEADLINE, || client.read("polled.html").as_deref()
            == Some("<p>polled</p>")),
        "the change never arrived; log:\n{}",
        client.log()
    );
    // It asked to wait once, heard no echo, and polls on its own clock since.
    assert!(client.log().contains("does not hold polls open"));
    let polls = || proxy.count("GET", "/api/local-sync/changes?");
    let before = polls();
    assert!(wait_until(DEADLINE, || polls() >= before + 3));
    assert_eq!(long_polls(&proxy), 1, "only the first poll asks to wait");
}
