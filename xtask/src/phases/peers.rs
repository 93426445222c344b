//! Peers side by side (issue 14): the same figures, in one run, for Hyperclay Sync (against the
//! reference server), Syncthing (two instances sharing a folder) and rclone (`rclone serve
//! webdav` as the remote, `rclone bisync` on a loop as the sync): save → other side, remote →
//! local, idle footprint with many files, initial sync both ways, and ratios to Hyperclay Sync.
//! Everything stays on 127.0.0.1 in the bench's temp dirs. Every process started here lives in
//! its own process group that is stopped when its handle drops, error or not, and every wait is
//! bounded; it must never signal a process it did not start nor reach beyond loopback.

mod hyperclay;
mod rclone;
mod syncthing;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use hyperclay_protocol::sha256_hex;
use serde_json::{Value, json};

use crate::machine::{ProcSample, load_average};
use crate::report::{Report, Verdict};
use crate::stats::{self, Dist, ratio};
use crate::tree::{self, Mix, TreeFile};
use crate::{Bench, phase_failed};

/// The size of every saved or remotely edited app: the push figure's small save.
const SAVE_BYTES: usize = 20 * 1024;
/// A save or edit not seen on the other side by then counts as lost.
const ARRIVAL_DEADLINE: Duration = Duration::from_secs(60);
/// Saves made before measuring (the first creates the file).
const WARMUP: usize = 2;
/// The Debian packages the peers come from.
const PACKAGES: [&str; 2] = ["syncthing", "rclone"];

/// What every peer is measured on: the same trees, the same counts.
pub struct Workload {
    /// Many small files, synced before the idle window.
    pub idle_tree: Vec<TreeFile>,
    /// The initial-sync tree and its checksums.
    pub init_tree: Vec<TreeFile>,
    pub init_sums: BTreeMap<String, String>,
    pub saves: usize,
    pub remote_edits: usize,
    pub window: Duration,
}

/// Arrival times of one kind of change, in ms, and the changes that never arrived.
#[derive(Default)]
pub struct Latency {
    pub samples: Vec<f64>,
    pub lost: usize,
}

impl Latency {
    fn dist(&self) -> Option<Dist> {
        Dist::of(&self.samples)
    }

    fn to_json(&self) -> Value {
        json!({"ms": self.dist().map(Dist::to_json), "lost": self.lost})
    }
}

/// One peer's idle cost over the window.
pub struct Idle {
    pub rss_kib: u64,
    pub cpu_secs: f64,
    pub seconds: f64,
    /// Which processes were counted.
    pub what: String,
}

impl Idle {
    fn cpu_pct(&self) -> f64 {
        100.0 * self.cpu_secs / self.seconds.max(0.001)
    }
}

/// Everything measured for one peer; a figure that could not be measured stays empty.
#[derive(Default)]
pub struct Figures {
    pub save: Latency,
    pub remote: Latency,
    pub idle: Option<Idle>,
    /// How long it took to get the idle tree in sync on both sides (setup, for the record).
    pub idle_setup_ms: Option<f64>,
    pub init_down_ms: Option<f64>,
    pub init_up_ms: Option<f64>,
    /// The durable copy measured just before each initial sync (Hyperclay Sync only).
    pub floor_down_ms: Option<f64>,
    pub floor_up_ms: Option<f64>,
    /// Exactly what was run, for the report.
    pub how: Vec<String>,
    pub error: Option<String>,
}

type Measure = fn(&Bench, &Workload, &mut Figures) -> Result<()>;

pub fn run(bench: &Bench, report: &mut Report) -> Result<()> {
    install()?;
    let s = &bench.sizes;
    let init_tree = tree::mixed("peer", s.init_files, s.init_bytes, 4);
    let work = Workload {
        idle_tree: tree::many_small("peeridle", s.idle_files, 10),
        init_sums: super::initial::checksums(&init_tree),
        init_tree,
        saves: s.peer_saves,
        remote_edits: s.peer_edits,
        window: s.idle_window,
    };
    let load_before = load_average();
    let peers: [(&str, Measure); 3] = [
        ("Hyperclay Sync", hyperclay::measure),
        ("Syncthing", syncthing::measure),
        ("rclone", rclone::measure),
    ];
    let mut all = Vec::new();
    for (name, measure) in peers {
        eprintln!("peers: {name}");
        let mut f = Figures::default();
        if let Err(e) = measure(bench, &work, &mut f) {
            phase_failed(report, &format!("Peers, {name}"), &e);
            f.error = Some(format!("{e:#}"));
        }
        all.push((name, f));
    }
    record(report, &work, &all, &load_before);
    Ok(())
}

