#!/usr/bin/env bash
# Installs a Windows setup silently into a FRESH Wine prefix, as a user would (`setup.exe /S`),
# and checks what the installer promises: both programs in %LOCALAPPDATA%\Programs\Hyperclay Sync,
# the Start-menu shortcut, the uninstaller registered under HKCU, and the version in the
# programs' resource. Prints the installed hyperclay-sync.exe (a Linux path) as its last line.
#   installer/windows/wine/install.sh SETUP.exe PREFIX-DIR
# PREFIX-DIR is wiped and made anew. The prefix gets one thing real Windows has and Wine 8 lacks:
# bcryptprimitives.dll's ProcessPrng (bcryptprimitives.c beside this script), without which any
# Rust program exits at once with c0000135. Needs wine (wine64) and gcc-mingw-w64-x86-64, which
# installer/windows/build.sh and scripts/setup.sh install. Afterwards run the programs with the
# same WINEPREFIX; `WINEPREFIX=PREFIX-DIR wineserver -k` stops what is left in that prefix.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 2 ] || { echo "usage: $0 SETUP.exe PREFIX-DIR" >&2; exit 2; }
setup=$(realpath "$1")
prefix=$2
[ -f "$setup" ] || { echo "wine/install.sh: no setup at $setup" >&2; exit 1; }
for tool in wine wineboot wineserver x86_64-w64-mingw32-gcc; do
  command -v "$tool" >/dev/null || {
    echo "wine/install.sh: $tool not found (Debian: apt-get install wine wine64 gcc-mingw-w64-x86-64)" >&2
    exit 1
  }
done

# A prefix left by an earlier run: its wineserver is stopped before the folder goes.
if [ -d "$prefix" ]; then
  WINEPREFIX=$prefix wineserver -k 2>/dev/null || true
  rm -rf "$prefix"
fi
mkdir -p "$prefix"
prefix=$(realpath "$prefix")
export WINEPREFIX=$prefix WINEDEBUG=-all
# No Mono and no Gecko: a fresh prefix would otherwise offer to download them.
export WINEDLLOVERRIDES="mscoree,mshtml="
# Wine must not draw its first-run dialogs on the tester's display.
unset DISPLAY WAYLAND_DISPLAY

start=$SECONDS
wineboot --init >/dev/null 2>&1
wineserver -w
echo "wine/install.sh: fresh prefix in $((SECONDS - start)) s" >&2

x86_64-w64-mingw32-gcc -shared -O2 -Wall -Werror -o "$prefix/drive_c/windows/system32/bcryptprimitives.dll" \
  "$here/bcryptprimitives.c" -ladvapi32

start=$SECONDS
wine "$setup" /S
wineserver -w
echo "wine/install.sh: silent install in $((SECONDS - start)) s" >&2

fail() { echo "wine/install.sh: $*" >&2; exit 1; }
user=$(id -un)
localappdata=$prefix/drive_c/users/$user/AppData/Local
dir=$localappdata/Programs/Hyperclay\ Sync
for f in hyperclay-sync.exe hyperclay-sync-tray.exe uninstall.exe; do
  [ -f "$dir/$f" ] || fail "the setup did not install $f into %LOCALAPPDATA%\\Programs\\Hyperclay Sync"
done
lnk="$prefix/drive_c/users/$user/AppData/Roaming/Microsoft/Windows/Start Menu/Programs/Hyperclay Sync.lnk"
[ -f "$lnk" ] || fail "no Start-menu shortcut at $lnk"
# The shortcut starts the tray app (a .lnk holds its target as UTF-16 and as a local-code-page path).
grep -aq 'hyperclay-sync-tray.exe' "$lnk" ||
  iconv -f UTF-16LE -t UTF-8 "$lnk" 2>/dev/null | grep -aq 'hyperclay-sync-tray.exe' ||
  fail "the Start-menu shortcut does not point at hyperclay-sync-tray.exe"

key='HKCU\Software\Microsoft\Windows\CurrentVersion\Uninstall\HyperclaySync'
reg_value() { wine reg query "$key" /v "$1" 2>/dev/null | tr -d '\r' | awk -v n="$1" '$1 == n { $1 = ""; $2 = ""; sub(/^ +/, ""); print }'; }
version=$(reg_value DisplayVersion)
[ -n "$version" ] || fail "no DisplayVersion under $key"
uninstall=$(reg_value QuietUninstallString)
[[ $uninstall == *'uninstall.exe" /S' ]] || fail "QuietUninstallString is '$uninstall'"
# The version the installer registered is the one inside the programs' VERSIONINFO resource
# (build.rs), read back from the installed file: VERSIONINFO strings are UTF-16LE.
for f in hyperclay-sync.exe hyperclay-sync-tray.exe; do
  python3 - "$dir/$f" "$version" <<'PY' || fail "$f has no FileVersion $version in its resource"
import sys
data = open(sys.argv[1], "rb").read()
want = ("FileVersion\0" + sys.argv[2] + "\0").encode("utf-16-le")
# VERSIONINFO pads the key to a 32-bit boundary before the value: allow one NUL pair of padding.
pad = ("FileVersion\0\0" + sys.argv[2] + "\0").encode("utf-16-le")
sys.exit(0 if want in data or pad in data else 1)
PY
done
# Installed into the user's own profile only: nothing went to Program Files.
if find "$prefix/drive_c/Program Files" "$prefix/drive_c/Program Files (x86)" -iname 'hyperclay*' 2>/dev/null | grep -q .; then
  fail "the per-user setup wrote into Program Files"
fi
echo "wine/install.sh: installed version $version into $dir" >&2
echo "$dir/hyperclay-sync.exe"
