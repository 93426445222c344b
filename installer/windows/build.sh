#!/usr/bin/env bash
# Builds the Windows installer on this Linux machine: cross-compiles the release
# hyperclay-sync.exe (command line, headless engine) and hyperclay-sync-tray.exe (the tray app)
# for x86_64-pc-windows-gnu, then makes ONE setup, target/windows/hyperclay-sync-setup.exe, from
# installer/windows/hyperclay-sync.nsi with NSIS (64-bit Unicode stub). Prints the setup's path
# as its last stdout line.
#   installer/windows/build.sh
# rustup here has no Windows target and no rust-src, so it uses a second compiler from Debian:
# rustc-web/cargo-web 1.96 with rust-web-src, building `std` for the target from source
# (-Zbuild-std, RUSTC_BOOTSTRAP=1), with mingw-w64 as linker and windres (the icon and version
# resource, build.rs), in its own target dir (the two compilers' artefacts must not mix).
# It installs the Debian packages it needs when missing (as root, or through sudo).
# Environment:
#   HYPERCLAY_WINDOWS_TARGET_DIR  cargo's target dir for this compiler (default target/windows-build)
#   HYPERCLAY_WINDOWS_OUT         the setup to write (default target/windows/hyperclay-sync-setup.exe)
#   CARGO_PROFILE_RELEASE_*       cargo's own profile overrides pass through (the shipped setup uses
#                                 the [profile.release] of Cargo.toml as it is)
#   HYPERCLAY_WINDOWS_FEATURES    cargo features for a test build, e.g. hyperclay-sync/test-release-key
#                                 (the Wine stage's setups trust the test release key; the shipped
#                                 setup is built without it)
#   HYPERCLAY_SYNC_BUILD_VERSION  build as this version (build.rs) and name the setup so: the Wine
#                                 stage's "next release" for the self-update test
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

packages=(rustc-web cargo-web rust-web-src gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64 nsis)
"$root/scripts/setup.sh" packages windows/build.sh "${packages[@]}"

# Debian's 1.96 compiler, not rustup's: /usr/bin first, so neither rustup's cargo nor its
# cargo-clippy proxy (which asks for rust-src) is picked up.
export PATH=/usr/bin:$PATH RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR=never
export CARGO_TARGET_DIR=${HYPERCLAY_WINDOWS_TARGET_DIR:-$root/target/windows-build}
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
# scripts/test.sh exports mold for native links; mingw's linker cannot use it.
unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS
# The setup must never bake a server URL of its own: build.rs takes the distribution URL from
# .env / .env.example for the release profile.
unset HYPERCLAY_URL
target=x86_64-pc-windows-gnu

features=()
[ -n "${HYPERCLAY_WINDOWS_FEATURES:-}" ] && features=(--features "$HYPERCLAY_WINDOWS_FEATURES")
/usr/bin/cargo build --release --locked -Zbuild-std=std,panic_abort --target "$target" \
  -p hyperclay-sync -p hyperclay-sync-tray --bins "${features[@]}" >&2
bindir=$CARGO_TARGET_DIR/$target/release
for exe in hyperclay-sync.exe hyperclay-sync-tray.exe; do
  [ -f "$bindir/$exe" ] || { echo "windows/build.sh: $bindir/$exe was not built" >&2; exit 1; }
  # The resource from build.rs: without it Explorer shows a generic icon and no version.
  x86_64-w64-mingw32-objdump -h "$bindir/$exe" | grep -q '\.rsrc' || {
    echo "windows/build.sh: $exe has no resource section (icon, version)" >&2
    exit 1
  }
done

# `cargo pkgid` ends in "#VERSION" or "#NAME@VERSION".
version=$(/usr/bin/cargo pkgid -p hyperclay-sync)
version=${version##*[#@]}
version=${HYPERCLAY_SYNC_BUILD_VERSION:-$version}
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || {
  echo "windows/build.sh: cannot read a plain x.y.z crate version (got '$version')" >&2
  exit 1
}

out=${HYPERCLAY_WINDOWS_OUT:-$root/target/windows/hyperclay-sync-setup.exe}
mkdir -p "$(dirname "$out")"
rm -f "$out"
# -V2: warnings and errors only; -WX: a warning fails the build (a missing file is a warning).
(cd installer/windows && makensis -V2 -WX -DVERSION="$version" -DBINDIR="$bindir" \
  -DOUTFILE="$out" hyperclay-sync.nsi) >&2
[ -s "$out" ] || { echo "windows/build.sh: makensis wrote no $out" >&2; exit 1; }
echo "windows/build.sh: $(du -h "$out" | cut -f1) setup for version $version" >&2
echo "$out"
