//! Figures 3, 5 and 6, all about an account of many unchanged files: the cost of one incremental
//! poll against a full listing (bytes on the wire, round trip), the client's start-up with
//! everything already in sync, and its idle footprint (RSS, CPU, wake-ups) headless and as the
//! tray under Xvfb, plus the release binaries' sizes. It only reads the client's folder.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hyperclay_protocol::ChangesResponse;
use serde_json::json;

use super::{SYNC_DEADLINE, local_files, ms, seed};
use crate::http::{Api, cursor_query, raw_get};
use crate::machine::ProcSample;
use crate::procs::{Client, Mode, Server};
use crate::report::{Report, Verdict};
use crate::stats::{self, Dist};
use crate::{Bench, Phase, tree};
use hyperclay_testkit::screen::{Screen, TrayHost};
use hyperclay_testkit::wait;

const SEED_THREADS: usize = 8;

pub fn run(bench: &Bench, report: &mut Report) -> Result<()> {
    let n = bench.sizes.idle_files;
    let server = Server::start(&bench.server_bin, &bench.dir("idle-server"))?;
    let token = server.account("idle")?;
    let api = Api::new(server.url(), &token);
    eprintln!("idle: seeding {n} files");
    let files = tree::many_small("idle", n, 10);
    let t = Instant::now();
    seed(&api, &files, SEED_THREADS)?;
    let seeded = t.elapsed();
    report.set(
        "seed",
        json!({"files": n, "threads": SEED_THREADS, "seconds": seeded.as_secs_f64()}),
    );

    if bench.wants(Phase::Poll) {
        poll_cost(bench, &server, &token, n, report)?;
    }
    let wants_client = [Phase::Startup, Phase::Footprint, Phase::Tray]
        .iter()
        .any(|p| bench.wants(*p));
    if !wants_client {
        return Ok(());
    }
    let mut client = Client::new(
        &bench.client_bin,
        server.url(),
        &token,
        &bench.dir("idle-home"),
        &bench.dir("idle-folder"),
    )?;
    eprintln!("idle: first sync of {n} files");
    let spawned = client.spawn(&Mode::Headless)?;
    let synced = client.wait_synced(SYNC_DEADLINE)?;
    let first = synced - spawned;
    let local = local_files(&client.folder)?.len();
    client.stop()?;
    report.set(
        "idleFirstSync",
        json!({"files": n, "seconds": first.as_secs_f64(), "localFiles": local}),
    );
    report.row(
        &format!("(5.) First sync of those {n} small files, remote → empty local"),
        format!("{:.2} s; {local} files arrived", first.as_secs_f64()),
        "",
        if local == n {
            Verdict::Info
        } else {
            Verdict::Missed
        },
    );

    if bench.wants(Phase::Startup) || bench.wants(Phase::Footprint) {
        eprintln!("idle: start-up with {n} files in sync");
        let spawned = client.spawn(&Mode::Headless)?;
        let synced = client.wait_synced(SYNC_DEADLINE)?;
        let startup = ms(synced - spawned);
        let transfers = client.transfers_logged();
        report.set(
            "startup",
            json!({"files": n, "ms": startup, "transfers": transfers}),
        );
        if bench.wants(Phase::Startup) {
            let extra = if transfers > 0 {
                format!("; **{transfers} transfers although nothing changed**")
            } else {
                String::new()
            };
            report.row(
                &format!("5. Start-up, {n} files in sync: spawn → first session done"),
                format!("{} ms{extra}", stats::ms(startup)),
                "≤ 1000 ms",
                Verdict::of(startup <= 1000.0 && transfers == 0),
            );
        }
        if bench.wants(Phase::Footprint) {
            let pid = client.pid().context("the client is not running")?;
            eprintln!("idle: headless footprint for {:?}", bench.sizes.idle_window);
            let f = footprint(pid, bench.sizes.idle_window, &server)?;
            report.set("footprintHeadless", f.to_json());
            report.row(
                &format!(
                    "6. Footprint, run --headless, {n} files, idle {} s",
                    bench.sizes.idle_window.as_secs()
                ),
                f.summary(),
                "RSS ≤ 20 MB; CPU ≈ 0; wake-ups only to learn of changes (≤ 65 a minute)",
                Verdict::of(
                    f.rss_max_kib as f64 <= 20.0 * 1000.0
                        && f.cpu_pct < 0.5
                        && f.quiet_between_polls(),
                ),
            );
            binary_sizes(bench, report)?;
        }
        client.stop()?;
    }

    if bench.wants(Phase::Tray) {
        eprintln!("idle: tray footprint under Xvfb");
        match tray_footprint(bench, &mut client, &server, n) {
            Ok((f, docked)) => {
                report.set("footprintTray", f.to_json());
                report.row(
                    &format!(
                        "6. Footprint, tray under Xvfb + trayer, {n} files, idle {} s",
                        bench.sizes.idle_window.as_secs()
                    ),
                    format!(
                        "{}{}",
                        f.summary(),
                        if docked {
                            ""
                        } else {
                            "; the icon never docked"
                        }
                    ),
                    "RSS ≤ 40 MB; CPU ≈ 0; wake-ups only to learn of changes (≤ 65 a minute)",
                    Verdict::of(
                        f.rss_max_kib as f64 <= 40.0 * 1000.0
                            && f.cpu_pct < 0.5
                            && f.quiet_between_polls(),
                    ),
                );
            }
            Err(e) => crate::phase_failed(report, "6. Footprint, tray", &e),
        }
    }
    Ok(())
}

