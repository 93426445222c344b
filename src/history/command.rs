//! The `history`, `restore` and `diff` commands: they find the file (a path in the sync folder
//! or an app's name), gather its versions from `sites-versions/` and the server, and print or
//! act. With an engine running, a restore is a local save (the careful write: backup first,
//! re-check, rename) that the engine's watcher pushes like any other, and the command waits
//! until the server holds it; with none, the command holds the engine's lock while it writes
//! and uploads, so no engine can start in between. Nothing that came from the server is
//! printed without its control characters escaped, and no bytes but the chosen version's are
//! ever written or sent.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use hyperclay_protocol::{Checksum, Entry, EntryName, RemotePath, Timestamp, app_name_of};

use super::restore::{self, Carrier, Plan};
use super::{ChooseError, Current, Version, escape, local_versions, merge};
use crate::auth::TokenStore;
use crate::home::config::EngineConfig;
use crate::home::lock::{DataDirLock, LockError};
use crate::home::settings;
use crate::local::write::{self, WriteError};
use crate::local::{self, ReadOutcome, VERSIONS_DIR, Verdict};
use crate::remote::{self, Remote, RemoteError};
use crate::status::report::{StatusFile, status_file};
use crate::status::text;

/// How long `restore` waits for a running engine to bring the version to the server.
pub const ENGINE_WAIT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("{0} is not inside the sync folder {1}")]
    OutsideFolder(String, String),
    #[error("{path} is not synced ({why}), so it has no versions to bring back: {what_to_do}")]
    NotSynced {
        path: String,
        why: String,
        what_to_do: String,
    },
    #[error("--before {0:?} is not a time: give e.g. 2026-12-01T10:00:00Z or 2026-12-01 (UTC)")]
    BadTime(String),
    #[error("there is no version of {0} here or on the server")]
    NoVersions(String),
    #[error(transparent)]
    Choose(#[from] ChooseError),
    #[error(transparent)]
    Plan(#[from] restore::PlanError),
    #[error("cannot read the settings")]
    Settings(#[source] settings::SettingsError),
    #[error("cannot read {0}")]
    Read(String, #[source] std::io::Error),
    #[error("the backup {0} no longer holds that version; nothing was changed")]
    BackupChanged(String),
    #[error(
        "{0} changed while restoring (a save in progress?); nothing was overwritten: run the \
         restore again"
    )]
    Changed(String),
    #[error("cannot write {0}")]
    Write(String, #[source] WriteError),
    #[error("cannot fetch version {0} from the server")]
    Fetch(String, #[source] RemoteError),
    #[error("the server cannot be reached, and version {0} is kept only there")]
    OnlyOnServer(String),
    #[error("cannot take the engine's lock")]
    Lock(#[source] LockError),
    #[error(
        "restored {path} here (what it replaced is backed up in sites-versions/), but the \
         server refused the upload; sync will upload it the next time it runs"
    )]
    UploadRefused {
        path: String,
        #[source]
        source: RemoteError,
    },
    #[error(
        "restored {0} here (what it replaced is backed up in sites-versions/), but the server's \
         copy changed meanwhile and is newer: run `hyperclay-sync history` on it and restore \
         again"
    )]
    ServerNewer(String),
    #[error(
        "restored {path} here (what it replaced is backed up in sites-versions/), but the \
         running engine has not brought it to the server within {secs} s (it says: {state}); \
         it uploads it as soon as it can"
    )]
    NotYetOnServer {
        path: String,
        secs: u64,
        state: String,
    },
    #[error("cannot print")]
    Print(#[from] std::io::Error),
}

/// The file a command is about.
#[derive(Debug, Clone)]
pub struct Target {
    pub folder: PathBuf,
    /// Folder-relative.
    pub rel: RemotePath,
    /// Where the server keeps it (an app may live in another folder there), when known.
    pub remote_rel: RemotePath,
}

