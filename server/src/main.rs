//! `hyperclay-server`: the reference server and its admin CLI. A thin shell over the library;
//! it parses arguments, picks the data dir, and reports errors with anyhow.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use hyperclay_server::client_version::{self, VersionPolicy};
use hyperclay_server::serve::{
    self as serve_limits, ConnectionLimits, ServeOptions, prepare, serve,
};
use hyperclay_server::{Clock, Plan, Store};
use hyperclay_server::{admin, release};

#[derive(Parser)]
#[command(
    name = "hyperclay-server",
    version,
    about = "Reference Hyperclay local-sync server"
)]
struct Cli {
    /// Where accounts, files and keys live [default: $HYPERCLAY_SERVER_DATA, else the
    /// platform data dir]
    #[arg(long, global = true, env = "HYPERCLAY_SERVER_DATA")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the protocol over HTTP.
    Serve {
        /// Address to listen on; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:8787")]
        listen: String,
        /// Make sure the accounts demo/demo (paid, 50 sites) and free/free (unpaid) exist.
        #[arg(long)]
        demo: bool,
        /// Shift the server's clock by this many milliseconds (tests of clock skew).
        #[arg(long, default_value_t = 0, allow_hyphen_values = true, hide = true)]
        clock_skew_ms: i64,
        /// The server is reached over https (a TLS proxy in front): session cookies are then
        /// `Secure` and named with the `__Host-` prefix. Without it (plain http on loopback)
        /// they cannot be either, as browsers drop Secure cookies sent over http.
        #[arg(long)]
        secure_cookies: bool,
        /// Exit when stdin reaches its end (test harnesses hold it open while they live).
        #[arg(long, hide = true)]
        exit_on_stdin_eof: bool,
        /// Ignore `/changes?wait=N`, as a server without long-polling does (tests of the
        /// client's fallback to plain polling).
        #[arg(long, hide = true)]
        no_long_poll: bool,
        /// Seconds a device login (`login --device`) waits for its user (tests of expiry).
        #[arg(long, default_value_t = hyperclay_server::device::DEFAULT_LIFETIME_SECS, hide = true)]
        device_lifetime_secs: u64,
        /// Seconds a device login waits between two polls (tests, which cannot wait 5 s).
        #[arg(long, default_value_t = hyperclay_server::device::DEFAULT_INTERVAL_SECS, hide = true)]
        device_interval_secs: u64,
        /// A reverse proxy in front of this server (repeat for a chain): only requests from it
        /// have their client read from `X-Forwarded-For`, for the per-address limits.
        #[arg(
            long = "trusted-proxy",
            value_name = "ADDR",
            env = "HYPERCLAY_TRUSTED_PROXY",
            value_delimiter = ','
        )]
        trusted_proxies: Vec<std::net::IpAddr>,
        /// Connections open at once (lowered to fit the open-file limit).
        #[arg(long, default_value_t = serve_limits::DEFAULT_MAX_CONNECTIONS, hide = true)]
        max_connections: usize,
        /// Connections one address (an IPv6 /64) may hold open.
        #[arg(long, default_value_t = serve_limits::DEFAULT_MAX_CONNECTIONS_PER_ADDRESS, hide = true)]
        max_connections_per_address: usize,
        /// Seconds a request's headers may take to arrive, and a kept-alive connection may idle.
        #[arg(long, default_value_t = serve_limits::DEFAULT_HEADER_TIMEOUT.as_secs(), hide = true)]
        header_timeout_secs: u64,
        /// The oldest client version accepted (semver); every API call from an older one, or
        /// naming none in its User-Agent, is 426 client_outdated.
        #[arg(
            long,
            env = "HYPERCLAY_MIN_CLIENT_VERSION",
            default_value = client_version::DEFAULT_MIN_CLIENT_VERSION
        )]
        min_client_version: String,
        /// The newest client version, named in /status [default: the newest published
        /// release, else the minimum].
        #[arg(long, env = "HYPERCLAY_LATEST_CLIENT_VERSION")]
        latest_client_version: Option<String>,
        /// Where a person downloads the app by hand (in /status and every 426).
        #[arg(
            long,
            env = "HYPERCLAY_DOWNLOAD_URL",
            default_value = client_version::DEFAULT_DOWNLOAD_URL
        )]
        download_url: String,
    },
    /// Publish and list client releases (the update feed).
    Release {
        #[command(subcommand)]
        command: ReleaseCommand,
    },
    /// Manage accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Print a valid access token for an account.
    Token {
        name: String,
        /// Issue the token this many seconds in the past.
        #[arg(long, default_value_t = 0)]
        age: u64,
        /// The clock skew of the server that will check the token (see `serve`).
        #[arg(long, default_value_t = 0, allow_hyphen_values = true, hide = true)]
        clock_skew_ms: i64,
    },
    /// Delete a file or folder as the platform's own UI would (shows as a tombstone in /changes).
    Rm { name: String, path: String },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account.
    Add {
        name: String,
        #[arg(long)]
        password: String,
        #[arg(long, value_enum, default_value_t = PlanArg::Paid)]
        plan: PlanArg,
        #[arg(long, default_value_t = 50)]
        site_limit: u64,
    },
    /// Change an account's plan, site limit or password (a new password logs the account out
    /// everywhere: every token and browser session ends).
    Set {
        name: String,
        #[arg(long, value_enum)]
        plan: Option<PlanArg>,
        #[arg(long)]
        site_limit: Option<u64>,
        #[arg(long)]
        password: Option<String>,
    },
}

