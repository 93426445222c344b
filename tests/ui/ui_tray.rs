//! The tray on a real screen: Xvfb + trayer (XEmbed fallback of the AppIndicator backend), the
//! real binary against a real server. Checks by pixels that the icon is green when on and grey
//! when off, reads the menu's structure from pixels, switches sync off from the menu (a save is
//! then not pushed), back on (it is), and logs out from the menu (the token is revoked). Also
//! starts it as `scripts/demo.sh` does, with `--folder`.

use crate::ui_support;

use std::time::{Duration, Instant};

use hyperclay_testkit::TestServer;
use ui_support::*;

/// Has the server got `path`?
fn on_server(url: &str, token: &str, path: &str) -> bool {
    server_files(url, token)
        .map(|files| files.iter().any(|(p, _)| p == path))
        .unwrap_or(false)
}

/// The logged-in menu: Sync: On/Off, Logout | Start at login, Choose folder…, Open sync folder,
/// Open log file | Quit.
fn assert_logged_in_menu(menu: &MenuLayout) {
    assert_eq!(menu.items.len(), 7, "logged-in menu items: {menu:?}");
    assert_eq!(
        menu.separators_before,
        [2, 6],
        "logged-in menu separators: {menu:?}"
    );
}

/// The ticks of the two check items: Sync (first) and Start at login (third).
fn ticks(menu: &MenuLayout) -> (bool, bool) {
    let tick =
        |i: usize| menu.checks[i].unwrap_or_else(|| panic!("item {i} has no check box: {menu:?}"));
    (tick(0), tick(2))
}

