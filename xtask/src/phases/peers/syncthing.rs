//! Syncthing's side of the peers table: two instances (A, the "local" side, and B, the other
//! side) on loopback sharing one folder, its watcher at its lowest delay (fsWatcherDelayS=1;
//! 0 is silently refused). Every way off loopback is switched off in the config written here:
//! global and local announce, relays, NAT, usage and crash reporting, auto-upgrade; each listens
//! on `tcp://127.0.0.1:PORT` and knows its peer by that explicit address. The figures count the
//! worker process, not the monitor Syncthing starts beside it. Nothing here touches the user's
//! own Syncthing (every instance has its own --home).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::{Figures, Group, Workload, free_port, saves_between, wait_port, wait_tree};
use crate::Bench;
use crate::phases::{SYNC_DEADLINE, ms};
use crate::tree;

const FOLDER_ID: &str = "bench";
/// The lowest watcher delay Syncthing 1.19 accepts.
const WATCHER_DELAY_S: u32 = 1;

pub fn measure(bench: &Bench, work: &Workload, f: &mut Figures) -> Result<()> {
    f.how.push(format!(
        "two `syncthing serve --no-browser --no-restart --no-upgrade` instances with their own \
         --home, one folder shared send-receive, fsWatcherDelayS={WATCHER_DELAY_S}, \
         listen tcp://127.0.0.1:PORT, peers by explicit address, announce/relays/NAT/usage/crash \
         reporting/auto-upgrade off, setLowPriority off (it would renice itself below the \
         others); A's folder is \"local\", B's the other side; initial sync is A full → B empty \
         (Syncthing is symmetric: one figure for both directions)"
    ));

    // The idle tree: A holds it, B starts empty and receives it.
    let pair_dir = bench.dir("peers-st-idle");
    let a_folder = pair_dir.join("a-folder");
    tree::write(&a_folder, &work.idle_tree)?;
    let t = Instant::now();
    let mut pair = Pair::start(&pair_dir)?;
    wait_tree(&pair.b.folder, &work.idle_tree, SYNC_DEADLINE)?;
    pair.a.wait_idle(work.idle_tree.len(), SYNC_DEADLINE)?;
    pair.b.wait_idle(work.idle_tree.len(), SYNC_DEADLINE)?;
    f.idle_setup_ms = Some(ms(t.elapsed()));

    let worker = pair.a.worker();
    eprintln!("peers: Syncthing idle for {:?}", work.window);
    f.idle = Some(super::idle_of(
        worker,
        work.window,
        "the worker process of instance A (not its monitor, not B)",
    )?);

    eprintln!("peers: Syncthing, {} saves A → B", work.saves);
    f.save = saves_between(
        &pair.a.folder.join("peer-save.html"),
        &pair.b.folder.join("peer-save.html"),
        work.saves,
        (Duration::ZERO, Duration::from_secs(1)),
    )?;
    eprintln!("peers: Syncthing, {} edits B → A", work.remote_edits);
    f.remote = saves_between(
        &pair.b.folder.join("peer-remote.html"),
        &pair.a.folder.join("peer-remote.html"),
        work.remote_edits,
        (Duration::ZERO, Duration::from_secs(2)),
    )?;
    drop(pair);

    // Initial sync: A full, B empty, both started at once; ends when B holds every file.
    let pair_dir = bench.dir("peers-st-init");
    tree::write(&pair_dir.join("a-folder"), &work.init_tree)?;
    eprintln!("peers: Syncthing initial sync");
    let t = Instant::now();
    let pair = Pair::start(&pair_dir)?;
    let done = wait_tree(&pair.b.folder, &work.init_tree, SYNC_DEADLINE)?;
    let took = ms(done - t);
    super::check_tree(&pair.b.folder, &work.init_sums, "Syncthing A → B")?;
    f.init_down_ms = Some(took);
    f.init_up_ms = Some(took);
    Ok(())
}

/// One running instance.
struct Instance {
    group: Group,
    folder: PathBuf,
    gui_port: u16,
    api_key: String,
    agent: ureq::Agent,
}

