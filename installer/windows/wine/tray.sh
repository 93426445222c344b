#!/usr/bin/env bash
# The INSTALLED Windows tray app (hyperclay-sync-tray.exe) under Wine on a virtual screen: Xvfb
# with trayer, an XEmbed tray, into which Wine docks a Windows notification-area icon. Checks, by
# screenshots (ImageMagick `import`) and pixel colours, and with the installed command line's
# `status`: the icon appears grey (sync off); a left click turns sync on (green icon, `status`
# says on) and another off again; a right click opens the menu; the menu's "Start at login"
# writes HKCU\...\Run with the installed tray's plain path and unticking it removes the value.
# Prints "tray: ok: ..." / "tray: FAILED: ..." lines and exits non-zero on any failure.
#   installer/windows/wine/tray.sh PREFIX-DIR SERVER-URL TOKEN WORK-DIR
# PREFIX-DIR holds the installed setup (install.sh); SERVER-URL is a running reference server and
# TOKEN a valid token for it. Screenshots go to WORK-DIR (tray-*.png). Needs Xvfb, trayer,
# xdotool, xwininfo and ImageMagick.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 4 ] || { echo "usage: $0 PREFIX-DIR SERVER-URL TOKEN WORK-DIR" >&2; exit 2; }
prefix=$(realpath "$1")
url=$2
token=$3
work=$4
mkdir -p "$work"
work=$(realpath "$work")
export WINEPREFIX=$prefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
unset WAYLAND_DISPLAY DBUS_SESSION_BUS_ADDRESS
user=$(id -un)
instdir="$prefix/drive_c/users/$user/AppData/Local/Programs/Hyperclay Sync"
tray_exe=$instdir/hyperclay-sync-tray.exe
cli=$instdir/hyperclay-sync.exe
home=$work/tray-home
rm -rf "$home" "$work/trayer.log"
mkdir -p "$home"

failed=0
pass() { echo "tray: ok: $*"; }
fail() { failed=$((failed + 1)); echo "tray: FAILED: $*" >&2; }

