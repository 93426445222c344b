//! The figures of issue 5, one module per group, and the helpers they share. Each phase starts
//! its own servers and clients (isolated accounts, data dirs and folders) and stops them before
//! the next begins, so one figure never loads another.

mod idle;
mod initial;
mod load;
mod peers;
mod pull;
mod push;
mod scale;

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use anyhow::{Result, anyhow};

use crate::http::Api;
use crate::report::Report;
use crate::tree::TreeFile;
use crate::{Bench, Phase, phase_failed};

/// How long a client may take for a first sync of a big tree before the bench gives up.
pub const SYNC_DEADLINE: Duration = Duration::from_secs(600);

type Step = fn(&Bench, &mut Report) -> Result<()>;

pub fn run_all(bench: &Bench, report: &mut Report) {
    let steps: [(&str, bool, Step); 7] = [
        ("Push latency", bench.wants(Phase::Push), push::run),
        ("Pull latency", bench.wants(Phase::Pull), pull::run),
        (
            "Poll cost / start-up / footprint",
            [Phase::Poll, Phase::Startup, Phase::Footprint, Phase::Tray]
                .iter()
                .any(|p| bench.wants(*p)),
            idle::run,
        ),
        ("Initial sync", bench.wants(Phase::Initial), initial::run),
        ("Server under load", bench.wants(Phase::Server), load::run),
        ("Peers side by side", bench.wants(Phase::Peers), peers::run),
        ("Memory at scale", bench.wants(Phase::Scale), scale::run),
    ];
    for (name, wanted, step) in steps {
        if !wanted {
            continue;
        }
        eprintln!("== {name}");
        if let Err(e) = step(bench, report) {
            phase_failed(report, name, &e);
        }
    }
}

/// `later - earlier` in milliseconds, negative when `later` is earlier.
pub fn ms_between(later: SystemTime, earlier: SystemTime) -> f64 {
    match later.duration_since(earlier) {
        Ok(d) => d.as_secs_f64() * 1000.0,
        Err(e) => -e.duration().as_secs_f64() * 1000.0,
    }
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Puts `files` into the account with `threads` bare clients at once (setup, not measured).
pub fn seed(api: &Api, files: &[TreeFile], threads: usize) -> Result<()> {
    let next = Mutex::new(files.iter());
    let failure: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| {
                let api = api.clone();
                loop {
                    let file = match next.lock() {
                        Ok(mut it) => it.next(),
                        Err(_) => None,
                    };
                    let Some(file) = file else { break };
                    if let Err(e) = api.put_file(&file.path, &file.bytes()) {
                        if let Ok(mut f) = failure.lock() {
                            f.get_or_insert(e);
                        }
                        break;
                    }
                }
            });
        }
    });
    match failure.into_inner() {
        Ok(None) => Ok(()),
        Ok(Some(e)) => Err(e.context("seeding the account")),
        Err(_) => Err(anyhow!("a seeding thread panicked")),
    }
}

/// Every synced file under `root` by its `/` path, leaving out the client's own backups
/// (`sites-versions/`) and dotfiles (its temp files).
pub fn local_files(
    root: &std::path::Path,
) -> Result<std::collections::BTreeMap<String, std::path::PathBuf>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || (prefix.is_empty() && name == "sites-versions") {
                continue;
            }
            let rel = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push((entry.path(), rel));
            } else if kind.is_file() {
                out.insert(rel, entry.path());
            }
        }
    }
    Ok(out)
}
