//! Client versions and updates (docs/protocol.md): the `426 client_outdated` check of every API
//! call but the release feed, the version policy in `/status`, `release add` and `release
//! list`, and the release feed itself.

use hyperclay_protocol::{
    ErrorCode, HEADER_MODIFIED_AT, ReleaseResponse, StatusResponse, release_trusted_comment,
    sha256_hex,
};
use hyperclay_testkit::{ReleaseKey, ServerOptions};

use crate::common::{Api, Reply, Target};

const T1: &str = "2026-11-26T10:00:00.000Z";
const LINUX: &str = "linux-x86_64-deb";
const MAC: &str = "macos-aarch64";

fn local_with(opts: ServerOptions) -> Option<Target> {
    Target::local_opts(ServerOptions { demo: true, ..opts })
}

fn policy(min: Option<&str>, latest: Option<&str>, download: Option<&str>) -> ServerOptions {
    ServerOptions {
        min_client_version: min.map(str::to_owned),
        latest_client_version: latest.map(str::to_owned),
        download_url: download.map(str::to_owned),
        ..ServerOptions::default()
    }
}

/// Every API call the version check applies to, as `api` makes it.
fn api_calls(api: &Api, tag: &str) -> Vec<(String, Reply)> {
    let file = format!("/api/local-sync/files/{tag}/a.html");
    vec![
        ("GET /status".into(), api.status()),
        ("GET /changes".into(), api.changes(None, None)),
        (format!("GET {file}"), api.get(&file)),
        (
            format!("PUT {file}"),
            api.put_with(&file, b"<p>x</p>", &[(HEADER_MODIFIED_AT, T1)]),
        ),
        (
            "PUT /folders".into(),
            api.put_with(&format!("/api/local-sync/folders/{tag}"), b"", &[]),
        ),
        (
            "GET /versions".into(),
            api.get(&format!("/api/local-sync/versions/{tag}/a.html")),
        ),
        (
            "POST /token".into(),
            api.post_json("/api/local-sync/token", &serde_json::json!({"code": "x"})),
        ),
        (
            "POST /device/code".into(),
            api.post_with("/api/local-sync/device/code", b"", &[]),
        ),
        (
            "POST /refresh".into(),
            api.post_with("/api/local-sync/refresh", b"", &[]),
        ),
        (
            "GET /no-such-route".into(),
            api.get("/api/local-sync/no-such-route"),
        ),
    ]
}

fn expect_outdated(what: &str, reply: &Reply) -> (String, String) {
    assert_eq!(reply.status, 426, "{what}: {}", reply.text());
    let body = reply.expect_error(ErrorCode::ClientOutdated);
    let minimum = body.minimum.unwrap_or_else(|| panic!("{what}: no minimum"));
    let download = body
        .download
        .unwrap_or_else(|| panic!("{what}: no download"));
    assert!(
        semver::Version::parse(&minimum).is_ok(),
        "{what}: {minimum}"
    );
    assert!(!download.is_empty(), "{what}");
    (minimum, download)
}

#[test]
fn an_api_call_naming_no_client_version_is_426_with_minimum_and_download() {
    let t = Target::new();
    for ua in [
        None,
        Some("curl/8"),
        Some("hyperclay-sync/"),
        Some("hyperclay-sync/abc"),
        Some("hyperclay-sync/0.1"),
    ] {
        for api in [t.api(), t.anonymous()] {
            let api = api.with_user_agent(ua);
            for (what, reply) in api_calls(&api, &t.dir()) {
                expect_outdated(&format!("{what} with {ua:?}"), &reply);
            }
        }
    }
    // Nothing was stored by the refused PUTs.
    let file = format!("/api/local-sync/files/{}/a.html", t.dir());
    t.api().get(&file).expect_error(ErrorCode::NotFound);
}

#[test]
fn a_client_version_with_more_product_tokens_is_accepted() {
    let t = Target::new();
    let api = t
        .api()
        .with_user_agent(Some("hyperclay-sync/0.1.0 (windows)"));
    let _: StatusResponse = api.status().ok();
    let _: StatusResponse = t.api().status().ok();
}

