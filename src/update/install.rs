//! Putting a verified release in place of this copy. Each way leaves the running version as it
//! was when it fails: the new file is written beside the old one and swapped in by one rename,
//! or handed to the installer, which replaces the programs only once they have exited.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::update::platform::Install;

/// What starts the new version once this process has exited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Relaunch {
    /// Run this program (an AppImage).
    Exec(PathBuf),
    /// Open this bundle (`open -n`, macOS).
    Open(PathBuf),
    /// The installer starts it when it is done (Windows).
    ByInstaller,
}

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("cannot replace {path}: {source}")]
    Replace {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot start the installer {path}: {source}")]
    Installer {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the update's archive did not unpack into one .app bundle")]
    NoBundle,
    #[error("{0} cannot update itself here")]
    NotHere(&'static str),
}

fn replace_err(path: &Path) -> impl FnOnce(io::Error) -> InstallError + '_ {
    move |source| InstallError::Replace {
        path: path.to_path_buf(),
        source,
    }
}

/// Installs the verified file `update` the way `install` says.
pub fn apply(install: &Install, update: &Path) -> Result<Relaunch, InstallError> {
    match install {
        Install::AppImage(file) => {
            replace_file(file, update).map(|()| Relaunch::Exec(file.clone()))
        }
        Install::WindowsSetup => run_setup(update).map(|()| Relaunch::ByInstaller),
        Install::MacApp(app) => replace_bundle(app, update).map(|()| Relaunch::Open(app.clone())),
        Install::Package => Err(InstallError::NotHere(
            "A copy installed with a package manager",
        )),
        Install::ByHand => Err(InstallError::NotHere(
            "A copy not installed by an installer",
        )),
    }
}

/// The new file is copied beside the old one, made executable, flushed, then renamed over it: a
/// crash at any point leaves either the old file or the new one, whole.
fn replace_file(file: &Path, update: &Path) -> Result<(), InstallError> {
    let dir = file.parent().ok_or_else(|| InstallError::Replace {
        path: file.to_path_buf(),
        source: io::Error::other("it has no folder"),
    })?;
    let name = file.file_name().unwrap_or_default().to_string_lossy();
    let staged = dir.join(format!(".{name}.update"));
    let result = (|| {
        fs::copy(update, &staged)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&staged, fs::Permissions::from_mode(0o755))?;
        }
        fs::File::open(&staged)?.sync_all()?;
        fs::rename(&staged, file)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&staged);
    }
    result.map_err(replace_err(file))
}

/// Starts the NSIS setup silently (`/S`), told to start the tray when it is done (`/RELAUNCH`).
/// It waits for this version's programs to exit before it replaces them.
fn run_setup(setup: &Path) -> Result<(), InstallError> {
    Command::new(setup)
        .args(["/S", "/RELAUNCH"])
        .spawn()
        .map(drop)
        .map_err(|source| InstallError::Installer {
            path: setup.to_path_buf(),
            source,
        })
}

/// Unpacks the release (a zip of the bundle, made with `ditto -c -k --keepParent`) beside the
/// old bundle, then swaps the two by renames; the old one is removed last.
fn replace_bundle(app: &Path, zip: &Path) -> Result<(), InstallError> {
    let dir = app.parent().ok_or(InstallError::NoBundle)?;
    let unpacked = dir.join(".hyperclay-sync-update");
    let _ = fs::remove_dir_all(&unpacked);
    let status = Command::new("/usr/bin/ditto")
        .arg("-x")
        .arg("-k")
        .arg(zip)
        .arg(&unpacked)
        .status()
        .map_err(replace_err(app))?;
    if !status.success() {
        let _ = fs::remove_dir_all(&unpacked);
        return Err(InstallError::NoBundle);
    }
    let bundles: Vec<PathBuf> = fs::read_dir(&unpacked)
        .map_err(replace_err(app))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "app"))
        .collect();
    let [new] = bundles.as_slice() else {
        let _ = fs::remove_dir_all(&unpacked);
        return Err(InstallError::NoBundle);
    };
    let old = dir.join(".hyperclay-sync-old.app");
    let _ = fs::remove_dir_all(&old);
    fs::rename(app, &old).map_err(replace_err(app))?;
    if let Err(e) = fs::rename(new, app) {
        // Put the running version back where it was.
        let _ = fs::rename(&old, app);
        let _ = fs::remove_dir_all(&unpacked);
        return Err(replace_err(app)(e));
    }
    let _ = fs::remove_dir_all(&old);
    let _ = fs::remove_dir_all(&unpacked);
    Ok(())
}

/// Starts the new version; called once this process has let go of its data folder.
pub fn relaunch(how: &Relaunch) -> io::Result<()> {
    match how {
        Relaunch::Exec(file) => Command::new(file)
            .env(AFTER_UPDATE_ENV, "1")
            .spawn()
            .map(drop),
        Relaunch::Open(app) => Command::new("/usr/bin/open")
            .arg("-n")
            .arg(app)
            .env(AFTER_UPDATE_ENV, "1")
            .spawn()
            .map(drop),
        Relaunch::ByInstaller => Ok(()),
    }
}

/// Set for a version started by an update: it waits for the old one to let go of the data
/// folder instead of refusing to start as a second instance.
pub const AFTER_UPDATE_ENV: &str = "HYPERCLAY_SYNC_AFTER_UPDATE";

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn an_appimage_is_swapped_whole_and_executable() {
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("Hyperclay-Sync.AppImage");
        fs::write(&image, b"old").unwrap();
        let update = dir.path().join("download");
        fs::write(&update, b"new version").unwrap();
        assert_eq!(
            apply(&Install::AppImage(image.clone()), &update).unwrap(),
            Relaunch::Exec(image.clone())
        );
        assert_eq!(fs::read(&image).unwrap(), b"new version");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&image).unwrap().permissions().mode() & 0o777,
            0o755
        );
        // Nothing staged is left beside it.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn a_failed_swap_leaves_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("Hyperclay-Sync.AppImage");
        fs::write(&image, b"old").unwrap();
        let missing = dir.path().join("no-such-download");
        assert!(apply(&Install::AppImage(image.clone()), &missing).is_err());
        assert_eq!(fs::read(&image).unwrap(), b"old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_package_install_is_not_replaced_from_here() {
        let f = Path::new("/nonexistent");
        assert!(matches!(
            apply(&Install::Package, f),
            Err(InstallError::NotHere(_))
        ));
    }
}