/// How the server answered.
pub enum ServerSide {
    Reached(Remote),
    Unreachable(RemoteError),
    NotLoggedIn,
}

/// Everything known of one file.
pub struct Gathered {
    pub target: Target,
    pub versions: Vec<Version>,
    pub server: ServerSide,
    /// Where the server's listing ended: what changed after it is all a wait needs to read.
    pub cursor: Option<String>,
    pub here: Option<Current>,
    pub on_server: Option<Current>,
}

/// The sync folder, as `status` finds it: the running engine's, the settings', the default.
pub fn sync_folder(config: &EngineConfig) -> Result<PathBuf, HistoryError> {
    if let Some(f) = &config.folder {
        return Ok(f.clone());
    }
    let running: Option<StatusFile> = std::fs::read(status_file(&config.home))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .filter(|_| DataDirLock::is_held(&config.home));
    if let Some(s) = running {
        return Ok(s.folder);
    }
    let s = settings::load(&config.home).map_err(HistoryError::Settings)?;
    Ok(s.folder.unwrap_or_else(EngineConfig::default_folder))
}

/// The server, with the login this machine uses, or `None` when not logged in.
pub fn remote_for(config: &EngineConfig) -> Option<Remote> {
    let token = match &config.token_override {
        Some(t) => t.clone(),
        None => {
            TokenStore::open(&config.home, &config.server_url)
                .load()
                .ok()
                .flatten()?
                .access_token
        }
    };
    let mut r = Remote::new(remote::agent(), &config.server_url, &token);
    r.set_stall_window(config.stall_window);
    Some(r)
}

/// `PATH` as the user gave it: an app's name, a path relative to the current folder or to the
/// sync folder, or an absolute path inside the sync folder.
fn local_rel(folder: &Path, arg: &str) -> Result<String, HistoryError> {
    let given = Path::new(arg);
    let candidates: Vec<PathBuf> = if given.is_absolute() {
        vec![given.to_path_buf()]
    } else {
        std::env::current_dir()
            .map(|d| vec![d.join(given)])
            .unwrap_or_default()
    };
    let root = dunce::canonicalize(folder).unwrap_or_else(|_| folder.to_path_buf());
    for c in candidates {
        let parent = c.parent().and_then(|p| dunce::canonicalize(p).ok());
        let full = match (parent, c.file_name()) {
            (Some(p), Some(name)) => p.join(name),
            _ => c.clone(),
        };
        if let Some(rel) = local::relative(&root, &full).or_else(|| local::relative(folder, &c)) {
            if given.is_absolute() || c.exists() {
                return Ok(rel);
            }
        } else if given.is_absolute() {
            return Err(HistoryError::OutsideFolder(
                arg.to_owned(),
                folder.display().to_string(),
            ));
        }
    }
    Ok(arg.trim_start_matches("./").replace('\\', "/"))
}

/// A bare app name (`hello`): no folder, no extension, a valid app slug.
fn app_name(arg: &str) -> Option<&str> {
    let ok = !arg.is_empty()
        && !arg.contains(['/', '.', '\\'])
        && RemotePath::file(&format!("{arg}.html")).is_ok();
    ok.then_some(arg)
}

/// The local file of app `name` anywhere in the folder (not in `sites-versions/` or a
/// dot-folder), never through a symlink.
fn find_app(folder: &Path, name: &str) -> Option<String> {
    let mut dirs = vec![folder.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            let Some(rel) = local::relative(folder, &e.path()) else {
                continue;
            };
            let file_name = e.file_name();
            let file_name = file_name.to_string_lossy();
            if ft.is_dir() && !file_name.starts_with('.') && rel != VERSIONS_DIR {
                dirs.push(e.path());
            } else if ft.is_file() && app_name_of(&rel) == Some(name) {
                return Some(rel);
            }
        }
    }
    None
}

