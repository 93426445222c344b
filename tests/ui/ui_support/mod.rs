//! A real screen for the tray tests: the kit's screen rig (Xvfb, a session bus, the trayer system
//! tray), the real `hyperclay-sync` binary, screenshots and clicks. Everything is started fresh
//! per test and killed on drop. It installs nothing: the tools come from scripts/setup.sh.
//! Waits are on conditions with deadlines, never fixed sleeps.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hyperclay_testkit::TestServer;
use hyperclay_testkit::screen::TrayHost;
use hyperclay_testkit::{client, wait};

pub mod sni_host;

/// How long any single condition may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// The XEmbed fallback gives the icon's window this WM_CLASS, after the tray id (tray/src/app.rs).
pub const ICON_WINDOW: &str = "tray-icon tray app hyperclay-sync";

/// Polls `check` every 20 ms until it gives a value; panics with `what` (and `context()`, for
/// diagnostics) after `deadline`.
pub fn wait_for<T>(
    what: &str,
    deadline: Duration,
    check: impl FnMut() -> Option<T>,
    context: impl Fn() -> String,
) -> T {
    wait::until_some(deadline, wait::POLL, check).unwrap_or_else(|| {
        panic!(
            "timed out after {deadline:?} waiting for {what}\n{}",
            context()
        )
    })
}

/// Where screenshots are kept: `target/ui-screenshots/` (a CI artefact).
pub fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target/tmp has a parent")
        .join("ui-screenshots");
    std::fs::create_dir_all(&dir).expect("create target/ui-screenshots");
    dir
}

/// The screen rig (Xvfb, a private session bus, trayer) is the kit's; the tests add pixels and
/// the pointer. Started through [`start_screen`], so every UI test gets the same rig.
pub use hyperclay_testkit::screen::Screen;

/// A screen with trayer as its system tray, up once trayer owns the tray selection.
pub fn start_screen() -> Screen {
    Screen::start(TrayHost::Trayer).unwrap_or_else(|e| panic!("the screen rig: {e}"))
}

/// What the tray tests do on a screen: look at it and use the pointer and keyboard.
pub trait ScreenTools {
    /// A command that talks to this screen and its bus (and no other).
    fn cmd(&self, program: &str) -> Command;

    /// The whole screen, as pixels.
    fn capture(&self) -> Image {
        let out = self
            .cmd("import")
            .args(["-window", "root", "png:-"])
            .output()
            .expect("run import (apt-get install imagemagick)");
        assert!(
            out.status.success(),
            "import failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Image::decode(&out.stdout)
    }

    /// Captures the screen and keeps it as `target/ui-screenshots/<name>.png`.
    fn screenshot(&self, name: &str) -> Image {
        let image = self.capture();
        let path = screenshot_dir().join(format!("{name}.png"));
        std::fs::write(&path, &image.png).expect("write the screenshot");
        image
    }

    /// Where a window with this exact WM_CLASS is, in root coordinates, if it is mapped.
    fn find_window(&self, name: &str) -> Option<Rect> {
        let out = self
            .cmd("xdotool")
            .args(["search", "--onlyvisible", "--class", &format!("^{name}$")])
            .output()
            .ok()?;
        let id = String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()?
            .trim()
            .to_owned();
        let geometry = self
            .cmd("xdotool")
            .args(["getwindowgeometry", "--shell", &id])
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&geometry.stdout).into_owned();
        let field = |key: &str| -> Option<i32> {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{key}=")))?
                .trim()
                .parse()
                .ok()
        };
        let rect = Rect {
            x: field("X")?,
            y: field("Y")?,
            w: field("WIDTH")?,
            h: field("HEIGHT")?,
        };
        (rect.w > 0 && rect.h > 0).then_some(rect)
    }

    fn click(&self, x: i32, y: i32) {
        let status = self
            .cmd("xdotool")
            .args(["mousemove", &x.to_string(), &y.to_string(), "click", "1"])
            .status()
            .expect("run xdotool (apt-get install xdotool)");
        assert!(status.success(), "xdotool click failed");
    }

    /// Moves the pointer out of the way (a hovered menu item is highlighted).
    fn park_pointer(&self) {
        let _ = self.cmd("xdotool").args(["mousemove", "5", "350"]).status();
    }

    fn key(&self, key: &str) {
        let _ = self.cmd("xdotool").args(["key", key]).status();
    }
}

