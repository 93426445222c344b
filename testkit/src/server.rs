//! The reference server as a child process: `hyperclay-server serve` on a free loopback port with
//! its own data dir, and its admin command line on that data dir (accounts, tokens). The server
//! exits by itself when the kit's end of its stdin closes, so a test or bench that dies without
//! running destructors leaves no server behind.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdin, Command, Stdio};
use std::time::Duration;

use crate::KitError;

/// How long a server may take to print its `listening on` line.
const START_DEADLINE: Duration = Duration::from_secs(30);

/// A running `hyperclay-server serve`, killed on drop.
pub struct ServerProcess {
    bin: PathBuf,
    data_dir: PathBuf,
    url: String,
    child: Child,
    // Held open: the server exits when this pipe closes (`--exit-on-stdin-eof`).
    _stdin: ChildStdin,
}

impl ServerProcess {
    /// Starts `bin serve --listen 127.0.0.1:PORT --data-dir DATA_DIR EXTRA…` (`port` 0 for a
    /// free one; `--demo` in `extra` for the demo/demo paid and free/free unpaid accounts) with
    /// `env` added (e.g. `RUST_LOG`), and waits until it says where it listens. Its stderr (the
    /// log) goes to `stderr`; pass `Stdio::piped()` and [`take_stderr`] to read it.
    ///
    /// [`take_stderr`]: ServerProcess::take_stderr
    pub fn start(
        bin: &Path,
        data_dir: &Path,
        port: u16,
        extra: &[&str],
        env: &[(&str, &str)],
        stderr: Stdio,
    ) -> Result<ServerProcess, KitError> {
        let mut child = Command::new(bin)
            .args(["serve", "--exit-on-stdin-eof", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(data_dir)
            .args(extra)
            .env_remove("HYPERCLAY_SERVER_DATA")
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|source| KitError::Spawn {
                program: bin.display().to_string(),
                hint: "build it first: cargo build -p hyperclay-server",
                source,
            })?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            crate::kill(&mut child);
            return Err(KitError::NotReady {
                what: "the server",
                detail: "its stdin or stdout was not piped".into(),
            });
        };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(first)) = lines.next() {
                let _ = tx.send(first);
            }
            // Keep draining so the server never blocks on a full pipe.
            for _ in lines {}
        });
        let first = rx.recv_timeout(crate::wait::scaled(START_DEADLINE));
        let url = first
            .as_deref()
            .ok()
            .and_then(|l| l.strip_prefix("listening on "))
            .map(|u| u.trim().to_owned());
        let Some(url) = url else {
            crate::kill(&mut child);
            return Err(KitError::NotReady {
                what: "the server",
                detail: match first {
                    Ok(line) => format!("its first line was {line:?}, not \"listening on …\""),
                    Err(_) => format!("it said nothing within {START_DEADLINE:?}"),
                },
            });
        };
        Ok(ServerProcess {
            bin: bin.to_owned(),
            data_dir: data_dir.to_owned(),
            url,
            child,
            _stdin: stdin,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `127.0.0.1:PORT`, for raw connections.
    pub fn host_port(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    pub fn port(&self) -> u16 {
        self.host_port()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's log, when it was started with `Stdio::piped()` (once).
    pub fn take_stderr(&mut self) -> Option<ChildStderr> {
        self.child.stderr.take()
    }

    /// Runs the admin command line (`user add …`, `token NAME`…) on this server's data dir.
    pub fn admin(&self, args: &[&str]) -> Result<String, KitError> {
        admin(&self.bin, &self.data_dir, args)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        crate::kill(&mut self.child);
    }
}

/// Runs `bin ARGS… --data-dir DATA_DIR`; its stdout on success.
pub fn admin(bin: &Path, data_dir: &Path, args: &[&str]) -> Result<String, KitError> {
    let out = Command::new(bin)
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("HYPERCLAY_SERVER_DATA")
        .output()
        .map_err(|source| KitError::Spawn {
            program: bin.display().to_string(),
            hint: "build it first: cargo build -p hyperclay-server",
            source,
        })?;
    if !out.status.success() {
        return Err(KitError::Failed {
            what: format!("hyperclay-server {}", args.first().copied().unwrap_or("")),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
