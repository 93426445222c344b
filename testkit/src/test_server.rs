//! The reference server as the tests use it: a [`ServerProcess`] in a fresh temp data dir, with
//! the server's options as fields, a restart on the same port, and its admin command line
//! (accounts, tokens, deletions) as methods. It panics on failure, with the server's log: it
//! only ever runs inside tests, where a panic is the report.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::server::{self, ServerProcess};

/// The server binary: `$HYPERCLAY_SERVER_BIN`, else `hyperclay-server` in the target dir of the
/// running test executable (`target/debug/deps/x` → `target/debug/hyperclay-server`).
pub fn server_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("HYPERCLAY_SERVER_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("the test executable has a path");
    let name = format!("hyperclay-server{}", std::env::consts::EXE_SUFFIX);
    let mut dir = exe.parent().map(Path::to_path_buf);
    while let Some(d) = dir {
        let candidate = d.join(&name);
        if candidate.is_file() {
            return candidate;
        }
        dir = d.parent().map(Path::to_path_buf);
        if d.file_name().is_some_and(|n| n == "target") {
            break;
        }
    }
    exe.parent()
        .and_then(Path::parent)
        .map(|p| p.join(&name))
        .unwrap_or_else(|| PathBuf::from(&name))
}

#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// Shift the server's clock by this many milliseconds.
    pub clock_skew_ms: i64,
    /// Create `demo`/`demo` (paid, 50 sites) and `free`/`free` (unpaid).
    pub demo: bool,
    /// Serve `/changes` as a server without long-polling does (`wait` ignored).
    pub no_long_poll: bool,
    /// How long a device login waits for its user (default: the server's 10 min).
    pub device_lifetime_secs: Option<u64>,
    /// Seconds between a device login's polls (default: the server's 5).
    pub device_interval_secs: Option<u64>,
    /// `--min-client-version` (default: the server's `0.0.0`).
    pub min_client_version: Option<String>,
    /// `--latest-client-version` (default: the newest published release, else the minimum).
    pub latest_client_version: Option<String>,
    /// `--download-url` (default: the server's `https://hyperclay.com/sync`).
    pub download_url: Option<String>,
}

impl ServerOptions {
    /// The `serve` arguments these options stand for.
    fn args(&self) -> Vec<String> {
        let mut args = vec![format!("--clock-skew-ms={}", self.clock_skew_ms)];
        if self.demo {
            args.push("--demo".into());
        }
        if self.no_long_poll {
            args.push("--no-long-poll".into());
        }
        if let Some(secs) = self.device_lifetime_secs {
            args.push(format!("--device-lifetime-secs={secs}"));
        }
        if let Some(secs) = self.device_interval_secs {
            args.push(format!("--device-interval-secs={secs}"));
        }
        if let Some(v) = &self.min_client_version {
            args.push(format!("--min-client-version={v}"));
        }
        if let Some(v) = &self.latest_client_version {
            args.push(format!("--latest-client-version={v}"));
        }
        if let Some(url) = &self.download_url {
            args.push(format!("--download-url={url}"));
        }
        args
    }
}

/// A running server on `127.0.0.1` with its own temp data dir, killed on drop.
pub struct TestServer {
    root: tempfile::TempDir,
    data_dir: PathBuf,
    bin: PathBuf,
    opts: ServerOptions,
    port: u16,
    process: Option<ServerProcess>,
}

impl TestServer {
    /// A server with the demo accounts, on a free port, in a fresh temp data dir.
    pub fn start() -> TestServer {
        TestServer::start_with(ServerOptions {
            demo: true,
            ..ServerOptions::default()
        })
    }

    pub fn start_with(opts: ServerOptions) -> TestServer {
        TestServer::start_bin(server_binary(), opts)
    }

    /// Like [`TestServer::start_with`] with an explicit binary (e.g.
    /// `env!("CARGO_BIN_EXE_hyperclay-server")`).
    pub fn start_bin(bin: PathBuf, opts: ServerOptions) -> TestServer {
        assert!(
            bin.is_file(),
            "the server binary {} does not exist; build it first: cargo build -p hyperclay-server",
            bin.display()
        );
        let root = tempfile::Builder::new()
            .prefix("hyperclay-server-test")
            .tempdir()
            .expect("a temp dir for the server");
        let data_dir = root.path().join("data");
        let mut server = TestServer {
            root,
            data_dir,
            bin,
            opts,
            port: 0,
            process: None,
        };
        if let Err(why) = server.try_spawn(0) {
            panic!("{why}; the server's log:\n{}", server.log());
        }
        server
    }

