//! `hyperclay-sync`: the command line (the engine headless, login, logout, status). With no
//! subcommand it hands over to the tray app, `hyperclay-sync-tray` beside it. It must never
//! reference the tray's crates (GTK, tao, tray-icon…): this binary stays free of the GUI stack, so
//! `run --headless` maps none of it (tests/binaries.rs checks). Errors are reported with anyhow
//! here only; tokens never printed.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use hyperclay_sync::auth::{self, TokenStore};
use hyperclay_sync::config::{DEFAULT_SERVER_URL, EngineConfig, VERSION};
use hyperclay_sync::engine::{Engine, EngineError, StatusFile, status_file};
use hyperclay_sync::lock::DataDirLock;
use hyperclay_sync::state::Command;
use hyperclay_sync::{local, logging, remote, settings, signals};

/// The tray app's binary, looked for in this executable's folder (with `.exe` on Windows).
const TRAY_BIN: &str = "hyperclay-sync-tray";

#[derive(Parser)]
#[command(
    name = "hyperclay-sync",
    version = VERSION,
    about = "Keeps a local folder in live two-way sync with your Hyperclay account",
    after_help = "With no command it starts the tray app (hyperclay-sync-tray, installed beside it) \
                  with the same arguments.",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    // Only accepted here: the tray app is handed the same arguments and applies it.
    /// Start the tray app syncing this folder (created if needed, and remembered for later starts)
    #[arg(long, value_name = "DIR")]
    folder: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the sync engine without the tray, until Ctrl-C or SIGTERM.
    Run {
        /// Required: there is no other mode for `run` yet.
        #[arg(long)]
        headless: bool,
        /// Sync this folder (created if needed, and remembered for the tray and later runs).
        #[arg(long, value_name = "DIR")]
        folder: Option<PathBuf>,
    },
    /// Log in with your browser (the URL is printed too, for machines without one).
    Login,
    /// Revoke this machine's login on the server, then forget it.
    Logout,
    /// Show the account, server, folder, sync state, last sync, last error and the log file.
    Status,
}

fn main() -> ExitCode {
    // Before any thread starts: reading the local UTC offset is refused in threaded processes.
    local::write::capture_local_offset();
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("hyperclay-sync: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    let config = EngineConfig::from_env()?;
    match cli.command {
        None => start_tray(),
        Some(Cmd::Run { headless, folder }) => {
            anyhow::ensure!(
                headless,
                "use `hyperclay-sync run --headless`, or no subcommand for the tray"
            );
            run_headless(config, folder)
        }
        Some(Cmd::Login) => {
            logging::init(&config.home, false)?;
            let agent = remote::agent();
            let token = auth::login_interactive(&config.home, &config.server_url, &agent)?;
            // A login means "sync this account": the tray or the next headless run starts syncing.
            let mut s = settings::load(&config.home)?;
            s.enabled = true;
            settings::save(&config.home, &s)?;
            log::info!("Logged in as {} from the command line", token.user.name);
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Logout) => {
            logging::init(&config.home, false)?;
            match auth::logout(&config.home, &config.server_url, &remote::agent()) {
                Ok(()) => println!("Logged out."),
                Err(e) => println!("Logged out here, but the server could not be told: {e}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Status) => print_status(&config).map(|()| ExitCode::SUCCESS),
    }
}

fn run_headless(mut config: EngineConfig, folder: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    logging::init(&config.home, true)?;
    if let Some(f) = folder {
        config.folder = Some(settings::use_folder(&config.home, &f)?);
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
        return Ok(ExitCode::from(2));
    }
    let engine = match Engine::start(config, Box::new(|_| {})) {
        Ok(e) => e,
        Err(EngineError::AlreadyRunning) => {
            eprintln!("{}", EngineError::AlreadyRunning);
            return Ok(ExitCode::from(3));
        }
        Err(e) => return Err(e.into()),
    };
    let handle = engine.handle();
    handle.send(Command::SetEnabled(true));
    signals::wait_for_stop().context("cannot wait for a stop signal")?;
    log::info!("Stopping: finishing the transfer in hand");
    handle.send(Command::Shutdown);
    engine.join();
    Ok(ExitCode::SUCCESS)
}

/// Hands over to the tray app, `hyperclay-sync-tray` in this executable's folder, with the same
/// arguments and environment. On Unix it replaces this process (same pid, so whoever started
/// `hyperclay-sync` can still signal or wait for it); elsewhere it runs the tray and exits with
/// its code. Returns only when the tray cannot be started (or, off Unix, when it has ended).
fn start_tray() -> anyhow::Result<ExitCode> {
    let own = std::env::current_exe().context("cannot find this program's own path")?;
    let tray = own.with_file_name(format!("{TRAY_BIN}{}", std::env::consts::EXE_SUFFIX));
    anyhow::ensure!(
        tray.is_file(),
        "the tray app is not installed: {} does not exist. To sync without the tray, run \
         `hyperclay-sync run --headless`",
        tray.display()
    );
    let mut command = std::process::Command::new(&tray);
    command.args(std::env::args_os().skip(1));
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

fn print_status(config: &EngineConfig) -> anyhow::Result<()> {
    let saved: Option<StatusFile> = std::fs::read(status_file(&config.home))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let s = settings::load(&config.home)?;
    let running = DataDirLock::is_held(&config.home);
    let stored_account = TokenStore::open(&config.home, &config.server_url)
        .load()
        .ok()
        .flatten()
        .map(|t| t.user.name);
    let account = if running {
        saved.as_ref().and_then(|f| f.account.clone())
    } else {
        stored_account
    };
    let folder = config
        .folder
        .clone()
        .or(s.folder.clone())
        .or_else(|| saved.as_ref().map(|f| f.folder.clone()))
        .unwrap_or_else(EngineConfig::default_folder);
    println!(
        "Account:   {}",
        account.as_deref().unwrap_or("not logged in")
    );
    println!("Server:    {}", config.server_url);
    println!("Folder:    {}", folder.display());
    println!("Sync:      {}", if s.enabled { "on" } else { "off" });
    println!(
        "Engine:    {}",
        if running { "running" } else { "not running" }
    );
    let online = running && saved.as_ref().is_some_and(|f| f.online);
    println!("Online:    {}", if online { "yes" } else { "no" });
    println!(
        "Last sync: {}",
        saved
            .as_ref()
            .and_then(|f| f.last_sync)
            .map_or_else(|| "never".to_owned(), |t| t.to_string())
    );
    println!(
        "Error:     {}",
        saved
            .as_ref()
            .and_then(|f| f.error.clone())
            .unwrap_or_else(|| "none".to_owned())
    );
    println!("Log file:  {}", logging::log_file(&config.home).display());
    if config.server_url != DEFAULT_SERVER_URL.trim_end_matches('/') {
        println!("(server set by HYPERCLAY_URL; this build's default is {DEFAULT_SERVER_URL})");
    }
    Ok(())
}