#[test]
#[ignore = "needs Xvfb + trayer (+ chromium): run by scripts/test.sh"]
fn tray_shows_state_switches_sync_and_logs_out() {
    let (_server, url, token, screen, dirs) = demo_stage();
    dirs.remember_sync_on();
    let mut app = App::start(&screen, &dirs, &url, &[("HYPERCLAY_TOKEN", &token)]);

    // Logged in through HYPERCLAY_TOKEN, and on as it was left last time: a green icon.
    let (icon, _) = wait_for_icon(&screen, &app, "a green (on) icon", IconColour::is_on);
    screen.screenshot("tray-on");

    // Syncing for real: a local save reaches the server.
    let folder = dirs.folder();
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("hello.html"), "<p>hello</p>").unwrap();
    wait_for(
        "hello.html on the server",
        DEADLINE,
        || on_server(&url, &token, "hello.html").then_some(()),
        || app.output(),
    );

    // The menu, with Sync: On checked.
    let (menu, _) = open_menu(&screen, &app, icon);
    screen.screenshot("tray-menu");
    assert_logged_in_menu(&menu);
    // Sync: On ticked; Start at login not (it was never switched on).
    assert_eq!(ticks(&menu), (true, false), "{menu:?}");

    // Sync: Off from the menu turns the icon grey.
    let (x, y) = menu.item_centre(0);
    screen.click(x, y);
    wait_for_icon(&screen, &app, "a grey (off) icon", IconColour::is_off);
    screen.screenshot("tray-off");

    // While off, a save is not pushed. Proving a negative needs a window of time: many poll
    // intervals (the app polls every 0.3 s here) and far longer than the push above took.
    std::fs::write(folder.join("while-off.html"), "<p>kept local</p>").unwrap();
    let quiet_until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < quiet_until {
        assert!(
            !on_server(&url, &token, "while-off.html"),
            "a save was pushed while sync was off\n{}",
            app.output()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // The menu now says Sync: Off, unchecked; switching it on pushes the waiting save.
    let (menu, _) = open_menu(&screen, &app, icon);
    screen.screenshot("tray-menu-off");
    assert_logged_in_menu(&menu);
    assert_eq!(
        ticks(&menu),
        (false, false),
        "Sync: Off still ticked: {menu:?}"
    );
    let (x, y) = menu.item_centre(0);
    screen.click(x, y);
    wait_for_icon(&screen, &app, "green again", IconColour::is_on);
    wait_for(
        "while-off.html on the server once sync is back on",
        DEADLINE,
        || on_server(&url, &token, "while-off.html").then_some(()),
        || app.output(),
    );

    // Logout from the menu: the token is revoked on the server and the icon turns grey.
    assert_eq!(token_status(&url, &token), 200);
    let (menu, _) = open_menu(&screen, &app, icon);
    assert_logged_in_menu(&menu);
    let (x, y) = menu.item_centre(1);
    screen.click(x, y);
    wait_for_icon(&screen, &app, "grey after logout", IconColour::is_off);
    wait_for(
        "the server to refuse the revoked token",
        DEADLINE,
        || (token_status(&url, &token) == 401).then_some(()),
        || app.output(),
    );

    // Logged out: Sync | Start at login, Open sync folder | Quit.
    let (menu, _) = open_menu(&screen, &app, icon);
    screen.screenshot("tray-menu-logged-out");
    assert_eq!(menu.items.len(), 4, "logged-out menu: {menu:?}");
    assert_eq!(menu.separators_before, [1, 3], "logged-out menu: {menu:?}");
    screen.key("Escape");

    // SIGTERM (the desktop session ending) quits cleanly and takes the icon away.
    app.terminate();
    let status = app
        .wait_exit(DEADLINE)
        .unwrap_or_else(|| panic!("SIGTERM did not stop the app\n{}", app.output()));
    assert!(status.success(), "exit {status}\n{}", app.output());
    assert!(
        screen.find_window(ICON_WINDOW).is_none(),
        "the icon stayed after SIGTERM"
    );
}

/// Started the way `scripts/demo.sh` starts it, `hyperclay-sync --folder DIR` with no
/// subcommand: the folder is handed to the tray, which creates it, docks, syncs it (not the
/// default `~/Hyperclay`) and remembers it, as `run --headless --folder` does.
#[test]
#[ignore = "needs Xvfb + trayer (+ chromium): run by scripts/test.sh"]
fn started_with_a_folder_like_the_demo_the_tray_docks_and_syncs_that_folder() {
    let (_server, url, token, screen, dirs) = demo_stage();
    dirs.remember_sync_on();
    // Not there yet, and with a space, as a user's folder may be.
    let given = dirs.root().join("demo folder").join("apps");
    let mut app = App::start_with_args(
        &screen,
        &dirs,
        &url,
        &["--folder".as_ref(), given.as_os_str()],
        &[("HYPERCLAY_TOKEN", &token)],
    );

    wait_for_icon(&screen, &app, "a green (on) icon", IconColour::is_on);
    screen.screenshot("tray-folder-on");
    let folder = given
        .canonicalize()
        .unwrap_or_else(|e| panic!("--folder was not created ({e})\n{}", app.output()));

    // Syncing that folder: a save there reaches the server.
    std::fs::write(folder.join("from-folder.html"), "<p>demo</p>").unwrap();
    wait_for(
        "from-folder.html on the server",
        DEADLINE,
        || on_server(&url, &token, "from-folder.html").then_some(()),
        || app.output(),
    );
    assert!(
        !dirs.folder().exists(),
        "the default folder {} was used as well\n{}",
        dirs.folder().display(),
        app.output()
    );

    // Remembered in the settings, and what `status` reports.
    let settings = hyperclay_sync::home::settings::load(&dirs.data()).expect("read the settings");
    assert_eq!(settings.folder.as_deref(), Some(folder.as_path()));
    assert!(settings.enabled, "sync switched off: {settings:?}");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_hyperclay-sync"))
        .arg("status")
        .env("HYPERCLAY_SYNC_HOME", dirs.data())
        .env("HYPERCLAY_URL", &url)
        .env_remove("HYPERCLAY_TOKEN")
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
        .output()
        .expect("run hyperclay-sync status");
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "{text}");
    assert!(
        text.contains(&format!("Folder:    {}", folder.display())),
        "{text}"
    );
    assert!(text.contains("Engine:    running"), "{text}");

    app.terminate();
    let status = app
        .wait_exit(DEADLINE)
        .unwrap_or_else(|| panic!("SIGTERM did not stop the app\n{}", app.output()));
    assert!(status.success(), "exit {status}\n{}", app.output());
}

