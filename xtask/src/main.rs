//! `cargo run --release -p xtask -- bench`: builds the release server and client, runs them on
//! loopback in temp dirs, measures the seven figures of issue 5 and writes
//! `target/bench/report.md` and `report.json`. Figures are distributions and ratios from one
//! run; nothing here asserts a target. It must never touch anything outside its temp dirs and
//! the report dir, and never stop a process it did not start.
//! `cargo run -p xtask -- screen -- CMD…` runs a command on the test kit's screen rig, for
//! scripts that measure the tray by hand (scripts/tray-footprint.sh).

mod http;
mod machine;
mod phases;
mod procs;
mod report;
mod stats;
mod tree;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

use crate::report::{Report, Verdict};

#[derive(Parser)]
#[command(name = "xtask", about = "Hyperclay Sync project tasks")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Measure push and pull latency, poll cost, initial sync, start-up, footprint and server
    /// throughput against the real release binaries on loopback.
    Bench(BenchArgs),
    /// Run a command on a private screen: Xvfb, a session bus with no activation and a system
    /// tray (the rig the UI tests and the bench use), with DISPLAY, DBUS_SESSION_BUS_ADDRESS and
    /// NO_AT_BRIDGE set for it; everything is stopped when the command exits.
    Screen(ScreenArgs),
}

#[derive(clap::Args)]
struct ScreenArgs {
    /// The system tray: `trayer` (XEmbed) or `sni` (gtk-sni-tray-standalone with its own
    /// StatusNotifierWatcher).
    #[arg(long, default_value = "trayer")]
    tray: String,
    /// The command and its arguments.
    #[arg(required = true, last = true)]
    command: Vec<String>,
}

#[derive(clap::Args)]
struct BenchArgs {
    /// A smaller run that finishes in about a minute (what CI runs): fewer saves and edits,
    /// 1,000 instead of 10,000 files, short footprint and load windows, no tray.
    #[arg(long)]
    quick: bool,
    /// Only these figures, comma-separated: push, pull, poll, startup, footprint, tray,
    /// initial, server, peers (Syncthing and rclone side by side; installs them with apt-get
    /// when missing).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Use the release binaries already in the target dir instead of building them.
    #[arg(long)]
    no_build: bool,
    /// Where report.md and report.json go [default: <target dir>/bench].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Keep the temp dirs (servers' data, clients' homes and logs) for a look afterwards.
    #[arg(long)]
    keep: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Push,
    Pull,
    Poll,
    Startup,
    Footprint,
    Tray,
    Initial,
    Server,
    Peers,
    Scale,
}

impl Phase {
    const ALL: [Phase; 10] = [
        Phase::Push,
        Phase::Pull,
        Phase::Poll,
        Phase::Startup,
        Phase::Footprint,
        Phase::Tray,
        Phase::Initial,
        Phase::Server,
        Phase::Peers,
        Phase::Scale,
    ];

    fn name(self) -> &'static str {
        match self {
            Phase::Push => "push",
            Phase::Pull => "pull",
            Phase::Poll => "poll",
            Phase::Startup => "startup",
            Phase::Footprint => "footprint",
            Phase::Tray => "tray",
            Phase::Initial => "initial",
            Phase::Server => "server",
            Phase::Peers => "peers",
            Phase::Scale => "scale",
        }
    }

    fn parse(s: &str) -> Result<Phase> {
        Phase::ALL
            .into_iter()
            .find(|p| p.name() == s.trim())
            .with_context(|| {
                let names: Vec<_> = Phase::ALL.iter().map(|p| p.name()).collect();
                format!("unknown figure {s:?}; pick from {}", names.join(", "))
            })
    }
}

/// How much of each figure a run measures.
#[derive(Debug, Clone)]
pub struct Sizes {
    pub push_small: usize,
    pub push_big: usize,
    pub pull_edits: usize,
    pub idle_files: usize,
    pub poll_samples: usize,
    pub idle_window: Duration,
    pub init_files: usize,
    pub init_bytes: u64,
    pub load_window: Duration,
    /// Saves and remote edits per peer in the peers figure.
    pub peer_saves: usize,
    pub peer_edits: usize,
    /// The flat trees (100 folders) of the scale phase, by file count.
    pub scale_files: Vec<usize>,
    /// The scale phase's deep tree: this many folders, one file in each.
    pub scale_folders: usize,
    /// How long the scale phase lets a client sit idle before it reads its memory.
    pub scale_idle: Duration,
}

impl Sizes {
    fn full() -> Sizes {
        Sizes {
            push_small: 500,
            push_big: 50,
            pull_edits: 100,
            idle_files: 10_000,
            poll_samples: 200,
            idle_window: Duration::from_secs(60),
            init_files: 1000,
            init_bytes: 50_000_000,
            load_window: Duration::from_secs(10),
            peer_saves: 30,
            peer_edits: 20,
            scale_files: vec![1000, 10_000, 50_000, 100_000],
            scale_folders: 50_000,
            scale_idle: Duration::from_secs(20),
        }
    }

    fn quick() -> Sizes {
        Sizes {
            push_small: 50,
            push_big: 5,
            pull_edits: 10,
            idle_files: 1000,
            poll_samples: 50,
            idle_window: Duration::from_secs(5),
            init_files: 100,
            init_bytes: 5_000_000,
            load_window: Duration::from_secs(2),
            peer_saves: 5,
            peer_edits: 3,
            scale_files: vec![1000, 5000],
            scale_folders: 2000,
            scale_idle: Duration::from_secs(5),
        }
    }
}

/// What every phase needs: the binaries, a private temp dir, the sizes and the selection.
pub struct Bench {
    pub server_bin: PathBuf,
    pub client_bin: PathBuf,
    work: PathBuf,
    pub sizes: Sizes,
    pub quick: bool,
    only: BTreeSet<Phase>,
}