fn poll_cost(
    bench: &Bench,
    server: &Server,
    token: &str,
    n: usize,
    report: &mut Report,
) -> Result<()> {
    let host = server.host_port();
    // A full listing, paged as the client pages it.
    let (mut req_bytes, mut resp_bytes, mut pages, mut entries) = (0usize, 0usize, 0usize, 0usize);
    let mut full_time = Duration::ZERO;
    let mut cursor: Option<String> = None;
    loop {
        let mut path = "/api/local-sync/changes?limit=1000".to_owned();
        if let Some(c) = &cursor {
            path = format!("{path}&{}", cursor_query(c));
        }
        let ex = raw_get(host, &path, token)?;
        if ex.status != 200 {
            bail!("full listing: HTTP {}", ex.status);
        }
        let page: ChangesResponse = serde_json::from_slice(&ex.body)?;
        req_bytes += ex.request_bytes;
        resp_bytes += ex.response_bytes;
        full_time += ex.elapsed;
        pages += 1;
        entries += page.entries.len();
        cursor = Some(page.cursor);
        if !page.has_more {
            break;
        }
    }
    let cursor = cursor.unwrap_or_default();
    // Incremental polls with nothing changed, as the client makes every 10 s.
    let path = format!(
        "/api/local-sync/changes?limit=1000&{}",
        cursor_query(&cursor)
    );
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..bench.sizes.poll_samples {
        let ex = raw_get(host, &path, token)?;
        let page: ChangesResponse = serde_json::from_slice(&ex.body)?;
        if ex.status != 200 || !page.entries.is_empty() {
            bail!(
                "an incremental poll with nothing changed returned {} entries",
                page.entries.len()
            );
        }
        times.push(ms(ex.elapsed));
        last = Some(ex);
    }
    let last = last.context("no poll samples")?;
    let d = Dist::of(&times).context("no poll samples")?;
    let inc_total = last.request_bytes + last.response_bytes;
    report.set(
        "pollCost",
        json!({
            "files": n, "incremental": {"requestBytes": last.request_bytes,
            "responseBytes": last.response_bytes, "bodyBytes": last.body.len(), "ms": d.to_json()},
            "full": {"pages": pages, "entries": entries, "requestBytes": req_bytes,
                     "responseBytes": resp_bytes, "ms": ms(full_time)},
        }),
    );
    report.row(
        &format!(
            "3. Poll cost, {n} files, nothing changed (n = {}): bytes on the wire",
            d.n
        ),
        format!(
            "{} B (request {} B, of it the JWT ≈ {} B; reply {} B, body {} B)",
            inc_total,
            last.request_bytes,
            token.len(),
            last.response_bytes,
            last.body.len()
        ),
        "< 1 KB",
        Verdict::of(inc_total < 1024),
    );
    report.row(
        "3. Poll cost: round trip on loopback p50/p90/p99/max",
        d.brief(),
        "< 5 ms",
        Verdict::of(d.p99 < 5.0),
    );
    report.row(
        &format!("3. Full listing, {n} files, for comparison"),
        format!(
            "{} in {pages} pages ({entries} entries), {} ms",
            stats::bytes((req_bytes + resp_bytes) as u64),
            stats::ms(ms(full_time))
        ),
        "",
        Verdict::Info,
    );
    Ok(())
}