    fn try_spawn(&mut self, port: u16) -> Result<(), String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(|e| format!("opening the server log: {e}"))?;
        let args = self.opts.args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let process = ServerProcess::start(
            &self.bin,
            &self.data_dir,
            port,
            &args,
            &[],
            Stdio::from(log),
        )
        .map_err(|e| e.to_string())?;
        self.port = process.port();
        self.process = Some(process);
        Ok(())
    }

    fn log_path(&self) -> PathBuf {
        self.root.path().join("server.log")
    }

    /// Everything the server has logged so far (stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Kills the server and waits for it to exit. The data dir stays.
    pub fn stop(&mut self) {
        self.process = None;
    }

    /// Stops and starts again on the same data dir and the same port.
    pub fn restart(&mut self) {
        self.stop();
        let port = self.port;
        // The port was ours a moment ago; if something else grabbed it meanwhile, retry.
        let deadline = Instant::now() + crate::wait::scaled(Duration::from_secs(20));
        loop {
            match self.try_spawn(port) {
                Ok(()) => return,
                Err(why) if Instant::now() > deadline => {
                    panic!(
                        "restarting on port {port}: {why}; the server's log:\n{}",
                        self.log()
                    )
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// Runs the server binary with `args` and `--data-dir`; returns stdout, panics with
    /// stderr on failure.
    pub fn cli(&self, args: &[&str]) -> String {
        server::admin(&self.bin, &self.data_dir, args).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn add_user(&self, name: &str, password: &str, paid: bool, site_limit: u32) {
        let limit = site_limit.to_string();
        let plan = if paid { "paid" } else { "free" };
        self.cli(&[
            "user",
            "add",
            name,
            "--password",
            password,
            "--plan",
            plan,
            "--site-limit",
            &limit,
        ]);
    }

    /// A valid access token for account `name`.
    pub fn token(&self, name: &str) -> String {
        self.token_aged(name, 0)
    }

    /// A token for `name` whose `iat` is `age_secs` before the server's (possibly skewed) now.
    pub fn token_aged(&self, name: &str, age_secs: u64) -> String {
        let age = age_secs.to_string();
        let skew = format!("--clock-skew-ms={}", self.opts.clock_skew_ms);
        self.cli(&["token", name, "--age", &age, &skew])
            .trim()
            .to_owned()
    }

    /// Runs the server binary with `args` and `--data-dir`: its stdout, or why it failed (its
    /// stderr), for tests of the CLI's refusals.
    pub fn try_cli(&self, args: &[&str]) -> Result<String, crate::KitError> {
        server::admin(&self.bin, &self.data_dir, args)
    }

    /// Publishes `bytes` as release `version` for `platform` with the `.minisig` text
    /// `signature`, through the real CLI (`release add`); its stdout, or why it was refused.
    pub fn try_publish_release(
        &self,
        version: &str,
        platform: &str,
        bytes: &[u8],
        signature: &str,
    ) -> Result<String, crate::KitError> {
        let dir = tempfile::Builder::new()
            .prefix("release")
            .tempdir_in(self.root.path())
            .map_err(|source| crate::KitError::Io {
                what: "a temp dir for the release",
                source,
            })?;
        let file = dir.path().join("release.bin");
        let sig = dir.path().join("release.bin.minisig");
        let write = |path: &Path, what: &'static str, data: &[u8]| {
            std::fs::write(path, data).map_err(|source| crate::KitError::Io { what, source })
        };
        write(&file, "writing the release file", bytes)?;
        write(&sig, "writing the signature", signature.as_bytes())?;
        let (file, sig) = (file.to_string_lossy(), sig.to_string_lossy());
        self.try_cli(&[
            "release",
            "add",
            "--version",
            version,
            "--platform",
            platform,
            "--file",
            &file,
            "--signature",
            &sig,
        ])
    }

    /// [`TestServer::try_publish_release`] that must succeed.
    pub fn publish_release(&self, version: &str, platform: &str, bytes: &[u8], signature: &str) {
        self.try_publish_release(version, platform, bytes, signature)
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Deletes `path` of `account` as the platform's UI would (a tombstone in `/changes`).
    pub fn rm(&self, account: &str, path: &str) {
        self.cli(&["rm", account, path]);
    }
}