impl Bench {
    /// A fresh dir for one part of the run.
    pub fn dir(&self, name: &str) -> PathBuf {
        self.work.join(name)
    }

    pub fn wants(&self, p: Phase) -> bool {
        self.only.contains(&p)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Task::Bench(args) => match bench(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("xtask bench: {e:#}");
                ExitCode::FAILURE
            }
        },
        Task::Screen(args) => match screen(&args) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("xtask screen: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn screen(args: &ScreenArgs) -> Result<ExitCode> {
    use hyperclay_testkit::screen::{Screen, TrayHost};
    let host = match args.tray.as_str() {
        "trayer" => TrayHost::Trayer,
        "sni" => TrayHost::SniWatcher,
        other => bail!("--tray must be trayer or sni, not {other:?}"),
    };
    let screen = Screen::start(host)?;
    let (program, rest) = args.command.split_first().context("no command given")?;
    let status = screen
        .cmd(program)
        .args(rest)
        .status()
        .with_context(|| format!("running {program}"))?;
    drop(screen);
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(c) => ExitCode::from(u8::try_from(c).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}

fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

fn build(root: &Path) -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("building: cargo build --release -p hyperclay-server -p hyperclay-sync");
    let status = Command::new(cargo)
        .current_dir(root)
        .args([
            "build",
            "--release",
            "-p",
            "hyperclay-server",
            "-p",
            "hyperclay-sync",
        ])
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build --release failed ({status})");
    }
    Ok(())
}

fn bench(args: BenchArgs) -> Result<()> {
    let root = workspace_root();
    let target = target_dir(&root);
    if !args.no_build {
        build(&root)?;
    }
    let release = target.join("release");
    let server_bin = release.join("hyperclay-server");
    let client_bin = release.join("hyperclay-sync");
    for bin in [&server_bin, &client_bin] {
        if !bin.is_file() {
            bail!(
                "{} is missing: run without --no-build, or cargo build --release -p \
                 hyperclay-server -p hyperclay-sync",
                bin.display()
            );
        }
    }
    let mut only: BTreeSet<Phase> = args
        .only
        .iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| Phase::parse(s))
        .collect::<Result<_>>()?;
    if only.is_empty() {
        only = Phase::ALL.into_iter().collect();
        // Syncing up to 100,000 files three ways takes far longer than the rest together: ask
        // for it with --only scale.
        only.remove(&Phase::Scale);
        if args.quick {
            // CI machines have no display, and may not be root to install the peers: ask for
            // them with --only tray / --only peers.
            only.remove(&Phase::Tray);
            only.remove(&Phase::Peers);
        }
    }
    let temp = tempfile::Builder::new()
        .prefix("hyperclay-bench-")
        .tempdir()
        .context("creating the temp dir")?;
    let bench = Bench {
        server_bin,
        client_bin,
        work: temp.path().to_owned(),
        sizes: if args.quick {
            Sizes::quick()
        } else {
            Sizes::full()
        },
        quick: args.quick,
        only,
    };
    let machine = machine::Machine::read();
    let load_before = machine::load_average();
    let date = now_utc();
    let started = Instant::now();
    let mut report = Report::default();
    let selected: Vec<&str> = bench.only.iter().map(|p| p.name()).collect();
    eprintln!(
        "bench ({}): {}; work dir {}",
        if bench.quick { "quick" } else { "full" },
        selected.join(", "),
        bench.work.display()
    );
    phases::run_all(&bench, &mut report);
    let elapsed = started.elapsed();
    let load_after = machine::load_average();
    let command = std::env::args().skip(1).collect::<Vec<_>>().join(" ");
    let commit = git_commit(&root);
    report.set("date", date.clone().into());
    report.set(
        "command",
        format!("cargo run --release -p xtask -- {command}").into(),
    );
    report.set("gitCommit", commit.clone().into());
    report.set("mode", (if bench.quick { "quick" } else { "full" }).into());
    report.set("machine", machine.to_json());
    report.set("loadBefore", load_before.clone().into());
    report.set("loadAfter", load_after.clone().into());
    report.set("seconds", (elapsed.as_secs_f64().round()).into());
    let header = format!(
        "# Hyperclay Sync benchmark ({mode})\n\n\
         - Date: {date}; took {secs:.0} s; commit {commit}\n\
         - Command: `cargo run --release -p xtask -- {command}`\n\
         - Machine: {cores} cores, {cpu}, {ram:.1} GiB RAM, Linux {kernel}\n\
         - Load average (1/5/15 min): {load_before} before, {load_after} after\n",
        mode = if bench.quick { "quick" } else { "full" },
        secs = elapsed.as_secs_f64(),
        cores = machine.cores,
        cpu = machine.cpu,
        ram = machine.ram_gib,
        kernel = machine.kernel,
    );
    let out = args.out.unwrap_or_else(|| target.join("bench"));
    let md = report.write(&out, &header)?;
    println!("{md}");
    println!(
        "wrote {} and report.json; {} target(s) missed",
        out.join("report.md").display(),
        report.missed()
    );
    if args.keep {
        let kept = temp.keep();
        println!("kept the temp dirs in {}", kept.display());
    }
    Ok(())
}

/// Records a phase that could not finish: the row says why, the run goes on.
pub fn phase_failed(report: &mut Report, what: &str, err: &anyhow::Error) {
    eprintln!("{what} failed: {err:#}");
    report.row(what, format!("failed: {err:#}"), "", Verdict::Missed);
}

fn now_utc() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
        .chars()
        .take(19)
        .collect::<String>()
        .replace('T', " ")
        + " UTC"
}

fn git_commit(root: &Path) -> String {
    Command::new("git")
        .current_dir(root)
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned())
}
