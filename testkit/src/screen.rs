//! The screen rig: a private X screen (Xvfb), a private session bus on it and a tray host, for
//! the tray tests, the benchmark's tray footprint and scripts/tray-footprint.sh (through
//! `cargo run -p xtask -- screen`). The bus starts no services on demand: D-Bus activation would
//! start gnome-keyring, whose unlock prompt would cover the screen and block the app's keyring
//! probe. Everything is killed on drop, tray host first; nothing else on the machine is touched.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use crate::{KitError, wait};

/// How long Xvfb, the bus or the tray host may take to come up.
const START_DEADLINE: Duration = Duration::from_secs(30);

/// Held while an X server of this process picks its display and while one shuts down. Xvfb
/// takes the first free display number and removes its lock file and socket when it exits; a
/// start racing an exit on the same number could lose its socket to the other's clean-up (seen
/// as "cannot open display" on a screen that was up), so within one test binary they take turns.
static DISPLAY_TURNS: Mutex<()> = Mutex::new(());

/// How many times a tray host that exits before it is up is started again.
const TRAY_HOST_RESTARTS: u32 = 5;

/// The tray host's command line, on `display` and `bus_address`.
fn tray_command(host: TrayHost, display: &str, bus_address: &str) -> Command {
    let mut c = match host {
        TrayHost::Trayer => {
            let mut c = Command::new("trayer");
            c.args([
                "--edge",
                "top",
                "--align",
                "right",
                "--widthtype",
                "request",
            ])
            .args(["--height", "32", "--SetDockType", "true"])
            .args(["--transparent", "false", "--expand", "true"]);
            c
        }
        TrayHost::SniWatcher => {
            let mut c = Command::new("gtk-sni-tray-standalone");
            c.args(["--watcher", "--top", "--end", "--size", "32"]);
            c
        }
    };
    c.env("DISPLAY", display)
        .env("DBUS_SESSION_BUS_ADDRESS", bus_address)
        .env("NO_AT_BRIDGE", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

/// The standard session bus, minus `<servicedir>`s (no activation).
const BUS_CONFIG: &str = r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#;

/// Which system tray runs on the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayHost {
    /// trayer: an XEmbed system tray, where tray-icon's AppIndicator backend falls back to.
    Trayer,
    /// gtk-sni-tray-standalone with its own StatusNotifierWatcher: the SNI item's path.
    SniWatcher,
}

/// An X screen with a session bus and a system tray on top.
pub struct Screen {
    display: String,
    bus_address: String,
    // Dropped in reverse order of start: tray host, bus, X server.
    tray: Child,
    bus: Child,
    xvfb: Child,
    _dir: tempfile::TempDir,
}

fn spawn(cmd: &mut Command, hint: &'static str) -> Result<Child, KitError> {
    cmd.stdin(Stdio::null())
        .spawn()
        .map_err(|source| KitError::Spawn {
            program: format!("{:?}", cmd.get_program()),
            hint,
            source,
        })
}

/// The first line `child` prints on stdout, trimmed.
fn first_line(child: &mut Child, what: &'static str) -> Result<String, KitError> {
    let Some(out) = child.stdout.take() else {
        return Err(KitError::NotReady {
            what,
            detail: "its stdout was not piped".into(),
        });
    };
    let mut line = String::new();
    BufReader::new(out)
        .read_line(&mut line)
        .map_err(|source| KitError::Io { what, source })?;
    Ok(line.trim().to_owned())
}

impl Screen {
    pub fn start(host: TrayHost) -> Result<Screen, KitError> {
        // -displayfd picks a free display and prints its number once it accepts clients.
        let turn = DISPLAY_TURNS.lock().unwrap_or_else(|p| p.into_inner());
        let mut xvfb = spawn(
            Command::new("Xvfb")
                .args(["-displayfd", "1", "-screen", "0", "640x360x24"])
                .args(["-nolisten", "tcp"])
                .stdout(Stdio::piped())
                .stderr(Stdio::null()),
            "apt-get install xvfb",
        )?;
        let number = match first_line(&mut xvfb, "Xvfb") {
            Ok(number) => number,
            Err(e) => {
                crate::kill(&mut xvfb);
                return Err(e);
            }
        };
        drop(turn);
        if number.parse::<u32>().is_err() {
            crate::kill(&mut xvfb);
            return Err(KitError::NotReady {
                what: "Xvfb",
                detail: format!("it printed no display number: {number:?}"),
            });
        }
        let display = format!(":{number}");

        let dir = tempfile::Builder::new()
            .prefix("hyperclay-screen")
            .tempdir()
            .map_err(|source| KitError::Io {
                what: "a temp dir for the bus",
                source,
            })?;
        let config = dir.path().join("session.conf");
        std::fs::write(&config, BUS_CONFIG).map_err(|source| KitError::Io {
            what: "writing the bus config",
            source,
        })?;
        let bus = spawn(
            Command::new("dbus-daemon")
                .arg(format!("--config-file={}", config.display()))
                .args(["--nofork", "--print-address=1"])
                .stdout(Stdio::piped())
                .stderr(Stdio::null()),
            "apt-get install dbus",
        );
        let mut bus = match bus {
            Ok(bus) => bus,
            Err(e) => {
                crate::kill(&mut xvfb);
                return Err(e);
            }
        };
        let bus_address = match first_line(&mut bus, "dbus-daemon") {
            Ok(a) if !a.is_empty() => a,
            other => {
                crate::kill(&mut bus);
                crate::kill(&mut xvfb);
                return Err(other.err().unwrap_or(KitError::NotReady {
                    what: "dbus-daemon",
                    detail: "it printed no bus address".into(),
                }));
            }
        };

        let hint = match host {
            TrayHost::Trayer => "apt-get install trayer",
            TrayHost::SniWatcher => "apt-get install haskell-gtk-sni-tray-utils",
        };
        let tray = match spawn(&mut tray_command(host, &display, &bus_address), hint) {
            Ok(t) => t,
            Err(e) => {
                crate::kill(&mut bus);
                crate::kill(&mut xvfb);
                return Err(e);
            }
        };
        let mut screen = Screen {
            display,
            bus_address,
            tray,
            bus,
            xvfb,
            _dir: dir,
        };
        // Now and then (about one start in 100 here, more under load) trayer's GTK says "cannot
        // open display" on a screen that xwininfo opens fine, and exits: a host that died
        // before it was up is started again, a few times.
        let mut restarts = 0;
        let up = wait::until(START_DEADLINE, || {
            if screen.tray_host_up(host) {
                return true;
            }
            if restarts < TRAY_HOST_RESTARTS && matches!(screen.tray.try_wait(), Ok(Some(_))) {
                restarts += 1;
                eprintln!("the tray host {host:?} exited before it was up; starting it again");
                let cmd = &mut tray_command(host, &screen.display, &screen.bus_address);
                if let Ok(tray) = spawn(cmd, hint) {
                    screen.tray = tray;
                }
            }
            false
        });
        if !up {
            return Err(KitError::NotReady {
                what: "the tray host",
                detail: format!(
                    "{host:?} was not up within {START_DEADLINE:?} ({restarts} restarts)"
                ),
            });
        }
        Ok(screen)
    }

    /// Whether the tray host owns the tray: trayer's panel window is named "panel" once it owns
    /// the system-tray selection; the SNI host owns the watcher's bus name.
    fn tray_host_up(&self, host: TrayHost) -> bool {
        match host {
            TrayHost::Trayer => self.window_tree().contains("\"panel\""),
            TrayHost::SniWatcher => self.name_has_owner("org.kde.StatusNotifierWatcher"),
        }
    }

    /// `:N`, for `DISPLAY`.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// The screen's own session bus.
    pub fn bus_address(&self) -> &str {
        &self.bus_address
    }

    /// What a program needs to run on this screen and its bus (and no other).
    pub fn env(&self) -> [(&'static str, &str); 3] {
        [
            ("DISPLAY", self.display.as_str()),
            ("DBUS_SESSION_BUS_ADDRESS", self.bus_address.as_str()),
            ("NO_AT_BRIDGE", "1"),
        ]
    }

    /// A command that talks to this screen and its bus (and no other).
    pub fn cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.envs(self.env());
        cmd
    }

    /// `xwininfo -root -tree`: every window on the screen with its name and class; empty if
    /// xwininfo could not run.
    pub fn window_tree(&self) -> String {
        self.cmd("xwininfo")
            .args(["-root", "-tree"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    fn name_has_owner(&self, name: &str) -> bool {
        self.cmd("dbus-send")
            .args(["--session", "--print-reply", "--dest=org.freedesktop.DBus"])
            .args(["/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner"])
            .arg(format!("string:{name}"))
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("boolean true"))
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        crate::kill(&mut self.tray);
        crate::kill(&mut self.bus);
        // SIGTERM, so the X server removes its own lock file and socket, and in turn (see
        // DISPLAY_TURNS); killed if it lingers.
        let _turn = DISPLAY_TURNS.lock().unwrap_or_else(|p| p.into_inner());
        let _ = crate::terminate(&mut self.xvfb, Duration::from_secs(5));
    }
}