/// Finds the file, its versions on both sides, and each side's current content.
pub fn gather(config: &EngineConfig, arg: &str) -> Result<Gathered, HistoryError> {
    let folder = sync_folder(config)?;
    let (server, listing, cursor) = match remote_for(config) {
        None => (ServerSide::NotLoggedIn, None, None),
        Some(r) => match r.files_since(None) {
            Ok((files, cursor)) => (ServerSide::Reached(r), Some(files), Some(cursor)),
            Err(e) => (ServerSide::Unreachable(e), None, None),
        },
    };
    let remote_app = |name: &str| -> Option<&Entry> {
        listing
            .as_ref()?
            .iter()
            .find(|e| app_name_of(&e.path) == Some(name))
    };
    let rel_text = match app_name(arg) {
        Some(name) => find_app(&folder, name)
            .or_else(|| remote_app(name).map(|e| e.path.clone()))
            .unwrap_or_else(|| format!("{name}.html")),
        None => local_rel(&folder, arg)?,
    };
    let rel = RemotePath::file(&rel_text).map_err(|e| HistoryError::NotSynced {
        path: escape(&rel_text),
        why: e.to_string(),
        what_to_do: "rename it to a name Hyperclay allows and it syncs".into(),
    })?;
    let rules =
        local::ignore::Rules::load(&folder).unwrap_or_else(|_| local::ignore::Rules::builtin());
    match rules.verdict(rel.as_str()) {
        Verdict::Synced(_) => {}
        Verdict::Ignored => {
            return Err(HistoryError::NotSynced {
                path: rel.to_string(),
                why: "the ignore rules leave it out".into(),
                what_to_do: "change .hyperclayignore if it should sync".into(),
            });
        }
        Verdict::Forbidden(why) => {
            return Err(HistoryError::NotSynced {
                path: rel.to_string(),
                why,
                what_to_do: "rename it to a name Hyperclay allows".into(),
            });
        }
    }
    let remote_entry = match rel.app_name() {
        Some(name) => remote_app(name),
        None => listing
            .as_ref()
            .and_then(|l| l.iter().find(|e| e.path == rel.as_str())),
    };
    let remote_rel = remote_entry
        .and_then(|e| RemotePath::file(&e.path).ok())
        .unwrap_or_else(|| rel.clone());
    let on_server = remote_entry.and_then(|e| {
        Some(Current {
            checksum: Checksum::parse(e.checksum.as_deref()?).ok()?,
            size: e.size.unwrap_or(0),
            modified_at: e.modified_at,
        })
    });
    let here = current_here(&folder, &rel);
    let backups = local_versions::backups_of(&folder, &rel);
    let server_versions = match &server {
        ServerSide::Reached(r) if remote_entry.is_some() => match r.versions(&remote_rel) {
            Ok(v) => v,
            Err(RemoteError::NotFound) => Vec::new(),
            Err(e) => {
                let target = Target {
                    folder,
                    rel,
                    remote_rel,
                };
                let versions = merge(&backups, &[], here, None);
                return Ok(Gathered {
                    target,
                    versions,
                    server: ServerSide::Unreachable(e),
                    cursor,
                    here,
                    on_server: None,
                });
            }
        },
        _ => Vec::new(),
    };
    let versions = merge(&backups, &server_versions, here, on_server);
    Ok(Gathered {
        target: Target {
            folder,
            rel,
            remote_rel,
        },
        versions,
        server,
        cursor,
        here,
        on_server,
    })
}

fn current_here(folder: &Path, rel: &RemotePath) -> Option<Current> {
    let path = local::join_inside(folder, rel)?;
    match local::read_stable(folder, &path) {
        ReadOutcome::Ready(s) => Some(Current {
            checksum: s.checksum,
            size: s.stamp.size,
            modified_at: Timestamp::from_millis(s.stamp.mtime_ns.div_euclid(1_000_000)),
        }),
        _ => None,
    }
}

