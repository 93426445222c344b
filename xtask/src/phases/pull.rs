//! Figure 2, pull latency: the platform saves an app (`POST /save/{app}`); the clock runs from
//! just before that request is sent to the moment the client's folder holds the new bytes. The
//! client runs with its default settings: it long-polls (`/changes?wait=25`), so an edit should
//! arrive as soon as the server commits it. Edits go to many apps at random moments (gaps
//! uniform around a mean of [`MEAN_GAP`]), so they land at every point of a poll's life (just
//! after it opened, long into its wait, while the previous change is applied); an app is edited
//! again only once its previous edit has arrived. It never writes into the client's folder.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use hyperclay_protocol::sha256_hex;
use serde_json::json;

use super::{SYNC_DEADLINE, ms_between};
use crate::Bench;
use crate::http::Api;
use crate::procs::{Client, Mode, Server};
use crate::report::{Report, Verdict};
use crate::stats::{Dist, ms};
use crate::tree::{self, Mix};

/// The mean time between two edits.
const MEAN_GAP: Duration = Duration::from_millis(500);
/// How long an edit may take to arrive before it counts as lost: a long-poll's whole wait (25 s)
/// and more, so even an edit that a missed wake-up left to the next poll is measured.
const LOST_AFTER: Duration = Duration::from_secs(30);
/// The figure's targets (ms).
const P50_TARGET: f64 = 500.0;
const P99_TARGET: f64 = 1500.0;
/// Apps edited in turn.
const APPS: usize = 25;
const APP_BYTES: usize = 20 * 1024;
/// How often the folder is looked at: the resolution of the figure.
const LOOK_EVERY: Duration = Duration::from_millis(1);

/// An edit sent and not yet seen in the folder.
struct InFlight {
    checksum: String,
    sent: SystemTime,
}

pub fn run(bench: &Bench, report: &mut Report) -> Result<()> {
    let server = Server::start(&bench.server_bin, &bench.dir("pull-server"))?;
    let token = server.account("puller")?;
    let api = Api::new(server.url(), &token);
    let names: Vec<String> = (0..APPS).map(|j| format!("pull-{j:02}")).collect();
    for (j, name) in names.iter().enumerate() {
        api.put_file(&format!("{name}.html"), &tree::html(j as u64, APP_BYTES))?;
    }
    let mut client = Client::new(
        &bench.client_bin,
        server.url(),
        &token,
        &bench.dir("pull-home"),
        &bench.dir("pull-folder"),
    )?;
    client.spawn(&Mode::Headless)?;
    client.wait_synced(SYNC_DEADLINE)?;
    let paths: Vec<PathBuf> = names
        .iter()
        .map(|n| client.folder.join(format!("{n}.html")))
        .collect();
    for p in &paths {
        if !p.is_file() {
            bail!("the client did not download {} at start", p.display());
        }
    }

    let edits = bench.sizes.pull_edits;
    eprintln!("pull: {edits} remote edits, client with its default settings (long-poll)");
    let in_flight: Arc<Mutex<HashMap<usize, InFlight>>> = Arc::default();
    let editor = {
        let in_flight = in_flight.clone();
        let api = api.clone();
        let names = names.clone();
        std::thread::spawn(move || edit(&api, &names, edits, &in_flight))
    };
    let mut last_seen: Vec<Option<(u64, i64, u64)>> = paths.iter().map(|p| stamp(p)).collect();
    let mut samples = Vec::new();
    let mut editor_done_at: Option<Instant> = None;
    let mut editor = Some(editor);
    loop {
        std::thread::sleep(LOOK_EVERY);
        let pending: Vec<usize> = lock(&in_flight).keys().copied().collect();
        for j in pending {
            let now_stamp = stamp(&paths[j]);
            if now_stamp == last_seen[j] {
                continue;
            }
            let seen = SystemTime::now();
            last_seen[j] = now_stamp;
            let Ok(bytes) = std::fs::read(&paths[j]) else {
                continue;
            };
            let sum = sha256_hex(&bytes);
            let mut map = lock(&in_flight);
            if map.get(&j).is_some_and(|f| f.checksum == sum)
                && let Some(f) = map.remove(&j)
            {
                samples.push(ms_between(seen, f.sent));
            }
        }
        if editor.as_ref().is_some_and(|h| h.is_finished()) {
            if let Some(h) = editor.take() {
                h.join()
                    .map_err(|_| anyhow::anyhow!("the editor thread panicked"))?
                    .context("making remote edits")?;
            }
            editor_done_at = Some(Instant::now());
        }
        if let Some(done) = editor_done_at
            && (lock(&in_flight).is_empty() || done.elapsed() > LOST_AFTER)
        {
            break;
        }
    }
    let lost = lock(&in_flight).len();
    client.stop()?;

    let d = Dist::of(&samples);
    report.set(
        "pull",
        json!({"edits": edits, "lost": lost, "meanGapMs": MEAN_GAP.as_millis() as u64,
               "latencyMs": d.map(Dist::to_json)}),
    );
    let Some(d) = d else {
        report.row(
            "2. Pull",
            format!("no samples ({lost} lost)"),
            "",
            Verdict::Missed,
        );
        return Ok(());
    };
    let lost_text = if lost > 0 {
        format!("; **{lost} edits never arrived**")
    } else {
        String::new()
    };
    report.row(
        &format!(
            "2. Pull, default settings (long-poll) (n = {}) p50/p90/p99/max",
            d.n
        ),
        format!("{}; mean {} ms{lost_text}", d.brief(), ms(d.mean)),
        "p50 ≤ 500 ms, p99 ≤ 1500 ms",
        Verdict::of(d.p50 <= P50_TARGET && d.p99 <= P99_TARGET && lost == 0),
    );
    Ok(())
}

/// Makes `edits` platform saves at random moments, round-robin over the apps.
fn edit(
    api: &Api,
    names: &[String],
    edits: usize,
    in_flight: &Mutex<HashMap<usize, InFlight>>,
) -> Result<()> {
    let mut mix = Mix::new(2026);
    let mean_gap = MEAN_GAP.as_secs_f64();
    for e in 0..edits {
        std::thread::sleep(Duration::from_secs_f64(mix.unit() * 2.0 * mean_gap));
        let j = e % names.len();
        // Never two edits of one app in flight: the second would hide the first.
        let wait_end = Instant::now() + LOST_AFTER;
        while lock(in_flight).contains_key(&j) && Instant::now() < wait_end {
            std::thread::sleep(Duration::from_millis(5));
        }
        let bytes = tree::html(10_000 + e as u64, APP_BYTES);
        let checksum = sha256_hex(&bytes);
        let sent = SystemTime::now();
        lock(in_flight).insert(j, InFlight { checksum, sent });
        api.platform_save(&names[j], &bytes)?;
    }
    Ok(())
}

fn stamp(path: &std::path::Path) -> Option<(u64, i64, u64)> {
    std::fs::metadata(path).ok().map(|m| {
        (
            m.ino(),
            m.mtime_nsec() + m.mtime() * 1_000_000_000,
            m.size(),
        )
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
