//! The tray on a StatusNotifierItem desktop (KDE, GNOME with the AppIndicator extension, Xfce…):
//! the test is the SNI host on a real session bus, the app is the real binary against the real
//! reference server. A left click (Activate) switches sync off and on, which the engine's status
//! and the server both show; the tooltip, status and icon follow; the menu is served over
//! dbusmenu (Quit included); the exact quota message reaches the tooltip when the server refuses
//! an app; a file that cannot be synced is one menu line that opens the sync issues report; and
//! Start at login, switched from the menu, writes and removes a correctly quoted autostart entry
//! under the test's HOME (remembered by the engine), for the binary's own path and for an
//! AppImage.

use crate::ui_support;

use hyperclay_testkit::TestServer;
use ui_support::sni_host::*;
use ui_support::*;

/// The engine's `enabled`, from the status file `hyperclay-sync status` reads.
fn sync_enabled(dirs: &AppDirs) -> Option<bool> {
    let bytes = std::fs::read(dirs.data().join("status.json")).ok()?;
    let status: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    status["enabled"].as_bool()
}

fn on_server(url: &str, token: &str, path: &str) -> bool {
    server_files(url, token)
        .map(|files| files.iter().any(|(p, _)| p == path))
        .unwrap_or(false)
}

#[test]
#[ignore = "needs Xvfb + dbus (+ chromium): run by scripts/test.sh"]
fn left_click_on_the_sni_item_switches_sync_and_the_tooltip_follows() {
    let (_server, url, token, screen, dirs) = demo_stage();
    let host = SniHost::start(screen.bus_address());
    dirs.remember_sync_on();
    let mut app = App::start(&screen, &dirs, &url, &[("HYPERCLAY_TOKEN", &token)]);

    let item = host.wait_for_item(|| app.output());
    let on = wait_for(
        "the item to say sync is on",
        DEADLINE,
        || {
            let tooltip = item.tooltip();
            (tooltip.1 == "Up to date").then_some(tooltip)
        },
        || format!("tooltip {:?}\n{}", item.tooltip(), app.output()),
    );
    assert_eq!(on.0, "Hyperclay Sync");
    assert_eq!(item.status(), "Active");
    // Pixmaps only: a themed icon name would win over them and is green in every state.
    assert_eq!(item.icon_name(), "");
    let colour = mean_colour(&item.icon_pixmap());
    assert!(is_green(colour), "the on icon is not green: {colour:?}");
    // The switch is also the menu's first line, ticked.
    let menu = item.menu();
    assert_eq!(menu[0].label, "Sync: On", "{menu:?}");
    assert_eq!(menu[0].checked, Some(true), "{menu:?}");
    assert!(
        menu.iter().any(|l| l.label == "Quit") && menu.iter().any(|l| l.separator),
        "{menu:?}"
    );

    // Left click: sync off. The engine says so, and the icon turns grey.
    item.activate();
    wait_for(
        "the engine to switch sync off",
        DEADLINE,
        || (sync_enabled(&dirs) == Some(false)).then_some(()),
        || app.output(),
    );
    wait_for(
        "the tooltip to say Off",
        DEADLINE,
        || (item.tooltip().1 == "Off").then_some(()),
        || format!("tooltip {:?}\n{}", item.tooltip(), app.output()),
    );
    let colour = mean_colour(&item.icon_pixmap());
    assert!(is_grey(colour), "the off icon is not grey: {colour:?}");
    let menu = item.menu();
    assert_eq!(menu[0].label, "Sync: Off", "{menu:?}");
    assert_eq!(menu[0].checked, Some(false), "{menu:?}");

    // A save while off waits; switching on from the menu (right button) pushes it.
    std::fs::create_dir_all(dirs.folder()).unwrap();
    std::fs::write(dirs.folder().join("while-off.html"), "<p>waited</p>").unwrap();
    item.click_menu(menu[0].id);
    wait_for(
        "the engine to switch sync on from the menu",
        DEADLINE,
        || (sync_enabled(&dirs) == Some(true)).then_some(()),
        || app.output(),
    );
    wait_for(
        "while-off.html on the server once sync is on",
        DEADLINE,
        || on_server(&url, &token, "while-off.html").then_some(()),
        || app.output(),
    );

    // And a left click again switches it off.
    item.activate();
    wait_for(
        "the engine to switch sync off again",
        DEADLINE,
        || (sync_enabled(&dirs) == Some(false)).then_some(()),
        || app.output(),
    );
    assert!(
        app.log().contains("StatusNotifierItem host"),
        "the app did not say which tray it uses:\n{}",
        app.output()
    );

    // Quit from the menu: the app stops cleanly.
    let quit = item
        .menu()
        .into_iter()
        .find(|l| l.label == "Quit")
        .expect("a Quit item");
    item.click_menu(quit.id);
    let status = app
        .wait_exit(DEADLINE)
        .unwrap_or_else(|| panic!("the app did not quit\n{}", app.output()));
    assert!(
        status.success(),
        "quit exited with {status}\n{}",
        app.output()
    );
}

