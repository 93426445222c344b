//! Which release fits this copy of the app, and how it is replaced: decided from the OS, the
//! architecture and where this copy lives, without touching anything.

use std::path::{Path, PathBuf};

/// How this copy is updated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Install {
    /// Windows: the NSIS setup, run silently; it replaces the programs and starts the new tray.
    WindowsSetup,
    /// macOS: the `.app` bundle at this path is replaced by the release's (a zip of the bundle).
    MacApp(PathBuf),
    /// Linux AppImage: the file at this path (`$APPIMAGE`) is replaced by the release's.
    AppImage(PathBuf),
    /// Installed by a package manager (`/usr/bin`): it cannot be replaced from here.
    Package,
    /// Run from a build or an unpacked archive: no installer knows where it lives.
    ByHand,
}

/// This copy's platform (the feed's `platform`) and how it updates. `exe` is this executable,
/// `appimage` the `APPIMAGE` variable an AppImage's runtime sets.
pub fn detect(exe: &Path, appimage: Option<&Path>) -> (Option<String>, Install) {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "x86_64",
        "aarch64" => "aarch64",
        _ => return (None, Install::ByHand),
    };
    decide(std::env::consts::OS, arch, exe, appimage)
}

fn decide(os: &str, arch: &str, exe: &Path, appimage: Option<&Path>) -> (Option<String>, Install) {
    match os {
        "windows" => (Some(format!("windows-{arch}")), Install::WindowsSetup),
        "macos" => match app_bundle(exe) {
            Some(app) => (Some(format!("macos-{arch}")), Install::MacApp(app)),
            None => (None, Install::ByHand),
        },
        "linux" => match appimage.filter(|p| p.is_absolute()) {
            Some(file) => (
                Some(format!("linux-{arch}-appimage")),
                Install::AppImage(file.to_path_buf()),
            ),
            None if exe.starts_with("/usr/") => {
                (Some(format!("linux-{arch}-deb")), Install::Package)
            }
            None => (None, Install::ByHand),
        },
        _ => (None, Install::ByHand),
    }
}

/// The `.app` bundle holding `exe` (`…/Hyperclay Sync.app/Contents/MacOS/hyperclay-sync`).
fn app_bundle(exe: &Path) -> Option<PathBuf> {
    let macos = exe.parent()?;
    let contents = macos.parent()?;
    let app = contents.parent()?;
    let is_bundle = macos.file_name()? == "MacOS"
        && contents.file_name()? == "Contents"
        && app.extension()? == "app";
    is_bundle.then(|| app.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_updates_through_its_setup() {
        let exe = Path::new(r"C:\Users\a\AppData\Local\Programs\Hyperclay Sync\hyperclay-sync.exe");
        assert_eq!(
            decide("windows", "x86_64", exe, None),
            (Some("windows-x86_64".into()), Install::WindowsSetup)
        );
    }

    #[test]
    fn macos_replaces_the_bundle_it_runs_from_or_cannot_update() {
        let exe = Path::new("/Applications/Hyperclay Sync.app/Contents/MacOS/hyperclay-sync-tray");
        assert_eq!(
            decide("macos", "aarch64", exe, None),
            (
                Some("macos-aarch64".into()),
                Install::MacApp(PathBuf::from("/Applications/Hyperclay Sync.app"))
            )
        );
        let loose = Path::new("/Users/a/bin/hyperclay-sync");
        assert_eq!(
            decide("macos", "aarch64", loose, None),
            (None, Install::ByHand)
        );
    }

    #[test]
    fn linux_appimage_package_or_by_hand() {
        let image = Path::new("/home/a/Apps/Hyperclay-Sync.AppImage");
        let mounted = Path::new("/tmp/.mount_HyperXYZ/usr/bin/hyperclay-sync-tray");
        assert_eq!(
            decide("linux", "x86_64", mounted, Some(image)),
            (
                Some("linux-x86_64-appimage".into()),
                Install::AppImage(image.to_path_buf())
            )
        );
        let deb = Path::new("/usr/bin/hyperclay-sync");
        assert_eq!(
            decide("linux", "x86_64", deb, None),
            (Some("linux-x86_64-deb".into()), Install::Package)
        );
        let built = Path::new("/home/a/src/target/release/hyperclay-sync");
        assert_eq!(
            decide("linux", "x86_64", built, None),
            (None, Install::ByHand)
        );
        // A relative APPIMAGE is nobody's AppImage.
        assert_eq!(
            decide("linux", "x86_64", built, Some(Path::new("x.AppImage"))),
            (None, Install::ByHand)
        );
    }
}
