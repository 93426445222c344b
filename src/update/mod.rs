//! Only the latest version is supported (`../shared/sync-requirements.md`): what the server's
//! version policy means for this build ([`policy`], pure), and updating this copy to the newest
//! release: the feed ([`crate::remote`]), the checks of what it announces and of the bytes
//! ([`verify`], with the keys in [`keys`]), and the install that fits how this copy was installed
//! ([`platform`], [`install`]). Nothing is installed that did not pass every check.

pub mod install;
pub mod keys;
pub mod platform;
pub mod policy;
pub mod verify;

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use semver::Version;

use crate::remote::{Remote, RemoteError};
use install::{InstallError, Relaunch};
use platform::Install;
use verify::{Arriving, MAX_RELEASE_BYTES, Refusal};

/// The version this build is (the package's, or the one a test build was given).
pub const THIS_VERSION: &str = env!("HYPERCLAY_SYNC_VERSION");

/// [`THIS_VERSION`] as a version; a build whose version does not parse counts as 0.0.0, the
/// oldest, so a policy never lets it off.
pub fn this_version() -> Version {
    Version::parse(THIS_VERSION).unwrap_or(Version::new(0, 0, 0))
}

/// Where a person downloads the app by hand when the server named no page.
pub const DOWNLOAD_PAGE: &str = "https://hyperclay.com/sync";

/// Where an update stands, for the one line of the menu item and `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Downloading(Version),
    Installing(Version),
}

/// How an update ended when nothing failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The new version is in place; it starts as `relaunch` says once this process has exited.
    Installed {
        version: Version,
        relaunch: Relaunch,
    },
    /// This copy cannot replace itself; `text` says what to do instead.
    ByHand { text: String },
}

#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("no release of Hyperclay Sync is published for {0} yet")]
    NoRelease(String),
    #[error("cannot read the release feed: {0}")]
    Feed(#[source] RemoteError),
    #[error("cannot download the update: {0}")]
    Download(#[source] RemoteError),
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("cannot keep the download in {path}: {source}")]
    Store {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot install the update: {0}")]
    Install(#[from] InstallError),
}

/// Updates this copy from `remote`'s release feed. `home` is the engine's data folder (the
/// download is kept in its `updates/`), `download` the page a person gets the app from by hand.
/// `install` is how this copy updates ([`platform::detect`] for the running program).
pub fn update(
    remote: &Remote,
    home: &Path,
    (platform, install): (Option<String>, Install),
    download: Option<&str>,
    mut step: impl FnMut(Step),
) -> Result<Outcome, UpdateError> {
    let page = download.unwrap_or(DOWNLOAD_PAGE);
    let platform = match (&install, platform) {
        (Install::Package, _) => {
            return Ok(Outcome::ByHand {
                text: format!(
                    "Hyperclay Sync was installed with a package manager: update it there \
                     (sudo apt update && sudo apt install hyperclay-sync), or download it from {page}"
                ),
            });
        }
        (Install::ByHand, _) | (_, None) => {
            return Ok(Outcome::ByHand {
                text: format!(
                    "This copy of Hyperclay Sync was not installed by its installer, so it cannot \
                     update itself: download the latest version from {page}"
                ),
            });
        }
        (_, Some(p)) => p,
    };
    let release = remote.latest_release(&platform).map_err(|e| match e {
        RemoteError::NotFound => UpdateError::NoRelease(platform.clone()),
        other => UpdateError::Feed(other),
    })?;
    let announced = verify::announced(&release, &platform, &this_version(), &keys::trusted())?;
    step(Step::Downloading(announced.version.clone()));
    let folder = home.join("updates");
    let store = |source| UpdateError::Store {
        path: folder.clone(),
        source,
    };
    fs::create_dir_all(&folder).map_err(store)?;
    forget_old_downloads(&folder);
    let name = match install {
        Install::WindowsSetup => format!("hyperclay-sync-setup-{}.exe", announced.version),
        _ => format!("hyperclay-sync-{}-{platform}", announced.version),
    };
    let file = folder.join(&name);
    let part = folder.join(format!("{name}.part"));
    let fetched = fetch(remote, &announced, &part);
    if let Err(e) = fetched {
        let _ = fs::remove_file(&part);
        return Err(e);
    }
    fs::rename(&part, &file).map_err(store)?;
    step(Step::Installing(announced.version.clone()));
    let relaunch = install::apply(&install, &file)?;
    if relaunch != Relaunch::ByInstaller {
        let _ = fs::remove_file(&file);
    }
    Ok(Outcome::Installed {
        version: announced.version,
        relaunch,
    })
}

/// Downloads into `part`, every byte checked as it comes; the file is whole and flushed when this
/// returns Ok.
fn fetch(remote: &Remote, announced: &verify::Announced, part: &Path) -> Result<(), UpdateError> {
    let store = |source| UpdateError::Store {
        path: part.to_path_buf(),
        source,
    };
    let mut out = fs::File::create(part).map_err(store)?;
    let mut arriving = Arriving::new(announced)?;
    // One byte more than announced is enough to know the body is not the release.
    let limit = announced.size.saturating_add(1).min(MAX_RELEASE_BYTES + 1);
    remote
        .release_file(&announced.url, limit, |bytes| {
            arriving.update(bytes);
            out.write_all(bytes)
        })
        .map_err(UpdateError::Download)?;
    arriving.finish()?;
    out.sync_all().map_err(store)
}

/// Earlier downloads (an installer that already ran, an interrupted one) are not kept.
fn forget_old_downloads(folder: &Path) {
    if let Ok(entries) = fs::read_dir(folder) {
        for e in entries.flatten() {
            let _ = fs::remove_file(e.path());
        }
    }
}
