//! The real browser login, end to end: the tray's "Sync" opens the authorize URL (through a
//! `BROWSER` wrapper that hands it to the test), headless Chromium (driven over WebDriver by
//! chromedriver) fills the server's login page and allows Sync on its consent page, the
//! callback reaches the app, the token is stored and the icon turns green. An unpaid account ends on the "paid subscribers" page and
//! the app stays logged out.

use crate::ui_support;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use hyperclay_testkit::{ServerOptions, TestServer};
use ui_support::*;

/// chromedriver on a free port plus one Chromium session; both end on drop.
struct Browser {
    runtime: tokio::runtime::Runtime,
    client: Option<Client>,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn start() -> Browser {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver (apt-get install chromium-driver)");
        let base = format!("http://127.0.0.1:{port}");
        wait_for(
            "chromedriver to answer",
            DEADLINE,
            || ureq::get(&format!("{base}/status")).call().ok().map(|_| ()),
            String::new,
        );
        let profile = tempfile::tempdir().expect("a Chromium profile dir");
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".to_owned(),
            serde_json::json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let client = runtime
            .block_on(
                ClientBuilder::new(HttpConnector::new())
                    .capabilities(caps)
                    .connect(&base),
            )
            .expect("a Chromium session from chromedriver");
        Browser {
            runtime,
            client: Some(client),
            driver,
            _profile: profile,
        }
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("a live session")
    }

    fn goto(&self, url: &str) {
        self.runtime
            .block_on(self.client().goto(url))
            .expect("navigate");
    }

    fn fill(&self, css: &str, text: &str) {
        self.runtime
            .block_on(async {
                self.client()
                    .find(Locator::Css(css))
                    .await?
                    .send_keys(text)
                    .await
            })
            .unwrap_or_else(|e| panic!("fill {css}: {e}"));
    }