/// Installs the peers from Debian packages when missing: the bench runs as root on the
/// project's machines; anywhere else it says what to run.
fn install() -> Result<()> {
    let missing: Vec<&str> = PACKAGES.into_iter().filter(|p| !on_path(p)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    // SAFETY: geteuid only reads the process's credentials.
    if unsafe { libc::geteuid() } != 0 {
        bail!(
            "{} not installed and the bench is not root: run `sudo apt-get install -y {}`",
            missing.join(" and "),
            missing.join(" ")
        );
    }
    eprintln!("peers: apt-get install -y {}", missing.join(" "));
    let apt = |args: &[&str]| -> Result<bool> {
        let mut cmd = Command::new("apt-get");
        cmd.args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        let mut child = Group::spawn(cmd, "apt-get")?;
        child.wait(Duration::from_secs(900))
    };
    let mut install = vec!["install", "-y"];
    install.extend(&missing);
    // An old package list may not know the packages: refresh it once and try again.
    let installed = apt(&install)? || (apt(&["update"])? && apt(&install)?);
    if !installed {
        bail!("apt-get install -y {} failed", missing.join(" "));
    }
    match PACKAGES.into_iter().find(|p| !on_path(p)) {
        Some(p) => bail!("{p} is still not on PATH after apt-get install"),
        None => Ok(()),
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
}

/// The durable copy of the initial tree (write temp, fsync, rename, per file): the floor the
/// initial-sync target is set against. It is measured right before each of Hyperclay Sync's
/// initial syncs, because on a shared machine the disk's speed changes from minute to minute.
pub fn durable_floor(bench: &Bench, work: &Workload, tag: &str) -> Result<f64> {
    let source = bench.dir(&format!("peers-durable-{tag}-source"));
    tree::write(&source, &work.init_tree)?;
    let t = Instant::now();
    super::initial::durable_copy(&source, &bench.dir(&format!("peers-durable-{tag}-copy")))?;
    Ok(super::ms(t.elapsed()))
}

/// A child in its own process group (so its helpers and workers go with it), stopped on drop:
/// SIGTERM to the group, a grace period, then SIGKILL to the group.
pub struct Group {
    child: Child,
    name: String,
    stopped: bool,
}

impl Group {
    pub fn spawn(mut cmd: Command, name: &str) -> Result<Group> {
        cmd.process_group(0);
        let child = cmd.spawn().with_context(|| format!("starting {name}"))?;
        Ok(Group {
            child,
            name: name.to_owned(),
            stopped: false,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `deadline` for the leader to exit; true when it exited with success. On
    /// timeout the group is stopped and that is an error.
    pub fn wait(&mut self, deadline: Duration) -> Result<bool> {
        let end = Instant::now() + deadline;
        loop {
            if let Some(status) = self.child.try_wait()? {
                self.stop();
                return Ok(status.success());
            }
            if Instant::now() > end {
                self.stop();
                bail!("{} did not finish within {deadline:?}", self.name);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether the leader is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let Ok(pgid) = libc::pid_t::try_from(self.child.id()) else {
            let _ = self.child.kill();
            let _ = self.child.wait();
            return;
        };
        // SAFETY: kill(2) on the process group this handle created (pgid = our child's pid,
        // not yet reaped, so the id cannot have been reused).
        unsafe {
            libc::kill(-pgid, libc::SIGTERM);
        }
        let end = Instant::now() + Duration::from_secs(5);
        while Instant::now() < end && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(20));
        }
        // Members can outlive the leader (Syncthing's worker under its monitor, rclone under
        // the loop's shell); the group id stays theirs while any of them lives.
        // SAFETY: as above.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("finding a free loopback port")?;
    Ok(l.local_addr()?.port())
}

/// Waits until something accepts connections on `127.0.0.1:port`.
pub fn wait_port(port: u16, deadline: Duration, group: &mut Group) -> Result<()> {
    let end = Instant::now() + deadline;
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        if !group.running() {
            bail!("{} exited before it listened on {port}", group.name);
        }
        if Instant::now() > end {
            bail!(
                "{} did not listen on {port} within {deadline:?}",
                group.name
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An app's new content, distinct per seed.
pub fn app_content(seed: u64) -> (Vec<u8>, String) {
    let bytes = tree::html(seed, SAVE_BYTES);
    let sum = sha256_hex(&bytes);
    (bytes, sum)
}

/// Saves in place as an editor does (truncate, write, close); returns when `close` returned.
pub fn save(path: &Path, bytes: &[u8]) -> Result<SystemTime> {
    let mut file = File::create(path).with_context(|| format!("saving {}", path.display()))?;
    file.write_all(bytes)?;
    drop(file);
    Ok(SystemTime::now())
}

/// When `path` first held content `sum`, looking every millisecond, or None after `deadline`.
pub fn wait_content(path: &Path, sum: &str, deadline: Duration) -> Option<SystemTime> {
    let end = Instant::now() + deadline;
    let mut last = None;
    loop {
        let now = stamp(path);
        if now.is_some() && now != last {
            let seen = SystemTime::now();
            last = now;
            if std::fs::read(path).is_ok_and(|b| sha256_hex(&b) == sum) {
                return Some(seen);
            }
        }
        if Instant::now() > end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn stamp(path: &Path) -> Option<(u64, i64, i64, u64)> {
    std::fs::metadata(path).ok().map(|m| {
        (
            m.ino(),
            m.mtime() * 1_000_000_000 + m.mtime_nsec(),
            m.ctime() * 1_000_000_000 + m.ctime_nsec(),
            m.size(),
        )
    })
}

/// A pause of `min`–`max` before the next change, so changes land at every phase of a peer's
/// timers (poll, watcher delay, sync loop) rather than in step with them.
pub fn random_pause(mix: &mut Mix, min: Duration, max: Duration) {
    std::thread::sleep(min + max.saturating_sub(min).mul_f64(mix.unit()));
}

/// Saves `n` apps at `from` (after a warm-up) and times each until `to` holds it: the
/// save → other side figure of the peers whose other side is a folder. Each save waits
/// `pause` (a random length in that range) after the previous one arrived.
pub fn saves_between(
    from: &Path,
    to: &Path,
    n: usize,
    pause: (Duration, Duration),
) -> Result<Latency> {
    let mut mix = Mix::new(14);
    let mut out = Latency::default();
    for i in 0..WARMUP + n {
        let (bytes, sum) = app_content(20_000 + i as u64);
        let saved = save(from, &bytes)?;
        match wait_content(to, &sum, ARRIVAL_DEADLINE) {
            Some(at) if i >= WARMUP => out.samples.push(super::ms_between(at, saved)),
            Some(_) => {}
            None if i >= WARMUP => out.lost += 1,
            None => bail!(
                "warm-up save {i} of {} never reached {}",
                from.display(),
                to.display()
            ),
        }
        random_pause(&mut mix, pause.0, pause.1);
    }
    Ok(out)
}

/// Quiet before an idle window starts, so the tail of the sync that set it up (trims,
/// index writes, the watcher's echoes) is not counted as idle, for every peer alike.
pub const SETTLE: Duration = Duration::from_secs(3);

/// Samples `pid` once a second for `window` (after [`SETTLE`]): RSS at its highest and CPU
/// time used.
pub fn idle_of(pid: u32, window: Duration, what: &str) -> Result<Idle> {
    std::thread::sleep(SETTLE);
    let before = ProcSample::read(pid)?;
    let start = Instant::now();
    let mut rss = before.rss_kib;
    while start.elapsed() < window {
        std::thread::sleep(Duration::from_secs(1).min(window.saturating_sub(start.elapsed())));
        rss = rss.max(ProcSample::read(pid)?.rss_kib);
    }
    let after = ProcSample::read(pid)?;
    Ok(Idle {
        rss_kib: rss.max(after.rss_kib),
        cpu_secs: after.cpu_secs - before.cpu_secs,
        seconds: start.elapsed().as_secs_f64(),
        what: what.to_owned(),
    })
}

/// The children of `pid`, whichever of its threads started them (Go starts them from any).
pub fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|c| {
            c.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// Checks a folder against the initial tree, file by file.
pub fn check_tree(folder: &Path, expected: &BTreeMap<String, String>, what: &str) -> Result<()> {
    let got = super::local_files(folder)?;
    let wrong = expected
        .iter()
        .filter(|(path, sum)| {
            got.get(*path)
                .and_then(|p| std::fs::read(p).ok())
                .is_none_or(|b| sha256_hex(&b) != **sum)
        })
        .count();
    if wrong > 0 || got.len() != expected.len() {
        bail!(
            "{what}: {wrong} of {} files missing or wrong ({} files there)",
            expected.len(),
            got.len()
        );
    }
    Ok(())
}

/// Waits until every file of the tree is in `folder` at its full size (the peers that write
/// under a temp name and rename show a file only once it is complete); returns when.
pub fn wait_tree(folder: &Path, files: &[TreeFile], deadline: Duration) -> Result<Instant> {
    let end = Instant::now() + deadline;
    let mut pending: Vec<&TreeFile> = files.iter().collect();
    loop {
        pending.retain(|f| {
            std::fs::metadata(folder.join(&f.path)).map_or(true, |m| m.len() != f.len as u64)
        });
        if pending.is_empty() {
            return Ok(Instant::now());
        }
        if Instant::now() > end {
            bail!(
                "{} of {} files still missing in {} after {deadline:?}",
                pending.len(),
                files.len(),
                folder.display()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

type Pick = fn(&Figures) -> Option<f64>;

/// How a figure is shown.
enum Unit {
    Ms,
    Mb,
    Pct,
}

impl Unit {
    fn show(&self, v: f64) -> String {
        match self {
            Unit::Ms => format!("{} ms", stats::ms(v)),
            Unit::Mb => format!("{:.1} MB", v / 1000.0),
            Unit::Pct => format!("{v:.2} %"),
        }
    }
}

/// One line of the side-by-side table: lower is better on every line.
struct Line {
    label: String,
    unit: Unit,
    pick: Pick,
}

impl Line {
    fn new(label: &str, unit: Unit, pick: Pick) -> Line {
        Line {
            label: label.to_owned(),
            unit,
            pick,
        }
    }
}

fn record(report: &mut Report, work: &Workload, all: &[(&str, Figures)], load_before: &str) {
    let ours = &all[0].1;
    let load_after = load_average();
    let n = work.idle_tree.len();
    let rows = [
        Line::new("save → other side p50", Unit::Ms, |f| {
            f.save.dist().map(|d| d.p50)
        }),
        Line::new("save → other side p99", Unit::Ms, |f| {
            f.save.dist().map(|d| d.p99)
        }),
        Line::new("remote → local p50", Unit::Ms, |f| {
            f.remote.dist().map(|d| d.p50)
        }),
        Line::new("remote → local p99", Unit::Ms, |f| {
            f.remote.dist().map(|d| d.p99)
        }),
        Line::new(&format!("idle RSS, {n} files"), Unit::Mb, |f| {
            f.idle.as_ref().map(|i| i.rss_kib as f64)
        }),
        Line::new(
            &format!("idle CPU, {n} files, {} s", work.window.as_secs()),
            Unit::Pct,
            |f| f.idle.as_ref().map(Idle::cpu_pct),
        ),
        Line::new("initial sync remote → empty local", Unit::Ms, |f| {
            f.init_down_ms
        }),
        Line::new("initial sync local → empty remote", Unit::Ms, |f| {
            f.init_up_ms
        }),
    ];
    let mut table = String::from(
        "Peers side by side (same run; in brackets: the peer's figure / Hyperclay Sync's, \
         above 1× the peer is slower or bigger; lower is better on every line)\n\n| Figure |",
    );
    for (name, _) in all {
        table.push_str(&format!(" {name} |"));
    }
    table.push_str("\n|---|");
    for _ in all {
        table.push_str("---|");
    }
    for line in &rows {
        table.push_str(&format!("\n| {} |", line.label));
        let base = (line.pick)(ours);
        for (i, (_, f)) in all.iter().enumerate() {
            let text = match ((line.pick)(f), base) {
                (None, _) => "—".to_owned(),
                // A peer's figure and how many times Hyperclay Sync's it is.
                (Some(v), Some(b)) if i > 0 && b > 0.0 => {
                    format!("{} ({})", line.unit.show(v), ratio(v / b))
                }
                (Some(v), _) => line.unit.show(v),
            };
            table.push_str(&format!(" {text} |"));
        }
    }
    let floor = |v: Option<f64>| v.map_or("—".to_owned(), |v| format!("{} ms", stats::ms(v)));
    table.push_str(&format!(
        "\n\nLoad average (1/5/15 min): {load_before} before the peers, {load_after} after; \
         durable copy of the initial tree, just before Hyperclay Sync's download: {}, before \
         its upload: {}",
        floor(ours.floor_down_ms),
        floor(ours.floor_up_ms)
    ));
    for (name, f) in all {
        for how in &f.how {
            table.push_str(&format!("\n\n{name}: {how}"));
        }
        if let Some(i) = &f.idle {
            table.push_str(&format!("\n\n{name}, idle: {}", i.what));
        }
    }
    report.note(table);

    // The verdict rows: Hyperclay Sync against the best peer per figure, lower is better.
    for line in &rows {
        let Some(mine) = (line.pick)(ours) else {
            continue;
        };
        let best = all[1..]
            .iter()
            .filter_map(|(n, f)| (line.pick)(f).map(|v| (n, v)))
            .min_by(|a, b| a.1.total_cmp(&b.1));
        let Some((peer, theirs)) = best else { continue };
        report.row(
            &format!("P. Peers, {}", line.label),
            format!(
                "Hyperclay Sync {}; best peer {peer} {}{}",
                line.unit.show(mine),
                line.unit.show(theirs),
                if mine > 0.0 {
                    format!(" = {} Hyperclay Sync's", ratio(theirs / mine))
                } else {
                    String::new()
                }
            ),
            "better than every peer",
            Verdict::of(mine <= theirs),
        );
    }
    let rclone = all.iter().find(|(n, _)| *n == "rclone").map(|(_, f)| f);
    let directions: [(&str, Pick, Option<f64>); 2] = [
        (
            "remote → empty local",
            |f| f.init_down_ms,
            ours.floor_down_ms,
        ),
        ("local → empty remote", |f| f.init_up_ms, ours.floor_up_ms),
    ];
    for (dir, pick, durable) in directions {
        let (Some(mine), Some(durable)) = (pick(ours), durable) else {
            continue;
        };
        let theirs = rclone.and_then(pick);
        report.row(
            &format!("P. Initial sync {dir} / durable copy"),
            format!(
                "{} ms = {} durable copy ({} ms){}",
                stats::ms(mine),
                ratio(mine / durable.max(1e-9)),
                stats::ms(durable),
                theirs.map_or(String::new(), |t| format!("; rclone {} ms", stats::ms(t)))
            ),
            "≤ 1.5× durable copy and faster than rclone",
            Verdict::of(mine <= 1.5 * durable && theirs.is_some_and(|t| mine < t)),
        );
    }
    let json_of = |f: &Figures| {
        json!({
            "saveToOtherSide": f.save.to_json(), "remoteToLocal": f.remote.to_json(),
            "idle": f.idle.as_ref().map(|i| json!({"rssKiB": i.rss_kib, "cpuSeconds": i.cpu_secs,
                "seconds": i.seconds, "cpuPercent": i.cpu_pct(), "what": i.what})),
            "idleSetupMs": f.idle_setup_ms,
            "initialRemoteToLocalMs": f.init_down_ms, "initialLocalToRemoteMs": f.init_up_ms,
            "how": f.how, "error": f.error,
        })
    };
    let peers: serde_json::Map<String, Value> = all
        .iter()
        .map(|(n, f)| ((*n).to_owned(), json_of(f)))
        .collect();
    report.set(
        "peers",
        json!({"idleFiles": work.idle_tree.len(), "initFiles": work.init_tree.len(),
               "initBytes": work.init_tree.iter().map(|f| f.len as u64).sum::<u64>(),
               "durableCopyBeforeDownMs": ours.floor_down_ms,
               "durableCopyBeforeUpMs": ours.floor_up_ms, "loadBefore": load_before, "loadAfter": load_after,
               "systems": peers}),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};

    fn gone(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| {
            s.rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
        })
    }

    #[test]
    fn stopping_a_group_ends_the_processes_its_leader_started() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 60 & echo $!; wait"])
            .stdout(Stdio::piped());
        let mut group = Group::spawn(cmd, "sh").unwrap();
        let mut line = String::new();
        BufReader::new(group.child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let sleeper: u32 = line.trim().parse().unwrap();
        assert!(!gone(sleeper));
        drop(group);
        let end = Instant::now() + Duration::from_secs(10);
        while !gone(sleeper) && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            gone(sleeper),
            "the leader's child {sleeper} outlived the group"
        );
    }

    #[test]
    fn a_wait_past_its_deadline_stops_the_group_and_says_so() {
        let mut cmd = Command::new("sleep");
        cmd.arg("60");
        let mut group = Group::spawn(cmd, "sleep").unwrap();
        let pid = group.pid();
        let err = group.wait(Duration::from_millis(100)).unwrap_err();
        assert!(err.to_string().contains("did not finish"), "{err}");
        assert!(gone(pid));
    }

    #[test]
    fn content_is_seen_only_once_it_matches() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.html");
        let (old, _) = app_content(1);
        let (new, sum) = app_content(2);
        std::fs::write(&path, &old).unwrap();
        assert_eq!(wait_content(&path, &sum, Duration::from_millis(50)), None);
        let writer = {
            let path = path.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                save(&path, &new).unwrap()
            })
        };
        assert!(wait_content(&path, &sum, Duration::from_secs(10)).is_some());
        writer.join().unwrap();
    }
}