xvfb_pid=""
trayer_pid=""
tray_pid=""
cleanup() {
  # A `wait` for a killed process fails: that must not become the script's exit status.
  set +e
  # The tray and whatever else runs in the prefix stop with the prefix's wineserver.
  [ -n "$tray_pid" ] && wineserver -k 2>/dev/null
  [ -n "$trayer_pid" ] && kill "$trayer_pid" 2>/dev/null
  [ -n "$xvfb_pid" ] && kill "$xvfb_pid" 2>/dev/null
  [ -n "$tray_pid" ] && wait "$tray_pid" 2>/dev/null
  [ -n "$trayer_pid" ] && wait "$trayer_pid" 2>/dev/null
  [ -n "$xvfb_pid" ] && wait "$xvfb_pid" 2>/dev/null
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for() { # SECONDS COMMAND...
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
}

# --- the screen: Xvfb and an XEmbed tray ---------------------------------------------------------
# The old file goes first: the `>` below happens in the child, maybe after the first look.
rm -f "$work/xvfb.out"
Xvfb -displayfd 1 -screen 0 640x360x24 -nolisten tcp >"$work/xvfb.out" 2>/dev/null &
xvfb_pid=$!
xvfb_up() { grep -qE '^[0-9]+$' "$work/xvfb.out" 2>/dev/null; }
wait_for 30 xvfb_up || { fail "Xvfb did not start"; exit 1; }
export DISPLAY=:$(head -n 1 "$work/xvfb.out")
start_trayer() {
  trayer --edge top --align right --widthtype request --height 32 --SetDockType true \
    --transparent false --expand true >>"$work/trayer.log" 2>&1 &
  trayer_pid=$!
}
# trayer sometimes exits at once on a fresh Xvfb (testkit/src/screen.rs starts it again too).
restarts=0
panel_up() {
  xwininfo -root -tree 2>/dev/null | grep -q '"panel"' && return 0
  if [ $restarts -lt 5 ] && ! kill -0 "$trayer_pid" 2>/dev/null; then
    restarts=$((restarts + 1))
    echo "tray: trayer exited before it was up; starting it again" >&2
    start_trayer
  fi
  return 1
}
start_trayer
wait_for 30 panel_up || { fail "trayer did not start ($restarts restarts)"; exit 1; }

shot() { import -window root "$work/tray-$1.png"; }
# The colour (r,g,b, 0-255) at X,Y of a screenshot.
pixel() {
  convert "$work/tray-$1.png" -format "%[fx:int(255*p{$2,$3}.r)],%[fx:int(255*p{$2,$3}.g)],%[fx:int(255*p{$2,$3}.b)]" info:
}
# The colour class at X,Y of a screenshot: green (sync on), grey (off) or other.
colour() {
  local rgb r g b
  rgb=$(pixel "$@")
  IFS=, read -r r g b <<<"$rgb"
  if [ "$g" -gt $((r + 60)) ] && [ "$g" -gt $((b + 40)) ]; then
    echo green
  elif [ "$r" -ge 100 ] && [ "$r" -le 180 ] && [ $((b - r)) -ge 0 ] && [ $((b - r)) -le 40 ] &&
    [ $((g > r ? g - r : r - g)) -le 20 ]; then
    echo grey
  else
    echo "other($rgb)"
  fi
}
# The docked icon: Wine's explorer.exe (the notification area) puts one window per icon into
# trayer's panel. Prints "X Y" of its centre, in root coordinates.
icon_centre() {
  xwininfo -root -tree 2>/dev/null | awk '
    /"panel"/ { inpanel = 1; next }
    inpanel && /explorer\.exe/ && match($0, /[0-9]+x[0-9]+\+-?[0-9]+\+-?[0-9]+ +\+-?[0-9]+\+-?[0-9]+/) {
      split(substr($0, RSTART, RLENGTH), f, /[ x+]+/)
      printf "%d %d\n", f[5] + f[1] / 2, f[6] + f[2] / 2
      exit
    }'
}
icon_docked() { [ -n "$(icon_centre)" ]; }
# Moves onto the icon (from beside it: Wine reports hovering on motion) and clicks BUTTON.
click_icon() {
  xdotool mousemove $((x - 4)) $((y - 4))
  sleep 0.3
  xdotool mousemove "$x" "$y" click "$1"
}
winhome=$(winepath -w "$home" 2>/dev/null | tr -d '\r')
status_sync() {
  HYPERCLAY_URL=$url HYPERCLAY_TOKEN=$token HYPERCLAY_SYNC_HOME=$winhome wine "$cli" status 2>/dev/null |
    tr -d '\r' | sed -n 's/^Sync: *//p'
}
n=0
icon_is() { # COLOUR: a fresh screenshot shows the icon in it
  n=$((n + 1))
  shot "$n"
  [ "$(colour "$n" "$((x - 7))" "$y")" = "$1" ]
}
run_key='HKCU\Software\Microsoft\Windows\CurrentVersion\Run'
run_value() {
  wine reg query "$run_key" /v hyperclay-sync 2>/dev/null | tr -d '\r' |
    awk '$1 == "hyperclay-sync" { $1 = ""; $2 = ""; sub(/^ +/, ""); print }'
}
run_value_gone() { [ -z "$(run_value)" ]; }
run_value_there() { [ -n "$(run_value)" ]; }
tray_windows() { xwininfo -root -tree 2>/dev/null | grep -c 'hyperclay-sync-tray.exe' || true; }

# --- the tray app --------------------------------------------------------------------------------
# A wineserver started without a display (the install, `reg` calls) has an explorer.exe without a
# notification area, where Shell_NotifyIcon fails ("Invalid window handle"): start anew here.
wineserver -k 2>/dev/null || true
wineserver -w
wine reg delete "$run_key" /v hyperclay-sync /f >/dev/null 2>&1 || true
# Sync switched on and the login given: the icon starts green once the session is up.
echo '{"enabled": true}' >"$home/settings.json"
HYPERCLAY_URL=$url HYPERCLAY_TOKEN=$token HYPERCLAY_SYNC_HOME=$winhome HYPERCLAY_POLL_SECONDS=1 \
  wine "$tray_exe" >"$work/tray.out" 2>"$work/tray.err" &
tray_pid=$!
if ! wait_for 60 icon_docked; then
  fail "no tray icon docked in the XEmbed tray within 60 s (log: $home/logs/sync.log)"
  exit 1
fi
read -r x y <<<"$(icon_centre)"
pass "the icon is docked in the XEmbed tray at $x,$y"

if wait_for 30 icon_is green && [ "$(status_sync)" = on ]; then
  cp "$work/tray-$n.png" "$work/tray-on.png"
  pass "green while syncing, and status says Sync: on"
else
  fail "not green while syncing: $(colour "$n" "$((x - 7))" "$y"), status Sync: $(status_sync)"
fi

click_icon 1
if wait_for 15 icon_is grey && [ "$(status_sync)" = off ]; then
  cp "$work/tray-$n.png" "$work/tray-off.png"
  pass "a left click switched sync off: grey, and status says Sync: off"
else
  fail "after a left click: $(colour "$n" "$((x - 7))" "$y"), status Sync: $(status_sync)"
fi
# The tooltip: a window of explorer.exe beside the icon while the pointer rests on it. Its text
# is only in the pixels (no OCR here): tray-tooltip.png shows it.
xdotool mousemove $((x - 4)) $((y - 4))
sleep 0.3
xdotool mousemove "$x" "$y"
sleep 0.3
xdotool mousemove $((x + 1)) "$y"
tooltip_geom() {
  xwininfo -root -tree 2>/dev/null | grep '"explorer.exe"' | grep -v '^ *0x[0-9a-f]* .*  1x1' |
    awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+x[0-9]+\+-?[0-9]+\+-?[0-9]+$/) g = $i } { print g }' |
    awk -F'[x+]' '$1 > 40 && $2 < 40 && $2 > 10 { print; exit }'
}
# The tooltip as it was on screen, cut out of the screenshot (and 3x larger, to read).
crop_tooltip() { convert "$work/tray-tooltip.png" -crop "$(tooltip_geom)" +repage -scale 300% "$work/tray-tooltip-text.png"; }
tooltip_shown() { [ -n "$(tooltip_geom)" ]; }
if wait_for 10 tooltip_shown; then
  sleep 0.5
  shot tooltip
  crop_tooltip || true
  pass "the tooltip shows on hover ($(tooltip_geom); its text is in tray-tooltip.png)"