#[derive(Subcommand)]
enum ReleaseCommand {
    /// Publish a release file with its minisign signature (trusted comment
    /// `hyperclay-sync VERSION PLATFORM`).
    Add {
        #[arg(long)]
        version: String,
        #[arg(long)]
        platform: String,
        #[arg(long)]
        file: PathBuf,
        /// The `.minisig` file made with the release key.
        #[arg(long)]
        signature: PathBuf,
    },
    /// Print every published release.
    List,
}

#[derive(Clone, Copy, ValueEnum)]
enum PlanArg {
    Paid,
    Free,
}

impl From<PlanArg> for Plan {
    fn from(p: PlanArg) -> Plan {
        match p {
            PlanArg::Paid => Plan::Paid,
            PlanArg::Free => Plan::Free,
        }
    }
}

fn data_dir(arg: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(dir) = arg {
        return Ok(dir);
    }
    let dirs = directories::ProjectDirs::from("com", "Hyperclay", "hyperclay-server")
        .context("no home directory to put the data dir in; pass --data-dir")?;
    Ok(dirs.data_dir().to_owned())
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let dir = data_dir(cli.data_dir)?;
    match cli.command {
        Command::Serve {
            listen,
            demo,
            clock_skew_ms,
            secure_cookies,
            exit_on_stdin_eof,
            no_long_poll,
            device_lifetime_secs,
            device_interval_secs,
            trusted_proxies,
            max_connections,
            max_connections_per_address,
            header_timeout_secs,
            min_client_version,
            latest_client_version,
            download_url,
        } => {
            let client_versions = VersionPolicy::new(
                &min_client_version,
                latest_client_version.as_deref(),
                &download_url,
            )?;
            if exit_on_stdin_eof {
                exit_when_stdin_closes();
            }
            run_server(
                ServeOptions {
                    data_dir: dir,
                    demo,
                    clock_skew_ms,
                    secure_cookies,
                    long_poll: !no_long_poll,
                    device_lifetime_secs,
                    device_interval_secs,
                    trusted_proxies,
                    client_versions,
                },
                ConnectionLimits {
                    max_connections,
                    max_per_address: max_connections_per_address,
                    header_timeout: std::time::Duration::from_secs(header_timeout_secs.max(1)),
                },
                &listen,
            )
        }
        Command::User { command } => {
            let mut store = Store::open(&dir).context("opening the data dir")?;
            let account = match command {
                UserCommand::Add {
                    name,
                    password,
                    plan,
                    site_limit,
                } => admin::add_user(&store, &name, &password, plan.into(), site_limit)?,
                UserCommand::Set {
                    name,
                    plan,
                    site_limit,
                    password,
                } => {
                    if plan.is_none() && site_limit.is_none() && password.is_none() {
                        bail!("nothing to change: give --plan, --site-limit or --password");
                    }
                    admin::set_user(
                        &mut store,
                        &name,
                        plan.map(Plan::from),
                        site_limit,
                        password.as_deref(),
                    )?
                }
            };
            println!(
                "{} (id {}): plan {}, site limit {}",
                account.name,
                account.id,
                account.plan.as_str(),
                account.site_limit
            );
            Ok(())
        }
        Command::Token {
            name,
            age,
            clock_skew_ms,
        } => {
            let store = Store::open(&dir).context("opening the data dir")?;
            let age = i64::try_from(age).context("--age is too large")?;
            let clock = Clock::with_skew_ms(clock_skew_ms);
            println!("{}", admin::token(&store, &dir, &clock, &name, age)?);
            Ok(())
        }
        Command::Release { command } => release_command(&dir, command),
        Command::Rm { name, path } => {
            let mut store = Store::open(&dir).context("opening the data dir")?;
            for removed in admin::remove(&mut store, &Clock::default(), &name, &path)? {
                println!("removed {removed}");
            }
            Ok(())
        }
    }
}