impl ScreenTools for Screen {
    fn cmd(&self, program: &str) -> Command {
        Screen::cmd(self, program)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x: i32,
    pub y: i32,
    pub w: i32,
    pub h: i32,
}

impl Rect {
    pub fn centre(&self) -> (i32, i32) {
        (self.x + self.w / 2, self.y + self.h / 2)
    }
}

/// A decoded screenshot (RGB) and its PNG bytes.
pub struct Image {
    pub width: i32,
    pub height: i32,
    rgb: Vec<u8>,
    pub png: Vec<u8>,
}

impl Image {
    fn decode(png_bytes: &[u8]) -> Image {
        let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        let mut reader = decoder.read_info().expect("a PNG from import");
        let mut buf = vec![0; reader.output_buffer_size().expect("a sane PNG size")];
        let info = reader.next_frame(&mut buf).expect("decode the screenshot");
        let channels = info.color_type.samples();
        let mut rgb = Vec::with_capacity((info.width * info.height * 3) as usize);
        for px in buf[..info.buffer_size()].chunks_exact(channels) {
            match channels {
                1 | 2 => rgb.extend_from_slice(&[px[0], px[0], px[0]]),
                _ => rgb.extend_from_slice(&px[..3]),
            }
        }
        Image {
            width: info.width as i32,
            height: info.height as i32,
            rgb,
            png: png_bytes.to_vec(),
        }
    }

    pub fn pixel(&self, x: i32, y: i32) -> [u8; 3] {
        let i = ((y * self.width + x) * 3) as usize;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    /// Counts the pixels of `rect` that satisfy `pred`.
    pub fn count(&self, rect: Rect, pred: impl Fn([u8; 3]) -> bool) -> usize {
        let mut n = 0;
        for y in rect.y.max(0)..(rect.y + rect.h).min(self.height) {
            for x in rect.x.max(0)..(rect.x + rect.w).min(self.width) {
                if pred(self.pixel(x, y)) {
                    n += 1;
                }
            }
        }
        n
    }

    /// The colours of the tray icon inside `rect`.
    pub fn icon_colour(&self, rect: Rect) -> IconColour {
        let area = (rect.w * rect.h) as usize;
        let green = self.count(rect, is_green);
        let grey = self.count(rect, is_icon_grey);
        let red = self.count(rect, is_red);
        IconColour {
            green: green * 100 / area,
            grey: grey * 100 / area,
            red: red * 100 / area,
        }
    }

    /// The bounding box of the pixels that differ from `before` (same size).
    pub fn changed_since(&self, before: &Image) -> Option<Rect> {
        let (mut x0, mut y0, mut x1, mut y1) = (i32::MAX, i32::MAX, -1, -1);
        for y in 0..self.height {
            for x in 0..self.width {
                if self.pixel(x, y) != before.pixel(x, y) {
                    x0 = x0.min(x);
                    y0 = y0.min(y);
                    x1 = x1.max(x);
                    y1 = y1.max(y);
                }
            }
        }
        (x1 >= 0).then(|| Rect {
            x: x0,
            y: y0,
            w: x1 - x0 + 1,
            h: y1 - y0 + 1,
        })
    }
}

/// The share (percent of the icon's area) of each colour the icons use.
#[derive(Debug, Clone, Copy)]
pub struct IconColour {
    pub green: usize,
    pub grey: usize,
    pub red: usize,
}

impl IconColour {
    /// The "on" icon: mostly green disc.
    pub fn is_on(&self) -> bool {
        self.green >= 25 && self.red == 0
    }
    /// The "off" icon: the bluish grey disc, no green, no red mark.
    pub fn is_off(&self) -> bool {
        self.grey >= 25 && self.green == 0 && self.red == 0
    }
    /// The "error" icon: the red mark is visible.
    pub fn has_error_mark(&self) -> bool {
        self.red >= 3 && self.green == 0
    }
}

fn is_green([r, g, b]: [u8; 3]) -> bool {
    g as i32 > r as i32 + 40 && g as i32 > b as i32 + 30
}

/// The off icon's disc (#8a9099, rim #5b6169): a grey with a slight blue cast, unlike the
/// neutral greys of the panel.
fn is_icon_grey([r, g, b]: [u8; 3]) -> bool {
    let (r, g, b) = (r as i32, g as i32, b as i32);
    (80..=175).contains(&r) && (3..=25).contains(&(b - r)) && g >= r && g <= b
}

fn is_red([r, g, b]: [u8; 3]) -> bool {
    r > 170 && g < 90 && b < 90
}

/// The lines of an open GTK menu, read from pixels: each text line is a band of rows with ink
/// (greyed-out text too), each separator a row of one light colour across the whole menu.
#[derive(Debug)]
pub struct MenuLayout {
    pub rect: Rect,
    /// Text items from top to bottom: (first row, last row, leftmost dark x) in screen coordinates.
    pub items: Vec<(i32, i32, i32)>,
    /// For each separator, the index of the item below it.
    pub separators_before: Vec<usize>,
    /// For each item: `None` without a check box, else whether the box is ticked.
    pub checks: Vec<Option<bool>>,
}

impl MenuLayout {
    pub fn read(image: &Image, rect: Rect) -> MenuLayout {
        // Stay clear of the menu's border and shadow.
        let inner = Rect {
            x: rect.x + 4,
            y: rect.y + 2,
            w: rect.w - 8,
            h: rect.h - 4,
        };
        let luma = |[r, g, b]: [u8; 3]| (r as u32 * 299 + g as u32 * 587 + b as u32 * 114) / 1000;
        let background = image.pixel(inner.x, inner.y);
        let mut items: Vec<(i32, i32, i32)> = Vec::new();
        let mut separators_before = Vec::new();
        let mut pending_separator = false;
        let mut in_band = false;
        for y in inner.y..inner.y + inner.h {
            // A separator is a row of one colour, not the background's, across the menu.
            let first = image.pixel(inner.x, y);
            let uniform = (inner.x..inner.x + inner.w)
                .filter(|&x| image.pixel(x, y) == first)
                .count();
            if first != background && uniform * 10 >= inner.w as usize * 9 {
                in_band = false;
                if !items.is_empty() {
                    pending_separator = true;
                }
                continue;
            }
            // Text ink, greyed-out (disabled) text included.
            let ink_left = (inner.x..inner.x + inner.w).find(|&x| luma(image.pixel(x, y)) < 200);
            match ink_left {
                Some(left) => {
                    if in_band {
                        let last = items.last_mut().expect("in a band");
                        last.1 = y;
                        last.2 = last.2.min(left);
                    } else {
                        if pending_separator {
                            separators_before.push(items.len());
                            pending_separator = false;
                        }
                        items.push((y, y, left));
                        in_band = true;
                    }
                }
                None => in_band = false,
            }
        }
        // Check items start with a box left of the labels' indent; a tick puts ink inside it.
        let label_left = items.iter().map(|i| i.2).max().unwrap_or(0);
        let checks = items
            .iter()
            .map(|&(top, bottom, left)| {
                if left + 8 > label_left {
                    return None;
                }
                let side = bottom - top + 1;
                let inside = Rect {
                    x: left + 3,
                    y: top + 3,
                    w: side - 6,
                    h: side - 6,
                };
                Some(image.count(inside, |px| luma(px) < 140) > 4)
            })
            .collect();
        MenuLayout {
            rect,
            items,
            separators_before,
            checks,
        }
    }

