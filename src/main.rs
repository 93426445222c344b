//! `hyperclay-sync`: the command line (the engine headless, login, logout, status). With no
//! subcommand it hands over to the tray app, `hyperclay-sync-tray` beside it. It must never
//! reference the tray's crates (GTK, tao, tray-icon…): this binary stays free of the GUI stack, so
//! `run --headless` maps none of it (tests/e2e/binaries.rs checks). Errors are reported with anyhow
//! here only; tokens never printed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;

use anyhow::Context;
use clap::{ArgAction, Args, CommandFactory, Parser, Subcommand};
use hyperclay_protocol::Timestamp;
use hyperclay_sync::auth::{self, TokenStore};
use hyperclay_sync::engine::{Engine, EngineError};
use hyperclay_sync::history::command as history;
use hyperclay_sync::home::config::{ConfigError, DEFAULT_SERVER_URL, EngineConfig, VERSION};
use hyperclay_sync::home::lock::DataDirLock;
use hyperclay_sync::home::{logging, settings};
use hyperclay_sync::os::signals;
use hyperclay_sync::remote::server_text::ServerText;
use hyperclay_sync::status::report::{StatusFile, issues_report_file, status_file};
use hyperclay_sync::status::state::{
    Command, EngineState, SyncIssue, UpdateProgress, UserError, VersionNews,
};
use hyperclay_sync::status::text::{self, Summary};
use hyperclay_sync::update;
use hyperclay_sync::{local, remote};
use log::LevelFilter;
use serde::Serialize;

/// The tray app's binary, looked for in this executable's folder (with `.exe` on Windows).
const TRAY_BIN: &str = "hyperclay-sync-tray";

/// Exit codes, kept apart from clap's own (2, a usage error), so scripts can branch on them.
mod exit {
    /// Already running for this data folder: the other instance was left as it was.
    pub const ALREADY_RUNNING: u8 = 3;
    /// No login: run `hyperclay-sync login` (or set HYPERCLAY_TOKEN).
    pub const NOT_LOGGED_IN: u8 = 4;
    /// The server refused the login (expired, revoked): log in again.
    pub const LOGIN_REFUSED: u8 = 5;
    /// The server no longer accepts this version: update (`hyperclay-sync update`).
    pub const OUTDATED: u8 = 6;
}

const AFTER_HELP: &str = "With no command it starts the tray app (hyperclay-sync-tray, installed \
beside it) with the same folder and settings.

Exit codes: 0 done; 1 an error (the message says which); 2 a usage error; 3 already running for \
this data folder; 4 not logged in; 5 the server refused the login (log in again); 6 the server \
no longer accepts this version (run `hyperclay-sync update`).";

#[derive(Parser)]
#[command(
    name = "hyperclay-sync",
    version = VERSION,
    about = "Keeps a local folder in live two-way sync with your Hyperclay account",
    after_help = AFTER_HELP
)]
struct Cli {
    // Only accepted here: the tray app is handed the same arguments and applies it.
    /// Start the tray app syncing this folder (created if needed, and remembered for later starts)
    #[arg(long, value_name = "DIR")]
    folder: Option<PathBuf>,
    #[command(flatten)]
    options: Options,
    #[command(subcommand)]
    command: Option<Cmd>,
}

