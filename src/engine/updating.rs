//! The engine's part in "only the latest version is supported": a server that no longer accepts
//! this version stops all syncing at once (nothing more is sent), and the user's Update runs on
//! its own thread, its steps reported as they come.

use semver::Version;

use super::Runner;
use crate::engine::event::Event;
use crate::remote::Remote;
use crate::status::state::{UpdateProgress, UserError, VersionNews};
use crate::update::{self, Outcome, Step, install, platform};

impl Runner {
    /// The server refused this version: no session, no probe, no login until the app is updated
    /// (a restart of the updated app starts afresh, and local changes go up by the start-up rules).
    pub(super) fn outdated(&mut self, minimum: Option<Version>, download: Option<String>) {
        self.session = None;
        if !self.outdated {
            log::error!(
                "The server no longer accepts this version ({}){}: syncing stopped until Hyperclay Sync is updated",
                update::THIS_VERSION,
                minimum
                    .as_ref()
                    .map(|m| format!("; it needs {m} or later"))
                    .unwrap_or_default()
            );
        }
        self.outdated = true;
        let minimum = minimum.map(|m| m.to_string());
        self.reporter.update(|s| {
            s.online = true;
            s.progress = None;
            s.error = Some(UserError::Outdated {
                minimum: minimum.clone(),
            });
            s.version_news = Some(VersionNews {
                version: minimum.clone().unwrap_or_default(),
                required: true,
                download: download.clone(),
            });
        });
    }

    /// The user chose Update: one at a time, off the engine thread.
    pub(super) fn begin_update(&mut self) {
        if self
            .reporter
            .state()
            .update
            .as_ref()
            .is_some_and(UpdateProgress::running)
        {
            return;
        }
        self.reporter
            .update(|s| s.update = Some(UpdateProgress::Checking));
        log::info!("Update: looking for the newest release");
        let remote = Remote::new(self.agent.clone(), &self.config.server_url, "");
        let home = self.config.home.clone();
        let download = self.reporter.state().version_news.and_then(|n| n.download);
        let tx = self.tx.clone();
        let spawned = std::thread::Builder::new()
            .name("update".into())
            .spawn(move || {
                let how = std::env::current_exe()
                    .map(|exe| {
                        let appimage = std::env::var_os("APPIMAGE").map(std::path::PathBuf::from);
                        platform::detect(&exe, appimage.as_deref())
                    })
                    .unwrap_or((None, platform::Install::ByHand));
                let step_tx = tx.clone();
                let result = update::update(&remote, &home, how, download.as_deref(), |step| {
                    let p = match step {
                        Step::Downloading(v) => UpdateProgress::Downloading(v.to_string()),
                        Step::Installing(v) => UpdateProgress::Installing(v.to_string()),
                    };
                    let _ = step_tx.send(Event::Update(p));
                });
                let end = match result {
                    Ok(Outcome::Installed { version, relaunch }) => {
                        match install::relaunch(&relaunch) {
                            Ok(()) => UpdateProgress::Restarting(version.to_string()),
                            Err(e) => UpdateProgress::Failed(format!(
                                "version {version} is installed, but it could not be started \
                                 ({e}): quit and start Hyperclay Sync again"
                            )),
                        }
                    }
                    Ok(Outcome::ByHand { text }) => {
                        // A package install (or a build) cannot replace itself: the download
                        // page opens, as the words say.
                        let page = download.as_deref().unwrap_or(update::DOWNLOAD_PAGE);
                        if let Err(e) = webbrowser::open(page) {
                            log::warn!("Could not open a browser ({e}); the page is {page}");
                        }
                        UpdateProgress::ByHand(text)
                    }
                    Err(e) => UpdateProgress::Failed(e.to_string()),
                };
                let _ = tx.send(Event::Update(end));
            });
        if let Err(e) = spawned {
            self.reporter
                .update(|s| s.update = Some(UpdateProgress::Failed(e.to_string())));
        }
    }

    pub(super) fn update_progress(&mut self, p: UpdateProgress) {
        match &p {
            UpdateProgress::Failed(why) => log::error!("Update: {why}"),
            UpdateProgress::Restarting(v) => {
                log::info!("Update: version {v} is installed; restarting")
            }
            other => log::info!("Update: {}", other.line()),
        }
        self.reporter.update(|s| s.update = Some(p));
    }
}
