//! Issue 22's memory at scale: how much the idle headless client holds after a first sync both
//! ways and after a burst, and at rest after a restart, at several tree sizes, with the cost per
//! file over an empty client's. Files are an hour old when the client first sees them (as a
//! real folder's are), so no write is too fresh to trust. It only reads the client's memory
//! and folder, and writes only into its own temp dirs.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use hyperclay_protocol::sha256_hex;
use serde_json::{Value, json};

use super::{SYNC_DEADLINE, local_files};
use crate::Bench;
use crate::machine::ProcSample;
use crate::procs::{Client, Mode, Server};
use crate::report::{Report, Verdict};
use crate::tree::{self, TreeFile};

/// The idle client after a first sync or a burst of 50,000 files (issue 22).
const IDLE_50K_MB: f64 = 45.0;
/// At rest after a restart, per file over an empty client (issue 22).
const REST_PER_FILE_B: f64 = 500.0;
/// 10,000 files at rest after a restart (issue 22).
const REST_10K_MB: f64 = 15.0;

/// One tree the phase syncs: its files (twice over, the burst's copy with other names and
/// contents, since app names are unique across the server) and what the report calls it.
struct Case {
    label: String,
    files: Vec<TreeFile>,
    burst: Vec<TreeFile>,
}

/// What one client held once idle.
#[derive(Clone, Copy)]
struct Held {
    /// How long the sync (or the burst) took, to the last commit or the client's "synced".
    seconds: f64,
    rss_kib: u64,
    anon_kib: u64,
    /// The peak over the client's life so far (VmHWM).
    peak_kib: u64,
    /// Where the anonymous memory is, from /proc/PID/smaps.
    anon: AnonMaps,
}

/// The anonymous resident memory by the kind of mapping that holds it: the main thread's heap,
/// the other threads' malloc arenas (a 64 MiB reservation, its unused tail `---p`), thread
/// stacks (after a one-page `---p` guard) and everything else (blocks malloc maps on their own,
/// the binary's own data).
#[derive(Clone, Copy, Default)]
struct AnonMaps {
    heap_kib: u64,
    arenas_kib: u64,
    stacks_kib: u64,
    other_kib: u64,
}

/// One line of /proc/PID/maps with the anonymous memory smaps gives it.
struct Mapping {
    lo: u64,
    hi: u64,
    reserved: bool,
    name: String,
    anon_kib: u64,
}

impl AnonMaps {
    fn read(pid: u32) -> AnonMaps {
        let text = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
        let mut maps: Vec<Mapping> = Vec::new();
        for line in text.lines() {
            let mut fields = line.split_whitespace();
            let first = fields.next().unwrap_or_default();
            if let Some((lo, hi)) = first.split_once('-')
                && let (Ok(lo), Ok(hi)) = (u64::from_str_radix(lo, 16), u64::from_str_radix(hi, 16))
            {
                let perms = fields.next().unwrap_or_default();
                maps.push(Mapping {
                    lo,
                    hi,
                    reserved: perms.starts_with("---"),
                    name: fields.nth(3).unwrap_or_default().to_owned(),
                    anon_kib: 0,
                });
            } else if first == "Anonymous:"
                && let Some(m) = maps.last_mut()
            {
                m.anon_kib += fields.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            }
        }
        const ARENA: u64 = 64 << 20;
        let mut out = AnonMaps::default();
        for (i, m) in maps.iter().enumerate() {
            let next = maps.get(i + 1).filter(|n| n.lo == m.hi && n.reserved);
            let prev = i
                .checked_sub(1)
                .map(|j| &maps[j])
                .filter(|p| p.hi == m.lo && p.reserved);
            let slot = if m.name == "[heap]" {
                &mut out.heap_kib
            } else if !m.name.is_empty() {
                &mut out.other_kib
            } else if m.lo.is_multiple_of(ARENA)
                && (m.hi - m.lo == ARENA || next.is_some_and(|n| n.hi - m.lo == ARENA))
            {
                &mut out.arenas_kib
            } else if prev.is_some_and(|p| p.hi - p.lo == 4096) {
                &mut out.stacks_kib
            } else {
                &mut out.other_kib
            };
            *slot += m.anon_kib;
        }
        out
    }

    fn to_json(self) -> Value {
        json!({"heapKiB": self.heap_kib, "threadArenasKiB": self.arenas_kib,
               "threadStacksKiB": self.stacks_kib, "otherKiB": self.other_kib})
    }
}

impl Held {
    fn mb(kib: u64) -> f64 {
        kib as f64 / 1000.0
    }

    fn to_json(self) -> Value {
        json!({"seconds": self.seconds, "rssKiB": self.rss_kib, "anonKiB": self.anon_kib,
               "peakKiB": self.peak_kib, "anonByMapping": self.anon.to_json()})
    }