/// What a process cost while idle.
struct Footprint {
    seconds: f64,
    rss_max_kib: u64,
    rss_end_kib: u64,
    /// The peak over the process's whole life, its first sync included.
    hwm_kib: u64,
    anon_end_kib: u64,
    file_end_kib: u64,
    pss_end_kib: u64,
    threads: u64,
    cpu_secs: f64,
    cpu_pct: f64,
    switches: u64,
    polls: u64,
    by_thread: BTreeMap<String, u64>,
}

/// See [`Footprint::quiet_between_polls`].
const WAKE_UPS_PER_IDLE_MINUTE: f64 = 65.0;

impl Footprint {
    /// "No wake-ups except to learn of changes", per minute idle: the budget the 10 s poll had
    /// (6 polls × (a timer wake-up and its HTTP call's few: connect, send, reply) ≤ 10, + 5).
    /// Counted per minute, not per request: a long poll makes fewer, longer requests, each
    /// answered on its own thread, so a per-request count would punish the quieter design.
    fn quiet_between_polls(&self) -> bool {
        self.switches as f64 <= WAKE_UPS_PER_IDLE_MINUTE * self.seconds / 60.0
    }

    fn summary(&self) -> String {
        let busiest: Vec<String> = {
            let mut v: Vec<(&String, &u64)> = self.by_thread.iter().collect();
            v.sort_by(|a, b| b.1.cmp(a.1));
            v.into_iter()
                .take(3)
                .map(|(k, n)| format!("{k} {n}"))
                .collect()
        };
        format!(
            "RSS max {:.1} MB (at the end: anon {:.1} MB, file-backed {:.1} MB, PSS {:.1} MB; peak since start {:.1} MB); CPU {:.2} s = {:.2} %; {} wake-ups ({}) for {} polls; {} threads",
            self.rss_max_kib as f64 / 1000.0,
            self.anon_end_kib as f64 / 1000.0,
            self.file_end_kib as f64 / 1000.0,
            self.pss_end_kib as f64 / 1000.0,
            self.hwm_kib as f64 / 1000.0,
            self.cpu_secs,
            self.cpu_pct,
            self.switches,
            busiest.join(", "),
            self.polls,
            self.threads
        )
    }

    fn to_json(&self) -> serde_json::Value {
        json!({
            "seconds": self.seconds, "rssMaxKiB": self.rss_max_kib, "rssEndKiB": self.rss_end_kib, "rssPeakKiB": self.hwm_kib,
            "rssAnonEndKiB": self.anon_end_kib, "rssFileEndKiB": self.file_end_kib, "pssEndKiB": self.pss_end_kib, "threads": self.threads, "cpuSeconds": self.cpu_secs,
            "cpuPercent": self.cpu_pct, "contextSwitches": self.switches, "polls": self.polls,
            "contextSwitchesByThread": self.by_thread,
        })
    }
}