/// `2026-12-08 01:16:07 UTC`.
pub fn when(t: Timestamp) -> String {
    let s = t.to_rfc3339();
    format!("{} {} UTC", &s[..10], &s[11..19])
}

fn server_note(server: &ServerSide) -> Option<String> {
    match server {
        ServerSide::Reached(_) => None,
        ServerSide::Unreachable(e) => Some(format!(
            "The server cannot be reached ({}): only this machine's versions are listed.",
            escape(&e.to_string())
        )),
        ServerSide::NotLoggedIn => Some(
            "Not logged in: only this machine's versions are listed (run `hyperclay-sync login` \
             to see the server's too)."
                .to_owned(),
        ),
    }
}

/// `hyperclay-sync history PATH [--json]`.
pub fn history(
    config: &EngineConfig,
    arg: &str,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), HistoryError> {
    let g = gather(config, arg)?;
    let path = g.target.rel.to_string();
    if json {
        let (state, error) = match &g.server {
            ServerSide::Reached(_) => ("reached", None),
            ServerSide::Unreachable(e) => ("unreachable", Some(escape(&e.to_string()))),
            ServerSide::NotLoggedIn => ("notLoggedIn", None),
        };
        let doc = serde_json::json!({
            "path": path,
            "serverPath": g.target.remote_rel.as_str(),
            "server": state,
            "serverError": error,
            "versions": g.versions.iter().map(Version::to_json).collect::<Vec<_>>(),
        });
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        )?;
        return Ok(());
    }
    if let Some(note) = server_note(&g.server) {
        writeln!(out, "{note}")?;
    }
    if g.versions.is_empty() {
        writeln!(
            out,
            "No versions of {} here or on the server.",
            escape(&path)
        )?;
        return Ok(());
    }
    let shown_remote = if g.target.remote_rel != g.target.rel {
        format!(" (on the server: {})", escape(g.target.remote_rel.as_str()))
    } else {
        String::new()
    };
    writeln!(
        out,
        "Versions of {}{shown_remote}, newest first:",
        escape(&path)
    )?;
    let header = format!(
        "  {:<12}  {:<23}  {:>12}  {:<12}",
        "ID", "SAVED AT", "SIZE", "WHERE"
    );
    writeln!(out, "{}", header.trim_end())?;
    for v in &g.versions {
        let row = format!(
            "  {:<12}  {:<23}  {:>12}  {:<12}  {}",
            v.id,
            when(v.saved_at),
            format!("{} B", text::thousands(v.size)),
            v.place().words(),
            v.current_words()
        );
        writeln!(out, "{}", row.trim_end())?;
    }
    writeln!(
        out,
        "Bring one back with: hyperclay-sync restore {} --version ID",
        super::shell_quote(&path)
    )?;
    Ok(())
}

/// The bytes of `v`, from wherever they are kept, checked against its checksum.
fn bytes_of(g: &Gathered, v: &Version) -> Result<Vec<u8>, HistoryError> {
    let folder = &g.target.folder;
    let mut local_paths = Vec::new();
    if v.current_here {
        local_paths.extend(local::join_inside(folder, &g.target.rel));
    }
    // A backup's path came from our own listing of `sites-versions/`: no `..`, no symlink.
    local_paths.extend(v.backup.as_ref().map(|b| folder.join(b)));
    for path in &local_paths {
        if let Ok(bytes) = std::fs::read(path)
            && Checksum::of(&bytes) == v.checksum
        {
            return Ok(bytes);
        }
    }
    let ServerSide::Reached(remote) = &g.server else {
        return match local_paths.first() {
            Some(p) => Err(HistoryError::BackupChanged(p.display().to_string())),
            None => Err(HistoryError::OnlyOnServer(v.id.clone())),
        };
    };
    let fetched = match &v.server_id {
        Some(id) => remote.version_bytes(&g.target.remote_rel, id, v.checksum),
        None => remote.download(&g.target.remote_rel).and_then(|d| {
            if d.checksum == v.checksum {
                Ok(d.bytes)
            } else {
                Err(RemoteError::malformed(
                    "the server's copy changed meanwhile",
                ))
            }
        }),
    };
    fetched.map_err(|e| HistoryError::Fetch(v.id.clone(), e))
}

