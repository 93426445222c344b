//! Figure 4, initial sync: a tree of mixed apps and uploads synced remote → empty local and
//! local → empty remote by the real client (spawn → first session done), each against `cp -r`
//! of the same tree in the same run (remote → local ends when the client's first session is
//! done, local → remote when the server committed the last file). Both results are checked file by file, so a fast but wrong
//! sync cannot look good.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use hyperclay_protocol::sha256_hex;
use serde_json::json;

use super::{SYNC_DEADLINE, local_files, ms, ms_between, seed};
use crate::http::Api;
use crate::procs::{Client, Mode, Server};
use crate::report::{Report, Verdict};
use crate::stats::{self, ratio};
use crate::{Bench, tree};

pub fn run(bench: &Bench, report: &mut Report) -> Result<()> {
    let (n, total) = (bench.sizes.init_files, bench.sizes.init_bytes);
    let files = tree::mixed("init", n, total, 4);
    let source = bench.dir("init-tree");
    tree::write(&source, &files)?;
    let expected = checksums(&files);

    // cp -r of the same tree; the copy is the local → remote client's folder.
    let up_folder = bench.dir("init-up-folder");
    let t = Instant::now();
    let status = Command::new("cp")
        .arg("-r")
        .arg(&source)
        .arg(&up_folder)
        .status()
        .context("running cp -r")?;
    let cp = ms(t.elapsed());
    let copied = Instant::now();
    if !status.success() {
        bail!("cp -r failed ({status})");
    }
    // A second floor that makes every file durable, as the client must (cp -r never fsyncs).
    let t = Instant::now();
    durable_copy(&source, &bench.dir("init-durable-copy"))?;
    let durable = ms(t.elapsed());

    let down_ms = remote_to_local(bench, "init", &files, &expected)?;
    let up_ms = local_to_remote(bench, "init", &up_folder, &expected, copied)?;

    report.set(
        "initialSync",
        json!({"files": n, "bytes": total, "cpMs": cp, "durableCopyMs": durable, "remoteToLocalMs": down_ms,
               "localToRemoteMs": up_ms}),
    );
    let what = format!("{n} files / {}", stats::bytes(total));
    report.row(
        &format!("4. Initial sync remote → empty local, {what}"),
        format!(
            "{} ms = {} cp -r ({} ms)",
            stats::ms(down_ms),
            ratio(down_ms / cp),
            stats::ms(cp)
        ),
        "≤ 3× cp -r",
        Verdict::of(down_ms <= 3.0 * cp),
    );
    report.row(
        &format!("4. Initial sync local → empty remote, {what}"),
        format!("{} ms = {} cp -r", stats::ms(up_ms), ratio(up_ms / cp)),
        "≤ 3× cp -r",
        Verdict::of(up_ms <= 3.0 * cp),
    );
    report.row(
        "4. (floor) durable copy of the same tree: write temp, fsync, rename, per file",
        format!(
            "{} ms; sync / durable copy: down {}, up {}",
            stats::ms(durable),
            ratio(down_ms / durable),
            ratio(up_ms / durable)
        ),
        "",
        Verdict::Info,
    );
    Ok(())
}

/// The checksum of every file of a tree, by its path.
pub fn checksums(files: &[tree::TreeFile]) -> BTreeMap<String, String> {
    files
        .iter()
        .map(|f| (f.path.clone(), sha256_hex(&f.bytes())))
        .collect()
}

/// Remote → empty local: seeds a fresh server with `files`, then times the real client from
/// its spawn to the end of its first session and checks the folder file by file. Its dirs are
/// named after `tag`.
pub fn remote_to_local(
    bench: &Bench,
    tag: &str,
    files: &[tree::TreeFile],
    expected: &BTreeMap<String, String>,
) -> Result<f64> {
    let n = files.len();
    let total: u64 = files.iter().map(|f| f.len as u64).sum();
    let server = Server::start(&bench.server_bin, &bench.dir(&format!("{tag}-down-server")))?;
    let token = server.account("down")?;
    eprintln!(
        "{tag}: seeding {n} files / {} for the download",
        stats::bytes(total)
    );
    seed(&Api::new(server.url(), &token), files, 8)?;
    let mut client = Client::new(
        &bench.client_bin,
        server.url(),
        &token,
        &bench.dir(&format!("{tag}-down-home")),
        &bench.dir(&format!("{tag}-down-folder")),
    )?;
    eprintln!("{tag}: remote → empty local");
    let spawned = client.spawn(&Mode::Headless)?;
    let done = client.wait_synced(SYNC_DEADLINE)?;
    client.stop()?;
    let got = local_files(&client.folder)?;
    let mut wrong = 0;
    for (path, sum) in expected {
        match got.get(path).map(std::fs::read) {
            Some(Ok(bytes)) if sha256_hex(&bytes) == *sum => {}
            _ => wrong += 1,
        }
    }
    if wrong > 0 || got.len() != expected.len() {
        bail!(
            "remote → local left {wrong} of {n} files missing or wrong ({} local files)",
            got.len()
        );
    }
    Ok(ms(done - spawned))
}

/// Local → empty remote: the real client on `folder` (already holding the tree, written at
/// `written`) against a fresh server, timed from its spawn to the server's commit of the last
/// file, then checked file by file on the server.
pub fn local_to_remote(
    bench: &Bench,
    tag: &str,
    folder: &std::path::Path,
    expected: &BTreeMap<String, String>,
    written: Instant,
) -> Result<f64> {
    let server = Server::start(&bench.server_bin, &bench.dir(&format!("{tag}-up-server")))?;
    let token = server.account("up")?;
    let mut client = Client::new(
        &bench.client_bin,
        server.url(),
        &token,
        &bench.dir(&format!("{tag}-up-home")),
        folder,
    )?;
    eprintln!("{tag}: local → empty remote");
    // The end is the server's commit of the last file: the client may defer files it just
    // saw written, so its first session can end before everything is up.
    let sums: Vec<String> = expected.values().cloned().collect();
    // A folder that already exists when sync starts: the client rightly waits for files
    // written in the last second (they may be mid-save), which is not this figure.
    std::thread::sleep(Duration::from_secs(2).saturating_sub(written.elapsed()));
    let spawned = SystemTime::now();
    client.spawn(&Mode::Headless)?;
    let last = server
        .wait_all_commits(&sums, SYNC_DEADLINE)
        .context("the client did not upload the whole tree in time")?;
    client.wait_synced(SYNC_DEADLINE)?;
    client.stop()?;
    let (remote, _) = Api::new(server.url(), &token).files()?;
    let wrong = remote
        .iter()
        .filter(|e| expected.get(&e.path) != e.checksum.as_ref())
        .count();
    if wrong > 0 || remote.len() != expected.len() {
        bail!(
            "local → remote: the server holds {} files, {wrong} of them not as sent",
            remote.len()
        );
    }
    Ok(ms_between(last, spawned))
}

/// Copies every file of `from` into `to` the way a careful writer does: temp file in the same
/// folder, fsync, rename. One thread, like `cp -r`.
pub fn durable_copy(from: &std::path::Path, to: &std::path::Path) -> Result<()> {
    for (rel, path) in local_files(from)? {
        let target = to.join(&rel);
        let dir = target.parent().context("a file with no folder")?;
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(".copy.tmp");
        let mut file = std::fs::File::create(&tmp)?;
        std::io::Write::write_all(&mut file, &std::fs::read(&path)?)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, &target)?;
    }
    Ok(())
}
