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
    let mut installed = INSTALLED.lock().unwrap_or_else(|p| p.into_inner());
    if installed.is_some() {
        return Ok(());
    }
    let path = log_file(home);
    if let Some(dir) = path.parent() {
        crate::data_dir::create_private_dir(dir)?;
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
            crate::data_dir::private_options()
                .read(true)
                .create(true)
                .append(true)
                .clone(),
        ),
    );
    let mut loggers: Vec<Box<dyn SharedLogger>> =
        vec![WriteLogger::new(LevelFilter::Info, config.clone(), writer)];
    if stderr {
        loggers.push(TermLogger::new(
            LevelFilter::Info,
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