/// Which version `--version ID` or `--before TIME` names.
pub enum Choice {
    Id(String),
    Before(Timestamp),
}

impl Choice {
    /// From `--version ID` or `--before TIME` (clap makes sure one of them is given).
    pub fn from_args(version: Option<&str>, before: Option<&str>) -> Result<Choice, HistoryError> {
        match (version, before) {
            (Some(id), _) => Ok(Choice::Id(id.to_owned())),
            (None, Some(t)) => parse_time(t)
                .map(Choice::Before)
                .ok_or_else(|| HistoryError::BadTime(t.to_owned())),
            (None, None) => Err(HistoryError::BadTime(String::new())),
        }
    }
}

fn choose<'v>(versions: &'v [Version], choice: &Choice) -> Result<&'v Version, ChooseError> {
    match choice {
        Choice::Id(id) => super::by_id(versions, id),
        Choice::Before(t) => super::before(versions, *t),
    }
}

/// Reads `--before`: an RFC 3339 time, `YYYY-MM-DDTHH:MM[:SS]` (UTC), or a date (its start, UTC).
pub fn parse_time(text: &str) -> Option<Timestamp> {
    let t = text.trim();
    Timestamp::parse(t)
        .ok()
        .or_else(|| Timestamp::parse(&format!("{t}Z")).ok())
        .or_else(|| Timestamp::parse(&format!("{t}:00Z")).ok())
        .or_else(|| Timestamp::parse(&format!("{t}T00:00:00Z")).ok())
}

/// An unsynced sync issue the running engine reports for `path`, as (why, what to do).
fn issue_of(config: &EngineConfig, path: &str) -> Option<(String, String)> {
    if !DataDirLock::is_held(&config.home) {
        return None;
    }
    let status: StatusFile =
        serde_json::from_slice(&std::fs::read(status_file(&config.home)).ok()?).ok()?;
    status
        .issues
        .iter()
        .find(|i| i.path == path && i.kind.unsynced())
        .map(|i| text::why_and_what_to_do(&i.kind))
}

/// `hyperclay-sync restore PATH (--version ID | --before TIME) [--dry-run]`.
pub fn restore(
    config: &EngineConfig,
    arg: &str,
    choice: &Choice,
    dry_run: bool,
    out: &mut dyn Write,
) -> Result<(), HistoryError> {
    let g = gather(config, arg)?;
    let path = g.target.rel.to_string();
    if let Some((why, what_to_do)) = issue_of(config, &path) {
        return Err(HistoryError::NotSynced {
            path,
            why,
            what_to_do,
        });
    }
    if g.versions.is_empty() {
        return Err(HistoryError::NoVersions(path));
    }
    let version = choose(&g.versions, choice)?.clone();
    // Holding the engine's lock for the whole restore is what keeps an engine from starting
    // halfway; failing to get it means one runs, and it must carry the restore.
    let lock = match DataDirLock::acquire(&config.home) {
        Ok(lock) => Some(lock),
        Err(LockError::Held) => None,
        Err(e) => return Err(HistoryError::Lock(e)),
    };
    let reached = matches!(g.server, ServerSide::Reached(_));
    let carrier = match (&lock, reached) {
        (None, _) => Carrier::Engine,
        (Some(_), true) => Carrier::Command,
        (Some(_), false) => Carrier::LaterSync,
    };
    let server_has_it = g.on_server.is_some_and(|c| c.checksum == version.checksum);
    let plan = restore::plan(&version, g.here.map(|c| c.checksum), server_has_it, carrier)?;
    if let Some(note) = server_note(&g.server) {
        writeln!(out, "{note}")?;
    }
    if dry_run {
        writeln!(
            out,
            "Would restore version {} of {}:",
            version.id,
            escape(&path)
        )?;
        for step in plan.steps(&escape(&path)) {
            writeln!(out, "  - {step}")?;
        }
        return Ok(());
    }
    let bytes = bytes_of(&g, &version)?;
    carry_out(config, &g, &plan, &bytes, out)?;
    drop(lock);
    Ok(())
}