#[test]
fn the_outdated_reply_names_the_servers_minimum_and_download_page() {
    let Some(t) = local_with(policy(Some("0.2.0"), None, Some("https://example.com/get"))) else {
        return;
    };
    for ua in [
        "hyperclay-sync/0.1.0",
        "hyperclay-sync/0.1.9 (linux)",
        "hyperclay-sync/0.2.0-rc.1",
    ] {
        // Before authentication: with and without a token, the version is refused first.
        for api in [t.api(), t.anonymous(), t.api_as("garbage")] {
            for (what, reply) in api_calls(&api.with_user_agent(Some(ua)), &t.dir()) {
                let (minimum, download) = expect_outdated(&format!("{what} as {ua}"), &reply);
                assert_eq!(
                    (minimum.as_str(), download.as_str()),
                    ("0.2.0", "https://example.com/get")
                );
                let body = reply.expect_error(ErrorCode::ClientOutdated);
                assert!(body.message.contains("0.2.0"), "{}", body.message);
            }
        }
    }
    for ua in [
        "hyperclay-sync/0.2.0",
        "hyperclay-sync/0.2.1-rc.1",
        "hyperclay-sync/0.10.0",
    ] {
        let api = t.api().with_user_agent(Some(ua));
        let _: StatusResponse = api.status().ok();
        // Past the version check, the usual order goes on: the token, then the rest.
        t.anonymous()
            .with_user_agent(Some(ua))
            .status()
            .expect_error(ErrorCode::Unauthorized);
    }
}

#[test]
fn delete_is_405_before_the_version_check() {
    let Some(t) = local_with(policy(Some("0.2.0"), None, None)) else {
        return;
    };
    for api in [t.api(), t.anonymous()] {
        for ua in [None, Some("curl/8"), Some("hyperclay-sync/0.1.0")] {
            let api = api.with_user_agent(ua);
            for path in [
                "/api/local-sync/status",
                "/api/local-sync/files/a.html",
                "/api/local-sync/token",
                "/api/local-sync/releases/latest?platform=linux-x86_64-deb",
            ] {
                api.delete(path).expect_error(ErrorCode::MethodNotAllowed);
            }
        }
    }
}

#[test]
fn the_browsers_routes_are_not_checked() {
    let Some(t) = local_with(policy(Some("0.2.0"), None, None)) else {
        return;
    };
    let browser = t
        .anonymous()
        .with_user_agent(Some("Mozilla/5.0 (X11; Linux x86_64)"));
    for api in [browser, t.anonymous().with_user_agent(None)] {
        let login = api.get("/login");
        assert_eq!(login.status, 200, "{}", login.text());
        assert_eq!(api.get("/").status, 200);
        let device = api.get("/device");
        assert_ne!(device.status, 426, "{}", device.text());
        // An incomplete authorize request is its own 400, not 426.
        let authorize = api.get("/api/local-sync/authorize?state=s");
        assert_eq!(authorize.status, 400, "{}", authorize.text());
        api.get("/no-such-app").expect_error(ErrorCode::NotFound);
        api.post_with("/save/no-such-app", b"<p>x</p>", &[])
            .expect_error(ErrorCode::Unauthorized);
    }
}

fn client_of(t: &Target) -> hyperclay_protocol::ClientVersions {
    // A client new enough for every policy here.
    let api = t.api().with_user_agent(Some("hyperclay-sync/1.0.0"));
    let status: StatusResponse = api.status().ok();
    status.client.expect("the status names the version policy")
}

