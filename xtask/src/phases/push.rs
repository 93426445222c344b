//! Figure 1, push latency: a writer saves a file in the synced folder; the clock runs from the
//! moment its `close()` returns to the moment the server's save transaction committed (the
//! server's log stamps that in µs, same clock on loopback). The floor is the same PUT made by a
//! bare HTTP client, from just before it sends to the same commit stamp, interleaved save by
//! save so both see the same machine. It never writes outside its client's folder.

use std::fs::File;
use std::io::Write;
use std::time::{Duration, SystemTime};

use anyhow::{Result, bail};
use hyperclay_protocol::sha256_hex;
use serde_json::json;

use super::{SYNC_DEADLINE, ms_between};
use crate::http::Api;
use crate::procs::{Client, Mode, Server};
use crate::report::{Report, Verdict};
use crate::stats::{Dist, ratio};
use crate::{Bench, tree};

/// Saves made before measuring: the first creates the file, the next warm the connection.
const WARMUP: usize = 3;
/// Quiet after each commit before the next save, so one save's latency never queues behind
/// the previous upload's bookkeeping (an editor's saves are seconds apart).
const PACE: Duration = Duration::from_millis(20);
/// A save not committed by then counts as lost.
const COMMIT_DEADLINE: Duration = Duration::from_secs(30);

struct Case {
    label: &'static str,
    path: &'static str,
    /// An app name is unique on the whole server: the floor's account uses its own.
    floor_path: &'static str,
    len: usize,
    saves: usize,
    app: bool,
}

impl Case {
    fn content(&self, seed: u64) -> Vec<u8> {
        if self.app {
            tree::html(seed, self.len)
        } else {
            // Distinct per seed in its first bytes, the rest shared: generating 5 MiB per save
            // must not cost more than the save.
            let mut bytes = tree::binary(7, self.len);
            bytes[..8].copy_from_slice(&seed.to_le_bytes());
            bytes
        }
    }
}

#[derive(Default)]
struct Samples {
    client: Vec<f64>,
    floor: Vec<f64>,
    floor_reply: Vec<f64>,
    lost: usize,
}

pub fn run(bench: &Bench, report: &mut Report) -> Result<()> {
    let server = Server::start(&bench.server_bin, &bench.dir("push-server"))?;
    let client_token = server.account("pusher")?;
    let floor = Api::new(server.url(), &server.account("floor")?);
    let mut client = Client::new(
        &bench.client_bin,
        server.url(),
        &client_token,
        &bench.dir("push-home"),
        &bench.dir("push-folder"),
    )?;
    client.spawn(&Mode::Headless)?;
    client.wait_synced(SYNC_DEADLINE)?;

    let cases = [
        Case {
            label: "20 KB app",
            path: "bench-push.html",
            floor_path: "bench-bare.html",
            len: 20 * 1024,
            saves: bench.sizes.push_small,
            app: true,
        },
        Case {
            label: "5 MB upload",
            path: "bench-push.bin",
            floor_path: "bench-bare.bin",
            len: 5 * 1024 * 1024,
            saves: bench.sizes.push_big,
            app: false,
        },
    ];
    for case in &cases {
        eprintln!("push: {} saves of the {}", case.saves, case.label);
        let s = measure(&server, &client, &floor, case)?;
        record(report, case, &s);
    }
    client.stop()?;
    Ok(())
}

fn measure(server: &Server, client: &Client, floor: &Api, case: &Case) -> Result<Samples> {
    let local = client.folder.join(case.path);
    let mut s = Samples::default();
    for i in 0..WARMUP + case.saves {
        let measured = i >= WARMUP;
        // Through the sync client.
        let bytes = case.content(i as u64);
        let sum = sha256_hex(&bytes);
        let mut file = File::create(&local)?;
        file.write_all(&bytes)?;
        drop(file);
        let closed = SystemTime::now();
        match server.wait_commit(&sum, COMMIT_DEADLINE) {
            Some(at) if measured => s.client.push(ms_between(at, closed)),
            Some(_) => {}
            None if measured => s.lost += 1,
            None => bail!(
                "the client never uploaded warm-up save {i} of {}",
                case.path
            ),
        }
        // The client's own bookkeeping after the upload must not slow the floor's PUT.
        std::thread::sleep(PACE);
        // The floor: the same PUT by a bare client.
        let bytes = case.content(1_000_000 + i as u64);
        let sum = sha256_hex(&bytes);
        let sent = SystemTime::now();
        floor.put_file_summed(case.floor_path, &bytes, &sum)?;
        let answered = SystemTime::now();
        if let Some(at) = server.wait_commit(&sum, COMMIT_DEADLINE)
            && measured
        {
            s.floor.push(ms_between(at, sent));
            s.floor_reply.push(ms_between(answered, sent));
        }
        std::thread::sleep(PACE);
    }
    Ok(s)
}

fn record(report: &mut Report, case: &Case, s: &Samples) {
    let client = Dist::of(&s.client);
    let floor = Dist::of(&s.floor);
    let reply = Dist::of(&s.floor_reply);
    report.set(
        &format!("push {}", case.label),
        json!({
            "saves": case.saves, "bytes": case.len, "lost": s.lost,
            "clientMs": client.map(Dist::to_json), "floorMs": floor.map(Dist::to_json),
            "floorReplyMs": reply.map(Dist::to_json),
        }),
    );
    let (Some(c), Some(f)) = (client, floor) else {
        report.row(
            &format!("1. Push, {}", case.label),
            format!("no samples ({} lost)", s.lost),
            "",
            Verdict::Missed,
        );
        return;
    };
    let lost = if s.lost > 0 {
        format!("; **{} of {} saves never committed**", s.lost, case.saves)
    } else {
        String::new()
    };
    let small = case.app;
    report.row(
        &format!("1. Push, {} (n = {}) p50/p90/p99/max", case.label, c.n),
        format!("{}{lost}", c.brief()),
        if small {
            "p50 ≤ 10 ms, p99 ≤ 50 ms"
        } else {
            ""
        },
        if small {
            Verdict::of(c.p50 <= 10.0 && c.p99 <= 50.0 && s.lost == 0)
        } else {
            Verdict::Info
        },
    );
    report.row(
        &format!("1. Push floor, {} (bare PUT → commit)", case.label),
        f.brief(),
        "",
        Verdict::Info,
    );
    report.row(
        &format!("1. Push client / floor, {}", case.label),
        format!(
            "p50 {}, p99 {}",
            ratio(c.p50 / f.p50.max(0.001)),
            ratio(c.p99 / f.p99.max(0.001))
        ),
        "",
        Verdict::Info,
    );
}