#[test]
#[ignore = "needs Xvfb + dbus (+ chromium): run by scripts/test.sh"]
fn the_sni_tooltip_carries_the_exact_quota_message() {
    let server = TestServer::start();
    let url = server.url();
    server.add_user("capped", "capped", true, 1);
    let token = server.token("capped");
    let screen = start_screen();
    let host = SniHost::start(screen.bus_address());
    let dirs = AppDirs::new();
    dirs.remember_sync_on();
    std::fs::create_dir_all(dirs.folder()).unwrap();
    std::fs::write(dirs.folder().join("first.html"), "<p>1</p>").unwrap();
    std::fs::write(dirs.folder().join("second.html"), "<p>2</p>").unwrap();
    let app = App::start(&screen, &dirs, &url, &[("HYPERCLAY_TOKEN", &token)]);

    let item = host.wait_for_item(|| app.output());
    let quota = "You've run out of sites. We can't sync any more sites.";
    wait_for(
        "the quota message in the tooltip",
        DEADLINE,
        || (item.tooltip().1 == quota).then_some(()),
        || format!("tooltip {:?}\n{}", item.tooltip(), app.output()),
    );
    assert_eq!(item.status(), "NeedsAttention");
    assert!(
        red_pixels(&item.icon_pixmap()) > 100,
        "the icon has no error mark"
    );
    let menu = item.menu();
    assert!(
        menu.iter().any(|l| l.label == quota && !l.enabled),
        "the menu lacks the message line: {menu:?}"
    );
}

#[test]
#[ignore = "needs Xvfb + dbus (+ chromium): run by scripts/test.sh"]
fn a_file_not_synced_is_one_menu_line_that_opens_the_report() {
    let (_server, url, token, screen, dirs) = demo_stage();
    let host = SniHost::start(screen.bus_address());
    dirs.remember_sync_on();
    std::fs::create_dir_all(dirs.folder()).unwrap();
    // The seed's own app name is not a valid site name: it is skipped, not uploaded.
    std::fs::write(dirs.folder().join("Hello World.html"), "<p>hi</p>").unwrap();
    std::fs::write(dirs.folder().join("fine.html"), "<p>ok</p>").unwrap();
    // The desktop's opener, as the `open` crate finds it first: it notes what it was asked to open.
    let bin = dirs.root().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let opened = dirs.root().join("opened.txt");
    let opener = bin.join("xdg-open");
    std::fs::write(&opener, "#!/bin/sh\nprintf '%s\\n' \"$1\" >> \"$OPENED\"\n").unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&opener, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let app = App::start(
        &screen,
        &dirs,
        &url,
        &[
            ("HYPERCLAY_TOKEN", &token),
            ("PATH", &path),
            ("OPENED", opened.to_str().unwrap()),
        ],
    );

    let item = host.wait_for_item(|| app.output());
    let line = wait_for(
        "one menu line for the file not synced",
        DEADLINE,
        || {
            item.menu()
                .into_iter()
                .find(|l| l.label == "1 file not synced")
        },
        || format!("menu {:?}\n{}", item.menu(), app.output()),
    );
    assert!(line.enabled, "{line:?}");
    wait_for(
        "the other file synced all the same",
        DEADLINE,
        || on_server(&url, &token, "fine.html").then_some(()),
        || app.output(),
    );
    let report_file = dirs.data().join("sync-issues.txt");
    let report = std::fs::read_to_string(&report_file).unwrap();
    assert!(report.contains("1 file not synced."), "{report}");
    assert!(
        report.contains("\n  Hello World.html\n    Why: "),
        "{report}"
    );
    assert!(report.contains("\n    What to do: "), "{report}");

    item.click_menu(line.id);
    wait_for(
        "the report opened with the desktop's opener",
        DEADLINE,
        || {
            let asked = std::fs::read_to_string(&opened).ok()?;
            (asked.trim_end() == report_file.to_str()?).then_some(())
        },
        || {
            format!(
                "opened {:?}\n{}",
                std::fs::read_to_string(&opened),
                app.output()
            )
        },
    );
}