/// Two instances sharing the folder; stopped (both groups) when dropped.
struct Pair {
    a: Instance,
    b: Instance,
}

impl Pair {
    /// Configures A on `dir/a-folder` and B on `dir/b-folder` (created empty if missing) and
    /// starts both.
    fn start(dir: &Path) -> Result<Pair> {
        let homes = [dir.join("a-home"), dir.join("b-home")];
        let folders = [dir.join("a-folder"), dir.join("b-folder")];
        let mut ids = Vec::new();
        for (home, folder) in homes.iter().zip(&folders) {
            std::fs::create_dir_all(folder)?;
            // Syncthing refuses a folder without its marker rather than guess it is mounted.
            std::fs::create_dir_all(folder.join(".stfolder"))?;
            ids.push(generate(home)?);
        }
        let ports = [free_port()?, free_port()?];
        let mut started = Vec::new();
        for i in 0..2 {
            let peer = 1 - i;
            let gui_port = free_port()?;
            let api_key = format!("bench-key-{i}-{}", std::process::id());
            let config = config_xml(&Config {
                me: &ids[i],
                peer: &ids[peer],
                port: ports[i],
                peer_port: ports[peer],
                folder: &folders[i].canonicalize()?,
                gui_port,
                api_key: &api_key,
            });
            std::fs::write(homes[i].join("config.xml"), config)?;
            let mut cmd = Command::new("syncthing");
            cmd.args([
                "serve",
                "--no-browser",
                "--no-restart",
                "--no-upgrade",
                "--home",
            ])
            .arg(&homes[i])
            .arg("--logfile")
            .arg(homes[i].join("syncthing.log"))
            .env("STNODEFAULTFOLDER", "1")
            .env("STNOUPGRADE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
            started.push(Instance {
                group: Group::spawn(cmd, "syncthing")?,
                folder: folders[i].canonicalize()?,
                gui_port,
                api_key,
                agent: ureq::Agent::config_builder()
                    .timeout_global(Some(Duration::from_secs(10)))
                    .http_status_as_error(false)
                    .build()
                    .new_agent(),
            });
        }
        // Both start at once (an initial sync's clock runs from here); then both must answer.
        for instance in &mut started {
            wait_port(
                instance.gui_port,
                Duration::from_secs(60),
                &mut instance.group,
            )?;
        }
        let b = started.pop().context("instance B")?;
        let a = started.pop().context("instance A")?;
        Ok(Pair { a, b })
    }
}

impl Instance {
    /// The worker: the monitor's child, or the process itself when it runs without one.
    fn worker(&self) -> u32 {
        let pid = self.group.pid();
        super::children(pid).into_iter().next().unwrap_or(pid)
    }

    fn status(&self) -> Result<Value> {
        let url = format!(
            "http://127.0.0.1:{}/rest/db/status?folder={FOLDER_ID}",
            self.gui_port
        );
        let mut resp = self
            .agent
            .get(&url)
            .header("X-API-Key", &self.api_key)
            .call()
            .context("GET /rest/db/status")?;
        let body = resp.body_mut().read_to_vec()?;
        if resp.status().as_u16() != 200 {
            bail!(
                "Syncthing /rest/db/status: HTTP {}: {}",
                resp.status(),
                String::from_utf8_lossy(&body)
            );
        }
        Ok(serde_json::from_slice(&body)?)
    }

