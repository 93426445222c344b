//! For Windows targets only: embeds the app icon and the version into `hyperclay-sync-tray.exe`
//! (Explorer, Properties → Details, the notification-area settings, Task Manager), with the
//! same resource definition as the command line's (`installer/windows/resource.rs`).

use std::path::Path;

#[path = "../installer/windows/resource.rs"]
mod windows_resource;

fn main() {
    // Without a rerun-if line cargo would rerun this for any change in the package.
    println!("cargo:rerun-if-changed=build.rs");
    // The target's OS, not the host's: a `#[cfg(windows)]` here would test the build machine.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("windows") {
        let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".to_owned());
        windows_resource::embed(
            &Path::new(&dir).join("../installer/windows/hyperclay-sync.ico"),
            "Hyperclay Sync",
        );
    }
}