fn carry_out(
    config: &EngineConfig,
    g: &Gathered,
    plan: &Plan,
    bytes: &[u8],
    out: &mut dyn Write,
) -> Result<(), HistoryError> {
    let path = g.target.rel.to_string();
    let shown = escape(&path);
    let v = &plan.version;
    if Checksum::of(bytes) != v.checksum {
        return Err(HistoryError::BackupChanged(path));
    }
    let mtime = SystemTime::now();
    if let Some(expected) = plan.write_local {
        match write::save(&g.target.folder, &g.target.rel, bytes, mtime, expected) {
            Ok(saved) => {
                writeln!(
                    out,
                    "Restored version {} of {shown} here ({} bytes).",
                    v.id, v.size
                )?;
                if let Some(b) = saved.backup {
                    writeln!(out, "The content it replaced is kept at {}.", escape(&b))?;
                }
            }
            Err(WriteError::Changed(_)) => return Err(HistoryError::Changed(path)),
            Err(e) => return Err(HistoryError::Write(path, e)),
        }
    }
    if !plan.upload {
        writeln!(out, "The server already holds it.")?;
        return Ok(());
    }
    let file = local::join_inside(&g.target.folder, &g.target.rel);
    if plan.write_local.is_none()
        && let Some(file) = &file
    {
        // Already here but not on the server: saved again now, so it goes up as the newest
        // write rather than being refused as older than the server's copy.
        let _ = filetime::set_file_mtime(file, filetime::FileTime::from_system_time(mtime));
    }
    let remote = match (&g.server, plan.carrier) {
        (ServerSide::Reached(r), _) => r,
        (_, Carrier::Engine) => {
            writeln!(
                out,
                "The running engine uploads it as soon as it reaches the server."
            )?;
            return Ok(());
        }
        _ => {
            writeln!(
                out,
                "The server is not reachable now: sync uploads it the next time it runs."
            )?;
            return Ok(());
        }
    };
    match plan.carrier {
        Carrier::Engine => wait_for_engine(config, remote, g, v, out),
        Carrier::LaterSync => {
            writeln!(out, "Sync uploads it the next time it runs.")?;
            Ok(())
        }
        Carrier::Command => {
            // The file's mtime on the server's clock, as the engine would send it.
            let offset = remote.status().map(|(_, o)| o).unwrap_or(0);
            let modified_at = file
                .and_then(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok())
                .map_or_else(
                    || Timestamp::from_system_time(mtime),
                    Timestamp::from_system_time,
                )
                .offset_by(offset);
            match remote.upload(&g.target.rel, bytes, modified_at) {
                Ok(put) => {
                    writeln!(
                        out,
                        "Uploaded it to the server ({}); the server kept what it replaced in its \
                         version history.",
                        escape(&put.entry.path)
                    )?;
                    Ok(())
                }
                Err(RemoteError::Stale(_)) => Err(HistoryError::ServerNewer(path)),
                Err(source) => Err(HistoryError::UploadRefused { path, source }),
            }
        }
    }
}