/// Samples `pid` once a second for `window`.
fn footprint(pid: u32, window: Duration, server: &Server) -> Result<Footprint> {
    let before = ProcSample::read(pid)?;
    let threads_before = per_thread(pid);
    let polls_before = server.change_requests();
    let start = Instant::now();
    let mut rss_max = before.rss_kib;
    while start.elapsed() < window {
        std::thread::sleep(Duration::from_secs(1).min(window.saturating_sub(start.elapsed())));
        rss_max = rss_max.max(ProcSample::read(pid)?.rss_kib);
    }
    let after = ProcSample::read(pid)?;
    let seconds = start.elapsed().as_secs_f64();
    let mut by_thread = per_thread(pid);
    for (name, n) in &mut by_thread {
        *n = n.saturating_sub(threads_before.get(name).copied().unwrap_or(0));
    }
    by_thread.retain(|_, n| *n > 0);
    let cpu = after.cpu_secs - before.cpu_secs;
    Ok(Footprint {
        seconds,
        rss_max_kib: rss_max.max(after.rss_kib),
        rss_end_kib: after.rss_kib,
        hwm_kib: after.hwm_kib,
        anon_end_kib: after.anon_kib,
        file_end_kib: after.file_kib,
        pss_end_kib: after.pss_kib,
        threads: after.threads,
        cpu_secs: cpu,
        cpu_pct: 100.0 * cpu / seconds,
        switches: after.switches.saturating_sub(before.switches),
        polls: server.change_requests() - polls_before,
        by_thread,
    })
}

/// Context switches so far, summed per thread name.
fn per_thread(pid: u32) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for t in tasks.flatten() {
        let name = std::fs::read_to_string(t.path().join("comm"))
            .map(|s| s.trim().to_owned())
            .unwrap_or_default();
        let status = std::fs::read_to_string(t.path().join("status")).unwrap_or_default();
        let n: u64 = status
            .lines()
            .filter(|l| l.contains("ctxt_switches:"))
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum();
        *out.entry(name).or_insert(0) += n;
    }
    out
}

fn binary_sizes(bench: &Bench, report: &mut Report) -> Result<()> {
    let describe = |p: &Path| -> Result<(u64, bool)> {
        let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
        // A stripped ELF has no symbol table section left to name.
        let stripped = !bytes.windows(8).any(|w| w == b".symtab\0");
        Ok((bytes.len() as u64, stripped))
    };
    let (client, client_stripped) = describe(&bench.client_bin)?;
    let (server, server_stripped) = describe(&bench.server_bin)?;
    let word = |s: bool| if s { "stripped" } else { "NOT stripped" };
    report.set(
        "binaries",
        json!({"hyperclaySync": {"bytes": client, "stripped": client_stripped},
               "hyperclayServer": {"bytes": server, "stripped": server_stripped}}),
    );
    report.row(
        "6. Release binary size",
        format!(
            "hyperclay-sync {:.2} MB ({}); hyperclay-server {:.2} MB ({})",
            client as f64 / 1e6,
            word(client_stripped),
            server as f64 / 1e6,
            word(server_stripped)
        ),
        "",
        Verdict::Info,
    );
    Ok(())
}

/// The tray app, idle, with the same home and folder, on the kit's screen rig (a private Xvfb,
/// session bus and trayer as the tray host; docs: /work/shared/STACK-NOTES.md §3). Returns its
/// footprint and whether its icon docked.
fn tray_footprint(
    bench: &Bench,
    client: &mut Client,
    server: &Server,
    n: usize,
) -> Result<(Footprint, bool)> {
    let screen = Screen::start(TrayHost::Trayer)?;
    client.spawn(&Mode::Tray(&screen))?;
    client.wait_synced(SYNC_DEADLINE)?;
    let docked = wait::until(Duration::from_secs(10), || {
        screen.window_tree().contains("tray-icon tray app")
    });
    let pid = client.pid().context("the tray is not running")?;
    let f = footprint(pid, bench.sizes.idle_window, server)?;
    let local = local_files(&client.folder)?.len();
    client.stop()?;
    drop(screen);
    if local != n {
        bail!("the tray's folder holds {local} files, not {n}");
    }
    Ok((f, docked))
}