    /// Waits until the folder is scanned, holds `files` files and needs nothing.
    fn wait_idle(&mut self, files: usize, deadline: Duration) -> Result<()> {
        let end = Instant::now() + deadline;
        let mut last = Value::Null;
        loop {
            if let Ok(s) = self.status() {
                if s["state"] == "idle"
                    && s["needTotalItems"] == 0
                    && s["localFiles"].as_u64() == Some(files as u64)
                {
                    return Ok(());
                }
                last = s;
            }
            if !self.group.running() {
                bail!("syncthing exited; see its syncthing.log");
            }
            if Instant::now() > end {
                bail!("Syncthing not idle with {files} files after {deadline:?}: {last}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Creates the keys of a new instance in `home`; returns its device ID.
fn generate(home: &Path) -> Result<String> {
    let out = Command::new("syncthing")
        .args([
            "generate",
            "--no-default-folder",
            "--skip-port-probing",
            "--home",
        ])
        .arg(home)
        .stdin(Stdio::null())
        .output()
        .context("running syncthing generate")?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        bail!("syncthing generate failed: {}", text.trim());
    }
    text.lines()
        .find_map(|l| l.split("Device ID:").nth(1))
        .map(|id| id.trim().to_owned())
        .context("syncthing generate printed no device ID")
}

struct Config<'a> {
    me: &'a str,
    peer: &'a str,
    port: u16,
    peer_port: u16,
    folder: &'a Path,
    gui_port: u16,
    api_key: &'a str,
}

/// The whole config.xml (Syncthing fills in defaults for everything left out).
fn config_xml(c: &Config) -> String {
    let folder = xml_escape(&c.folder.to_string_lossy());
    format!(
        r#"<configuration version="36">
    <folder id="{FOLDER_ID}" label="{FOLDER_ID}" path="{folder}" type="sendreceive" rescanIntervalS="3600" fsWatcherEnabled="true" fsWatcherDelayS="{WATCHER_DELAY_S}" ignorePerms="false" autoNormalize="true">
        <filesystemType>basic</filesystemType>
        <device id="{me}" introducedBy=""></device>
        <device id="{peer}" introducedBy=""></device>
    </folder>
    <device id="{me}" name="self" compression="metadata" introducer="false">
        <address>dynamic</address>
    </device>
    <device id="{peer}" name="peer" compression="metadata" introducer="false">
        <address>tcp://127.0.0.1:{peer_port}</address>
    </device>
    <gui enabled="true" tls="false" debugging="false">
        <address>127.0.0.1:{gui_port}</address>
        <apikey>{api_key}</apikey>
    </gui>
    <options>
        <listenAddress>tcp://127.0.0.1:{port}</listenAddress>
        <globalAnnounceEnabled>false</globalAnnounceEnabled>
        <localAnnounceEnabled>false</localAnnounceEnabled>
        <relaysEnabled>false</relaysEnabled>
        <natEnabled>false</natEnabled>
        <urAccepted>-1</urAccepted>
        <autoUpgradeIntervalH>0</autoUpgradeIntervalH>
        <crashReportingEnabled>false</crashReportingEnabled>
        <startBrowser>false</startBrowser>
        <setLowPriority>false</setLowPriority>
    </options>
</configuration>
"#,
        me = c.me,
        peer = c.peer,
        peer_port = c.peer_port,
        gui_port = c.gui_port,
        api_key = c.api_key,
        port = c.port,
    )
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_keeps_syncthing_on_loopback_with_the_fastest_watcher() {
        let xml = config_xml(&Config {
            me: "AAA",
            peer: "BBB",
            port: 22001,
            peer_port: 22002,
            folder: Path::new("/tmp/a \"b\" & <c>"),
            gui_port: 8385,
            api_key: "k",
        });
        for want in [
            "<listenAddress>tcp://127.0.0.1:22001</listenAddress>",
            "<address>tcp://127.0.0.1:22002</address>",
            "<address>127.0.0.1:8385</address>",
            "<globalAnnounceEnabled>false</globalAnnounceEnabled>",
            "<localAnnounceEnabled>false</localAnnounceEnabled>",
            "<relaysEnabled>false</relaysEnabled>",
            "<natEnabled>false</natEnabled>",
            "<urAccepted>-1</urAccepted>",
            "<autoUpgradeIntervalH>0</autoUpgradeIntervalH>",
            "<crashReportingEnabled>false</crashReportingEnabled>",
            "fsWatcherDelayS=\"1\"",
            "path=\"/tmp/a &quot;b&quot; &amp; &lt;c&gt;\"",
        ] {
            assert!(xml.contains(want), "missing {want} in\n{xml}");
        }
    }
}
