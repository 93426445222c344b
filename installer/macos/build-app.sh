#!/usr/bin/env bash
# Builds "Hyperclay Sync.app" for distribution, on a Mac:
#   installer/macos/build-app.sh
#     1. builds the two release binaries, hyperclay-sync (the bundle's executable: the command
#        line, which with no subcommand execs the tray beside it) and hyperclay-sync-tray (the
#        tray app), universal arm64 + x86_64 through lipo when both rustup targets are installed,
#        else the host's architecture only, without HYPERCLAY_URL, so they default to
#        https://hyperclay.com;
#     2. assembles the bundle in target/macos/ (Info.plist, both binaries, AppIcon.icns);
#     3. signs it with the hardened runtime: identity from HYPERCLAY_CODESIGN_IDENTITY
#        ("Developer ID Application: NAME (TEAMID)"); unset, it is signed ad hoc (runs on this
#        Mac, cannot be notarized);
#     4. zips it (and makes a .dmg); when HYPERCLAY_NOTARY_PROFILE names a notarytool keychain
#        profile, notarizes and staples both.
#   installer/macos/build-app.sh --bundle-only BINDIR OUTDIR
#     only step 2, from the two binaries in BINDIR, on any OS (CI uses it on Linux to check the
#     layout).
# It must never embed a server URL of its own: that comes from .env / .env.example via build.rs.
set -euo pipefail
cd "$(dirname "$0")/../.."

app_name="Hyperclay Sync"
bin_name=hyperclay-sync
tray_name=hyperclay-sync-tray
bundle_id=com.hyperclay.sync

die() {
  echo "build-app: $*" >&2
  exit 1
}

