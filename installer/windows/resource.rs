//! The Windows resource of both programs (the Explorer icon, Properties → Details, the Apps
//! list): a resource script written into `OUT_DIR` and compiled by `embed-resource`, with mingw's
//! `x86_64-w64-mingw32-windres` when cross-building from Linux (`installer/windows/build.sh`) or
//! the SDK's `rc.exe` with the MSVC toolchain on Windows. Included by the build scripts of both
//! crates (`build.rs`, `tray/build.rs`) with `#[path]`, only for Windows targets (their
//! `CARGO_CFG_TARGET_OS`, never a `#[cfg(windows)]`, which would test the build machine).

use std::fs;
use std::path::Path;

/// Writes the resource script (`icon` + VERSIONINFO from the crate version, `description` as the
/// FileDescription Task Manager shows) and has it linked into every binary of the package.
/// Fails the build when the resource compiler is missing: a Windows build without its icon and
/// version must not pass for a finished one.
pub fn embed(icon: &Path, description: &str) {
    println!("cargo:rerun-if-changed={}", icon.display());
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let number = |key: &str| {
        std::env::var(key)
            .ok()
            .and_then(|v| v.parse::<u16>().ok())
            .unwrap_or(0)
    };
    let (major, minor, patch) = (
        number("CARGO_PKG_VERSION_MAJOR"),
        number("CARGO_PKG_VERSION_MINOR"),
        number("CARGO_PKG_VERSION_PATCH"),
    );
    // Resource scripts take C string escapes: a Windows path's backslashes are doubled.
    let icon_path = icon.display().to_string().replace('\\', "\\\\");
    let script = format!(
        r#"#pragma code_page(65001)
1 ICON "{icon_path}"
1 VERSIONINFO
FILEVERSION {major},{minor},{patch},0
PRODUCTVERSION {major},{minor},{patch},0
FILEOS 0x40004
FILETYPE 0x1
BEGIN
  BLOCK "StringFileInfo"
  BEGIN
    BLOCK "040904B0"
    BEGIN
      VALUE "CompanyName", "Hyperclay"
      VALUE "FileDescription", "{description}"
      VALUE "FileVersion", "{version}"
      VALUE "ProductName", "Hyperclay Sync"
      VALUE "ProductVersion", "{version}"
      VALUE "LegalCopyright", "MIT license"
    END
  END
  BLOCK "VarFileInfo"
  BEGIN
    VALUE "Translation", 0x409, 1200
  END
END
"#
    );
    let out = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("app.rc");
    fs::write(&out, script).expect("writing the Windows resource script");
    // `manifest_required`: "not attempted" (no resource compiler found) is an error too.
    if let Err(e) = embed_resource::compile(&out, embed_resource::NONE).manifest_required() {
        panic!("the Windows resource (icon, version) did not compile: {e}");
    }
}