    fn click(&self, css: &str) {
        self.runtime
            .block_on(async { self.client().find(Locator::Css(css)).await?.click().await })
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    fn url(&self) -> String {
        self.runtime
            .block_on(self.client().current_url())
            .map(|u| u.to_string())
            .unwrap_or_default()
    }

    fn source(&self) -> String {
        self.runtime
            .block_on(self.client().source())
            .unwrap_or_default()
    }

    /// Logs in on the server's login page.
    fn log_in(&self, user: &str, password: &str) {
        wait_for(
            "the server's login page",
            DEADLINE,
            || self.source().contains("id=\"username\"").then_some(()),
            || self.source(),
        );
        self.fill("#username", user);
        self.fill("#password", password);
        self.click("#login");
    }

    /// Allows Sync on the server's consent page, which names the account.
    fn allow(&self, user: &str) {
        wait_for(
            "the server's consent page",
            DEADLINE,
            || self.source().contains("id=\"allow\"").then_some(()),
            || self.source(),
        );
        let source = self.source();
        assert!(
            source.contains(&format!("<b id=\"user\">{user}</b>")),
            "the consent page names the account: {source}"
        );
        self.click("#allow");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let _ = self.runtime.block_on(client.close());
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A `BROWSER` for the app that only writes the URL it is given into `url_file`.
fn browser_wrapper(dirs: &AppDirs) -> (PathBuf, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let script = dirs.root().join("browser.sh");
    let url_file = dirs.root().join("opened-url.txt");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\n",
            url_file.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (script, url_file)
}

/// Clicks "Sync" in the logged-out menu and returns the URL the app opened.
fn start_login(screen: &Screen, app: &App, icon: Rect, url_file: &Path) -> String {
    let (menu, _) = open_menu(screen, app, icon);
    assert_eq!(menu.items.len(), 4, "logged-out menu: {menu:?}");
    let (x, y) = menu.item_centre(0);
    screen.click(x, y);
    wait_for(
        "the app to open the authorize URL",
        DEADLINE,
        || {
            let text = std::fs::read_to_string(url_file).ok()?;
            text.lines().last().map(str::to_owned)
        },
        || app.output(),
    )
}

#[test]
#[ignore = "needs Xvfb + trayer (+ chromium): run by scripts/test.sh"]
fn browser_login_turns_sync_on_and_the_token_is_kept() {
    let server = TestServer::start();
    let url = server.url();
    let screen = start_screen();
    let dirs = AppDirs::new();
    let (wrapper, url_file) = browser_wrapper(&dirs);
    let wrapper = wrapper.to_string_lossy().into_owned();
    let mut app = App::start(&screen, &dirs, &url, &[("BROWSER", &wrapper)]);
    let (icon, _) = wait_for_icon(
        &screen,
        &app,
        "a grey (logged out) icon",
        IconColour::is_off,
    );

    let authorize = start_login(&screen, &app, icon, &url_file);
    assert!(
        authorize.starts_with(&format!("{url}/api/local-sync/authorize?")),
        "unexpected login URL {authorize}"
    );
    // While the browser is out, the menu says so and offers the page again: a note, "Open login
    // page again", "Copy login URL", the URL | Start at login, Open sync folder | Quit.
    let (menu, _) = open_menu(&screen, &app, icon);
    screen.screenshot("tray-menu-logging-in");
    assert_eq!(menu.items.len(), 7, "logging-in menu: {menu:?}");
    assert_eq!(menu.separators_before, [4, 6], "logging-in menu: {menu:?}");
    assert!(menu.rect.w < 400, "the URL stretched the menu: {menu:?}");
    screen.key("Escape");
    let browser = Browser::start();
    browser.goto(&authorize);
    browser.log_in("demo", "demo");
    browser.allow("demo");
    wait_for_icon(
        &screen,
        &app,
        "a green icon after the login",
        IconColour::is_on,
    );
    screen.screenshot("browser-login-on");
    assert!(
        browser.url().starts_with("http://127.0.0.1:") && browser.url().contains("/callback"),
        "the browser did not end on the app's callback: {}",
        browser.url()
    );

    // The token was stored: after Quit and a fresh start, the app is on with no browser.
    let (menu, _) = open_menu(&screen, &app, icon);
    assert_eq!(menu.items.len(), 7, "logged-in menu: {menu:?}");
    let (x, y) = menu.item_centre(6);
    screen.click(x, y);
    let status = app
        .wait_exit(DEADLINE)
        .unwrap_or_else(|| panic!("the app did not quit\n{}", app.output()));
    assert!(status.success());
    std::fs::remove_file(&url_file).ok();
    let app = App::start(&screen, &dirs, &url, &[("BROWSER", &wrapper)]);
    wait_for_icon(&screen, &app, "green after a restart", IconColour::is_on);
    assert!(
        !url_file.exists(),
        "the restarted app asked for a login again"
    );

    // And it syncs with that token.
    std::fs::create_dir_all(dirs.folder()).unwrap();
    std::fs::write(dirs.folder().join("from-browser-login.html"), "<p>hi</p>").unwrap();
    let admin_token = server.token("demo");
    wait_for(
        "the save on the server",
        DEADLINE,
        || {
            server_files(&url, &admin_token)
                .ok()?
                .iter()
                .any(|(p, _)| p == "from-browser-login.html")
                .then_some(())
        },
        || app.output(),
    );
}

#[test]
#[ignore = "needs Xvfb + trayer (+ chromium): run by scripts/test.sh"]
fn unpaid_account_sees_the_paid_page_and_stays_logged_out() {
    let server = TestServer::start();
    let url = server.url();
    let screen = start_screen();
    let dirs = AppDirs::new();
    let (wrapper, url_file) = browser_wrapper(&dirs);
    let wrapper = wrapper.to_string_lossy().into_owned();
    let app = App::start(&screen, &dirs, &url, &[("BROWSER", &wrapper)]);
    let (icon, _) = wait_for_icon(
        &screen,
        &app,
        "a grey (logged out) icon",
        IconColour::is_off,
    );

    let authorize = start_login(&screen, &app, icon, &url_file);
    let browser = Browser::start();
    browser.goto(&authorize);
    browser.log_in("free", "free");
    wait_for(
        "the paid-subscribers page",
        DEADLINE,
        || {
            browser
                .source()
                .contains("Sync is for paid subscribers")
                .then_some(())
        },
        || browser.source(),
    );
    screen.screenshot("browser-login-unpaid");
    // Back to the app at once (the page also redirects by itself after a few seconds).
    browser.click("#continue");
    wait_for(
        "the browser to reach the app's callback",
        DEADLINE,
        || browser.url().contains("/callback").then_some(()),
        || browser.url(),
    );
    // The app has the answer: the login is over, and it stays logged out (grey, or grey with
    // the error mark if the engine reports the refusal as an error).
    wait_for(
        "the app to end the login",
        DEADLINE,
        || app.log().contains("Login failed").then_some(()),
        || app.output(),
    );
    let (_, image) = wait_for_icon(&screen, &app, "a logged-out icon", |c| {
        c.is_off() || c.has_error_mark()
    });
    std::fs::write(screenshot_dir().join("tray-unpaid.png"), &image.png).unwrap();
    let (menu, _) = open_menu(&screen, &app, icon);
    // Sync (and maybe the error line) | Start at login, Open sync folder | Quit: no Logout.
    assert!(
        menu.items.len() == 4 || menu.items.len() == 5,
        "not the logged-out menu: {menu:?}"
    );
    assert_eq!(
        *menu.separators_before.last().unwrap(),
        menu.items.len() - 1
    );
    screen.key("Escape");
}

/// An app whose script, on load, tries issue 16's attacks 1 and 2 with the visitor's browser:
/// log the visitor in as `mallory`, and save over the visitor's app `victim`. It writes what it
/// saw into `#out` so the test knows it ran.
fn bait_app(victim: &str) -> String {
    format!(
        r#"<!doctype html><title>bait</title><p id="out">running</p>
<script>
(async () => {{
  const seen = ["origin " + self.origin];
  const tries = [["/login", "username=mallory&password=pw"], ["/save/{victim}", "<p>defaced</p>"]];
  for (const [path, body] of tries) {{
    try {{
      const r = await fetch(path, {{method: "POST", credentials: "include",
        headers: {{"Content-Type": "application/x-www-form-urlencoded"}}, body}});
      seen.push(path + " " + r.status);
    }} catch (e) {{
      seen.push(path + " blocked");
    }}
  }}
  document.getElementById("out").textContent = "done: " + seen.join(", ");
}})();
</script>"#
    )
}

fn put_app(server: &str, token: &str, name: &str, html: &str) {
    ureq::put(&format!("{server}/api/local-sync/files/{name}"))
        .header("User-Agent", hyperclay_testkit::http::client_user_agent())
        .header("Authorization", &format!("Bearer {token}"))
        .header("X-Modified-At", "2026-01-01T10:00:00.000Z")
        .send(html.as_bytes())
        .unwrap_or_else(|e| panic!("PUT {name}: {e}"));
}

/// Issue 16, attacks 1 and 2, in a real Chromium: the visitor is logged in, opens an attacker's
/// app, and its script POSTs `/login` (as the attacker) and `/save/{the visitor's app}`. The app
/// is served sandboxed, so neither request acts with the visitor's cookie or on their behalf:
/// the visitor stays logged in as themselves and their app is unchanged.
#[test]
#[ignore = "needs chromium: run by scripts/test.sh"]
fn an_app_page_cannot_log_the_visitor_in_or_save_over_their_apps() {
    let server = TestServer::start();
    let url = server.url();
    server.add_user("mallory", "pw", true, 10);
    put_app(&url, &server.token("demo"), "victim.html", "<p>mine</p>");
    put_app(
        &url,
        &server.token("mallory"),
        "bait.html",
        &bait_app("victim"),
    );
    let browser = Browser::start();
    browser.goto(&format!("{url}/login"));
    browser.log_in("demo", "demo");
    wait_for(
        "the home page, logged in",
        DEADLINE,
        || {
            browser
                .source()
                .contains("<b id=\"user\">demo</b>")
                .then_some(())
        },
        || browser.source(),
    );

    browser.goto(&format!("{url}/bait"));
    let seen = wait_for(
        "the bait app's script to finish",
        DEADLINE,
        || {
            // The marker is the paragraph's text, not the script's own string literal, so this
            // waits for the script to have run.
            let source = browser.source();
            let marker = "<p id=\"out\">done: ";
            let at = source.find(marker)?;
            let rest = &source[at + marker.len()..];
            Some(rest[..rest.find("</p>").unwrap_or(rest.len())].to_owned())
        },
        || browser.source(),
    );

    let victim = ureq::get(&format!("{url}/victim"))
        .call()
        .expect("the victim's app")
        .body_mut()
        .read_to_string()
        .expect("its body");
    // The page really ran sandboxed: an opaque origin.
    assert!(seen.contains("origin null"), "{seen}");
    assert_eq!(victim, "<p>mine</p>", "the app was saved over ({seen})");
    browser.goto(&format!("{url}/"));
    let home = browser.source();
    assert!(
        home.contains("<b id=\"user\">demo</b>"),
        "the visitor is still themselves ({seen}): {home}"
    );
}

/// Mallory's half of a device login: the codes `/device/code` gave her.
struct MalloryDevice {
    device_code: String,
    user_code: String,
}

fn start_device_login(server: &str) -> MalloryDevice {
    let reply: serde_json::Value = ureq::post(&format!("{server}/api/local-sync/device/code"))
        .header("User-Agent", hyperclay_testkit::http::client_user_agent())
        .send_empty()
        .expect("a device login")
        .body_mut()
        .read_json()
        .expect("its JSON");
    let field = |k: &str| reply[k].as_str().expect(k).to_owned();
    MalloryDevice {
        device_code: field("deviceCode"),
        user_code: field("userCode"),
    }
}

/// Mallory's device polls `/token` once: the token's account name, or the error code.
fn poll_device(server: &str, device_code: &str) -> Result<String, String> {
    let mut reply = ureq::post(&format!("{server}/api/local-sync/token"))
        .header("User-Agent", hyperclay_testkit::http::client_user_agent())
        .config()
        .http_status_as_error(false)
        .build()
        .send_json(serde_json::json!({
            "grantType": "urn:ietf:params:oauth:grant-type:device_code",
            "deviceCode": device_code,
        }))
        .expect("the poll reaches the server");
    let ok = reply.status().is_success();
    let body: serde_json::Value = reply.body_mut().read_json().expect("JSON");
    if ok {
        Ok(body["user"]["name"].as_str().unwrap_or_default().to_owned())
    } else {
        Err(body["error"].as_str().unwrap_or_default().to_owned())
    }
}

/// Issue 23, 2 (RFC 8628 section 5.4), in a real Chromium: Mallory starts a device login and
/// publishes an app that sends its visitor to `/device?user_code=<Mallory's code>`. The
/// logged-in visitor opens the app and clicks Allow wherever there is one, as the old page
/// invited ("Allow Hyperclay Sync? ... account demo", one click). Mallory's poll must never get
/// a token. Control: the same code typed by the user into the server's own form does give one,
/// so the check above is not vacuous. (Before the fix, the app's navigation landed on a
/// pre-filled consent page and Mallory's poll got demo's token.)
#[test]
#[ignore = "needs chromium: run by scripts/test.sh"]
fn a_device_login_link_in_an_app_does_not_give_the_visitors_token_away() {
    let server = TestServer::start_with(ServerOptions {
        demo: true,
        device_interval_secs: Some(1),
        ..ServerOptions::default()
    });
    let url = server.url();
    server.add_user("mallory", "pw", true, 10);
    let mallory = start_device_login(&url);
    let phish = format!(
        r#"<!doctype html><title>prize</title><p id="out">claim your prize</p>
<script>location.assign("/device?user_code={}");</script>"#,
        mallory.user_code
    );
    put_app(&url, &server.token("mallory"), "prize.html", &phish);

    let browser = Browser::start();
    browser.goto(&format!("{url}/login"));
    browser.log_in("demo", "demo");
    wait_for(
        "the home page, logged in",
        DEADLINE,
        || {
            browser
                .source()
                .contains("<b id=\"user\">demo</b>")
                .then_some(())
        },
        || browser.source(),
    );

    browser.goto(&format!("{url}/prize"));
    wait_for(
        "the app's navigation to the device page",
        DEADLINE,
        || {
            (browser.url().contains("/device") && browser.source().contains("</form>"))
                .then_some(())
        },
        || format!("{}: {}", browser.url(), browser.source()),
    );
    let landed = browser.source();
    if landed.contains("id=\"allow\"") {
        // The visitor does not know any code: they click what the page offers.
        browser.click("#allow");
        wait_for(
            "the answer page",
            DEADLINE,
            || (!browser.source().contains("id=\"allow\"")).then_some(()),
            || browser.source(),
        );
    }
    let after = browser.source();
    let polled = poll_device(&url, &mallory.device_code);
    assert!(
        matches!(
            polled.as_ref().map_err(String::as_str),
            Err("authorization_pending" | "slow_down")
        ),
        "Mallory's device got {polled:?}; the visitor landed on: {landed}\nthen saw: {after}"
    );
    assert!(
        !landed.contains(&mallory.user_code),
        "the page showed Mallory's code as if it were the visitor's: {landed}"
    );

    // Control: the user types the code into the server's own form, then allows.
    browser.goto(&format!("{url}/device"));
    browser.fill("#user_code", &mallory.user_code);
    browser.click("#continue");
    wait_for(
        "the consent page naming the typed code",
        DEADLINE,
        || {
            browser
                .source()
                .contains(&format!("<b id=\"code\">{}</b>", mallory.user_code))
                .then_some(())
        },
        || browser.source(),
    );
    browser.click("#allow");
    let token_for = wait_for(
        "the allowed device's token",
        DEADLINE,
        || {
            std::thread::sleep(std::time::Duration::from_millis(1_100));
            poll_device(&url, &mallory.device_code).ok()
        },
        || browser.source(),
    );
    assert_eq!(token_for, "demo");
}