#[test]
fn status_names_the_version_policy() {
    let Some(t) = local_with(ServerOptions::default()) else {
        return;
    };
    let c = client_of(&t);
    assert_eq!(
        (c.latest.as_str(), c.minimum.as_str(), c.download.as_str()),
        ("0.0.0", "0.0.0", "https://hyperclay.com/sync"),
        "the defaults"
    );

    let t = local_with(policy(
        Some("0.2.0"),
        None,
        Some("https://example.com/sync"),
    ))
    .unwrap();
    let c = client_of(&t);
    assert_eq!(
        (c.latest.as_str(), c.minimum.as_str(), c.download.as_str()),
        ("0.2.0", "0.2.0", "https://example.com/sync"),
        "latest defaults to the minimum"
    );

    let t = local_with(policy(Some("0.2.0"), Some("0.3.0-rc.1"), None)).unwrap();
    let c = client_of(&t);
    assert_eq!(
        (c.latest.as_str(), c.minimum.as_str()),
        ("0.3.0-rc.1", "0.2.0")
    );

    let t = local_with(policy(None, Some("0.3.0"), None)).unwrap();
    let c = client_of(&t);
    assert_eq!((c.latest.as_str(), c.minimum.as_str()), ("0.3.0", "0.0.0"));
}

#[test]
fn status_latest_is_the_newest_release_unless_configured() {
    let Some(open) = local_with(policy(Some("0.1.0"), None, None)) else {
        return;
    };
    let fixed = local_with(policy(Some("0.1.0"), Some("0.3.0"), None)).unwrap();
    let key = ReleaseKey::generate();
    for t in [&open, &fixed] {
        for (version, platform) in [("0.9.0", LINUX), ("0.10.0", LINUX), ("0.9.5", MAC)] {
            publish(t, &key, version, platform, version.as_bytes());
        }
    }
    assert_eq!(
        client_of(&open).latest,
        "0.10.0",
        "by semver, of any platform"
    );
    assert_eq!(
        client_of(&fixed).latest,
        "0.3.0",
        "the configured latest wins"
    );
}

#[test]
fn a_bad_policy_is_refused_at_start() {
    let bin = env!("CARGO_BIN_EXE_hyperclay-server");
    let dir = tempfile::tempdir().unwrap();
    let serve = |args: &[&str], env: &[(&str, &str)]| {
        let out = std::process::Command::new(bin)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .args(args)
            .env_remove("HYPERCLAY_MIN_CLIENT_VERSION")
            .env_remove("HYPERCLAY_LATEST_CLIENT_VERSION")
            .env_remove("HYPERCLAY_DOWNLOAD_URL")
            .envs(env.iter().copied())
            // A policy that is wrongly accepted must not leave a server running.
            .arg("--exit-on-stdin-eof")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} {env:?} started");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = serve(&["--min-client-version", "0.1"], &[]);
    assert!(err.contains("not a semver version"), "{err}");
    let err = serve(&["--latest-client-version", "newest"], &[]);
    assert!(err.contains("not a semver version"), "{err}");
    let err = serve(
        &[
            "--min-client-version",
            "0.2.0",
            "--latest-client-version",
            "0.1.0",
        ],
        &[],
    );
    assert!(err.contains("below"), "{err}");
    let err = serve(&[], &[("HYPERCLAY_MIN_CLIENT_VERSION", "two")]);
    assert!(
        err.contains("not a semver version"),
        "the env var is read: {err}"
    );
    let err = serve(
        &[],
        &[
            ("HYPERCLAY_MIN_CLIENT_VERSION", "0.5.0"),
            ("HYPERCLAY_LATEST_CLIENT_VERSION", "0.4.0"),
        ],
    );
    assert!(err.contains("below"), "{err}");
}

#[test]
fn the_version_policy_is_read_from_the_environment() {
    if Target::local().is_none() {
        return;
    }
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_hyperclay-server"));
    let dir = tempfile::tempdir().unwrap();
    let server = hyperclay_testkit::server::ServerProcess::start(
        bin,
        dir.path(),
        0,
        &["--demo"],
        &[
            ("HYPERCLAY_MIN_CLIENT_VERSION", "0.2.0"),
            ("HYPERCLAY_LATEST_CLIENT_VERSION", "0.4.0"),
            ("HYPERCLAY_DOWNLOAD_URL", "https://example.com/env"),
        ],
        std::process::Stdio::null(),
    )
    .expect("a server configured by the environment");
    let token = hyperclay_testkit::server::admin(bin, dir.path(), &["token", "demo"]).unwrap();
    let api = Api::new(server.url(), Some(token.trim()));
    let status: StatusResponse = api
        .with_user_agent(Some("hyperclay-sync/0.2.0"))
        .status()
        .ok();
    let c = status.client.unwrap();
    assert_eq!(
        (c.latest.as_str(), c.minimum.as_str(), c.download.as_str()),
        ("0.4.0", "0.2.0", "https://example.com/env")
    );
    expect_outdated("0.1.0", &api.status());
}

