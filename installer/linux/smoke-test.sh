#!/usr/bin/env bash
# Installs the real .deb on this machine and proves the installed app works: builds the package,
# checks its metadata and contents, `apt-get install`s it, checks both binaries (the command line
# /usr/bin/hyperclay-sync, which links no GUI library, and the tray /usr/bin/hyperclay-sync-tray),
# that `--version` shows the distribution server and that the tray docks on Xvfb, syncs a file both
# ways between `hyperclay-sync run --headless` and a reference server on 127.0.0.1, then
# `apt-get remove`s it.
#   installer/linux/smoke-test.sh              (as root, or with sudo; CI calls it from scripts)
#   installer/linux/smoke-test.sh --deb FILE   tests an already built package instead of building
# Ends with the line "N passed, N failed" and exits non-zero on any failure.
# It replaces any hyperclay-sync package already installed, and removes it at the end. It must
# never print the token: the token goes to curl through a 0600 header file, not the command line.
set -uo pipefail
prebuilt=""
case "${1:-}" in
  "") ;;
  --deb)
    prebuilt=${2:?usage: smoke-test.sh [--deb FILE]}
    [ -f "$prebuilt" ] || { echo "smoke-test: no such package: $prebuilt" >&2; exit 2; }
    prebuilt=$(realpath "$prebuilt")
    ;;
  *) echo "usage: smoke-test.sh [--deb FILE]" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/../.." || exit 1
repo=$PWD

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok   - $1"; }
fail() { failed=$((failed + 1)); echo "FAIL - $1"; }
check() {
  local name=$1
  shift
  if "$@"; then pass "$name"; else fail "$name"; fi
}
finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
}
# A step the rest cannot do without: record it, print the summary and stop.
fatal() {
  fail "$1"
  [ -n "${2:-}" ] && [ -f "$2" ] && sed 's/^/    | /' "$2" | tail -n 40
  finish
  exit 1
}

# Polls a command every 50 ms until it succeeds or `seconds` pass.
wait_for() {
  local seconds=$1
  shift
  local deadline=$((SECONDS + seconds))
  while [ "$SECONDS" -le "$deadline" ]; do
    "$@" && return 0
    sleep 0.05
  done
  "$@"
}

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "smoke-test: needs root (or sudo) to install the package" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive CARGO_TERM_COLOR=never

for tool in curl python3 desktop-file-validate png2icns Xvfb dbus-run-session; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    case $tool in
      desktop-file-validate) pkg=desktop-file-utils ;;
      png2icns) pkg=icnsutils ;;
      Xvfb) pkg=xvfb ;;
      dbus-run-session) pkg=dbus ;;
      *) pkg=$tool ;;
    esac
    "${sudo[@]}" apt-get install -y -q --no-install-recommends "$pkg" >/dev/null ||
      fatal "install $pkg, which the smoke test needs"
  fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/hyperclay-smoke.XXXXXX")
