//! Hyperclay Sync's side of the peers table: the release client against the reference server,
//! driven exactly as the other phases drive it (headless, default settings). The other side of a
//! save is the server's commit; a remote edit is the platform's own save. It only writes into
//! its own client's folder and temp dirs.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::{ARRIVAL_DEADLINE, Figures, WARMUP, Workload, app_content, random_pause, save};
use crate::Bench;
use crate::http::Api;
use crate::phases::{SYNC_DEADLINE, initial, ms, ms_between, seed};
use crate::procs::{Client, Mode, Server};
use crate::tree::{self, Mix};

/// The client's default poll interval. Each remote edit waits a random part of it after the
/// previous one arrived: waiting a fixed short time would land every edit just after a poll
/// (the one that brought the previous edit) and measure the worst case each time.
const POLL_CYCLE: Duration = Duration::from_secs(10);

pub fn measure(bench: &Bench, work: &Workload, f: &mut Figures) -> Result<()> {
    f.how.push(
        "`hyperclay-sync run --headless` (release, default settings) against \
         `hyperclay-server serve` on 127.0.0.1; a save ends at the server's commit, a remote \
         edit is `POST /save/{app}` and ends when the folder holds it"
            .to_owned(),
    );
    let server = Server::start(&bench.server_bin, &bench.dir("peers-hc-server"))?;
    let token = server.account("peer")?;
    let api = Api::new(server.url(), &token);
    let t = Instant::now();
    seed(&api, &work.idle_tree, 8)?;
    // The platform saves only apps that exist.
    api.put_file("peer-remote.html", &app_content(29_999).0)?;
    let mut client = Client::new(
        &bench.client_bin,
        server.url(),
        &token,
        &bench.dir("peers-hc-home"),
        &bench.dir("peers-hc-folder"),
    )?;
    client.spawn(&Mode::Headless)?;
    client.wait_synced(SYNC_DEADLINE)?;
    f.idle_setup_ms = Some(ms(t.elapsed()));

    let pid = client
        .pid()
        .ok_or_else(|| anyhow::anyhow!("the client is not running"))?;
    eprintln!("peers: Hyperclay Sync idle for {:?}", work.window);
    f.idle = Some(super::idle_of(
        pid,
        work.window,
        "the `hyperclay-sync` client process (the server is the remote, like rclone's serve)",
    )?);

    eprintln!("peers: Hyperclay Sync, {} saves", work.saves);
    let mut mix = Mix::new(14);
    let path = client.folder.join("peer-save.html");
    for i in 0..WARMUP + work.saves {
        let (bytes, sum) = app_content(20_000 + i as u64);
        let saved = save(&path, &bytes)?;
        match server.wait_commit(&sum, ARRIVAL_DEADLINE) {
            Some(at) if i >= WARMUP => f.save.samples.push(ms_between(at, saved)),
            Some(_) => {}
            None if i >= WARMUP => f.save.lost += 1,
            None => bail!("the client never uploaded warm-up save {i}"),
        }
        random_pause(&mut mix, Duration::ZERO, Duration::from_secs(1));
    }

    eprintln!("peers: Hyperclay Sync, {} remote edits", work.remote_edits);
    let local = client.folder.join("peer-remote.html");
    for i in 0..WARMUP + work.remote_edits {
        let (bytes, sum) = app_content(30_000 + i as u64);
        let sent = std::time::SystemTime::now();
        api.platform_save("peer-remote", &bytes)?;
        match super::wait_content(&local, &sum, ARRIVAL_DEADLINE) {
            Some(at) if i >= WARMUP => f.remote.samples.push(ms_between(at, sent)),
            Some(_) => {}
            None if i >= WARMUP => f.remote.lost += 1,
            None => bail!("remote warm-up edit {i} never reached the folder"),
        }
        random_pause(&mut mix, Duration::ZERO, POLL_CYCLE);
    }
    client.stop()?;
    drop(server);

    f.floor_down_ms = Some(super::durable_floor(bench, work, "down")?);
    f.init_down_ms = Some(initial::remote_to_local(
        bench,
        "peers-hc",
        &work.init_tree,
        &work.init_sums,
    )?);
    let up_folder = bench.dir("peers-hc-up-folder");
    tree::write(&up_folder, &work.init_tree)?;
    let written = Instant::now();
    f.floor_up_ms = Some(super::durable_floor(bench, work, "up")?);
    f.init_up_ms = Some(initial::local_to_remote(
        bench,
        "peers-hc",
        &up_folder,
        &work.init_sums,
        written,
    )?);
    Ok(())
}