// ------------------------------------------------------------------ release add and list

fn publish(t: &Target, key: &ReleaseKey, version: &str, platform: &str, bytes: &[u8]) {
    let sig = key.sign(bytes, &release_trusted_comment(version, platform));
    t.server().publish_release(version, platform, bytes, &sig);
}

fn refused(t: &Target, version: &str, platform: &str, bytes: &[u8], sig: &str, needle: &str) {
    match t
        .server()
        .try_publish_release(version, platform, bytes, sig)
    {
        Ok(out) => panic!("published {version} {platform}: {out}"),
        Err(e) => assert!(e.to_string().contains(needle), "{needle:?} not in {e}"),
    }
}

#[test]
fn release_add_checks_the_signature_platform_and_version() {
    let Some(t) = Target::local() else { return };
    let key = ReleaseKey::generate();
    let bytes = b"the 0.2.0 package";
    let good = key.sign(bytes, &release_trusted_comment("0.2.0", LINUX));
    let out = t.server().cli(&["release", "list"]);
    assert!(out.trim().is_empty(), "{out}");

    refused(
        &t,
        "0.2.0",
        LINUX,
        bytes,
        "not a minisig",
        "not a minisign signature",
    );
    refused(&t, "0.2.0", LINUX, bytes, "", "not a minisign signature");
    let other_version = key.sign(bytes, &release_trusted_comment("0.2.1", LINUX));
    refused(&t, "0.2.0", LINUX, bytes, &other_version, "trusted comment");
    let other_platform = key.sign(bytes, &release_trusted_comment("0.2.0", MAC));
    refused(
        &t,
        "0.2.0",
        LINUX,
        bytes,
        &other_platform,
        "trusted comment",
    );
    let plain = key.sign(bytes, "timestamp:1700000000");
    refused(&t, "0.2.0", LINUX, bytes, &plain, "trusted comment");
    refused(&t, "0.2.0", "linux", bytes, &good, "not a release platform");
    refused(&t, "0.2", LINUX, bytes, &good, "not a semver version");
    let out = t.server().cli(&["release", "list"]);
    assert!(out.trim().is_empty(), "nothing was published: {out}");
    t.api()
        .release_latest(LINUX)
        .expect_error(ErrorCode::NotFound);

    let out = t
        .server()
        .try_publish_release("0.2.0", LINUX, bytes, &good)
        .unwrap();
    assert!(out.contains("published"), "{out}");
    let again = t
        .server()
        .try_publish_release("0.2.0", LINUX, bytes, &good)
        .unwrap();
    assert!(
        again.contains("already published"),
        "same bytes: a no-op: {again}"
    );
    let other = b"other bytes";
    let sig = key.sign(other, &release_trusted_comment("0.2.0", LINUX));
    refused(
        &t,
        "0.2.0",
        LINUX,
        other,
        &sig,
        "already published with other bytes",
    );

    let listed = t.server().cli(&["release", "list"]);
    let sum = sha256_hex(bytes);
    assert!(
        listed.contains(LINUX) && listed.contains("0.2.0") && listed.contains(&sum),
        "{listed}"
    );
    assert_eq!(listed.lines().count(), 1, "{listed}");
    // The published release is the first bytes, signed as they were.
    let feed: ReleaseResponse = t.api().release_latest(LINUX).ok();
    assert_eq!(feed.sha256, sum);
    assert_eq!(feed.signature, good);
}

// ------------------------------------------------------------------ the feed

