//! Where the engine keeps its files and which server it talks to, from the environment.
//! It must never touch the disk or the network: it only reads variables.

use std::path::PathBuf;
use std::time::Duration;

/// The server a build talks to unless `HYPERCLAY_URL` says otherwise (baked in by `build.rs`).
pub const DEFAULT_SERVER_URL: &str = env!("HYPERCLAY_DEFAULT_URL");

/// What `--version` prints after the program's name, in both binaries: the crate version and
/// the server this build talks to.
pub const VERSION: &str = concat!(
    env!("HYPERCLAY_SYNC_VERSION"),
    " (server: ",
    env!("HYPERCLAY_DEFAULT_URL"),
    ")"
);

/// The poll interval when `HYPERCLAY_POLL_SECONDS` is not set.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(10);

/// How long the client asks the server to hold a `/changes` request open for a change
/// (long-polling): one idle request per this long, and a remote change arrives as soon as the
/// server sees it. Servers without long-polling answer at once and get the plain poll.
pub const LONG_POLL_WAIT: Duration = Duration::from_secs(25);

/// How much longer than the wait a long-poll may take before the server counts as gone.
pub const LONG_POLL_MARGIN: Duration = Duration::from_secs(10);

/// How long a transfer body may go without real progress before it is abandoned, when
/// `HYPERCLAY_STALL_SECONDS` is not set. Long enough for a slow link, short enough that one bad
/// transfer does not hold up the polls and pushes behind it.
pub const DEFAULT_STALL_WINDOW: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// Config, state and logs live here.
    pub home: PathBuf,
    pub server_url: String,
    /// A token given from outside (`HYPERCLAY_TOKEN`); it wins over the stored one.
    pub token_override: Option<String>,
    pub poll_interval: Duration,
    /// A transfer body that moves less than 1 KiB in this long is abandoned.
    pub stall_window: Duration,
    /// A sync folder that wins over the one in the settings (`--folder`).
    pub folder: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("HYPERCLAY_POLL_SECONDS must be a positive number of seconds, not {0:?}")]
    PollSeconds(String),
    #[error("HYPERCLAY_STALL_SECONDS must be a positive number of seconds, not {0:?}")]
    StallSeconds(String),
    #[error("HYPERCLAY_URL must start with http:// or https://, not {0:?}")]
    ServerUrl(String),
    #[error("no home directory found for the config; set HYPERCLAY_SYNC_HOME to a folder for it")]
    NoHome,
}

impl EngineConfig {
    /// Reads `HYPERCLAY_URL`, `HYPERCLAY_SYNC_HOME`, `HYPERCLAY_TOKEN`, `HYPERCLAY_POLL_SECONDS`
    /// and `HYPERCLAY_STALL_SECONDS`.
    pub fn from_env() -> Result<EngineConfig, ConfigError> {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    /// Same as [`EngineConfig::from_env`], over any variable source (for tests).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<EngineConfig, ConfigError> {
        let var = |k: &str| var(k).filter(|v| !v.trim().is_empty());
        let server_url = match var("HYPERCLAY_URL") {
            Some(url) => url.trim().trim_end_matches('/').to_owned(),
            None => DEFAULT_SERVER_URL.trim_end_matches('/').to_owned(),
        };
        if !(server_url.starts_with("http://") || server_url.starts_with("https://")) {
            return Err(ConfigError::ServerUrl(server_url));
        }
        let home = match var("HYPERCLAY_SYNC_HOME") {
            Some(h) => PathBuf::from(h),
            None => directories::ProjectDirs::from("com", "Hyperclay", "Hyperclay Sync")
                .map(|d| d.data_dir().to_path_buf())
                .ok_or(ConfigError::NoHome)?,
        };
        let poll_interval = match var("HYPERCLAY_POLL_SECONDS") {
            None => DEFAULT_POLL_INTERVAL,
            Some(s) => seconds(&s).ok_or(ConfigError::PollSeconds(s))?,
        };
        let stall_window = match var("HYPERCLAY_STALL_SECONDS") {
            None => DEFAULT_STALL_WINDOW,
            Some(s) => seconds(&s).ok_or(ConfigError::StallSeconds(s))?,
        };
        Ok(EngineConfig {
            home,
            server_url,
            token_override: var("HYPERCLAY_TOKEN").map(|t| t.trim().to_owned()),
            poll_interval,
            stall_window,
            folder: None,
        })
    }

    /// The sync folder when neither `--folder` nor the settings name one.
    pub fn default_folder() -> PathBuf {
        directories::UserDirs::new()
            .map(|d| d.home_dir().join("Hyperclay"))
            .unwrap_or_else(|| PathBuf::from("Hyperclay"))
    }

    pub fn log_file(&self) -> PathBuf {
        self.home.join("logs").join("sync.log")
    }
}

/// A positive number of seconds under a day, fractions allowed.
fn seconds(s: &str) -> Option<Duration> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v > 0.0 && *v < 86_400.0)
        .map(Duration::from_secs_f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<EngineConfig, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        EngineConfig::from_vars(|k| map.get(k).cloned())
    }

    #[test]
    fn environment_wins_over_the_baked_default() {
        let c = cfg(&[
            ("HYPERCLAY_URL", "http://127.0.0.1:9/"),
            ("HYPERCLAY_SYNC_HOME", "/tmp/h"),
            ("HYPERCLAY_TOKEN", "t"),
            ("HYPERCLAY_POLL_SECONDS", "0.2"),
            ("HYPERCLAY_STALL_SECONDS", "1.5"),
        ])
        .unwrap();
        assert_eq!(c.server_url, "http://127.0.0.1:9");
        assert_eq!(c.home, PathBuf::from("/tmp/h"));
        assert_eq!(c.token_override.as_deref(), Some("t"));
        assert_eq!(c.poll_interval, Duration::from_millis(200));
        assert_eq!(c.stall_window, Duration::from_millis(1500));
        let d = cfg(&[("HYPERCLAY_SYNC_HOME", "/tmp/h")]).unwrap();
        assert_eq!(d.server_url, DEFAULT_SERVER_URL);
        assert_eq!(d.poll_interval, DEFAULT_POLL_INTERVAL);
        assert_eq!(d.stall_window, DEFAULT_STALL_WINDOW);
        assert_eq!(d.token_override, None);
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(cfg(&[("HYPERCLAY_POLL_SECONDS", "0")]).is_err());
        assert!(cfg(&[("HYPERCLAY_POLL_SECONDS", "soon")]).is_err());
        assert!(cfg(&[("HYPERCLAY_URL", "ftp://x")]).is_err());
        assert!(cfg(&[("HYPERCLAY_STALL_SECONDS", "-1")]).is_err());
        assert!(cfg(&[("HYPERCLAY_STALL_SECONDS", "NaN")]).is_err());
    }
}