/// Settings every command shares; each has an environment variable, as `--help` shows.
#[derive(Args)]
struct Options {
    /// The Hyperclay server [default: this build's, see --version]
    #[arg(long, env = "HYPERCLAY_URL", value_name = "URL", global = true)]
    server: Option<String>,
    /// Where settings, sync state and the log are kept [default: the OS's data folder]
    #[arg(long, env = "HYPERCLAY_SYNC_HOME", value_name = "DIR", global = true)]
    home: Option<PathBuf>,
    /// Use this login token instead of the stored one (prefer the variable: a command line is
    /// visible to other users)
    #[arg(
        long,
        env = "HYPERCLAY_TOKEN",
        value_name = "JWT",
        hide_env_values = true,
        global = true
    )]
    token: Option<String>,
    /// Seconds between polls for remote changes [default: 10]
    #[arg(
        long,
        env = "HYPERCLAY_POLL_SECONDS",
        value_name = "SECONDS",
        global = true
    )]
    poll_seconds: Option<String>,
    /// Seconds a transfer may stall before it is given up [default: 10]
    #[arg(
        long,
        env = "HYPERCLAY_STALL_SECONDS",
        value_name = "SECONDS",
        global = true
    )]
    stall_seconds: Option<String>,
    /// Say more on the terminal and in the log (-v debug, -vv trace)
    #[arg(short, long, action = ArgAction::Count, global = true, conflicts_with = "quiet")]
    verbose: u8,
    /// Say only warnings and errors on the terminal (the log file keeps its usual detail)
    #[arg(short, long, global = true)]
    quiet: bool,
    /// The log's level when neither -v nor -q is given: `debug`, or `hyperclay_sync=debug`
    /// (RUST_LOG is read too, after this)
    #[arg(
        long = "log",
        env = "HYPERCLAY_LOG",
        value_name = "LEVEL",
        global = true
    )]
    log: Option<String>,
}

impl Options {
    fn config(&self) -> Result<EngineConfig, ConfigError> {
        let home = self.home.as_ref().map(|h| h.display().to_string());
        EngineConfig::from_vars(|name| match name {
            "HYPERCLAY_URL" => self.server.clone(),
            "HYPERCLAY_SYNC_HOME" => home.clone(),
            "HYPERCLAY_TOKEN" => self.token.clone(),
            "HYPERCLAY_POLL_SECONDS" => self.poll_seconds.clone(),
            "HYPERCLAY_STALL_SECONDS" => self.stall_seconds.clone(),
            _ => None,
        })
    }

    /// (the log file's level, the terminal's level).
    fn log_levels(&self) -> (LevelFilter, LevelFilter) {
        let named = self
            .log
            .as_deref()
            .and_then(logging::level_from_directives)
            .or_else(|| {
                std::env::var("RUST_LOG")
                    .ok()
                    .as_deref()
                    .and_then(logging::level_from_directives)
            });
        let chosen = match self.verbose {
            0 => named.unwrap_or(LevelFilter::Info),
            1 => LevelFilter::Debug,
            _ => LevelFilter::Trace,
        };
        // The file is what support asks for: it never says less than the usual.
        let file = chosen.max(LevelFilter::Info);
        let terminal = if self.quiet {
            LevelFilter::Warn
        } else {
            chosen
        };
        (file, terminal)
    }

