//! Carries out a set of transfers: one after another, or several at once with the new files a
//! first sync downloads made durable in batches (one flush per batch instead of two per file).
//! It only runs transfers and hands back their outcomes (the bookkeeping is the session's), and
//! must never sleep or retry: a failed transfer's retry is scheduled by the session.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Mutex, mpsc};

use crate::local::{self, Snapshot, write};
use crate::remote::RemoteError;
use crate::session::transfer::{Ctx, Outcome, Transfer};

/// Transfers at once when running in parallel.
const PARALLEL_TRANSFERS: usize = 4;
/// How many staged new files are made durable together (see `publish`).
const PUBLISH_BATCH: usize = 128;

/// Runs `transfers` and returns their outcomes; `snap` is the snapshot already read for the
/// upload of its path. `done(n)` hears how many have finished, as they finish. After a transfer
/// finds the server unreachable no further one starts.
pub(crate) fn run(
    ctx: &Ctx<'_>,
    transfers: Vec<Transfer>,
    mut snap: Option<(String, Snapshot)>,
    parallel: bool,
    done: &mut dyn FnMut(usize),
) -> Vec<Outcome> {
    if parallel && transfers.len() > 1 {
        return run_parallel(ctx, transfers, done);
    }
    let mut outcomes = Vec::with_capacity(transfers.len());
    for transfer in &transfers {
        if ctx.shutdown.load(Ordering::SeqCst) {
            break;
        }
        let s = match (&snap, transfer) {
            (Some((path, _)), Transfer::Upload { local, .. }) if *path == local.path => {
                snap.take().map(|(_, s)| s)
            }
            _ => None,
        };
        let outcome = ctx.run(transfer, s);
        let offline = unreachable(&outcome);
        outcomes.push(outcome);
        done(outcomes.len());
        if offline {
            break;
        }
    }
    outcomes
}

fn unreachable(outcome: &Outcome) -> bool {
    matches!(
        outcome,
        Outcome::Failed {
            error: RemoteError::Unreachable(_) | RemoteError::NothingListening(_),
            ..
        }
    )
}

fn run_parallel(
    ctx: &Ctx<'_>,
    transfers: Vec<Transfer>,
    done: &mut dyn FnMut(usize),
) -> Vec<Outcome> {
    let mut outcomes = Vec::with_capacity(transfers.len());
    let queue = Mutex::new(transfers.into_iter());
    let (otx, orx) = mpsc::channel();
    let ctx = &Ctx {
        stage_new: true,
        ..*ctx
    };
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL_TRANSFERS {
            let (queue, otx) = (&queue, otx.clone());
            scope.spawn(move || {
                loop {
                    if ctx.shutdown.load(Ordering::SeqCst) {
                        break;
                    }
                    let next = queue.lock().ok().and_then(|mut q| q.next());
                    let Some(transfer) = next else { break };
                    let outcome = ctx.run(&transfer, None);
                    let offline = unreachable(&outcome);
                    let _ = otx.send(outcome);
                    if offline {
                        break;
                    }
                }
            });
        }
        drop(otx);
        // Publishes while the transfers go on: the flush of one batch overlaps the downloads of
        // the next.
        let mut batch = Vec::new();
        let mut finished = 0;
        for outcome in orx {
            finished += 1;
            done(finished);
            if outcome.is_staged() {
                batch.push(outcome);
                if batch.len() >= PUBLISH_BATCH {
                    outcomes.extend(publish(ctx.folder, std::mem::take(&mut batch)));
                }
            } else {
                outcomes.push(outcome);
            }
        }
        outcomes.extend(publish(ctx.folder, batch));
    });
    outcomes
}

/// Makes a batch of staged downloads durable and visible ([`write::publish`]); an outcome whose
/// file could not be put in place becomes what really happened to it.
fn publish(folder: &Path, mut outcomes: Vec<Outcome>) -> Vec<Outcome> {
    let (at, staged): (Vec<(usize, String)>, Vec<write::Staged>) = outcomes
        .iter_mut()
        .enumerate()
        .filter_map(|(i, o)| o.take_staged().map(|(path, s)| ((i, path), s)))
        .unzip();
    for ((i, path), result) in at.into_iter().zip(write::publish(folder, staged)) {
        let Err(e) = result else {
            // The rename into place moved the file's ctime, which is part of its stamp: the
            // stamp to remember (for the echo and the hash cache) is the one it has now.
            if let Outcome::Downloaded { local, stamp, .. } = &mut outcomes[i] {
                *stamp = std::fs::symlink_metadata(folder.join(&local.path))
                    .ok()
                    .map(|m| local::stamp_of(&m));
            }
            continue;
        };
        outcomes[i] = match e {
            write::WriteError::Changed(_) => Outcome::Replan(path),
            e @ write::WriteError::Io { .. } => Outcome::WriteRefused(path, e.to_string()),
            e => Outcome::Skipped {
                path,
                why: e.to_string(),
            },
        };
    }
    outcomes
}
