//! Figure 7, the server under load: 50 concurrent bare clients (threads, each with its own
//! keep-alive connection) doing PUTs of a 20 KB app with new content each time, then incremental
//! polls with nothing changed, for a fixed window each. Reports requests/s and the latency
//! distribution. The load generator shares the machine's cores with the server: say so.

use std::sync::Barrier;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use serde_json::json;

use super::ms;
use crate::http::Api;
use crate::machine::ProcSample;
use crate::procs::Server;
use crate::report::{Report, Verdict};
use crate::stats::Dist;
use crate::{Bench, tree};

const CLIENTS: usize = 50;

struct Run {
    latencies: Vec<f64>,
    errors: usize,
    seconds: f64,
}

pub fn run(bench: &Bench, report: &mut Report) -> Result<()> {
    let server = Server::start(&bench.server_bin, &bench.dir("load-server"))?;
    let token = server.account("load")?;
    let window = bench.sizes.load_window;
    eprintln!("server: {CLIENTS} clients PUT for {window:?}");
    let puts = hammer(window, |t| {
        let api = Api::new(server.url(), &token);
        let mut saves = 0u64;
        move || {
            // New content every time: an identical PUT is a no-op, not a save.
            saves += 1;
            let bytes = tree::html(t as u64 * 1_000_000 + saves, 20 * 1024);
            api.put_file(&format!("load-{t:02}.html"), &bytes)
                .map(|_| ())
        }
    })?;
    let (_, cursor) = Api::new(server.url(), &token).files()?;
    eprintln!("server: {CLIENTS} clients poll for {window:?}");
    let polls = hammer(window, |_| {
        let api = Api::new(server.url(), &token);
        let cursor = cursor.clone();
        move || {
            let page = api.changes(Some(&cursor))?;
            if page.entries.is_empty() {
                Ok(())
            } else {
                Err(anyhow!("a poll with nothing changed returned entries"))
            }
        }
    })?;
    // The server after both loads: what serving them cost it.
    let after = ProcSample::read(server.pid())?;
    report.set(
        "server process",
        json!({"rssKiB": after.rss_kib, "peakRssKiB": after.hwm_kib, "cpuSeconds": after.cpu_secs,
               "threads": after.threads}),
    );
    report.note(format!(
        "Server process after the load: RSS {:.1} MB (peak {:.1} MB), {:.1} s CPU in all; the {CLIENTS} \
         load threads ran on the same cores.",
        after.rss_kib as f64 / 1000.0,
        after.hwm_kib as f64 / 1000.0,
        after.cpu_secs
    ));
    for (what, run) in [("PUT 20 KB app", &puts), ("incremental poll", &polls)] {
        let d = Dist::of(&run.latencies);
        let rate = run.latencies.len() as f64 / run.seconds;
        report.set(
            &format!("server {what}"),
            json!({"clients": CLIENTS, "seconds": run.seconds, "requests": run.latencies.len(),
                   "errors": run.errors, "perSecond": rate, "latencyMs": d.map(Dist::to_json)}),
        );
        let errors = if run.errors > 0 {
            format!("; **{} errors**", run.errors)
        } else {
            String::new()
        };
        report.row(
            &format!("7. Server, {what}, {CLIENTS} concurrent clients"),
            match d {
                Some(d) => format!("{rate:.0} req/s; p50/p90/p99/max {}{errors}", d.brief()),
                None => format!("no request succeeded{errors}"),
            },
            "",
            if run.errors == 0 {
                Verdict::Info
            } else {
                Verdict::Missed
            },
        );
    }
    Ok(())
}

/// `CLIENTS` threads each repeat the request `make(thread)` returns for `window`; `make` runs
/// once per thread, before the start line, and sets up the thread's own connection.
fn hammer<F, R>(window: Duration, make: F) -> Result<Run>
where
    F: Fn(usize) -> R + Sync,
    R: FnMut() -> Result<()> + Send,
{
    let barrier = Barrier::new(CLIENTS + 1);
    let results: (Vec<(Vec<f64>, usize)>, Duration) = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|t| {
                let (barrier, make) = (&barrier, &make);
                scope.spawn(move || {
                    let mut latencies = Vec::new();
                    let mut errors = 0;
                    let mut request = make(t);
                    barrier.wait();
                    let end = Instant::now() + window;
                    while Instant::now() < end {
                        let start = Instant::now();
                        match request() {
                            Ok(()) => latencies.push(ms(start.elapsed())),
                            Err(_) => errors += 1,
                        }
                    }
                    (latencies, errors)
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let results = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect();
        (results, start.elapsed())
    });
    let (results, elapsed) = results;
    let mut run = Run {
        latencies: Vec::new(),
        errors: 0,
        // The last requests end after the window: count the time they really took.
        seconds: elapsed.as_secs_f64(),
    };
    for (l, e) in results {
        run.latencies.extend(l);
        run.errors += e;
    }
    Ok(run)
}