#[test]
#[ignore = "needs Xvfb + trayer (+ chromium): run by scripts/test.sh"]
fn second_instance_exits_with_a_clear_message_and_quit_ends_the_first() {
    let (_server, url, token, screen, dirs) = demo_stage();
    dirs.remember_sync_on();
    let mut first = App::start(&screen, &dirs, &url, &[("HYPERCLAY_TOKEN", &token)]);
    let (icon, _) = wait_for_icon(
        &screen,
        &first,
        "the first instance's icon",
        IconColour::is_on,
    );

    let second_dirs_output = dirs.root().join("second-output.txt");
    let out = screen
        .cmd(env!("CARGO_BIN_EXE_hyperclay-sync"))
        .env("HOME", dirs.home())
        .env("HYPERCLAY_SYNC_HOME", dirs.data())
        .env("HYPERCLAY_URL", &url)
        .env("HYPERCLAY_TOKEN", &token)
        .output()
        .expect("run a second instance");
    std::fs::write(&second_dirs_output, &out.stderr).unwrap();
    assert!(!out.status.success(), "the second instance did not fail");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("already running"),
        "unclear message: {stderr}"
    );

    // Start at login from the menu writes the XDG autostart entry (under the test's HOME) and
    // checks the item.
    let (menu, _) = open_menu(&screen, &first, icon);
    assert_logged_in_menu(&menu);
    let (x, y) = menu.item_centre(2);
    screen.click(x, y);
    let entry = dirs.home().join(".config/autostart/hyperclay-sync.desktop");
    let text = wait_for_autostart_entry(&entry, || first.output());
    // The app was started as `hyperclay-sync`, which execs the tray binary: that is what a login
    // should start.
    let exec = format!("Exec={} ", hyperclay_testkit::bin::tray().display());
    assert!(text.contains(&exec), "unexpected entry:\n{text}");
    let settings = wait_for(
        "start at login remembered in the settings",
        DEADLINE,
        || {
            let s = std::fs::read_to_string(dirs.data().join("settings.json")).ok()?;
            s.contains("\"startAtLogin\": true").then_some(s)
        },
        || first.output(),
    );
    assert!(settings.contains("startAtLogin"));
    let (menu, _) = open_menu(&screen, &first, icon);
    assert_eq!(
        ticks(&menu),
        (true, true),
        "Start at login not ticked: {menu:?}"
    );

    // Quit from the menu: the app stops cleanly and the icon leaves the tray.
    let last = menu.items.len() - 1;
    let (x, y) = menu.item_centre(last);
    screen.click(x, y);
    let status = first
        .wait_exit(DEADLINE)
        .unwrap_or_else(|| panic!("the app did not quit\n{}", first.output()));
    assert!(
        status.success(),
        "quit exited with {status}\n{}",
        first.output()
    );
    assert!(
        screen.find_window(ICON_WINDOW).is_none(),
        "the icon stayed after quit"
    );
    // A clean exit leaves no icon files behind.
    let leftovers: Vec<_> = std::fs::read_dir(dirs.data().join("tray-icon"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        leftovers.is_empty(),
        "icon files left behind: {leftovers:?}"
    );
}