fn release_command(dir: &std::path::Path, command: ReleaseCommand) -> Result<()> {
    let mut store = Store::open(dir).context("opening the data dir")?;
    match command {
        ReleaseCommand::Add {
            version,
            platform,
            file,
            signature,
        } => {
            let (r, added) = release::add(
                &mut store,
                &Clock::default(),
                &version,
                &platform,
                &file,
                &signature,
            )?;
            let what = if added {
                "published"
            } else {
                "already published"
            };
            println!(
                "{what} {} {}: {} bytes, sha256 {}",
                r.platform, r.version, r.size, r.sha256
            );
        }
        ReleaseCommand::List => {
            for r in hyperclay_server::store::releases::all(store.conn())? {
                println!(
                    "{} {} {} bytes sha256 {}",
                    r.platform, r.version, r.size, r.sha256
                );
            }
        }
    }
    Ok(())
}

/// Each password check allocates ~19 MiB (Argon2). glibc's malloc raises its mmap threshold
/// after such a block is freed, so later ones come from per-thread heaps and are never given
/// back: a burst of checks on many blocking threads left gigabytes resident. A fixed threshold
/// keeps every large block mmapped, returned to the system when the check ends.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_large_blocks_to_the_system() {
    // SAFETY: mallopt only changes malloc's tuning, under malloc's own lock; no memory of ours
    // is touched.
    let ok = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20) };
    if ok != 1 {
        tracing::warn!("could not set malloc's mmap threshold");
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_large_blocks_to_the_system() {}

fn run_server(opts: ServeOptions, limits: ConnectionLimits, listen: &str) -> Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    return_large_blocks_to_the_system();
    let state = prepare(&opts).context("preparing the data dir")?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        let addr = listener.local_addr()?;
        tracing::info!(data_dir = %opts.data_dir.display(), "serving");
        // The first stdout line is the contract with scripts and tests: print it only once the
        // socket accepts connections, and flush it at once.
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{addr}")?;
        out.flush()?;
        drop(out);
        serve(listener, state, limits, shutdown_signal()).await?;
        Ok(())
    })
}

/// Ends the process once stdin is closed: the parent that held it open has gone.
fn exit_when_stdin_closes() {
    std::thread::spawn(|| {
        let mut sink = [0u8; 256];
        let mut stdin = std::io::stdin().lock();
        while let Ok(n) = std::io::Read::read(&mut stdin, &mut sink) {
            if n == 0 {
                break;
            }
        }
        std::process::exit(0);
    });
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
