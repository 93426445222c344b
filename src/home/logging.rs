//! The plain-text sync log: `<home>/logs/sync.log`, rotated at 10 MB with 5 old files kept, and
//! stderr for the command line. One line per upload, download, backup, skip and error, with the
//! path relative to the sync folder. Nothing here may ever log a token, a code or a password.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use file_rotate::compression::Compression;
use file_rotate::suffix::AppendCount;
use file_rotate::{ContentLimit, FileRotate};
use simplelog::{
    ColorChoice, CombinedLogger, ConfigBuilder, LevelFilter, SharedLogger, TermLogger,
    TerminalMode, WriteLogger,
};

const ROTATE_BYTES: usize = 10 * 1000 * 1000;
const KEPT_FILES: usize = 5;

static INSTALLED: Mutex<Option<PathBuf>> = Mutex::new(None);

pub fn log_file(home: &Path) -> PathBuf {
    home.join("logs").join("sync.log")
}

/// Installs the process-wide logger once; later calls are no-ops (the tray and the engine may
/// both ask). `stderr` also echoes to the terminal, for the command line.
pub fn init(home: &Path, stderr: bool) -> std::io::Result<()> {
    init_with(home, LevelFilter::Info, stderr.then_some(LevelFilter::Info))
}

/// A level named by `HYPERCLAY_LOG` or `RUST_LOG`: a bare level (`debug`) or a directive for this
/// crate (`hyperclay_sync=debug`); other crates' directives are not ours and are passed over.
pub fn level_from_directives(spec: &str) -> Option<LevelFilter> {
    let mut found = None;
    for part in spec.split(',').map(str::trim) {
        let level = match part.split_once('=') {
            Some((target, level)) if target.trim() == "hyperclay_sync" => level,
            Some(_) => continue,
            None => part,
        };
        if let Ok(l) = level.trim().parse::<LevelFilter>() {
            found = Some(l);
        }
    }
    found
}

/// [`init`] with the levels chosen: `file` for the log file, `stderr` (if any) for the terminal.
pub fn init_with(
    home: &Path,
    file: LevelFilter,
    stderr: Option<LevelFilter>,
) -> std::io::Result<()> {
    let mut installed = INSTALLED.lock().unwrap_or_else(|p| p.into_inner());
    if installed.is_some() {
        return Ok(());
    }
    let path = log_file(home);
    if let Some(dir) = path.parent() {
        crate::home::data_dir::create_private_dir(dir)?;
    }
    let config = ConfigBuilder::new()
        .set_time_format_rfc3339()
        .set_target_level(LevelFilter::Off)
        .set_thread_level(LevelFilter::Off)
        .add_filter_allow_str("hyperclay_sync")
        .build();
    let writer = FileRotate::new(
        &path,
        AppendCount::new(KEPT_FILES),
        ContentLimit::BytesSurpassed(ROTATE_BYTES),
        Compression::None,
        // Every log file, rotated ones included (a rotation renames), is created 0600.
        Some(
            crate::home::data_dir::private_options()
                .read(true)
                .create(true)
                .append(true)
                .clone(),
        ),
    );
    let mut loggers: Vec<Box<dyn SharedLogger>> =
        vec![WriteLogger::new(file, config.clone(), writer)];
    if let Some(level) = stderr {
        loggers.push(TermLogger::new(
            level,
            config,
            TerminalMode::Stderr,
            ColorChoice::Never,
        ));
    }
    // Another logger set by the host program is fine: our lines then go there.
    let _ = CombinedLogger::init(loggers);
    *installed = Some(path);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_name_our_level_and_pass_over_other_crates() {
        assert_eq!(level_from_directives("debug"), Some(LevelFilter::Debug));
        assert_eq!(
            level_from_directives("ureq=trace,hyperclay_sync=warn"),
            Some(LevelFilter::Warn)
        );
        assert_eq!(level_from_directives("ureq=trace"), None);
        assert_eq!(level_from_directives("loud"), None);
        assert_eq!(level_from_directives(""), None);
    }
}
