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
            if here {
                self.book.picture.local_folders.insert(p.clone());
            } else {
                self.book.picture.local_folders.remove(p);
            }
        }
        self.book.picture.plan_folder_paths(&paths)
    }

    /// Creates folders on either side. Nothing here ever deletes one.
    pub(crate) fn execute(
        &mut self,
        actions: Vec<FolderAction>,
        reporter: &Reporter,
    ) -> Result<(), SessionEnd> {
        // Folders that did not go up for trouble that may pass, with why; and whether any did.
        let (mut passing, mut pushed) = (Vec::new(), false);
        for action in actions {
            if self.shutdown.load(Ordering::SeqCst) {
                break;
            }
            match action {
                FolderAction::Record(p) => self.book.picture.put_base_folder(&p),
                FolderAction::Forget(p) => self.book.picture.forget_base_folder(&p),
                FolderAction::Create(p) => {
                    let Ok(rp) = RemotePath::folder(&p) else {
                        continue;
                    };
                    match write::create_folder(self.folder, &rp) {
                        Ok(()) => {
                            log::info!("download folder {p}");
                            self.book.picture.local_folders.insert(p.clone());
                            self.book.picture.put_base_folder(&p);
                            self.book.issues.resolved(reporter, &p);
                        }
                        Err(e) => self
                            .book
                            .issues
                            .tell(reporter, issues::not_written(&p, &e.to_string())),
                    }
                }
                FolderAction::Push(p) => {
                    let Ok(rp) = RemotePath::folder(&p) else {
                        continue;
                    };
                    match self.remote.put_folder(&rp) {
                        Ok(_) => {
                            log::info!("upload folder {p}");
                            pushed = true;
                            self.book.picture.remote_folders.insert(p.clone());
                            self.book.picture.put_base_folder(&p);
                            self.book.issues.resolved(reporter, &p);
                        }
                        Err(e) => match fault::file_fault(&e) {
                            FileFault::EndSession => return Err(session_end(e)),
                            FileFault::Retry => passing.push((p, e)),
                            FileFault::Tell(ue) => {
                                self.book.issues.tell(reporter, issues::failed(&p, &e));
                                reporter.update(|s| s.error = Some(ue));
                            }
                            _ => self.book.issues.tell(reporter, issues::failed(&p, &e)),
                        },
                    }
                }
            }
        }
        if passing.is_empty() && pushed {
            self.book.schedule.folders_pushed();
        }
        self.retry_later(passing, reporter);
        Ok(())
    }

    /// One attempt per folder: those that met trouble that may pass go again with a rescan at
    /// the retry schedule's time (or with the first file inside them: a PUT creates its
    /// parents); after the last retry they are failed sync issues.
    fn retry_later(&mut self, passing: Vec<(String, RemoteError)>, reporter: &Reporter) {
        if passing.is_empty() {
            return;
        }
        match self.book.schedule.folder_push_failed(Instant::now()) {
            Attempt::RetryAt(_) => {
                for (p, e) in passing {
                    log::info!("folder {p}: {e}; trying again shortly");
                }
            }
            Attempt::GiveUp => {
                for (p, e) in passing {
                    self.book.issues.tell(reporter, issues::failed(&p, &e));
                }
            }
        }
    }
}
