#!/usr/bin/env bash
# Installs the Debian packages the project needs, only when some are missing.
#   scripts/setup.sh run    packages to build and run the app and the server
#   scripts/setup.sh test   those plus what the tests drive (real editors and tools, readelf, Xvfb, a tray host,
#                           Chromium and its driver, ImageMagick, D-Bus) and the mold linker scripts/test.sh uses
#   scripts/setup.sh packages WHO PKG...   just these (for the installer scripts; WHO names the caller in
#                           what it says)
# Run as root (CI, containers) it installs them itself; otherwise it uses sudo when it can, or
# prints the one apt-get line to run.
set -euo pipefail

build_and_run=(pkg-config libgtk-3-dev libxdo-dev libayatana-appindicator3-1 ca-certificates)
tests=(vim nano tmux python3 nodejs node-write-file-atomic git sed binutils gnome-keyring dbus-daemon desktop-file-utils icnsutils dpkg-dev mold xvfb xauth trayer xdotool imagemagick dbus dbus-x11 x11-utils chromium chromium-driver xdg-utils curl)

who=setup
case "${1:-run}" in
  run) wanted=("${build_and_run[@]}") ;;
  test) wanted=("${build_and_run[@]}" "${tests[@]}") ;;
  packages)
    [ $# -ge 3 ] || { echo "usage: scripts/setup.sh packages WHO PKG..." >&2; exit 2; }
    who=$2
    wanted=("${@:3}")
    ;;
  *) echo "usage: scripts/setup.sh run|test|packages WHO PKG..." >&2; exit 2 ;;
esac

if [ "$who" = setup ] && ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo is not on PATH. Install Rust first: https://rustup.rs" >&2
  exit 1
fi

missing=()
for p in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "$who: installing ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "$who: run as root: apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