server_pid=""
app_pid=""
tray_pid=""
xvfb_pid=""
installed=""
cleanup() {
  [ -n "$tray_pid" ] && kill "$tray_pid" 2>/dev/null
  [ -n "$xvfb_pid" ] && kill "$xvfb_pid" 2>/dev/null
  [ -n "$app_pid" ] && kill "$app_pid" 2>/dev/null
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  [ -n "$app_pid" ] && wait "$app_pid" 2>/dev/null
  [ -n "$server_pid" ] && wait "$server_pid" 2>/dev/null
  # A failed run must not leave the package behind for the next one.
  if [ -n "$installed" ]; then
    "${sudo[@]}" apt-get remove -y -q hyperclay-sync >/dev/null 2>&1
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- build -----------------------------------------------------------------------------------
if [ -n "$prebuilt" ]; then
  deb=$prebuilt
  echo "smoke-test: testing the prebuilt $deb"
else
  echo "smoke-test: building the release binary and the .deb (this takes a few minutes)"
  # This tests the package and its install, not the optimizer: without whole-program LTO and with
  # 16 codegen units the release build takes a fraction of the time on 2 cores. A real release is
  # built by installer/linux/build-deb.sh alone, with Cargo.toml's release profile.
  deb=$(CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    installer/linux/build-deb.sh 2>"$work/build.log" | tail -n 1)
  if [ -z "$deb" ] || [ ! -f "$deb" ]; then
    fatal "build the .deb (installer/linux/build-deb.sh)" "$work/build.log"
  fi
  pass "build the .deb: $deb"
fi
# The same build as scripts/test.sh's, so after the tests it is a no-op: the server alone would
# resolve its dependencies' features without the tests' and recompile about a hundred crates.
cargo build --locked --workspace --all-targets >"$work/server-build.log" 2>&1 ||
  fatal "build the reference server" "$work/server-build.log"
server=$repo/target/debug/hyperclay-server

# --- the package itself -------------------------------------------------------------------------
deb_version=$(dpkg-deb -f "$deb" Version)
version=${deb_version%-*}
depends=$(dpkg-deb -f "$deb" Depends)
echo "    Depends: $depends"
check "Depends names the appindicator runtime (it is dlopened, so \$auto misses it)" \
  grep -qF "libayatana-appindicator3-1 | libappindicator3-1" <<<"$depends"
check "Depends names GTK 3" grep -qE '(^|, )libgtk-3-0( |,|$)' <<<"$depends"
dpkg-deb -c "$deb" | awk '{print $NF}' >"$work/contents"
for f in ./usr/bin/hyperclay-sync \
  ./usr/bin/hyperclay-sync-tray \
  ./usr/share/applications/hyperclay-sync.desktop \
  ./usr/share/icons/hicolor/16x16/apps/hyperclay-sync.png \
  ./usr/share/icons/hicolor/48x48/apps/hyperclay-sync.png \
  ./usr/share/icons/hicolor/128x128/apps/hyperclay-sync.png \
  ./usr/share/icons/hicolor/scalable/apps/hyperclay-sync.svg; do
  check "the package holds $f" grep -qxF "$f" "$work/contents"
done

# --- macOS bundle layout (assembled from the packaged binary; signing needs a Mac) -------------
dpkg-deb -x "$deb" "$work/deb-root"
if installer/macos/build-app.sh --bundle-only "$work/deb-root/usr/bin" "$work/macos" \
  >"$work/bundle.out" 2>"$work/bundle.log"; then
  app="$work/macos/Hyperclay Sync.app"
  pass "assemble the macOS bundle layout"
  check "the bundle's executable is Contents/MacOS/hyperclay-sync" \
    test -x "$app/Contents/MacOS/hyperclay-sync"
  check "the tray it execs is beside it: Contents/MacOS/hyperclay-sync-tray" \
    test -x "$app/Contents/MacOS/hyperclay-sync-tray"
  plist_ok() {
    python3 - "$app/Contents/Info.plist" "$version" <<'PY'
import plistlib, sys
p = plistlib.load(open(sys.argv[1], "rb"))
want = {"LSUIElement": True, "CFBundleIdentifier": "com.hyperclay.sync",
        "CFBundleExecutable": "hyperclay-sync", "CFBundleShortVersionString": sys.argv[2],
        "CFBundleVersion": sys.argv[2], "CFBundleIconFile": "AppIcon"}
bad = {k: p.get(k) for k, v in want.items() if p.get(k) != v}
sys.exit(f"Info.plist differs: {bad}" if bad else 0)
PY
  }
  check "the bundle's Info.plist: LSUIElement, com.hyperclay.sync, version $version" plist_ok
  icns_ok() {
    [ "$(head -c 4 "$app/Contents/Resources/AppIcon.icns")" = icns ] &&
      icns2png -l "$app/Contents/Resources/AppIcon.icns" 2>&1 | grep -q "128x128"
  }
  check "the bundle's AppIcon.icns is an icon family with a 128 px icon" icns_ok
else
  fail "assemble the macOS bundle layout"
  sed 's/^/    | /' "$work/bundle.log" | tail -n 20
fi

# --- install -------------------------------------------------------------------------------------
if dpkg-query -W -f='${Status}' hyperclay-sync 2>/dev/null | grep -q "install ok installed"; then
  echo "smoke-test: removing the hyperclay-sync package that was already installed"
  "${sudo[@]}" apt-get remove -y -q hyperclay-sync >/dev/null
fi
installed=yes
# apt-get wants a path with a slash to treat the argument as a file, not a package name.
case $deb in /*) deb_arg=$deb ;; *) deb_arg=./$deb ;; esac
"${sudo[@]}" apt-get install -y -q "$deb_arg" >"$work/install.log" 2>&1 ||
  fatal "apt-get install $deb" "$work/install.log"
pass "apt-get install $deb"
for bin in hyperclay-sync hyperclay-sync-tray; do
  check "$bin on PATH is /usr/bin/$bin" test "$(command -v "$bin")" = "/usr/bin/$bin"
  check "every library $bin links is present (ldd)" \
    sh -c "! ldd /usr/bin/$bin | grep -q 'not found'"
  if readelf -d "/usr/bin/$bin" | grep -q 'NEEDED.*libxdo'; then
    check "$bin links libxdo, so Depends names libxdo3" grep -q libxdo3 <<<"$depends"
  fi
done
readelf -d /usr/bin/hyperclay-sync | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' >"$work/cli-needed"
echo "    hyperclay-sync NEEDED: $(paste -sd ' ' "$work/cli-needed")"
cli_links_no_gui() {
  ! grep -qiE '^lib(gtk|gdk|glib|gobject|gio|gmodule|cairo|pango|atk|epoxy|x11|xcb|xdo|appindicator|ayatana)' \
    "$work/cli-needed"
}
check "the command line (hyperclay-sync) links no GUI library, so headless maps no GTK" \
  cli_links_no_gui
check "the tray (hyperclay-sync-tray) links GTK 3" \
  sh -c 'readelf -d /usr/bin/hyperclay-sync-tray | grep -q "NEEDED.*libgtk-3"'
check "the appindicator runtime got installed with the package" \
  sh -c 'ldconfig -p | grep -qE "lib(ayatana-)?appindicator3\.so\.1"'
check "the .desktop file is valid" \
  desktop-file-validate /usr/share/applications/hyperclay-sync.desktop
check "the .desktop file launches the installed tray binary" \
  grep -qx 'Exec=hyperclay-sync-tray' /usr/share/applications/hyperclay-sync.desktop
check "the app icon is in the hicolor theme" \
  test -s /usr/share/icons/hicolor/48x48/apps/hyperclay-sync.png

# A distribution build, run without HYPERCLAY_URL, must talk to the real service.
version_line=$(env -u HYPERCLAY_URL /usr/bin/hyperclay-sync --version 2>&1)
echo "    --version: $version_line"
check "--version shows version $version" grep -qF "hyperclay-sync $version" <<<"$version_line"
check "--version shows the distribution server https://hyperclay.com" \
  grep -qE '(^|[^/])https://hyperclay\.com([^.a-z0-9]|$)' <<<"$version_line"
not_development() { ! grep -q localhyperclay <<<"$version_line"; }
check "--version does not show the development server" not_development

# Only the latest version is supported, but a package's /usr/bin is apt's: Update says so instead
# of replacing anything (it never reaches the network for that).
update_out=$(env -u HYPERCLAY_URL HYPERCLAY_SYNC_HOME="$work/update-home" /usr/bin/hyperclay-sync update 2>&1 || true)
echo "    update: $update_out"
check "update on the .deb install says to update through apt" \
  grep -qF "sudo apt update && sudo apt install hyperclay-sync" <<<"$update_out"
check "update on the .deb install left /usr/bin/hyperclay-sync as it was" \
  grep -qF "hyperclay-sync $version" <<<"$(/usr/bin/hyperclay-sync --version 2>&1)"

# --- the tray app, as the menu entry starts it, on a virtual display -----------------------------
# Proves the package's dependencies are enough for the tray: without the appindicator library
# the tray panics at start. tray-icon loads that library first, then writes the icon it hands to
# the panel (into HYPERCLAY_SYNC_HOME/tray-icon/, where the app points it, else
# $XDG_RUNTIME_DIR/tray-icon/), so a PNG there means the tray was built. Then `hyperclay-sync`
# with no subcommand (what a user types) must exec the installed tray: a second copy on the same
# data folder, it is refused by the tray binary itself.
mkdir -p "$work/tray-home" "$work/tray-runtime"
chmod 700 "$work/tray-runtime"
Xvfb -displayfd 3 -screen 0 640x360x24 -nolisten tcp 3>"$work/xvfb.display" 2>"$work/xvfb.log" &
xvfb_pid=$!
display_ready() { [ -s "$work/xvfb.display" ]; }
if wait_for 20 display_ready; then
  (
    cd "$work/tray-home" || exit 1
    exec env -i PATH=/usr/bin:/bin HOME="$work/tray-home" DISPLAY=":$(cat "$work/xvfb.display")" \
      XDG_RUNTIME_DIR="$work/tray-runtime" NO_AT_BRIDGE=1 \
      HYPERCLAY_SYNC_HOME="$work/tray-home/data" HYPERCLAY_URL=http://127.0.0.1:9 \
      dbus-run-session -- hyperclay-sync-tray
  ) >"$work/tray.out" 2>"$work/tray.err" &
  tray_pid=$!
  tray_icon_written() {
    compgen -G "$work/tray-home/data/tray-icon/*.png" >/dev/null ||
      compgen -G "$work/tray-runtime/tray-icon/*.png" >/dev/null
  }
  if wait_for 20 tray_icon_written; then
    pass "the installed tray app starts and shows its icon (Xvfb, D-Bus session)"
  else
    fail "the installed tray app starts and shows its icon (Xvfb, D-Bus session)"
    sed 's/^/    | /' "$work/tray.err" | tail -n 30
  fi
  check "the tray app is still running" kill -0 "$tray_pid"
  (
    cd "$work/tray-home" || exit 1
    exec env -i PATH=/usr/bin:/bin HOME="$work/tray-home" DISPLAY=":$(cat "$work/xvfb.display")" \
      XDG_RUNTIME_DIR="$work/tray-runtime" NO_AT_BRIDGE=1 \
      HYPERCLAY_SYNC_HOME="$work/tray-home/data" HYPERCLAY_URL=http://127.0.0.1:9 \
      timeout 20 hyperclay-sync
  ) >"$work/second.out" 2>"$work/second.err"
  second=$?
  execs_the_tray() {
    [ "$second" -ne 0 ] && [ "$second" -ne 124 ] &&
      grep -q '^hyperclay-sync-tray: .*already running' "$work/second.err"
  }
  if execs_the_tray; then
    pass "hyperclay-sync with no subcommand starts the installed tray (a second copy is refused)"
  else
    fail "hyperclay-sync with no subcommand starts the installed tray (a second copy is refused)"
    echo "    | exit status $second"
    sed 's/^/    | /' "$work/second.err" | tail -n 20
  fi
  # dbus-run-session does not pass SIGTERM on: stop its child (the app), the session follows.
  for child in $(pgrep -P "$tray_pid"); do kill "$child" 2>/dev/null; done
  kill "$tray_pid" 2>/dev/null
  wait "$tray_pid" 2>/dev/null
  tray_pid=""
else
  fail "start Xvfb for the tray check"
  sed 's/^/    | /' "$work/xvfb.log" | tail -n 20
fi
kill "$xvfb_pid" 2>/dev/null
wait "$xvfb_pid" 2>/dev/null
xvfb_pid=""

# --- sync against a reference server -----------------------------------------------------------
mkdir -p "$work/folder" "$work/home"
"$server" serve --listen 127.0.0.1:0 --data-dir "$work/server" --demo \
  >"$work/server.out" 2>"$work/server.log" &
server_pid=$!
server_url() { sed -n '1s/^listening on //p' "$work/server.out"; }
server_up() { [ -n "$(server_url)" ]; }
wait_for 20 server_up || fatal "start the reference server" "$work/server.log"
url=$(server_url)
pass "reference server listening on $url"

token=$("$server" token demo --data-dir "$work/server" 2>"$work/token.log" | tail -n 1)
[ -n "$token" ] || fatal "get a token for the demo account" "$work/token.log"
umask 077
printf 'Authorization: Bearer %s\n' "$token" >"$work/auth-header"
umask 022

env -u DISPLAY -u WAYLAND_DISPLAY \
  HYPERCLAY_URL="$url" HYPERCLAY_TOKEN="$token" HYPERCLAY_SYNC_HOME="$work/home" \
  HYPERCLAY_POLL_SECONDS=1 \
  /usr/bin/hyperclay-sync run --headless --folder "$work/folder" \
  >"$work/app.out" 2>"$work/app.err" &
app_pid=$!

# Local save -> server.
pushed="<!doctype html><h1>smoke push $RANDOM$RANDOM</h1>"
printf '%s\n' "$pushed" >"$work/folder/smoke.html"
remote_has_push() {
  curl -fsS -A hyperclay-sync/0.1.0 -H @"$work/auth-header" "$url/api/local-sync/files/smoke.html" \
    -o "$work/remote-smoke.html" 2>/dev/null &&
    [ "$(cat "$work/remote-smoke.html")" = "$pushed" ]
}
if wait_for 20 remote_has_push; then
  pass "a file saved into the folder reached the server (GET /api/local-sync/files/smoke.html)"
else
  fail "a file saved into the folder reached the server (GET /api/local-sync/files/smoke.html)"
  sed 's/^/    | /' "$work/app.err" | tail -n 30
fi

# Server -> local, through the protocol's PUT, picked up by the 1 s poll.
pulled="<!doctype html><h1>smoke pull $RANDOM$RANDOM</h1>"
printf '%s\n' "$pulled" >"$work/pulled.html"
if curl -fsS -A hyperclay-sync/0.1.0 -X PUT -H @"$work/auth-header" \
  -H "X-Modified-At: $(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" \
  --data-binary @"$work/pulled.html" "$url/api/local-sync/files/pulled.html" \
  -o "$work/put-reply.json" 2>"$work/put.log"; then
  local_has_pull() {
    [ -f "$work/folder/pulled.html" ] && [ "$(cat "$work/folder/pulled.html")" = "$pulled" ]
  }
  if wait_for 20 local_has_pull; then
    pass "a file written on the server reached the folder"
  else
    fail "a file written on the server reached the folder"
    sed 's/^/    | /' "$work/app.err" | tail -n 30
  fi
else
  fail "PUT pulled.html on the server"
  sed 's/^/    | /' "$work/put.log"
fi

check "the headless engine is still running after both syncs" kill -0 "$app_pid"
kill "$app_pid" 2>/dev/null
app_gone() { ! kill -0 "$app_pid" 2>/dev/null; }
check "the headless engine stops on SIGTERM" wait_for 20 app_gone
wait "$app_pid" 2>/dev/null
app_pid=""
kill "$server_pid" 2>/dev/null
wait "$server_pid" 2>/dev/null
server_pid=""

# --- remove --------------------------------------------------------------------------------------
if "${sudo[@]}" apt-get remove -y -q hyperclay-sync >"$work/remove.log" 2>&1; then
  installed=""
  pass "apt-get remove hyperclay-sync"
else
  fail "apt-get remove hyperclay-sync"
  sed 's/^/    | /' "$work/remove.log" | tail -n 20
fi
check "the binaries are gone after removal" \
  test ! -e /usr/bin/hyperclay-sync -a ! -e /usr/bin/hyperclay-sync-tray
check "the .desktop file is gone after removal" \
  test ! -e /usr/share/applications/hyperclay-sync.desktop
not_installed() {
  ! dpkg-query -W -f='${Status}' hyperclay-sync 2>/dev/null | grep -q "install ok installed"
}
check "dpkg no longer lists the package as installed" not_installed

finish