/// Waits until the server holds `v` (the running engine pushed the local save).
fn wait_for_engine(
    config: &EngineConfig,
    remote: &Remote,
    g: &Gathered,
    v: &Version,
    out: &mut dyn Write,
) -> Result<(), HistoryError> {
    let status = std::fs::read(status_file(&config.home))
        .ok()
        .and_then(|b| serde_json::from_slice::<StatusFile>(&b).ok());
    if status.as_ref().is_some_and(|s| !s.enabled) {
        writeln!(
            out,
            "Sync is switched off: the engine uploads it once sync is switched on again."
        )?;
        return Ok(());
    }
    writeln!(
        out,
        "The running engine uploads it; waiting for the server to hold it…"
    )?;
    let deadline = Instant::now() + ENGINE_WAIT;
    let mut cursor = g.cursor.clone();
    loop {
        if let Ok((files, next)) = remote.files_since(cursor.as_deref()) {
            cursor = Some(next);
            let held = files.iter().any(|e| {
                let same = match g.target.rel.kind() {
                    EntryName::App => app_name_of(&e.path) == g.target.rel.app_name(),
                    EntryName::Upload => e.path == g.target.rel.as_str(),
                };
                same && e.checksum.as_deref() == Some(v.checksum.to_hex().as_str())
            });
            if held {
                writeln!(out, "The server holds version {} now.", v.id)?;
                return Ok(());
            }
        }
        if Instant::now() >= deadline {
            let state = std::fs::read(status_file(&config.home))
                .ok()
                .and_then(|b| serde_json::from_slice::<StatusFile>(&b).ok())
                .map_or_else(|| "nothing".to_owned(), |s| s.summary.line());
            return Err(HistoryError::NotYetOnServer {
                path: g.target.rel.to_string(),
                secs: ENGINE_WAIT.as_secs(),
                state,
            });
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// `hyperclay-sync diff PATH --version ID`.
pub fn diff(
    config: &EngineConfig,
    arg: &str,
    choice: &Choice,
    out: &mut dyn Write,
) -> Result<(), HistoryError> {
    let g = gather(config, arg)?;
    let path = g.target.rel.to_string();
    if g.versions.is_empty() {
        return Err(HistoryError::NoVersions(path));
    }
    let v = choose(&g.versions, choice)?.clone();
    let old = bytes_of(&g, &v)?;
    let current_version = g
        .versions
        .iter()
        .find(|x| x.current_here)
        .or_else(|| g.versions.iter().find(|x| x.current_on_server))
        .cloned();
    let Some(current) = current_version else {
        writeln!(
            out,
            "{} has no current content here or on the server.",
            escape(&path)
        )?;
        return Ok(());
    };
    if current.checksum == v.checksum {
        writeln!(
            out,
            "Version {} is the current content of {}.",
            v.id,
            escape(&path)
        )?;
        return Ok(());
    }
    let new = bytes_of(&g, &current)?;
    let old_label = format!("{path} version {} ({})", v.id, when(v.saved_at));
    let new_label = format!("{path} ({})", current.current_words());
    out.write_all(super::diff::render(&old, &new, &old_label, &new_label).as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn before_takes_rfc_3339_a_time_without_zone_or_a_date_all_utc() {
        let t = |s: &str| parse_time(s).map(|t| t.to_rfc3339());
        assert_eq!(
            t("2026-12-01T10:00:00+01:00").as_deref(),
            Some("2026-12-01T09:00:00.000Z")
        );
        assert_eq!(
            t("2026-12-01T10:00:00").as_deref(),
            Some("2026-12-01T10:00:00.000Z")
        );
        assert_eq!(
            t("2026-12-01T10:00").as_deref(),
            Some("2026-12-01T10:00:00.000Z")
        );
        assert_eq!(t("2026-12-01").as_deref(), Some("2026-12-01T00:00:00.000Z"));
        assert_eq!(t("yesterday"), None);
        assert!(matches!(
            Choice::from_args(None, Some("soon")),
            Err(HistoryError::BadTime(_))
        ));
    }

    #[test]
    fn an_app_name_is_a_bare_slug() {
        assert_eq!(app_name("hello"), Some("hello"));
        assert_eq!(app_name("hello.html"), None);
        assert_eq!(app_name("blog/hello"), None);
        assert_eq!(app_name("Hello World"), None);
    }
}
