//! rclone's side of the peers table: `rclone serve webdav` on 127.0.0.1 is the remote (its
//! served dir is the other side), and the sync is what a user sets up with rclone alone:
//! `rclone bisync LOCAL REMOTE` in a shell loop, one run after the other with a 1 s pause (the
//! most favourable loop; a cron job would add up to its period). Initial sync is a plain
//! `rclone copy` each way, rclone's fastest one-shot. rclone gets an empty config file and its
//! own cache and bisync work dirs, so nothing of the user's rclone setup is read or written.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};

use super::{
    ARRIVAL_DEADLINE, Figures, Group, Idle, Latency, WARMUP, Workload, app_content, children,
    free_port, random_pause, saves_between, wait_content, wait_port,
};
use crate::Bench;
use crate::machine::ProcSample;
use crate::phases::{SYNC_DEADLINE, ms, ms_between};
use crate::tree::{self, Mix};

/// The user's sync loop: bounded in runs; the bench stops it long before.
const LOOP: &str = r#"i=0; while [ "$i" -lt 3600 ]; do rclone bisync "$1" :webdav: --workdir "$2" >>"$3" 2>&1; i=$((i + 1)); sleep 1; done"#;

/// WebDAV gives modification times to the second and `rclone serve webdav` stamps an upload
/// with its own clock, so bisync takes a same-size save made within a second of the last upload
/// for the file it already has ("There was nothing to transfer"): the save is lost until the
/// next edit. Saves here are made at least 1.5 s apart so the figure measures the loop, not
/// that loss (which the report states), and up to 5 s more, about one turn of the loop with
/// 10,000 files, so that they land at every phase of it rather than just after the run that
/// brought the previous one.
const SAVE_PAUSE: (Duration, Duration) = (Duration::from_millis(1500), Duration::from_millis(6500));

/// How often the loop's rclone runs are looked at for their RSS.
const RSS_LOOK: Duration = Duration::from_millis(100);

pub fn measure(bench: &Bench, work: &Workload, f: &mut Figures) -> Result<()> {
    f.how.push(format!(
        "remote: `rclone serve webdav DIR --addr 127.0.0.1:PORT`; rclone reaches it as \
         `:webdav:` with RCLONE_WEBDAV_URL=http://127.0.0.1:PORT and RCLONE_WEBDAV_VENDOR=owncloud \
         (bisync refuses a remote without modification times); sync: after one `rclone bisync \
         LOCAL :webdav: --resync`, the loop `{}`; initial sync: `rclone copy SRC :webdav:` and \
         `rclone copy :webdav: DEST` (defaults: 4 transfers, 8 checkers); a remote edit is a \
         WebDAV PUT to the server; saves and edits 1.5–6.5 s apart: at least 1.5 s because \
         bisync skips a same-size save made within a second of the last upload (WebDAV keeps \
         modification times to the second), the rest spreads them over the loop's turn",
        LOOP
    ));

    // The idle tree on both sides (same bytes and times, as after a first sync), then bisync.
    let dir = bench.dir("peers-rc-idle");
    let local = dir.join("local");
    let served = dir.join("served");
    tree::write(&local, &work.idle_tree)?;
    let t = Instant::now();
    copy_tree(&local, &served)?;
    let remote = Remote::serve(&dir, &served)?;
    remote.run(&[
        "bisync".as_ref(),
        local.as_os_str(),
        ":webdav:".as_ref(),
        "--resync".as_ref(),
        "--workdir".as_ref(),
        dir.join("bisync").as_os_str(),
    ])?;
    let mut sync = remote.sync_loop(&local, &dir)?;
    f.idle_setup_ms = Some(ms(t.elapsed()));

    eprintln!("peers: rclone idle for {:?}", work.window);
    f.idle = Some(loop_idle(&mut sync, &remote, work.window)?);

    eprintln!("peers: rclone, {} saves local → served dir", work.saves);
    f.save = saves_between(
        &local.join("peer-save.html"),
        &served.join("peer-save.html"),
        work.saves,
        SAVE_PAUSE,
    )?;
    eprintln!(
        "peers: rclone, {} edits PUT to the remote → local",
        work.remote_edits
    );
    f.remote = remote_edits(&remote, &local.join("peer-remote.html"), work.remote_edits)?;
    drop(sync);
    drop(remote);

    // Initial sync both ways through a fresh server.
    let dir = bench.dir("peers-rc-init");
    let source = dir.join("source");
    tree::write(&source, &work.init_tree)?;
    let served = dir.join("served");
    std::fs::create_dir_all(&served)?;
    let remote = Remote::serve(&dir, &served)?;
    eprintln!("peers: rclone copy up");
    let t = Instant::now();
    remote.run(&["copy".as_ref(), source.as_os_str(), ":webdav:".as_ref()])?;
    f.init_up_ms = Some(ms(t.elapsed()));
    super::check_tree(&served, &work.init_sums, "rclone copy up")?;
    eprintln!("peers: rclone copy down");
    let down = dir.join("down");
    let t = Instant::now();
    remote.run(&["copy".as_ref(), ":webdav:".as_ref(), down.as_os_str()])?;
    f.init_down_ms = Some(ms(t.elapsed()));
    super::check_tree(&down, &work.init_sums, "rclone copy down")?;
    Ok(())
}

/// A running `rclone serve webdav` and how to reach it.
struct Remote {
    serve: Group,
    env: Vec<(String, PathBuf)>,
    url: String,
    log: PathBuf,
}