    fn init_log(&self, home: &Path, terminal: bool) -> std::io::Result<()> {
        let (file, term) = self.log_levels();
        logging::init_with(home, file, terminal.then_some(term))
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Update this copy to the newest release from the server's release feed: downloaded,
    /// checked against its SHA-256 and the Hyperclay release key's signature, then installed
    /// (AppImage, Windows setup, macOS app); a package-manager install is told what to run.
    Update,
    /// Run the sync engine without the tray, until Ctrl-C or SIGTERM.
    Run {
        /// Required: there is no other mode for `run` yet.
        #[arg(long)]
        headless: bool,
        /// Sync this folder (created if needed, and remembered for the tray and later runs).
        #[arg(long, value_name = "DIR")]
        folder: Option<PathBuf>,
    },
    /// Log in with your browser (the URL is printed too). Where no browser can work (no
    /// DISPLAY or WAYLAND_DISPLAY, or an SSH session without one, and no BROWSER set) it logs
    /// in with a code instead, as --device does.
    Login {
        /// Log in with a one-time code confirmed in a browser on any device (RFC 8628), for
        /// machines without a browser
        #[arg(long)]
        device: bool,
    },
    /// Revoke this machine's login on the server, then forget it.
    Logout,
    /// Show the account, server, folder, sync state, last sync, last error, the sync issues and
    /// the log file.
    Status {
        /// Print one JSON object instead (field names in camelCase), for scripts.
        #[arg(long)]
        json: bool,
    },
    /// List every version of a file, here (sites-versions/) and on the server, newest first.
    History {
        /// A path in the sync folder, or an app's name (`hello`)
        path: String,
        /// Print one JSON object (`versions`: id, savedAt, size, checksum, where, current)
        #[arg(long)]
        json: bool,
    },
    /// Make an earlier version the current content on both sides, as an ordinary save (what it
    /// replaces is backed up first, here and on the server).
    Restore {
        /// A path in the sync folder, or an app's name
        path: String,
        #[command(flatten)]
        version: VersionArg,
        /// Only say what would be done
        #[arg(long)]
        dry_run: bool,
    },
    /// Show how a version differs from the current content.
    Diff {
        /// A path in the sync folder, or an app's name
        path: String,
        #[command(flatten)]
        version: VersionArg,
    },
}

#[derive(Args)]
#[group(required = true, multiple = false)]
struct VersionArg {
    /// The version's id, as `history` shows it
    #[arg(long, value_name = "ID")]
    version: Option<String>,
    /// The newest version saved at or before TIME (RFC 3339, or `2026-12-01`, UTC)
    #[arg(long, value_name = "TIME")]
    before: Option<String>,
}

impl VersionArg {
    fn choice(&self) -> Result<history::Choice, history::HistoryError> {
        history::Choice::from_args(self.version.as_deref(), self.before.as_deref())
    }
}

fn main() -> ExitCode {
    // Before any thread starts: reading the local UTC offset is refused in threaded processes.
    local::write::capture_local_offset();
    match run() {
        Ok(code) => code,
        Err(e) => {
            // A cause may carry a server's message: never raw onto the terminal.
            eprintln!(
                "hyperclay-sync: {}",
                hyperclay_sync::history::escape_lines(&format!("{e:#}"))
            );
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    if cli.folder.is_some() && cli.command.is_some() {
        // The shared options may come before a command; this one only starts the tray.
        Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                "--folder before a command only applies to the tray; give it after `run`",
            )
            .exit();
    }
    let options = &cli.options;
    let config = options.config()?;
    match cli.command {
        None => start_tray(&cli),
        Some(Cmd::Run { headless, folder }) => {
            anyhow::ensure!(
                headless,
                "use `hyperclay-sync run --headless`, or no subcommand for the tray"
            );
            run_headless(options, config, folder)
        }
        Some(Cmd::Login { device }) => {
            options.init_log(&config.home, false)?;
            let agent = remote::agent();
            let token = if device || auth::no_browser_here(|name| std::env::var_os(name)) {
                auth::login_device(&config.home, &config.server_url, &agent)?
            } else {
                auth::login_interactive(&config.home, &config.server_url, &agent)?
            };
            // A login means "sync this account": the tray or the next headless run starts syncing.
            // A running engine owns the settings; its switch stays as the user set it there.
            match settings::update_offline(&config.home, |s| s.enabled = true) {
                Ok(()) | Err(settings::SettingsError::EngineRunning) => {}
                Err(e) => return Err(e.into()),
            }
            log::info!("Logged in as {} from the command line", token.user.name);
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Logout) => {
            options.init_log(&config.home, false)?;
            match auth::logout(&config.home, &config.server_url, &remote::agent()) {
                Ok(()) => println!("Logged out."),
                Err(e) => println!("Logged out here, but the server could not be told: {e}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Update) => {
            options.init_log(&config.home, false)?;
            run_update(&config)
        }
        Some(Cmd::Status { json }) => print_status(&config, json).map(|()| ExitCode::SUCCESS),
        Some(Cmd::History { path, json }) => {
            history::history(&config, &path, json, &mut std::io::stdout())?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Restore {
            path,
            version,
            dry_run,
        }) => {
            let choice = version.choice()?;
            history::restore(&config, &path, &choice, dry_run, &mut std::io::stdout())?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Diff { path, version }) => {
            history::diff(&config, &path, &version.choice()?, &mut std::io::stdout())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Why a headless run ends.
enum Stop {
    /// Ctrl-C or SIGTERM.
    Asked,
    /// The server refused the login: running on could only idle.
    LoginRefused,
    /// The server no longer accepts this version: the reason, as the status line says it.
    Outdated(String),
}

/// `hyperclay-sync update`: the same update as the tray's Update…, from the command line. A
/// running engine is not restarted: it is told to by the words printed.
fn run_update(config: &EngineConfig) -> anyhow::Result<ExitCode> {
    let exe = std::env::current_exe().context("cannot tell where this program is")?;
    let appimage = std::env::var_os("APPIMAGE").map(PathBuf::from);
    let how = update::platform::detect(&exe, appimage.as_deref());
    let remote = remote::Remote::new(remote::agent(), &config.server_url, "");
    println!(
        "Hyperclay Sync {}: looking for an update",
        update::THIS_VERSION
    );
    let outcome = update::update(&remote, &config.home, how, None, |step| match step {
        update::Step::Downloading(v) => println!("Downloading version {v}…"),
        update::Step::Installing(v) => println!("Verified. Installing version {v}…"),
    });
    match outcome {
        Ok(update::Outcome::Installed { version, relaunch }) => {
            match relaunch {
                update::install::Relaunch::ByInstaller => println!(
                    "The installer is updating Hyperclay Sync to version {version}; it starts it when done."
                ),
                _ => println!(
                    "Updated to version {version}. Quit Hyperclay Sync if it is running and start it again."
                ),
            }
            log::info!("Updated to version {version} from the command line");
            Ok(ExitCode::SUCCESS)
        }
        Ok(update::Outcome::ByHand { text }) => {
            println!("{text}");
            Ok(ExitCode::FAILURE)
        }
        Err(update::UpdateError::Refused(update::verify::Refusal::NotNewer(v))) => {
            println!("Hyperclay Sync is up to date (the newest release is {v}).");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            log::error!("Update failed: {e}");
            Err(anyhow::Error::new(e).context("the update failed; this version is unchanged"))
        }
    }
}

fn run_headless(
    options: &Options,
    mut config: EngineConfig,
    folder: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    DataDirLock::wait_after_update(&config.home);
    // Checked before anything is written, so a refused second instance changes nothing (not even
    // the remembered folder); the engine takes the lock for real below.
    if DataDirLock::is_held(&config.home) {
        eprintln!("hyperclay-sync: {}", EngineError::AlreadyRunning);
        return Ok(ExitCode::from(exit::ALREADY_RUNNING));
    }
    options.init_log(&config.home, true)?;
    if let Some(f) = folder {
        config.folder = Some(settings::use_folder(&f)?);
    }
    let has_token = config.token_override.is_some()
        || TokenStore::open(&config.home, &config.server_url)
            .load()
            .ok()
            .flatten()
            .is_some();
    if !has_token {
        eprintln!(
            "Not logged in. Run `hyperclay-sync login` first (or set HYPERCLAY_TOKEN), then run again."
        );
        return Ok(ExitCode::from(exit::NOT_LOGGED_IN));
    }
    let (stop_tx, stop_rx) = mpsc::channel();
    let refused = stop_tx.clone();
    let observer = move |s: &EngineState| {
        if s.error == Some(UserError::LoginRefused) {
            let _ = refused.send(Stop::LoginRefused);
        }
        if let Some(e @ UserError::Outdated { .. }) = &s.error {
            let _ = refused.send(Stop::Outdated(e.message()));
        }
    };
    let engine = match Engine::start(config, Box::new(observer)) {
        Ok(e) => e,
        Err(EngineError::AlreadyRunning) => {
            eprintln!("hyperclay-sync: {}", EngineError::AlreadyRunning);
            return Ok(ExitCode::from(exit::ALREADY_RUNNING));
        }
        Err(e) => return Err(e.into()),
    };
    std::thread::Builder::new()
        .name("stop-signal".into())
        .spawn(move || {
            match signals::wait_for_stop() {
                Ok(()) => {
                    let _ = stop_tx.send(Stop::Asked);
                }
                // No signal handling: Ctrl-C then ends the process as usual.
                Err(e) => log::warn!("cannot wait for a stop signal: {e}"),
            }
        })
        .context("cannot start the stop-signal thread")?;
    let handle = engine.handle();
    handle.send(Command::SetEnabled(true));
    let why = stop_rx.recv().unwrap_or(Stop::Asked);
    match why {
        Stop::Asked => log::info!("Stopping: finishing the transfer in hand"),
        Stop::LoginRefused => log::error!("Stopping: the server refused the login"),
        Stop::Outdated(_) => log::error!("Stopping: the server no longer accepts this version"),
    }
    handle.send(Command::Shutdown);
    engine.join();
    Ok(match why {
        Stop::Asked => ExitCode::SUCCESS,
        Stop::LoginRefused => {
            eprintln!(
                "hyperclay-sync: the server refused the login (it expired after 10 days without \
                 use, or was revoked). Run `hyperclay-sync login`, or set a fresh HYPERCLAY_TOKEN, \
                 then run again."
            );
            ExitCode::from(exit::LOGIN_REFUSED)
        }
        Stop::Outdated(line) => {
            eprintln!("hyperclay-sync: {line}. Run `hyperclay-sync update`, then run again.");
            ExitCode::from(exit::OUTDATED)
        }
    })
}

/// Hands over to the tray app, `hyperclay-sync-tray` in this executable's folder, with the same
/// folder, and the settings given as options passed on as their environment variables. On Unix it
/// replaces this process (same pid, so whoever started `hyperclay-sync` can still signal or wait
/// for it); elsewhere it runs the tray and exits with its code. Returns only when the tray cannot
/// be started (or, off Unix, when it has ended).
fn start_tray(cli: &Cli) -> anyhow::Result<ExitCode> {
    let own = std::env::current_exe().context("cannot find this program's own path")?;
    let tray = own.with_file_name(format!("{TRAY_BIN}{}", std::env::consts::EXE_SUFFIX));
    anyhow::ensure!(
        tray.is_file(),
        "the tray app is not installed: {} does not exist. To sync without the tray, run \
         `hyperclay-sync run --headless`",
        tray.display()
    );
    let mut command = std::process::Command::new(&tray);
    if let Some(folder) = &cli.folder {
        command.arg("--folder").arg(folder);
    }
    let o = &cli.options;
    let vars = [
        ("HYPERCLAY_URL", o.server.clone()),
        (
            "HYPERCLAY_SYNC_HOME",
            o.home.as_ref().map(|h| h.display().to_string()),
        ),
        ("HYPERCLAY_TOKEN", o.token.clone()),
        ("HYPERCLAY_POLL_SECONDS", o.poll_seconds.clone()),
        ("HYPERCLAY_STALL_SECONDS", o.stall_seconds.clone()),
        ("HYPERCLAY_LOG", o.log.clone()),
    ];
    for (name, value) in vars {
        if let Some(v) = value {
            command.env(name, v);
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let error = command.exec();
        Err(anyhow::Error::new(error).context(format!("cannot start {}", tray.display())))
    }
    #[cfg(not(unix))]
    {
        let status = command
            .status()
            .with_context(|| format!("cannot start {}", tray.display()))?;
        Ok(status
            .code()
            .and_then(|code| u8::try_from(code).ok())
            .map_or(ExitCode::FAILURE, ExitCode::from))
    }
}

/// What `status` says, as text or JSON; read from the running engine's status file, the
/// settings and the token store, never from the server. The words come from `status_text`, as
/// the tray's do.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusReport {
    /// One word for scripts: `syncing`, `upToDate`, `paused`, `offline`, `loggedOut` or
    /// `notRunning`; with `reason` (paused, offline, logged out) and `progress` (syncing).
    #[serde(flatten)]
    summary: Summary,
    /// The same as one line, as the tray's tooltip says it.
    line: String,
    account: Option<String>,
    server: String,
    folder: PathBuf,
    sync_on: bool,
    engine_running: bool,
    online: bool,
    last_sync: Option<Timestamp>,
    error: Option<String>,
    /// Files not synced and conflicts settled, each with why and what to do.
    issues: Vec<IssueReport>,
    /// The plain-text list of the issues (written by the running engine).
    issues_report: PathBuf,
    log_file: PathBuf,
    /// This program's version.
    version: String,
    /// A newer version the server names: `required` when this one is no longer accepted.
    newer_version: Option<VersionNews>,
    /// The update asked for from the tray, in words, while it runs and after it ended.
    update: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IssueReport {
    #[serde(flatten)]
    issue: SyncIssue,
    why: String,
    what_to_do: String,
}

impl StatusReport {
    fn read(config: &EngineConfig) -> anyhow::Result<StatusReport> {
        let saved: Option<StatusFile> = std::fs::read(status_file(&config.home))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let s = settings::load(&config.home)?;
        let running = DataDirLock::is_held(&config.home);
        let saved = saved.filter(|_| running);
        let account = match &saved {
            Some(f) => f.account.clone(),
            None => TokenStore::open(&config.home, &config.server_url)
                .load()
                .ok()
                .flatten()
                .map(|t| ServerText::from_wire(&t.user.name).to_string()),
        };
        let folder = config
            .folder
            .clone()
            .or_else(|| saved.as_ref().map(|f| f.folder.clone()))
            .or(s.folder.clone())
            .unwrap_or_else(EngineConfig::default_folder);
        let online = saved.as_ref().is_some_and(|f| f.online);
        let error = saved.as_ref().and_then(|f| f.error.clone());
        let summary = Summary::on_disk(
            // A token given by HYPERCLAY_TOKEN counts too: `run --headless` would use it.
            account.is_some() || config.token_override.is_some(),
            s.enabled,
            running,
            saved.as_ref().map(|f| f.summary.clone()),
        );
        let issues = saved
            .as_ref()
            .map(|f| f.issues.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|issue| {
                let (why, what_to_do) = text::why_and_what_to_do(&issue.kind);
                IssueReport {
                    issue,
                    why,
                    what_to_do,
                }
            })
            .collect();
        Ok(StatusReport {
            line: summary.line(),
            summary,
            account,
            server: config.server_url.clone(),
            folder,
            sync_on: s.enabled,
            engine_running: running,
            online,
            last_sync: saved.as_ref().and_then(|f| f.last_sync),
            error,
            issues,
            issues_report: issues_report_file(&config.home),
            log_file: logging::log_file(&config.home),
            version: update::THIS_VERSION.to_owned(),
            newer_version: saved.as_ref().and_then(|f| f.version_news.clone()),
            update: saved
                .as_ref()
                .and_then(|f| f.update.as_ref())
                .map(UpdateProgress::line),
        })
    }
}

fn print_status(config: &EngineConfig, json: bool) -> anyhow::Result<()> {
    let r = StatusReport::read(config)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    println!(
        "Account:   {}",
        r.account.as_deref().unwrap_or("not logged in")
    );
    println!("Server:    {}", r.server);
    println!("Folder:    {}", r.folder.display());
    println!("Sync:      {}", if r.sync_on { "on" } else { "off" });
    println!(
        "Engine:    {}",
        if r.engine_running {
            "running"
        } else {
            "not running"
        }
    );
    println!("State:     {}", r.line);
    println!("Online:    {}", yes_no(r.online));
    println!(
        "Last sync: {}",
        r.last_sync
            .map_or_else(|| "never".to_owned(), |t| t.to_string())
    );
    println!("Error:     {}", r.error.as_deref().unwrap_or("none"));
    let issues: Vec<SyncIssue> = r.issues.iter().map(|i| i.issue.clone()).collect();
    match text::issues_line(&issues) {
        Some(line) => println!("Issues:    {line}: see {}", r.issues_report.display()),
        None if r.engine_running => println!("Issues:    none"),
        // The report on disk is the last run's; only a running engine knows what stands now.
        None => println!("Issues:    unknown while the engine is not running"),
    }
    println!("Log file:  {}", r.log_file.display());
    match &r.newer_version {
        Some(n) if n.required => println!(
            "Version:   {} is no longer accepted by the server: run `hyperclay-sync update`",
            r.version
        ),
        Some(n) => println!(
            "Version:   {} (version {} is available: run `hyperclay-sync update`)",
            r.version, n.version
        ),
        None => println!("Version:   {}", r.version),
    }
    if let Some(u) = &r.update {
        println!("Update:    {u}");
    }
    if config.server_url != DEFAULT_SERVER_URL.trim_end_matches('/') {
        println!(
            "(server set by --server or HYPERCLAY_URL; this build's default is {DEFAULT_SERVER_URL})"
        );
    }
    Ok(())
}