/// The `Exec=` value of a Desktop Entry read back as the desktop does: the file's string
/// escapes first, then the Exec quoting; returns the program.
fn exec_program(entry: &str) -> String {
    let value = entry
        .lines()
        .find_map(|l| l.strip_prefix("Exec="))
        .unwrap_or_else(|| panic!("no Exec line in:\n{entry}"))
        .trim_end();
    let mut unescaped = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            unescaped.push(c);
            continue;
        }
        match chars.next() {
            Some('s') => unescaped.push(' '),
            Some('\\') => unescaped.push('\\'),
            Some(other) => {
                unescaped.push('\\');
                unescaped.push(other);
            }
            None => unescaped.push('\\'),
        }
    }
    let program = match unescaped.strip_prefix('"') {
        Some(rest) => {
            let mut program = String::new();
            let mut chars = rest.chars();
            loop {
                match chars.next() {
                    Some('\\') => program.extend(chars.next()),
                    Some('"') => break,
                    Some(c) => program.push(c),
                    None => panic!("unterminated quote in {value:?}"),
                }
            }
            program
        }
        None => unescaped.split(' ').next().unwrap_or_default().to_owned(),
    };
    program.replace("%%", "%")
}

/// Turns Start at login on and then off from the item's menu, and returns the entry's text
/// while it was on. Checks the tick and the settings follow.
fn toggle_start_at_login(item: &SniItem<'_>, dirs: &AppDirs, app: &App) -> String {
    let entry = dirs.home().join(".config/autostart/hyperclay-sync.desktop");
    assert!(!entry.exists(), "an entry before it was asked for");
    let line = |item: &SniItem<'_>| {
        item.menu()
            .into_iter()
            .find(|l| l.label == "Start at login")
            .expect("a Start at login item")
    };
    // Each click writes or removes the entry, ticks or unticks the item, and is remembered.
    let ticked = |on: bool| {
        let what = if on { "ticked" } else { "unticked" };
        wait_for(
            &format!("Start at login {what} and remembered"),
            DEADLINE,
            || {
                let settings = std::fs::read_to_string(dirs.data().join("settings.json")).ok()?;
                (line(item).checked == Some(on)
                    && settings.contains(&format!("\"startAtLogin\": {on}")))
                .then_some(())
            },
            || app.output(),
        );
    };
    let start = line(item);
    assert_eq!(start.checked, Some(false));
    item.click_menu(start.id);
    let text = wait_for_autostart_entry(&entry, || app.output());
    ticked(true);

    item.click_menu(line(item).id);
    wait_for(
        "the autostart entry to go",
        DEADLINE,
        || (!entry.exists()).then_some(()),
        || app.output(),
    );
    ticked(false);
    text
}

#[test]
#[ignore = "needs Xvfb + dbus (+ chromium): run by scripts/test.sh"]
fn start_at_login_registers_the_app_quoted_when_its_path_has_a_space() {
    let (_server, url, token, screen, dirs) = demo_stage();
    let host = SniHost::start(screen.bus_address());
    let apps = dirs.root().join("my apps");
    std::fs::create_dir_all(&apps).unwrap();
    let tray = apps.join("hyperclay-sync-tray");
    std::fs::copy(hyperclay_testkit::bin::tray(), &tray).unwrap();
    let app = App::start_program(&screen, &dirs, &tray, &url, &[("HYPERCLAY_TOKEN", &token)]);
    let item = host.wait_for_item(|| app.output());

    let entry = toggle_start_at_login(&item, &dirs, &app);
    assert!(
        entry.contains(&format!("Exec=\"{}\"", tray.display())),
        "the path is not quoted:\n{entry}"
    );
    assert_eq!(exec_program(&entry), tray.to_str().unwrap(), "{entry}");
}

#[test]
#[ignore = "needs Xvfb + dbus (+ chromium): run by scripts/test.sh"]
fn start_at_login_from_an_appimage_registers_the_appimage() {
    let (_server, url, token, screen, dirs) = demo_stage();
    let host = SniHost::start(screen.bus_address());
    // An AppImage runs its binary from a temporary mount and says where the image is.
    let appimage = dirs.home().join("Apps/Hyperclay Sync $1.AppImage");
    let app = App::start(
        &screen,
        &dirs,
        &url,
        &[
            ("HYPERCLAY_TOKEN", &token),
            ("APPIMAGE", appimage.to_str().unwrap()),
        ],
    );
    let item = host.wait_for_item(|| app.output());

    let entry = toggle_start_at_login(&item, &dirs, &app);
    assert_eq!(exec_program(&entry), appimage.to_str().unwrap(), "{entry}");
    assert!(
        !entry.contains("hyperclay-sync-tray"),
        "the binary inside the image was registered:\n{entry}"
    );
}

