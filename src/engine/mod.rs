//! The engine's public face and its control loop: one thread owns the sync state and reacts to
//! commands, watcher signals, finished logins and the poll clock. The observer is called from
//! that thread with no lock held. It must never block a caller of [`EngineHandle::send`], and
//! never log a token.

pub(crate) mod event;
mod token_slot;
mod updating;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use hyperclay_protocol::Timestamp;

use crate::auth::{self, AuthError, StoredToken, TokenStore};
use crate::engine::event::Event;
use crate::engine::token_slot::{StoreOpener, StoreWrite, TokenSlot};
use crate::home::config::EngineConfig;
use crate::home::lock::{DataDirLock, LockError};
use crate::home::settings::{self, Settings};
use crate::remote::{self, Remote};
use crate::rules::fault::{self, SessionEnd};
use crate::session::Session;
use crate::status::report::{Reporter, Shared, lock};
use crate::status::state::{Command, EngineState, PendingLogin, UserError};

/// How often a connected engine reads the server's version policy again (at most).
const VERSION_CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("Hyperclay Sync is already running for this data folder; quit the other one first")]
    AlreadyRunning,
    #[error("cannot use the data folder: {0}")]
    DataDir(String),
}

/// Sends commands to a running engine and reads its state. Cheap to clone, usable from any thread.
#[derive(Clone)]
pub struct EngineHandle {
    tx: Sender<Event>,
    shared: Arc<Shared>,
}

impl EngineHandle {
    /// Never blocks. After the engine stopped, commands are dropped.
    pub fn send(&self, command: Command) {
        if command == Command::Shutdown {
            self.shared.shutdown.store(true, Ordering::SeqCst);
        }
        let _ = self.tx.send(Event::Command(command));
    }

    pub fn state(&self) -> EngineState {
        lock(&self.shared.state).clone()
    }
}

pub struct Engine {
    handle: EngineHandle,
    thread: JoinHandle<()>,
}

impl Engine {
    /// Starts the engine threads; returns at once. Fails with [`EngineError::AlreadyRunning`] when
    /// another engine holds this data dir's lock.
    pub fn start(
        config: EngineConfig,
        observer: Box<dyn Fn(&EngineState) + Send + 'static>,
    ) -> Result<Engine, EngineError> {
        Self::start_with(config, observer, Arc::new(TokenStore::open))
    }

    fn start_with(
        config: EngineConfig,
        observer: Box<dyn Fn(&EngineState) + Send + 'static>,
        open_store: StoreOpener,
    ) -> Result<Engine, EngineError> {
        let data_lock = DataDirLock::acquire(&config.home).map_err(|e| match e {
            LockError::Held => EngineError::AlreadyRunning,
            other => EngineError::DataDir(other.to_string()),
        })?;
        if let Err(e) = crate::home::logging::init(&config.home, false) {
            return Err(EngineError::DataDir(format!("cannot open the log: {e}")));
        }
        let mut settings = settings::load(&config.home).unwrap_or_else(|e| {
            log::error!("{e}; using default settings");
            Settings::default()
        });
        // A folder given for this run is remembered for later ones; written only now, under the
        // lock, so a refused second instance changes nothing.
        if config.folder.is_some() && settings.folder != config.folder {
            settings.folder.clone_from(&config.folder);
            if let Err(e) = settings::save(&config.home, &settings) {
                log::error!("{e}");
            }
        }
        let folder = config
            .folder
            .clone()
            .or_else(|| settings.folder.clone())
            .unwrap_or_else(EngineConfig::default_folder);
        let state = EngineState::starting(
            config.server_url.clone(),
            folder.clone(),
            crate::home::logging::log_file(&config.home),
            settings.enabled,
        );
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            shutdown: Arc::new(AtomicBool::new(false)),
        });
        let (tx, rx) = mpsc::channel();
        let network_tx = tx.clone();
        if let Err(e) = crate::os::network::watch(move || {
            let _ = network_tx.send(Event::NetworkUp);
        }) {
            log::warn!("cannot watch the network ({e}); reconnecting waits for the next probe");
        }
        let handle = EngineHandle {
            tx: tx.clone(),
            shared: shared.clone(),
        };
        let reporter = Reporter::new(shared, observer, &config.home);
        let thread = std::thread::Builder::new()
            .name("hyperclay-engine".into())
            .spawn(move || {
                let mut runner = Runner {
                    agent: remote::agent(),
                    token: None,
                    store: TokenSlot::new(
                        open_store,
                        config.home.clone(),
                        config.server_url.clone(),
                        tx.clone(),
                    ),
                    config,
                    settings,
                    folder,
                    reporter,
                    tx,
                    session: None,
                    next_probe: Instant::now(),
                    next_refresh_on_use: Instant::now(),
                    offline_said: false,
                    retrying_said: 0,
                    login_running: false,
                    pruned_at: None,
                    outdated: false,
                    _lock: data_lock,
                };
                runner.run(rx);
            })
            .map_err(|e| EngineError::DataDir(format!("cannot start the engine thread: {e}")))?;
        Ok(Engine { handle, thread })
    }

    pub fn handle(&self) -> EngineHandle {
        self.handle.clone()
    }

    /// Waits for the engine to stop (send [`Command::Shutdown`] first).
    pub fn join(self) {
        if self.thread.join().is_err() {
            log::error!("the engine thread panicked");
        }
    }
}