    fn brief(self) -> String {
        format!(
            "{:.1} s, idle {:.1} MB (anon {:.1}: heap {:.1}, thread arenas {:.1}, stacks {:.1}; \
             peak {:.1})",
            self.seconds,
            Self::mb(self.rss_kib),
            Self::mb(self.anon_kib),
            Self::mb(self.anon.heap_kib),
            Self::mb(self.anon.arenas_kib),
            Self::mb(self.anon.stacks_kib),
            Self::mb(self.peak_kib)
        )
    }
}

pub fn run(bench: &Bench, report: &mut Report) -> Result<()> {
    let s = &bench.sizes;
    let server = Server::start(&bench.server_bin, &bench.dir("scale-server"))?;
    let empty = empty_client(bench, &server)?;
    report.set("scaleEmpty", empty.to_json());
    report.row(
        "22. Memory at scale: an empty client (empty account and folder), idle",
        format!(
            "{:.1} MB (anon {:.1} MB)",
            Held::mb(empty.rss_kib),
            Held::mb(empty.anon_kib)
        ),
        "",
        Verdict::Info,
    );
    let mut cases: Vec<Case> = Vec::new();
    for (k, &n) in s.scale_files.iter().enumerate() {
        let (a, b) = seeds(k);
        cases.push(Case {
            label: format!("{} files in 100 folders", count(n as u64)),
            files: tree::many_small(&format!("sc{k}u"), n, a),
            burst: tree::many_small(&format!("sc{k}b"), n, b),
        });
    }
    let k = s.scale_files.len();
    let (a, b) = seeds(k);
    cases.push(Case {
        label: format!(
            "{} folders, one file in each",
            count(s.scale_folders as u64)
        ),
        files: tree::one_per_folder(&format!("sc{k}u"), s.scale_folders, a),
        burst: tree::one_per_folder(&format!("sc{k}b"), s.scale_folders, b),
    });
    let mut all = Vec::new();
    for (k, case) in cases.iter().enumerate() {
        eprintln!("scale: {}", case.label);
        match one_case(bench, &server, k, case, empty, report) {
            Ok(v) => all.push(v),
            Err(e) => crate::phase_failed(report, &format!("22. Scale, {}", case.label), &e),
        }
    }
    report.set("scale", Value::Array(all));
    Ok(())
}

/// Content seeds far enough apart that no two trees share a file's bytes (the commits are
/// matched by checksum): a tree of `n` files uses seeds `seed × 7919 + 0..n`.
fn seeds(k: usize) -> (u64, u64) {
    let k = k as u64;
    (1000 * (2 * k + 1), 1000 * (2 * k + 2))
}

fn empty_client(bench: &Bench, server: &Server) -> Result<Held> {
    let token = server.account("scale-empty")?;
    let mut client = Client::new(
        &bench.client_bin,
        server.url(),
        &token,
        &bench.dir("scale-empty-home"),
        &bench.dir("scale-empty-folder"),
    )?;
    let spawned = client.spawn(&Mode::Headless)?;
    let synced = client.wait_synced(SYNC_DEADLINE)?;
    let held = idle(&client, bench.sizes.scale_idle, synced - spawned)?;
    client.stop()?;
    Ok(held)
}