/// No display (a server, an SSH session): the tray app says so in its log and keeps syncing.
#[test]
#[ignore = "needs Xvfb + trayer (+ chromium): run by scripts/test.sh"]
fn without_a_display_the_app_keeps_syncing() {
    let server = TestServer::start();
    let url = server.url();
    let token = server.token("demo");
    let dirs = AppDirs::new();
    dirs.remember_sync_on();
    let mut app = App::start_without_display(&dirs, &url, &[("HYPERCLAY_TOKEN", &token)]);
    wait_for(
        "the log to say there is no display",
        DEADLINE,
        || {
            app.log()
                .contains("no display to show the tray icon on")
                .then_some(())
        },
        || app.output(),
    );
    std::fs::create_dir_all(dirs.folder()).unwrap();
    std::fs::write(dirs.folder().join("headless.html"), "<p>no screen</p>").unwrap();
    wait_for(
        "headless.html on the server",
        DEADLINE,
        || on_server(&url, &token, "headless.html").then_some(()),
        || app.output(),
    );
    assert!(
        !app.output().contains("panicked"),
        "the expected GTK failure was printed as a crash:\n{}",
        app.output()
    );
    // SIGTERM stops it cleanly.
    app.terminate();
    let status = app
        .wait_exit(DEADLINE)
        .unwrap_or_else(|| panic!("SIGTERM did not stop the app\n{}", app.output()));
    assert!(status.success(), "exit {status}\n{}", app.output());
}

/// No display and no login (a server, an SSH session): nothing could ever log in there, so the
/// app says what to do instead and exits with the command line's "not logged in" code.
#[test]
#[ignore = "needs Xvfb + trayer (+ chromium): run by scripts/test.sh"]
fn without_a_display_or_a_login_the_app_says_what_to_do_and_exits() {
    let server = TestServer::start();
    let dirs = AppDirs::new();
    let mut app = App::start_without_display(&dirs, &server.url(), &[]);
    let status = app
        .wait_exit(DEADLINE)
        .unwrap_or_else(|| panic!("the app runs on with nothing to do\n{}", app.output()));
    assert_eq!(status.code(), Some(4), "{}", app.output());
    let output = app.output();
    assert!(output.contains("no display"), "{output}");
    assert!(output.contains("`hyperclay-sync login`"), "{output}");
    assert!(!output.contains("panicked"), "{output}");
}

/// An error that blocks syncing shows on the icon (the red mark) and as a greyed-out line with
/// the exact message under the switch.
#[test]
#[ignore = "needs Xvfb + trayer (+ chromium): run by scripts/test.sh"]
fn running_out_of_sites_shows_the_error_mark_and_the_message_line() {
    let server = TestServer::start();
    let url = server.url();
    server.add_user("capped", "capped", true, 1);
    let token = server.token("capped");
    let screen = start_screen();
    let dirs = AppDirs::new();
    dirs.remember_sync_on();
    std::fs::create_dir_all(dirs.folder()).unwrap();
    std::fs::write(dirs.folder().join("first.html"), "<p>1</p>").unwrap();
    std::fs::write(dirs.folder().join("second.html"), "<p>2</p>").unwrap();
    let app = App::start(&screen, &dirs, &url, &[("HYPERCLAY_TOKEN", &token)]);

    let (icon, _) = wait_for_icon(
        &screen,
        &app,
        "the error mark (one site allowed, two apps)",
        IconColour::has_error_mark,
    );
    screen.screenshot("tray-error");
    // Sync: On, "You've run out of sites…", "1 file not synced" (the app held back, which opens
    // the report), Logout | Start at login, Choose folder…, Open sync folder, Open log file | Quit.
    let (menu, _) = open_menu(&screen, &app, icon);
    screen.screenshot("tray-menu-error");
    assert_eq!(menu.items.len(), 9, "menu with the error line: {menu:?}");
    assert_eq!(
        menu.separators_before,
        [4, 8],
        "menu with the error line: {menu:?}"
    );
    assert_eq!(
        menu.checks[0],
        Some(true),
        "Sync: On is still ticked: {menu:?}"
    );
    assert_eq!(
        menu.checks[1], None,
        "the error line is plain text: {menu:?}"
    );
    screen.key("Escape");
}