struct Runner {
    config: EngineConfig,
    settings: Settings,
    folder: PathBuf,
    reporter: Reporter,
    tx: Sender<Event>,
    agent: ureq::Agent,
    token: Option<String>,
    store: TokenSlot,
    session: Option<Session>,
    /// When the next session attempt (or offline probe) is due.
    next_probe: Instant,
    /// A refresh on use (not syncing) is not tried again before this: a failed one waits a poll.
    next_refresh_on_use: Instant,
    /// The current spell offline was logged already (the first failure is always said, even
    /// before the first success, e.g. a server URL that never answers).
    offline_said: bool,
    /// The count of files waiting for a retry, as last put into the state.
    retrying_said: usize,
    login_running: bool,
    /// When `sites-versions/` was last pruned to its retention (at a session's start, daily).
    pruned_at: Option<Instant>,
    /// The server no longer accepts this version: nothing is sent until the app is updated.
    outdated: bool,

    _lock: DataDirLock,
}

impl Runner {
    fn run(&mut self, rx: Receiver<Event>) {
        log::info!(
            "Engine started: server {}, folder {}",
            self.config.server_url,
            self.folder.display()
        );
        self.reporter.publish(&self.reporter.state());
        match self.config.token_override.clone() {
            Some(t) => {
                self.token = Some(t);
                self.reporter.update(|s| s.token_given = true);
                self.refresh_on_use();
            }
            None => self.store.begin_opening(),
        }
        loop {
            self.tick();
            self.reporter.flush();
            if self.reporter.shutting_down() {
                break;
            }
            // Nothing due means nothing to do until an event: every command, watcher signal,
            // login result and store opening arrives on `rx`, so no periodic check is needed.
            let received = match self.next_wake() {
                Some(at) => rx.recv_timeout(at.saturating_duration_since(Instant::now())),
                None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            match received {
                Ok(event) => {
                    if !self.handle(event) {
                        break;
                    }
                    // Drain whatever else is queued before doing the work it calls for.
                    while let Ok(event) = rx.try_recv() {
                        if !self.handle(event) {
                            self.stop();
                            return;
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        self.stop();
    }

    fn stop(&mut self) {
        self.session = None;
        self.reporter.update(|s| s.online = false);
        log::info!("Engine stopped");
    }

    /// The next deadline (poll, push, rescan, session attempt); `None` when only an event can
    /// bring work (a long-poll reply is one). Sleeping to it, uncapped, keeps an idle engine to
    /// one wake-up per poll.
    fn next_wake(&self) -> Option<Instant> {
        match &self.session {
            Some(s) => s.next_wake(),
            None if self.wants_sync() => Some(self.next_probe),
            None => None,
        }
    }

    fn wants_sync(&self) -> bool {
        self.token.is_some() && self.settings.enabled && !self.outdated
    }

    fn store_opened(&mut self, store: TokenStore, loaded: Result<Option<StoredToken>, AuthError>) {
        let Some(loaded) = self.store.opened(store, loaded) else {
            return;
        };
        if self.config.token_override.is_some() {
            return;
        }
        match loaded {
            Ok(Some(t)) => {
                let name = t.user.name.clone();
                self.token = Some(t.access_token);
                self.next_probe = Instant::now();
                self.reporter.update(|s| s.account = Some(name));
                self.refresh_on_use();
            }
            Ok(None) => log::info!("Not logged in"),
            Err(e) => log::error!("Cannot read the stored login: {e}"),
        }
    }

    /// False when the engine must stop.
    fn handle(&mut self, event: Event) -> bool {
        if let Event::Command(Command::SetEnabled(_) | Command::SetFolder(_) | Command::Login) =
            &event
        {
            self.refresh_on_use();
        }
        match event {
            Event::Command(Command::Shutdown) => return false,
            Event::Command(Command::SetEnabled(on)) => {
                self.settings.enabled = on;
                self.save_settings();
                self.reporter.update(|s| s.enabled = on);
                if on {
                    self.next_probe = Instant::now();
                } else {
                    self.end_session("sync switched off");
                }
            }
            Event::Command(Command::SetFolder(folder)) => {
                self.settings.folder = Some(folder.clone());
                self.save_settings();
                self.end_session("the sync folder changed");
                // Chosen by the user: set up afresh even if it lost its marker (their way to
                // start over in a folder that was replaced).
                crate::local::folder_guard::forget(&self.config.home, &folder);
                self.folder = folder.clone();
                self.next_probe = Instant::now();
                self.reporter.update(|s| s.folder = folder);
            }
            Event::Command(Command::SetStartAtLogin(on)) => {
                self.settings.start_at_login = on;
                self.save_settings();
            }
            Event::Command(Command::Login) if self.outdated => {
                log::warn!("Login refused here: this version is no longer accepted; update first");
            }
            Event::Command(Command::Login) => self.begin_login(),
            Event::Command(Command::Update) => self.begin_update(),
            Event::Update(progress) => self.update_progress(progress),
            Event::Command(Command::Logout) => self.logout(),
            Event::LoginFinished(result) => self.finish_login(result),
            Event::StoreOpened(store, loaded) => self.store_opened(store, loaded),
            Event::NetworkUp => {
                if self.session.is_none() && self.wants_sync() {
                    log::info!("The network changed: trying the server now");
                    self.next_probe = Instant::now();
                }
            }
            Event::FsReady => {
                if let Some(s) = &mut self.session {
                    s.take_signals();
                }
            }
            Event::ChangesArrived(session, reply) => {
                if let Some(s) = &mut self.session {
                    s.changes_arrived(session, reply);
                }
            }
        }
        true
    }

    /// The running engine is the settings file's one writer (the tray sends its changes as
    /// commands), so its copy is the truth.
    fn save_settings(&self) {
        if let Err(e) = settings::save(&self.config.home, &self.settings) {
            log::error!("{e}");
        }
    }

    fn end_session(&mut self, why: &str) {
        if self.session.take().is_some() {
            log::info!("Session ended: {why}");
        }
    }

    fn tick(&mut self) {
        if !self.wants_sync() {
            self.end_session("not logged in or switched off");
            return;
        }
        // The version policy comes with a session's status call: a session lives a day at most.
        if self
            .session
            .as_ref()
            .is_some_and(|s| s.started_at.elapsed() >= VERSION_CHECK_EVERY)
        {
            self.end_session("a day passed: the version policy is read again");
            self.next_probe = Instant::now();
        }
        // Refresh before a poll's calls; single-flight by construction: only this thread does it.
        if self.session.as_ref().is_some_and(Session::poll_due)
            && self.refresh_if_due()
            && let (Some(s), Some(t)) = (&mut self.session, &self.token)
        {
            s.set_token(t);
        }
        let outcome = match &mut self.session {
            Some(session) => session.step(&self.reporter),
            None => {
                if Instant::now() < self.next_probe {
                    return;
                }
                self.next_probe = Instant::now() + self.config.poll_interval;
                self.refresh_if_due();
                let Some(token) = self.token.clone() else {
                    return;
                };
                let remote = Remote::new(self.agent.clone(), &self.config.server_url, &token);
                Session::start(
                    remote,
                    &self.config,
                    &self.folder,
                    &self.reporter,
                    self.tx.clone(),
                )
                .map(|session| {
                    self.offline_said = false;
                    self.session = Some(session);
                    crate::history::retention::prune_if_due(&self.folder, &mut self.pruned_at);
                })
            }
        };
        match outcome {
            Err(end) => self.session_ended(end),
            Ok(()) => {
                // Files waiting for their next try are work in hand; said only when it changes.
                let retrying = self.session.as_ref().map_or(0, Session::retries_pending);
                if retrying != self.retrying_said {
                    self.retrying_said = retrying;
                    self.reporter.update(|s| s.retrying = retrying);
                }
            }
        }
    }

    fn session_ended(&mut self, end: SessionEnd) {
        self.session = None;
        // Whatever was in hand (a start's comparing, a batch's count, retries) stopped with it.
        self.retrying_said = 0;
        self.reporter.update(|s| {
            s.progress = None;
            s.retrying = 0;
        });
        match end {
            SessionEnd::Offline(why) => {
                let was_online = self.reporter.state().online;
                let cause = fault::offline_cause(&self.config.server_url, &why);
                if was_online || !self.offline_said {
                    log::warn!("Offline: {cause}");
                    self.offline_said = true;
                }
                self.reporter.update(|s| {
                    s.online = false;
                    s.offline_cause = Some(cause);
                });
            }
            SessionEnd::Unauthorized => {
                log::warn!("The server refused the login (401): logged out");
                self.forget_token(Some(UserError::LoginRefused));
            }
            SessionEnd::SubscriptionRequired => {
                log::warn!("The account is not a paid subscriber: sync paused");
                self.reporter.update(|s| {
                    s.online = true;
                    s.error = Some(UserError::SubscriptionRequired);
                });
            }
            SessionEnd::Outdated { minimum, download } => self.outdated(minimum, download),
            SessionEnd::Restart(why) => {
                log::info!("New session: {why}");
                self.next_probe = Instant::now();
            }
            // Both are retried at every probe until their cause goes away: each is logged when it
            // starts, not at every retry.
            SessionEnd::FolderUnavailable(why) => {
                let error = UserError::FolderUnavailable(why.to_string());
                if self.reporter.state().error.as_ref() != Some(&error) {
                    log::error!("Sync paused: {why}");
                }
                self.reporter.update(|s| s.error = Some(error.clone()));
            }
            SessionEnd::Failed(why) => {
                // Said once while it holds: the next probes meet the same wall.
                let error = UserError::Other(why.clone());
                if self.reporter.state().error.as_ref() != Some(&error) {
                    log::error!("Sync stopped: {why}");
                }
                self.reporter.update(|s| s.error = Some(error.clone()));
            }
        }
    }

    /// Drops the login; `why` is what the user is told (nothing after their own Logout).
    fn forget_token(&mut self, why: Option<UserError>) {
        self.token = None;
        self.session = None;
        if self.config.token_override.is_none() {
            self.store.write(StoreWrite::Clear);
        }
        self.reporter.update(|s| {
            s.account = None;
            s.token_given = false;
            s.online = false;
            s.error = why;
        });
    }

    /// Any use of the app keeps the login alive, syncing or not (the start, a command): the
    /// seed's "refreshed whenever the user uses the app", still at most once a day. A try that
    /// fails is not repeated before a poll interval has passed.
    fn refresh_on_use(&mut self) {
        let now = Instant::now();
        if now < self.next_refresh_on_use {
            return;
        }
        self.next_refresh_on_use = now + self.config.poll_interval;
        if self.refresh_if_due()
            && let (Some(s), Some(t)) = (&mut self.session, &self.token)
        {
            s.set_token(t);
        }
    }

    /// Refreshes the token once it is older than a day; true when it changed.
    fn refresh_if_due(&mut self) -> bool {
        let Some(token) = self.token.clone() else {
            return false;
        };
        if !auth::needs_refresh(&token, Timestamp::now()) {
            return false;
        }
        match auth::refresh(&self.agent, &self.config.server_url, &token) {
            Ok(fresh) => {
                log::info!("Login refreshed");
                if self.config.token_override.is_none() {
                    self.store.write(StoreWrite::Save(fresh.clone()));
                }
                self.token = Some(fresh.access_token);
                true
            }
            Err(AuthError::Unauthorized) => {
                log::warn!("The login expired: logged out");
                self.forget_token(Some(UserError::LoginRefused));
                false
            }
            Err(e) => {
                log::warn!("Cannot refresh the login now: {e}");
                false
            }
        }
    }

    fn begin_login(&mut self) {
        if self.login_running {
            return;
        }
        let pending = match auth::PendingLogin::begin(&self.config.server_url) {
            Ok(p) => p,
            Err(e) => {
                log::error!("Login failed to start: {e}");
                return;
            }
        };
        let url = pending.url().to_owned();
        // The URL carries the login's state: shown to the user (EngineState), never logged.
        log::info!("Login: waiting for the browser");
        self.login_running = true;
        self.reporter
            .update(|s| s.login = Some(PendingLogin { url: url.clone() }));
        let (agent, tx) = (self.agent.clone(), self.tx.clone());
        let opener_url = url.clone();
        // webbrowser may wait for a $BROWSER command to exit; never on the engine thread.
        let _ = std::thread::Builder::new()
            .name("open-browser".into())
            .spawn(move || {
                if let Err(e) = webbrowser::open(&opener_url) {
                    log::warn!("Could not open a browser ({e}); open the login URL by hand");
                }
            });
        let spawned = std::thread::Builder::new()
            .name("login-wait".into())
            .spawn(move || {
                let result = pending.wait(&agent, auth::LOGIN_TIMEOUT);
                let _ = tx.send(Event::LoginFinished(result));
            });
        if let Err(e) = spawned {
            log::error!("Login failed to start: {e}");
            self.login_running = false;
            self.reporter.update(|s| s.login = None);
        }
    }

    fn finish_login(&mut self, result: Result<StoredToken, AuthError>) {
        self.login_running = false;
        match result {
            Ok(token) => {
                log::info!("Logged in as {}", token.user.name);
                self.store.write(StoreWrite::Save(token.clone()));
                let name = token.user.name.clone();
                self.token = Some(token.access_token);
                self.settings.enabled = true;
                self.save_settings();
                self.session = None;
                self.next_probe = Instant::now();
                self.reporter.update(|s| {
                    s.login = None;
                    s.account = Some(name);
                    s.enabled = true;
                    s.error = None;
                });
            }
            Err(e) => {
                log::error!("Login failed: {e}");
                // An unpaid account must see why; a timeout or a refusal is only logged.
                if matches!(e, AuthError::ClientOutdated) {
                    self.reporter.update(|s| s.login = None);
                    self.outdated(None, None);
                    return;
                }
                let unpaid = matches!(e, AuthError::SubscriptionRequired);
                self.reporter.update(|s| {
                    s.login = None;
                    if unpaid {
                        s.error = Some(UserError::SubscriptionRequired);
                    }
                });
            }
        }
    }

    fn logout(&mut self) {
        if let Some(token) = self.token.clone() {
            match auth::revoke(&self.agent, &self.config.server_url, &token) {
                Ok(()) | Err(AuthError::Unauthorized) => log::info!("Logged out"),
                Err(e) => log::warn!("Logged out here, but the server was not told: {e}"),
            }
        }
        self.end_session("logged out");
        self.forget_token(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyperclay_protocol::User;
    use std::path::Path;
    use std::time::Duration;

    /// Nothing listens here: a session attempt fails at once and the engine goes offline.
    const NOWHERE: &str = "http://127.0.0.1:9";

    /// A stored login, and an opener that waits (like a keyring behind an unlock prompt) until
    /// the test says go, then opens the file store holding it.
    fn stalled_store(home: &Path) -> (StoreOpener, mpsc::Sender<()>) {
        let stored = StoredToken {
            access_token: "not-a-real-token".into(),
            expires_at: Timestamp::from_millis(i64::MAX / 2),
            user: User {
                id: "1".into(),
                name: "alice".into(),
            },
        };
        TokenStore::file_only(home, NOWHERE).save(&stored).unwrap();
        let (go, wait) = mpsc::channel::<()>();
        let wait = Mutex::new(wait);
        let opener: StoreOpener = Arc::new(move |home: &Path, url: &str| {
            let _ = lock(&wait).recv_timeout(Duration::from_secs(30));
            TokenStore::file_only(home, url)
        });
        (opener, go)
    }

    fn start(home: &Path, folder: &Path, opener: StoreOpener) -> Engine {
        let config = EngineConfig {
            home: home.to_path_buf(),
            server_url: NOWHERE.into(),
            token_override: None,
            poll_interval: Duration::from_millis(200),
            stall_window: crate::home::config::DEFAULT_STALL_WINDOW,
            folder: Some(folder.to_path_buf()),
        };
        Engine::start_with(config, Box::new(|_| {}), opener).unwrap()
    }

    fn wait_until(mut cond: impl FnMut() -> bool) -> bool {
        let end = Instant::now() + Duration::from_secs(20);
        while Instant::now() < end {
            if cond() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    #[test]
    fn commands_are_handled_while_the_keyring_waits_for_an_unlock() {
        let (home, folder) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (opener, go) = stalled_store(home.path());
        let engine = start(home.path(), folder.path(), opener);
        let handle = engine.handle();
        handle.send(Command::SetEnabled(false));
        assert!(wait_until(|| !handle.state().enabled));
        assert!(handle.state().account.is_none());
        go.send(()).unwrap();
        assert!(wait_until(
            || handle.state().account.as_deref() == Some("alice")
        ));
        handle.send(Command::Shutdown);
        engine.join();
    }

    #[test]
    fn a_logout_while_the_keyring_opens_wins_over_the_stored_login() {
        let (home, folder) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (opener, go) = stalled_store(home.path());
        let engine = start(home.path(), folder.path(), opener);
        let handle = engine.handle();
        handle.send(Command::Logout);
        go.send(()).unwrap();
        let store = TokenStore::file_only(home.path(), NOWHERE);
        assert!(wait_until(|| matches!(store.load(), Ok(None))));
        handle.send(Command::SetEnabled(false));
        assert!(wait_until(|| !handle.state().enabled));
        assert!(handle.state().account.is_none());
        handle.send(Command::Shutdown);
        engine.join();
    }
}