else
  fail "no tooltip window on hover"
fi

click_icon 1
if wait_for 15 icon_is green && [ "$(status_sync)" = on ]; then
  pass "another left click switched sync on again: green, status Sync: on"
else
  fail "after a second left click: $(colour "$n" "$((x - 7))" "$y"), status Sync: $(status_sync)"
fi

# --- the menu, and start at login ----------------------------------------------------------------
before=$(tray_windows)
menu_open() { [ "$(tray_windows)" -gt "$before" ]; }
menu_closed() { [ "$(tray_windows)" -le "$before" ]; }
open_menu() {
  click_icon 3
  wait_for 10 menu_open
}
if open_menu; then
  sleep 0.5
  shot menu
  pass "a right click opened the menu (tray-menu.png)"
else
  fail "a right click opened no menu"
fi
# "Start at login" is the third item (Sync, Logout, separator, Start at login: tray/src/view.rs
# for a logged-in user without an error); Win32 menus take the arrow keys and Return.
choose_start_at_login() {
  for _ in 1 2 3; do
    xdotool key Down
    sleep 0.2
  done
  xdotool key Return
}
choose_start_at_login
if wait_for 15 run_value_there; then
  value=$(run_value)
  want="\"$(winepath -w "$tray_exe" 2>/dev/null | tr -d '\r')\""
  if [ "${value% }" = "$want" ]; then
    pass "Start at login wrote HKCU\\...\\Run: $value"
  else
    fail "the Run value is '$value', not $want"
  fi
else
  fail "Start at login wrote no HKCU Run value"
fi
if wine reg query 'HKLM\Software\Microsoft\Windows\CurrentVersion\Run' /v hyperclay-sync >/dev/null 2>&1; then
  fail "Start at login wrote HKLM's Run key (every user's)"
fi
wait_for 10 menu_closed || true
if open_menu; then
  choose_start_at_login
  if wait_for 15 run_value_gone; then
    pass "unticking Start at login removed the Run value"
  else
    fail "the Run value stayed after unticking: $(run_value)"
  fi
else
  fail "a second right click opened no menu"
fi

[ "$failed" -eq 0 ]