impl Remote {
    fn serve(dir: &Path, served: &Path) -> Result<Remote> {
        std::fs::create_dir_all(dir)?;
        let config = dir.join("rclone.conf");
        std::fs::write(&config, "")?;
        let env = vec![
            ("RCLONE_CONFIG".to_owned(), config),
            ("RCLONE_CACHE_DIR".to_owned(), dir.join("cache")),
        ];
        let port = free_port()?;
        let log = dir.join("rclone.log");
        let mut cmd = Command::new("rclone");
        cmd.args(["serve", "webdav"])
            .arg(served)
            .args(["--addr", &format!("127.0.0.1:{port}")])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("serve.log"))?);
        let mut serve = Group::spawn(cmd, "rclone serve webdav")?;
        wait_port(port, Duration::from_secs(30), &mut serve)?;
        Ok(Remote {
            serve,
            env,
            url: format!("http://127.0.0.1:{port}"),
            log,
        })
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("RCLONE_WEBDAV_URL", &self.url)
            .env("RCLONE_WEBDAV_VENDOR", "owncloud")
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        cmd
    }

    /// One rclone command to its end (bounded by the sync deadline).
    fn run(&self, args: &[&std::ffi::OsStr]) -> Result<()> {
        let mut cmd = self.command("rclone");
        cmd.args(args).stderr(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.log)?,
        );
        let what = format!("rclone {}", args[0].to_string_lossy());
        if !Group::spawn(cmd, &what)?.wait(SYNC_DEADLINE)? {
            bail!("{what} failed; see {}", self.log.display());
        }
        Ok(())
    }

    /// The user's bisync loop on `local`, running until dropped.
    fn sync_loop(&self, local: &Path, dir: &Path) -> Result<Group> {
        let mut cmd = self.command("sh");
        cmd.args(["-c", LOOP, "sh"])
            .arg(local)
            .arg(dir.join("bisync"))
            .arg(&self.log)
            .stderr(Stdio::null());
        Group::spawn(cmd, "the rclone bisync loop")
    }
}

/// Another client's saves to the remote: a WebDAV `PUT` (the server caches its listings, so
/// writing into its dir behind its back would go unseen for minutes), each timed from just
/// before the request until `local` holds the new bytes.
fn remote_edits(remote: &Remote, local: &Path, n: usize) -> Result<Latency> {
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .new_agent();
    let url = format!("{}/peer-remote.html", remote.url);
    let mut mix = Mix::new(15);
    let mut out = Latency::default();
    for i in 0..WARMUP + n {
        let (bytes, sum) = app_content(30_000 + i as u64);
        let sent = SystemTime::now();
        agent
            .put(&url)
            .send(&bytes[..])
            .context("PUT to rclone serve webdav")?;
        match wait_content(local, &sum, ARRIVAL_DEADLINE) {
            Some(at) if i >= WARMUP => out.samples.push(ms_between(at, sent)),
            Some(_) => {}
            None if i >= WARMUP => out.lost += 1,
            None => bail!("remote warm-up edit {i} never reached {}", local.display()),
        }
        random_pause(&mut mix, SAVE_PAUSE.0, SAVE_PAUSE.1);
    }
    Ok(out)
}

/// The loop's cost over `window`: CPU of every rclone run in it (the shell's reaped children
/// plus the one running at either end) and the highest RSS of a run, sampled every 100 ms.
fn loop_idle(sync: &mut Group, remote: &Remote, window: Duration) -> Result<Idle> {
    std::thread::sleep(super::SETTLE);
    let sh = sync.pid();
    let before = loop_cpu(sh)?;
    let start = Instant::now();
    let mut rss = 0;
    let mut runs = std::collections::BTreeSet::new();
    while start.elapsed() < window {
        for pid in children(sh) {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if comm.trim() != "rclone" {
                continue;
            }
            if let Ok(s) = ProcSample::read(pid) {
                rss = rss.max(s.rss_kib);
                runs.insert(pid);
            }
        }
        std::thread::sleep(RSS_LOOK);
    }
    let after = loop_cpu(sh)?;
    if !sync.running() {
        bail!("the bisync loop stopped; see {}", remote.log.display());
    }
    let serve = ProcSample::read(remote.serve.pid())?;
    Ok(Idle {
        rss_kib: rss,
        cpu_secs: after - before,
        seconds: start.elapsed().as_secs_f64(),
        what: format!(
            "the bisync loop: {} runs seen; RSS is the largest of a run, CPU all runs' together \
             (rclone serve webdav, the remote, held {:.1} MB besides)",
            runs.len(),
            serve.rss_kib as f64 / 1000.0
        ),
    })
}

/// CPU seconds used so far by the loop's shell, its finished runs and the run now going.
fn loop_cpu(sh: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{sh}/stat"))
        .context("reading the loop's /proc stat")?;
    let fields: Vec<u64> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("unexpected /proc/PID/stat")?
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    // utime, stime, cutime, cstime are fields 14–17; the slice starts at field 3.
    let ticks: u64 = fields.get(11..15).map_or(0, |f| f.iter().sum());
    // SAFETY: sysconf only reads a configuration value.
    let hz = match unsafe { libc::sysconf(libc::_SC_CLK_TCK) } {
        hz if hz > 0 => hz as f64,
        _ => 100.0,
    };
    let running: f64 = children(sh)
        .into_iter()
        .filter_map(|p| ProcSample::read(p).ok())
        .map(|s| s.cpu_secs)
        .sum();
    Ok(ticks as f64 / hz + running)
}

/// `cp -a`: the same bytes and modification times on the served side.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    let status = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .context("running cp -a")?;
    if !status.success() {
        bail!("cp -a failed ({status})");
    }
    Ok(())
}