#[test]
fn the_feed_serves_the_newest_release_by_semver_and_its_file() {
    let Some(t) = local_with(policy(Some("0.5.0"), None, None)) else {
        return;
    };
    let key = ReleaseKey::committed_test_key();
    let body = |v: &str| format!("hyperclay-sync {v} for linux").into_bytes();
    for v in ["0.9.0", "0.10.0", "0.10.0-rc.1", "0.2.0"] {
        publish(&t, &key, v, LINUX, &body(v));
    }
    publish(&t, &key, "0.11.0", MAC, &body("0.11.0"));

    // Reached with no User-Agent, an outdated one, or another, and no token.
    for ua in [None, Some("hyperclay-sync/0.1.0"), Some("curl/8")] {
        let feed = t.anonymous().with_user_agent(ua);
        let r: ReleaseResponse = feed.release_latest(LINUX).ok();
        assert_eq!((r.version.as_str(), r.platform.as_str()), ("0.10.0", LINUX));
        let bytes = body("0.10.0");
        assert_eq!(r.size, bytes.len() as u64);
        assert_eq!(r.sha256, sha256_hex(&bytes));
        assert_eq!(
            r.url,
            "/api/local-sync/releases/linux-x86_64-deb/0.10.0/file"
        );
        assert!(key.verifies(&bytes, &r.signature), "{}", r.signature);
        assert!(
            r.signature
                .contains("trusted comment: hyperclay-sync 0.10.0 linux-x86_64-deb"),
            "{}",
            r.signature
        );

        let file = feed.get(&r.url);
        assert_eq!(file.status, 200, "{}", file.text());
        assert_eq!(sha256_hex(&file.body), r.sha256);
        assert_eq!(
            file.header("content-type").as_deref(),
            Some("application/octet-stream")
        );
        assert_eq!(
            file.header("content-length").as_deref(),
            Some(r.size.to_string().as_str())
        );
        assert_eq!(feed.release_file(LINUX, "0.9.0").body, body("0.9.0"));
        let mac: ReleaseResponse = feed.release_latest(MAC).ok();
        assert_eq!(mac.version, "0.11.0");

        feed.release_latest("windows-x86_64")
            .expect_error(ErrorCode::NotFound);
        for bad in ["linux", "", "LINUX-X86_64-DEB", "../etc"] {
            feed.release_latest(bad)
                .expect_error(ErrorCode::InvalidRequest);
        }
        for query in [
            "",
            "?",
            "?platform",
            "?os=linux",
            "?platform=macos-aarch64&platform=linux-x86_64-deb",
            "?platform=%ZZ",
        ] {
            feed.get(&format!("/api/local-sync/releases/latest{query}"))
                .expect_error(ErrorCode::InvalidRequest);
        }
        let r: ReleaseResponse = feed
            .get("/api/local-sync/releases/latest?x=1&platform=linux-x86_64-deb")
            .ok();
        assert_eq!(r.version, "0.10.0");
        for (platform, version) in [
            (LINUX, "0.3.0"),
            (MAC, "0.10.0"),
            ("linux", "0.10.0"),
            (LINUX, "latest"),
            (LINUX, "..%2f..%2f"),
        ] {
            feed.release_file(platform, version)
                .expect_error(ErrorCode::NotFound);
        }
        feed.get("/api/local-sync/releases/linux-x86_64-deb/0.10.0")
            .expect_error(ErrorCode::NotFound);
    }
    // The rest of the API still refuses the outdated client.
    expect_outdated(
        "status",
        &t.api()
            .with_user_agent(Some("hyperclay-sync/0.1.0"))
            .status(),
    );
}

#[test]
fn a_large_release_file_streams_whole() {
    let Some(t) = Target::local() else { return };
    let key = ReleaseKey::generate();
    let bytes: Vec<u8> = (0..3 * 1024 * 1024 + 17)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    publish(&t, &key, "1.0.0", "windows-x86_64", &bytes);
    let file = t.anonymous().release_file("windows-x86_64", "1.0.0");
    assert_eq!(file.status, 200);
    assert_eq!(file.body.len(), bytes.len());
    assert_eq!(sha256_hex(&file.body), sha256_hex(&bytes));
}