crate_version() {
  # `cargo pkgid` ends in "#VERSION" or "#NAME@VERSION".
  local id
  id=$(cargo pkgid -p "$bin_name")
  id=${id##*#}
  echo "${id##*@}"
}

# assemble BINDIR OUTDIR VERSION: writes OUTDIR/Hyperclay Sync.app from BINDIR/hyperclay-sync and
# BINDIR/hyperclay-sync-tray and prints its path.
assemble() {
  local bindir=$1 outdir=$2 version=$3
  local app="$outdir/$app_name.app"
  local name
  for name in "$bin_name" "$tray_name"; do
    [ -x "$bindir/$name" ] || die "no executable binary at $bindir/$name"
  done
  rm -rf "$app"
  mkdir -p "$app/Contents/MacOS" "$app/Contents/Resources"
  # CFBundleExecutable is hyperclay-sync; opening the app runs it with no subcommand, and it
  # execs hyperclay-sync-tray from the same folder (same process).
  for name in "$bin_name" "$tray_name"; do
    cp "$bindir/$name" "$app/Contents/MacOS/$name"
    chmod 755 "$app/Contents/MacOS/$name"
  done
  sed "s/@VERSION@/$version/g" installer/macos/Info.plist >"$app/Contents/Info.plist"
  printf 'APPL????' >"$app/Contents/PkgInfo"
  installer/macos/make-icns.sh "$app/Contents/Resources/AppIcon.icns"
  # The menu-bar icons are not copied: they are compiled into the binary
  # (tray/src/icons.rs embeds assets/icons/png/menubar-*-22@2x.png), so they cannot go missing.
  if command -v plutil >/dev/null 2>&1; then
    plutil -lint "$app/Contents/Info.plist" >&2
  elif command -v python3 >/dev/null 2>&1; then
    python3 -c 'import plistlib, sys; plistlib.load(open(sys.argv[1], "rb"))' \
      "$app/Contents/Info.plist" || die "Info.plist does not parse"
  fi
  echo "$app"
}

if [ "${1:-}" = "--bundle-only" ]; then
  [ $# -eq 3 ] || die "usage: build-app.sh --bundle-only BINDIR OUTDIR"
  mkdir -p "$3"
  assemble "$2" "$3" "$(crate_version)"
  exit 0
fi
[ $# -eq 0 ] || die "usage: build-app.sh [--bundle-only BINDIR OUTDIR]"

[ "$(uname -s)" = Darwin ] ||
  die "the signed build runs on macOS only (lipo, iconutil, codesign, notarytool); see installer/README.md"
for tool in lipo codesign ditto hdiutil; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found; install the Xcode command line tools"
done

unset HYPERCLAY_URL
export CARGO_TERM_COLOR=never MACOSX_DEPLOYMENT_TARGET=11.0
version=$(crate_version)
outdir=target/macos
mkdir -p "$outdir"

installed=$(rustup target list --installed 2>/dev/null || true)
if grep -qx aarch64-apple-darwin <<<"$installed" && grep -qx x86_64-apple-darwin <<<"$installed"; then
  for t in aarch64-apple-darwin x86_64-apple-darwin; do
    cargo build --release --locked -p "$bin_name" --bin "$bin_name" --bin "$tray_name" --target "$t"
  done
  bindir=$outdir/universal
  mkdir -p "$bindir"
  for name in "$bin_name" "$tray_name"; do
    lipo -create -output "$bindir/$name" \
      "target/aarch64-apple-darwin/release/$name" "target/x86_64-apple-darwin/release/$name"
    echo "build-app: universal $name ($(lipo -archs "$bindir/$name"))" >&2
  done
else
  echo "build-app: only the host architecture; for a universal app run" \
    "rustup target add aarch64-apple-darwin x86_64-apple-darwin" >&2
  cargo build --release --locked -p "$bin_name" --bin "$bin_name" --bin "$tray_name"
  bindir=target/release
fi

app=$(assemble "$bindir" "$outdir" "$version")

identity=${HYPERCLAY_CODESIGN_IDENTITY:-}
# The tray binary is nested code (not the bundle's executable), so it is signed first, on its
# own; with the bundle's identifier, so the keychain sees one app whichever binary saved the
# token (`hyperclay-sync login` or the tray).
if [ -n "$identity" ]; then
  # The hardened runtime and a secure timestamp are what notarization requires.
  sign=(codesign --force --options runtime --timestamp --sign "$identity")
else
  echo "build-app: HYPERCLAY_CODESIGN_IDENTITY is not set; signing ad hoc (not distributable)" >&2
  sign=(codesign --force --options runtime --sign -)
fi
"${sign[@]}" --identifier "$bundle_id" "$app/Contents/MacOS/$tray_name"
"${sign[@]}" "$app"
codesign --verify --strict --verbose=2 "$app"

zip=$outdir/Hyperclay-Sync-$version.zip
make_zip() {
  rm -f "$zip"
  ditto -c -k --sequesterRsrc --keepParent "$app" "$zip"
}
make_zip

profile=${HYPERCLAY_NOTARY_PROFILE:-}
if [ -n "$profile" ]; then
  [ -n "$identity" ] || die "notarization needs a Developer ID signature (HYPERCLAY_CODESIGN_IDENTITY)"
  xcrun notarytool submit "$zip" --keychain-profile "$profile" --wait
  xcrun stapler staple "$app"
  make_zip # again, so the zip carries the stapled ticket and opens offline
  spctl --assess --type execute --verbose=2 "$app"
fi

dmg=$outdir/Hyperclay-Sync-$version.dmg
staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
ditto "$app" "$staging/$app_name.app"
ln -s /Applications "$staging/Applications"
rm -f "$dmg"
hdiutil create -volname "$app_name" -srcfolder "$staging" -ov -format UDZO "$dmg" >/dev/null
if [ -n "$identity" ]; then
  codesign --force --timestamp --sign "$identity" "$dmg"
fi
if [ -n "$profile" ]; then
  xcrun notarytool submit "$dmg" --keychain-profile "$profile" --wait
  xcrun stapler staple "$dmg"
fi

echo "build-app: $app" >&2
echo "build-app: $zip" >&2
echo "build-app: $dmg" >&2
