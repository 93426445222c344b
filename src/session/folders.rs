//! Folders on both sides of a session: a folder new on one side is created on the other, by the
//! rules of `plan::plan_folders`. Folders carry no content, so only their existence is synced.
//! It must never delete a folder on either side.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use hyperclay_protocol::RemotePath;

use crate::local::ignore::Rules;
use crate::local::{self, Verdict, write};
use crate::remote::{Remote, RemoteError};
use crate::rules::fault::{self, FileFault, SessionEnd, session_end};
use crate::rules::plan::FolderAction;
use crate::rules::schedule::Attempt;
use crate::session::book::Book;
use crate::session::issues;
use crate::status::report::Reporter;

/// What the folder work of a session borrows from it.
pub(crate) struct Folders<'a> {
    pub(crate) book: &'a mut Book,
    pub(crate) remote: &'a Remote,
    pub(crate) folder: &'a Path,
    pub(crate) rules: &'a Rules,
    pub(crate) shutdown: &'a AtomicBool,
}

impl Folders<'_> {
    /// The folder plan for `paths` alone, with their local side looked at afresh (the watcher
    /// does not report folders that go away).
    pub(crate) fn look(&mut self, paths: &BTreeSet<String>) -> Vec<FolderAction> {
        // Ignored or forbidden names (a remote `node_modules`) take no part, as in a scan.
        let paths: BTreeSet<String> = paths
            .iter()
            .filter(|p| matches!(self.rules.folder_verdict(p), Verdict::Synced(_)))
            .cloned()
            .collect();
        for p in &paths {
            let here = RemotePath::folder(p)
                .ok()
                .and_then(|rp| local::join_inside(self.folder, &rp))
                .and_then(|dir| std::fs::symlink_metadata(dir).ok())
                .is_some_and(|m| m.is_dir());
            self.book.folder_here(p, here);
        }
        self.book.plan_folders(&paths)
    }

    /// Creates folders on either side. Nothing here ever deletes one.
    pub(crate) fn execute(
        &mut self,
        actions: Vec<FolderAction>,
        reporter: &Reporter,
    ) -> Result<(), SessionEnd> {
        let (creates, others): (Vec<FolderAction>, Vec<FolderAction>) = actions
            .into_iter()
            .partition(|a| matches!(a, FolderAction::Create(_)));
        self.create_here(creates, reporter);
        // Folders that did not go up for trouble that may pass, with why; and whether any did.
        let (mut passing, mut pushed) = (Vec::new(), false);
        for action in others {
            if self.shutdown.load(Ordering::SeqCst) {
                break;
            }
            match action {
                FolderAction::Record(p) => self.book.folder_recorded(&p),
                FolderAction::Forget(p) => self.book.folder_forgotten(&p),
                FolderAction::Create(_) => {}
                FolderAction::Push(p) => {
                    let Ok(rp) = RemotePath::folder(&p) else {
                        continue;
                    };
                    match self.remote.put_folder(&rp) {
                        Ok(_) => {
                            log::info!("upload folder {p}");
                            pushed = true;
                            self.book.folder_pushed(&p, reporter);
                        }
                        Err(e) => match fault::file_fault(&e) {
                            FileFault::EndSession => return Err(session_end(e)),
                            FileFault::Retry => passing.push((p, e)),
                            FileFault::Tell(ue) => {
                                self.book.tell(reporter, issues::failed(&p, &e));
                                reporter.update(|s| s.error = Some(ue));
                            }
                            _ => self.book.tell(reporter, issues::failed(&p, &e)),
                        },
                    }
                }
            }
        }
        if passing.is_empty() && pushed {
            self.book.folder_pushes_done();
        }
        self.retry_later(passing, reporter);
        Ok(())
    }

    /// The remote's new folders, made here in one pass (`write::create_folders`: durable before
    /// it returns), then recorded in the base in one transaction. A first sync of 50,000 empty
    /// folders was one SQLite commit and one log line per folder.
    fn create_here(&mut self, creates: Vec<FolderAction>, reporter: &Reporter) {
        let rels: Vec<RemotePath> = creates
            .into_iter()
            .filter_map(|a| match a {
                FolderAction::Create(p) => RemotePath::folder(&p).ok(),
                _ => None,
            })
            .collect();
        if rels.is_empty() || self.shutdown.load(Ordering::SeqCst) {
            return;
        }
        let mut made = Vec::with_capacity(rels.len());
        for (rel, result) in write::create_folders(self.folder, &rels) {
            let p = rel.as_str().to_owned();
            match result {
                Ok(()) => made.push(p),
                Err(e) => self
                    .book
                    .tell(reporter, issues::not_written(&p, &e.to_string())),
            }
        }
        log_downloaded_folders(&made);
        self.book.folders_made(&made, reporter);
    }

    /// One attempt per folder: those that met trouble that may pass go again with a rescan at
    /// the retry schedule's time (or with the first file inside them: a PUT creates its
    /// parents); after the last retry they are failed sync issues.
    fn retry_later(&mut self, passing: Vec<(String, RemoteError)>, reporter: &Reporter) {
        if passing.is_empty() {
            return;
        }
        match self.book.folder_push_failed(Instant::now()) {
            Attempt::RetryAt(_) => {
                for (p, e) in passing {
                    log::info!("folder {p}: {e}; trying again shortly");
                }
            }
            Attempt::GiveUp => {
                for (p, e) in passing {
                    self.book.tell(reporter, issues::failed(&p, &e));
                }
            }
        }
    }
}

/// One log line per folder made, up to a few; past that one line with the count, so a first
/// sync of a huge tree does not write a line per folder.
fn log_downloaded_folders(made: &[String]) {
    const NAMED: usize = 20;
    if made.len() <= NAMED {
        for p in made {
            log::info!("download folder {p}");
        }
    } else {
        log::info!(
            "download {} folders ({}, … {})",
            made.len(),
            made[..3].join(", "),
            made[made.len() - 1]
        );
    }
}
