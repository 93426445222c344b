//! The processes a benchmark drives: the release `hyperclay-server` (its log read for commit
//! times and request counts) and `hyperclay-sync` (headless or tray; its status file read for
//! "in sync"). Each child is stopped when its handle drops; nothing here may signal a process it
//! did not start, or print a token.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use hyperclay_testkit::client;
use hyperclay_testkit::screen::Screen;
use hyperclay_testkit::server::ServerProcess;
pub use hyperclay_testkit::terminate;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const STOP_DEADLINE: Duration = Duration::from_secs(20);
/// The password of every bench account (local, throwaway servers only).
const PASSWORD: &str = "bench-password";

/// What the server's log has said so far.
#[derive(Default)]
struct LogState {
    /// checksum → when the save that wrote it committed.
    commits: HashMap<String, SystemTime>,
}

#[derive(Default)]
struct Log {
    state: Mutex<LogState>,
    changed: Condvar,
    change_polls: AtomicU64,
}

/// A running reference server on loopback with its own data dir (the kit's server process), its
/// log parsed as it arrives.
pub struct Server {
    process: ServerProcess,
    log: Arc<Log>,
}

impl Server {
    /// Starts `bin serve` on `127.0.0.1:0`; its stderr goes to `dir/server.log` as it is parsed.
    pub fn start(bin: &Path, dir: &Path) -> Result<Server> {
        std::fs::create_dir_all(dir)?;
        let mut file = std::io::BufWriter::new(std::fs::File::create(dir.join("server.log"))?);
        let mut process = ServerProcess::start(
            bin,
            &dir.join("data"),
            0,
            &[],
            // The commit lines it parses are at info.
            &[("RUST_LOG", "info")],
            Stdio::piped(),
        )
        .with_context(|| format!("see {}", dir.display()))?;
        let stderr = process.take_stderr().context("server stderr")?;
        let log = Arc::new(Log::default());
        let reader_log = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let _ = writeln!(file, "{line}");
                reader_log.take(&line);
            }
            let _ = file.flush();
        });
        Ok(Server { process, log })
    }

    pub fn url(&self) -> &str {
        self.process.url()
    }

    /// `127.0.0.1:PORT`, for raw connections.
    pub fn host_port(&self) -> &str {
        self.process.host_port()
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Runs the admin CLI on this server's data dir.
    fn cli(&self, args: &[&str]) -> Result<String> {
        Ok(self.process.admin(args)?)
    }

    /// A paid account with room for any number of apps; returns a token for it.
    pub fn account(&self, name: &str) -> Result<String> {
        self.cli(&[
            "user",
            "add",
            name,
            "--password",
            PASSWORD,
            "--site-limit",
            "10000000",
        ])?;
        Ok(self.cli(&["token", name])?.trim().to_owned())
    }

    /// When the save that wrote content `checksum` committed, waiting up to `deadline`.
    pub fn wait_commit(&self, checksum: &str, deadline: Duration) -> Option<SystemTime> {
        let end = Instant::now() + deadline;
        let mut state = self.log.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(t) = state.commits.remove(checksum) {
                return Some(t);
            }
            let left = end.checked_duration_since(Instant::now())?;
            state = self
                .log
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// When the last of `checksums` committed, once all of them have (they stay recorded).
    pub fn wait_all_commits(&self, checksums: &[String], deadline: Duration) -> Option<SystemTime> {
        let end = Instant::now() + deadline;
        let mut state = self.log.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let times: Option<Vec<SystemTime>> = checksums
                .iter()
                .map(|c| state.commits.get(c).copied())
                .collect();
            if let Some(times) = times {
                return times.into_iter().max();
            }
            let left = end.checked_duration_since(Instant::now())?;
            state = self
                .log
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// How many `GET /changes` the server has answered so far.
    pub fn change_requests(&self) -> u64 {
        self.log.change_polls.load(Ordering::SeqCst)
    }
}

impl Log {
    fn take(&self, line: &str) {
        if let Some((checksum, at)) = commit_of(line) {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            state.commits.insert(checksum, at);
            self.changed.notify_all();
        } else if line.contains("method=GET path=/api/local-sync/changes") {
            self.change_polls.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// The server logs `<RFC 3339 µs time>  INFO …: saved path=… size=… checksum=…` right after a
/// save's transaction commits (server/src/http/api.rs, `put_file`).
fn commit_of(line: &str) -> Option<(String, SystemTime)> {
    if !line.contains(": saved path=") {
        return None;
    }
    let stamp = line.split_whitespace().next()?;
    let at = OffsetDateTime::parse(stamp, &Rfc3339).ok()?;
    let checksum = line
        .split_whitespace()
        .find_map(|f| f.strip_prefix("checksum="))?
        .trim_matches('"')
        .to_owned();
    let nanos = u64::try_from(at.unix_timestamp_nanos()).ok()?;
    Some((
        checksum,
        SystemTime::UNIX_EPOCH + Duration::from_nanos(nanos),
    ))
}

/// How the client runs.
pub enum Mode<'a> {
    /// `hyperclay-sync run --headless --folder F`.
    Headless,
    /// `hyperclay-sync` (the tray) on this screen and its session bus.
    Tray(&'a Screen),
}

/// The real sync client with its own home (config, state, log) and folder.
pub struct Client {
    bin: PathBuf,
    url: String,
    token: String,
    pub home: PathBuf,
    pub folder: PathBuf,
    child: Option<Child>,
    spawns: u32,
}

impl Client {
    /// A client that is not running yet; `folder` may already hold files.
    pub fn new(bin: &Path, url: &str, token: &str, home: &Path, folder: &Path) -> Result<Client> {
        std::fs::create_dir_all(home)?;
        std::fs::create_dir_all(folder)?;
        Ok(Client {
            bin: bin.to_owned(),
            url: url.to_owned(),
            token: token.to_owned(),
            home: home.to_owned(),
            folder: folder.canonicalize()?,
            child: None,
            spawns: 0,
        })
    }

    /// Starts it with the default poll interval; returns the moment of the spawn.
    pub fn spawn(&mut self, mode: &Mode<'_>) -> Result<Instant> {
        if self.child.is_some() {
            bail!("the client is already running");
        }
        self.spawns += 1;
        let _ = std::fs::remove_file(self.status_path());
        let log = std::fs::File::create(self.stderr_path())?;
        let mut cmd = match mode {
            Mode::Headless => {
                client::headless(&self.bin, &self.home, &self.url, &self.token, &self.folder)
            }
            Mode::Tray(screen) => {
                let mut cmd = client::command(&self.bin, &self.home, &self.url);
                cmd.env("HYPERCLAY_TOKEN", &self.token).envs(screen.env());
                cmd
            }
        };
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(log);
        let started = Instant::now();
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", self.bin.display()))?;
        self.child = Some(child);
        Ok(started)
    }

    fn status_path(&self) -> PathBuf {
        self.home.join("status.json")
    }

    /// This spawn's stderr (the headless client echoes its log there).
    pub fn stderr_path(&self) -> PathBuf {
        self.home.join(format!("stderr-{}.log", self.spawns))
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Waits until the first session of this spawn finished (online, `lastSync` set); returns
    /// when that was first seen. Status is read every 2 ms.
    pub fn wait_synced(&mut self, deadline: Duration) -> Result<Instant> {
        let end = Instant::now() + deadline;
        loop {
            if client::has_synced(&client::status(&self.home)) {
                return Ok(Instant::now());
            }
            if let Some(child) = &mut self.child
                && let Ok(Some(status)) = child.try_wait()
            {
                bail!(
                    "the client exited ({status}) before it synced; see {}",
                    self.stderr_path().display()
                );
            }
            if Instant::now() > end {
                bail!(
                    "the client did not finish its first sync within {deadline:?}; see {}",
                    self.stderr_path().display()
                );
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// How many lines of this spawn's log report a transfer.
    pub fn transfers_logged(&self) -> usize {
        std::fs::read_to_string(self.stderr_path())
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("] upload ") || l.contains("] download "))
            .count()
    }

    /// SIGTERM, as a logout or shutdown would, then up to 20 s for a graceful exit.
    pub fn stop(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        Ok(terminate(&mut child, STOP_DEADLINE)?)
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = terminate(&mut child, STOP_DEADLINE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_lines_are_read_and_other_lines_are_not() {
        let line = "2026-11-26T11:16:19.648306Z  INFO hyperclay_server::http::api: saved \
                    path=a.html size=5 checksum=2cf24dba";
        let (sum, at) = commit_of(line).unwrap();
        assert_eq!(sum, "2cf24dba");
        let nanos = at
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        assert_eq!(nanos % 1_000_000_000, 648_306_000);
        let quoted = line.replace("checksum=2cf24dba", "checksum=\"2cf24dba\"");
        assert_eq!(commit_of(&quoted).unwrap().0, "2cf24dba");
        assert!(
            commit_of(
                "2026-11-26T11:16:19.648428Z  INFO hyperclay_server::http: request method=PUT"
            )
            .is_none()
        );
        assert!(
            commit_of("2026-11-26T11:16:19.648306Z  INFO x: saved path=a.html size=5").is_none()
        );
    }
}