/// The tray's menu line whose label starts with `prefix`, once there is one.
fn menu_line(item: &SniItem<'_>, app: &App, prefix: &str) -> SniMenuLine {
    wait_for(
        &format!("a menu line starting {prefix:?}"),
        DEADLINE,
        || {
            item.menu()
                .into_iter()
                .find(|l| l.label.starts_with(prefix))
        },
        || format!("menu {:?}\n{}", item.menu(), app.output()),
    )
}

#[test]
#[ignore = "needs Xvfb + dbus (+ chromium): run by scripts/test.sh"]
fn an_outdated_tray_says_update_sends_nothing_and_its_update_refuses_an_unsigned_release() {
    use hyperclay_testkit::ServerOptions;
    use hyperclay_testkit::release::ReleaseKey;
    let server = TestServer::start_with(ServerOptions {
        min_client_version: Some("99.0.0".into()),
        demo: true,
        ..ServerOptions::default()
    });
    let (url, token) = (server.url(), server.token("demo"));
    let screen = start_screen();
    let host = SniHost::start(screen.bus_address());
    let dirs = AppDirs::new();
    dirs.remember_sync_on();
    std::fs::create_dir_all(dirs.folder()).unwrap();
    std::fs::write(dirs.folder().join("kept.html"), "<p>kept</p>").unwrap();
    // This tray as an AppImage would run: the update then knows what to replace.
    let image_dir = tempfile::tempdir().unwrap();
    let image = image_dir.path().join("Hyperclay-Sync.AppImage");
    std::fs::write(&image, b"the running version").unwrap();
    let image_text = image.to_string_lossy().to_string();
    let app = App::start(
        &screen,
        &dirs,
        &url,
        &[("HYPERCLAY_TOKEN", &token), ("APPIMAGE", &image_text)],
    );
    let item = host.wait_for_item(|| app.output());
    let line = "Update Hyperclay Sync to keep syncing (version 99.0.0 or later)";
    wait_for(
        "the update line in the tooltip",
        DEADLINE,
        || (item.tooltip().1 == line).then_some(()),
        || format!("tooltip {:?}\n{}", item.tooltip(), app.output()),
    );
    let status = hyperclay_testkit::client::status(&dirs.data());
    assert_eq!(status["state"], "outdated", "{status}");
    assert!(server_files(&url, &token).unwrap().is_empty());
    let update = menu_line(&item, &app, "Update…");
    assert!(update.enabled, "{update:?}");

    // A release signed by a key the app does not trust: refused, said in the menu, nothing
    // replaced, and the app keeps running.
    let platform = "linux-x86_64-appimage";
    let bytes = b"#!/bin/sh\necho evil\n".to_vec();
    let signature = ReleaseKey::generate().sign(
        &bytes,
        &hyperclay_protocol::release_trusted_comment("99.0.0", platform),
    );
    server.publish_release("99.0.0", platform, &bytes, &signature);
    item.click_menu(update.id);
    let failed = menu_line(&item, &app, "The update failed:");
    assert!(
        failed
            .label
            .contains("not signed by the Hyperclay release key: refused"),
        "{failed:?}"
    );
    assert_eq!(std::fs::read(&image).unwrap(), b"the running version");
    assert!(menu_line(&item, &app, "Update…").enabled);
    assert!(server_files(&url, &token).unwrap().is_empty());
}

#[test]
#[ignore = "needs Xvfb + dbus (+ chromium): run by scripts/test.sh"]
fn a_tray_below_the_latest_syncs_on_and_offers_update_to_it_without_an_error() {
    use hyperclay_testkit::ServerOptions;
    let server = TestServer::start_with(ServerOptions {
        latest_client_version: Some("99.0.0".into()),
        demo: true,
        ..ServerOptions::default()
    });
    let (url, token) = (server.url(), server.token("demo"));
    let screen = start_screen();
    let host = SniHost::start(screen.bus_address());
    let dirs = AppDirs::new();
    dirs.remember_sync_on();
    std::fs::create_dir_all(dirs.folder()).unwrap();
    std::fs::write(dirs.folder().join("goes-up.html"), "<p>up</p>").unwrap();
    let app = App::start(&screen, &dirs, &url, &[("HYPERCLAY_TOKEN", &token)]);
    let item = host.wait_for_item(|| app.output());
    let offer = menu_line(&item, &app, "Update to 99.0.0…");
    assert!(offer.enabled);
    wait_for(
        "the file on the server and the tooltip up to date",
        DEADLINE,
        || {
            let up = on_server(&url, &token, "goes-up.html");
            (up && item.tooltip().1 == "Up to date").then_some(())
        },
        || format!("tooltip {:?}\n{}", item.tooltip(), app.output()),
    );
    assert_eq!(item.status(), "Active", "an offer is not an error");
}