fn one_case(
    bench: &Bench,
    server: &Server,
    k: usize,
    case: &Case,
    empty: Held,
    report: &mut Report,
) -> Result<Value> {
    let n = case.files.len();
    let wait = bench.sizes.scale_idle;
    let dir = |what: &str| bench.dir(&format!("scale-{k}-{what}"));
    let stage = dir("tree");
    let burst_stage = dir("burst-tree");
    write_aged(&stage, &case.files)?;
    write_aged(&burst_stage, &case.burst)?;
    let sums: Vec<String> = case.files.iter().map(|f| sha256_hex(&f.bytes())).collect();
    let burst_sums: Vec<String> = case.burst.iter().map(|f| sha256_hex(&f.bytes())).collect();

    // Local → empty remote, then the same client restarted with everything in sync.
    let token = server.account(&format!("scale-{k}"))?;
    let mut up = Client::new(
        &bench.client_bin,
        server.url(),
        &token,
        &dir("up-home"),
        &dir("up-folder"),
    )?;
    copy_tree(&stage, &up.folder)?;
    let spawned = up.spawn(&Mode::Headless)?;
    up.wait_synced(SYNC_DEADLINE)?;
    all_committed(server, &sums)?;
    let after_up = idle(&up, wait, spawned.elapsed())?;
    up.stop()?;
    let spawned = up.spawn(&Mode::Headless)?;
    let synced = up.wait_synced(SYNC_DEADLINE)?;
    let rest = idle(&up, wait, synced - spawned)?;
    let restart_transfers = up.transfers_logged();
    up.stop()?;

    // Remote → empty local: a second client of the same account.
    let mut down = Client::new(
        &bench.client_bin,
        server.url(),
        &token,
        &dir("down-home"),
        &dir("down-folder"),
    )?;
    let spawned = down.spawn(&Mode::Headless)?;
    let synced = down.wait_synced(SYNC_DEADLINE)?;
    let after_down = idle(&down, wait, synced - spawned)?;
    let arrived = local_files(&down.folder)?.len();
    down.stop()?;

    // A burst: the tree copied into the folder of a running idle client (its own account).
    let burst_token = server.account(&format!("scale-{k}-burst"))?;
    let mut burst = Client::new(
        &bench.client_bin,
        server.url(),
        &burst_token,
        &dir("burst-home"),
        &dir("burst-folder"),
    )?;
    burst.spawn(&Mode::Headless)?;
    burst.wait_synced(SYNC_DEADLINE)?;
    std::thread::sleep(Duration::from_secs(1));
    let copied = Instant::now();
    copy_tree(&burst_stage, &burst.folder)?;
    all_committed(server, &burst_sums)?;
    let after_burst = idle(&burst, wait, copied.elapsed())?;
    burst.stop()?;

    let per_file = (rest.rss_kib as f64 - empty.rss_kib as f64) * 1000.0 / n as f64;
    let per_file_anon = (rest.anon_kib as f64 - empty.anon_kib as f64) * 1000.0 / n as f64;
    let idle_max = after_up
        .rss_kib
        .max(after_down.rss_kib)
        .max(after_burst.rss_kib);
    let mut targets = vec![format!("≤ {REST_PER_FILE_B:.0} B/file at rest")];
    let mut met = per_file <= REST_PER_FILE_B && arrived == n && restart_transfers == 0;
    if n == 50_000 {
        targets.push(format!("idle ≤ {IDLE_50K_MB:.0} MB"));
        met &= Held::mb(idle_max) <= IDLE_50K_MB;
    }
    if n == 10_000 {
        targets.push(format!("at rest ≤ {REST_10K_MB:.0} MB"));
        met &= Held::mb(rest.rss_kib) <= REST_10K_MB;
    }
    let mut measured = format!(
        "up: {}; down: {}; burst: {}; at rest after restart: {} = {:.0} B/file over empty \
         (anon {:.0} B/file)",
        after_up.brief(),
        after_down.brief(),
        after_burst.brief(),
        rest.brief(),
        per_file,
        per_file_anon,
    );
    if arrived != n {
        measured.push_str(&format!("; **only {arrived} of {n} files came down**"));
    }
    if restart_transfers > 0 {
        measured.push_str(&format!(
            "; **{restart_transfers} transfers at the restart although nothing changed**"
        ));
    }
    report.row(
        &format!("22. Scale, {}", case.label),
        measured,
        &targets.join("; "),
        Verdict::of(met),
    );
    Ok(json!({
        "case": case.label, "files": n, "up": after_up.to_json(), "rest": rest.to_json(),
        "down": after_down.to_json(), "burst": after_burst.to_json(),
        "restBytesPerFile": per_file, "restAnonBytesPerFile": per_file_anon,
        "arrived": arrived, "restartTransfers": restart_transfers,
    }))
}

/// The client's memory after `wait` idle; `seconds` is what the row says the sync took.
fn idle(client: &Client, wait: Duration, took: Duration) -> Result<Held> {
    std::thread::sleep(wait);
    let pid = client.pid().context("the client is not running")?;
    let s = ProcSample::read(pid)?;
    Ok(Held {
        seconds: took.as_secs_f64(),
        rss_kib: s.rss_kib,
        anon_kib: s.anon_kib,
        peak_kib: s.hwm_kib,
        anon: AnonMaps::read(pid),
    })
}

fn all_committed(server: &Server, sums: &[String]) -> Result<()> {
    if server.wait_all_commits(sums, SYNC_DEADLINE).is_none() {
        bail!("not every file reached the server within {SYNC_DEADLINE:?}");
    }
    Ok(())
}

/// Writes `files` under `root` with an mtime an hour back, as a real folder's files are.
fn write_aged(root: &Path, files: &[TreeFile]) -> Result<()> {
    tree::write(root, files)?;
    let then = SystemTime::now() - Duration::from_secs(3600);
    for f in files {
        let path = root.join(&f.path);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|file| file.set_modified(then))
            .with_context(|| format!("dating {}", path.display()))?;
    }
    Ok(())
}

/// `cp -a from/. to`: one burst of creates, mtimes kept, as a user copying a tree in.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    let status = Command::new("cp")
        .arg("-a")
        .arg(from.join("."))
        .arg(to)
        .status()
        .context("running cp")?;
    if !status.success() {
        bail!(
            "cp -a {} {} failed ({status})",
            from.display(),
            to.display()
        );
    }
    Ok(())
}

/// `50000` as `50,000`.
fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