    /// The centre of text item `i`, to click it.
    pub fn item_centre(&self, i: usize) -> (i32, i32) {
        let (top, bottom, _) = self.items[i];
        (self.rect.x + self.rect.w / 2, (top + bottom) / 2)
    }
}

/// The autostart entry at `entry` once it is whole. auto-launch writes it in place, so the file
/// can exist and still be empty: wait for its Exec line, not just for the file.
pub fn wait_for_autostart_entry(entry: &Path, context: impl Fn() -> String) -> String {
    wait_for(
        "the autostart entry to appear",
        DEADLINE,
        || {
            std::fs::read_to_string(entry)
                .ok()
                .filter(|t| t.lines().any(|l| l.starts_with("Exec=")))
        },
        context,
    )
}

/// What most tray tests start from, as `(server, url, token, screen, dirs)`: the reference
/// server with its demo account, its URL and a token for `demo`, a screen with trayer, and a
/// fresh HOME for the app. Keep the server bound (`_server`) for as long as the test runs.
pub fn demo_stage() -> (TestServer, String, String, Screen, AppDirs) {
    let server = TestServer::start();
    let (url, token) = (server.url(), server.token("demo"));
    (server, url, token, start_screen(), AppDirs::new())
}

/// A fresh HOME and data home for one app, kept across restarts of the app in a test.
pub struct AppDirs {
    root: tempfile::TempDir,
}

impl AppDirs {
    pub fn new() -> AppDirs {
        AppDirs {
            root: tempfile::Builder::new()
                .prefix("hyperclay-ui-test")
                .tempdir()
                .expect("a temp dir"),
        }
    }
    /// `$HOME`: autostart entries and the default `~/Hyperclay` folder land here.
    pub fn home(&self) -> PathBuf {
        self.root.path().join("home")
    }
    /// `$HYPERCLAY_SYNC_HOME`: settings, state, token, logs.
    pub fn data(&self) -> PathBuf {
        self.root.path().join("data")
    }
    pub fn folder(&self) -> PathBuf {
        self.home().join("Hyperclay")
    }
    pub fn output(&self) -> PathBuf {
        self.root.path().join("app-output.txt")
    }
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// Leaves sync switched on in the settings, as a user who switched it on last time would.
    pub fn remember_sync_on(&self) {
        let settings = hyperclay_sync::home::settings::Settings {
            enabled: true,
            ..Default::default()
        };
        hyperclay_sync::home::settings::save(&self.data(), &settings).expect("write the settings");
    }
}

/// `program` set up as the kit starts every client (its data home and server, none of the
/// tester's `HYPERCLAY_*`), and none of the tester's XDG dirs or browser either: the app must
/// find its autostart entry and default folder under the test's HOME, and open no real browser.
fn app_command(program: &Path, dirs: &AppDirs, server_url: &str) -> Command {
    let mut cmd = client::command(program, &dirs.data(), server_url);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("XDG_") || key == "BROWSER" {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// The real `hyperclay-sync` binary, started with no subcommand: it execs the tray app,
/// `hyperclay-sync-tray`, in the same process.
pub struct App {
    child: Child,
    output: PathBuf,
    log: PathBuf,
}

impl App {
    pub fn start(screen: &Screen, dirs: &AppDirs, server_url: &str, env: &[(&str, &str)]) -> App {
        App::start_with_args(screen, dirs, server_url, &[], env)
    }

    /// Same, with arguments (still no subcommand), as `scripts/demo.sh` starts it.
    pub fn start_with_args(
        screen: &Screen,
        dirs: &AppDirs,
        server_url: &str,
        args: &[&std::ffi::OsStr],
        env: &[(&str, &str)],
    ) -> App {
        let mut cmd = app_command(
            Path::new(env!("CARGO_BIN_EXE_hyperclay-sync")),
            dirs,
            server_url,
        );
        cmd.envs(screen.env()).args(args);
        App::spawn(cmd, dirs, env)
    }

    /// Another copy of a binary (the tray app copied to a path with a space, say), started
    /// directly.
    pub fn start_program(
        screen: &Screen,
        dirs: &AppDirs,
        program: &Path,
        server_url: &str,
        env: &[(&str, &str)],
    ) -> App {
        let mut cmd = app_command(program, dirs, server_url);
        cmd.envs(screen.env());
        App::spawn(cmd, dirs, env)
    }

    /// The app with no display at all (and no session bus).
    pub fn start_without_display(dirs: &AppDirs, server_url: &str, env: &[(&str, &str)]) -> App {
        let mut cmd = app_command(
            Path::new(env!("CARGO_BIN_EXE_hyperclay-sync")),
            dirs,
            server_url,
        );
        cmd.env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("DBUS_SESSION_BUS_ADDRESS");
        App::spawn(cmd, dirs, env)
    }

    fn spawn(mut cmd: Command, dirs: &AppDirs, env: &[(&str, &str)]) -> App {
        std::fs::create_dir_all(dirs.home()).expect("create HOME");
        let output = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dirs.output())
            .expect("open the app's output file");
        cmd.env("HOME", dirs.home())
            .env("HYPERCLAY_POLL_SECONDS", "0.3")
            .env("BROWSER", "false")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(output.try_clone().expect("clone a file handle"))
            .stderr(output);
        let child = cmd.spawn().expect("start hyperclay-sync");
        App {
            child,
            output: dirs.output(),
            log: dirs.data().join("logs").join("sync.log"),
        }
    }

    /// The app's stdout+stderr and its log file so far, for failure messages.
    pub fn output(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.output) {
            let _ = f.read_to_string(&mut s);
        }
        format!("{s}\n--- sync.log ---\n{}", self.log())
    }

    /// The app's log file (the engine writes it under HYPERCLAY_SYNC_HOME).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Asks the app to stop, as a desktop session ending would (SIGTERM).
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits for the app to exit by itself; `None` if it is still running at the deadline.
    pub fn wait_exit(&mut self, deadline: Duration) -> Option<std::process::ExitStatus> {
        wait::until_some(deadline, wait::POLL, || {
            self.child.try_wait().ok().flatten()
        })
    }
}

impl Drop for App {
    fn drop(&mut self) {
        hyperclay_testkit::kill(&mut self.child);
    }
}

/// Waits until the tray icon is docked and shows `want` (e.g. `IconColour::is_on`); returns
/// its place and the screenshot that showed it.
pub fn wait_for_icon(
    screen: &Screen,
    app: &App,
    what: &str,
    want: impl Fn(&IconColour) -> bool,
) -> (Rect, Image) {
    let last = std::cell::Cell::new(None);
    wait_for(
        what,
        DEADLINE,
        || {
            let rect = screen.find_window(ICON_WINDOW)?;
            let image = screen.capture();
            let colour = image.icon_colour(rect);
            last.set(Some(colour));
            want(&colour).then_some((rect, image))
        },
        || {
            format!(
                "last icon colours: {:?}\napp output:\n{}",
                last.get(),
                app.output()
            )
        },
    )
}

/// Opens the tray menu by clicking the icon and reads it; returns the layout and the
/// screenshot with the menu open.
pub fn open_menu(screen: &Screen, app: &App, icon: Rect) -> (MenuLayout, Image) {
    screen.park_pointer();
    let before = screen.capture();
    let (x, y) = icon.centre();
    screen.click(x, y);
    let panel_bottom = icon.y + icon.h;
    let (rect, image) = wait_for(
        "the tray menu to open",
        DEADLINE,
        || {
            let image = screen.capture();
            let changed = image.changed_since(&before)?;
            // The menu drops below the panel; the icon itself may also repaint (hover).
            let below = Rect {
                x: 0,
                y: panel_bottom,
                w: image.width,
                h: image.height - panel_bottom,
            };
            let menu = bounding_change(&image, &before, below)?;
            (changed.h > 40 && menu.w > 60 && menu.h > 40).then_some((menu, image))
        },
        || format!("app output:\n{}", app.output()),
    );
    // Let the menu finish drawing: read it until two captures agree.
    let mut image = image;
    wait_for(
        "the tray menu to finish drawing",
        DEADLINE,
        || {
            let next = screen.capture();
            let same = next.rgb == image.rgb;
            image = next;
            same.then_some(())
        },
        String::new,
    );
    (MenuLayout::read(&image, rect), image)
}

fn bounding_change(image: &Image, before: &Image, within: Rect) -> Option<Rect> {
    let (mut x0, mut y0, mut x1, mut y1) = (i32::MAX, i32::MAX, -1, -1);
    for y in within.y..within.y + within.h {
        for x in within.x..within.x + within.w {
            if image.pixel(x, y) != before.pixel(x, y) {
                x0 = x0.min(x);
                y0 = y0.min(y);
                x1 = x1.max(x);
                y1 = y1.max(y);
            }
        }
    }
    (x1 >= 0).then(|| Rect {
        x: x0,
        y: y0,
        w: x1 - x0 + 1,
        h: y1 - y0 + 1,
    })
}

/// The account's files as the server lists them (path → checksum), via the sync API.
pub fn server_files(
    server_url: &str,
    token: &str,
) -> Result<Vec<(String, Option<String>)>, String> {
    // The test's own look, as the newest client would take it: a server with a minimum version
    // (the version-policy tests) refuses the app under test, not the look.
    let reply = hyperclay_testkit::http::Api::new(server_url, Some(token))
        .with_user_agent(Some("hyperclay-sync/999.0.0"))
        .try_changes(None, None)
        .map_err(|e| e.to_string())?;
    let body: serde_json::Value = reply.try_json().map_err(|e| e.to_string())?;
    let entries = body["entries"]
        .as_array()
        .ok_or("no entries in the listing")?;
    Ok(entries
        .iter()
        .filter(|e| e["kind"] != "folder")
        .map(|e| {
            (
                e["path"].as_str().unwrap_or_default().to_owned(),
                e["checksum"].as_str().map(str::to_owned),
            )
        })
        .collect())
}

/// The HTTP status the server gives `token` on the status endpoint.
pub fn token_status(server_url: &str, token: &str) -> u16 {
    hyperclay_testkit::http::Api::new(server_url, Some(token))
        .status()
        .status
}
