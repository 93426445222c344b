#!/usr/bin/env bash
# The tray app's idle footprint on each Linux tray path, for docs/benchmarks.md:
#   scripts/tray-footprint.sh xembed [SECONDS]   trayer as the only tray: today's tray-icon tray
#   scripts/tray-footprint.sh sni [SECONDS]      gtk-sni-tray-standalone --watcher: the SNI item
# The release tray (target/release/hyperclay-sync-tray) syncs 1,000 small apps with a local
# reference server under a private Xvfb and session bus, then idles; /proc is sampled once a
# second for SECONDS (default 30). Prints the RSS max and, at the end, anonymous, file-backed,
# PSS and threads. Needs Xvfb, dbus-daemon, trayer and (for sni) haskell-gtk-sni-tray-utils; the
# screen comes from `cargo run -p xtask -- screen`.
# It must never leave a process behind: everything it starts is killed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:?usage: scripts/tray-footprint.sh xembed|sni [SECONDS]}
window=${2:-30}
tray=${TRAY_BIN:-target/release/hyperclay-sync-tray}
server=target/release/hyperclay-server
[ -x "$server" ] || server=target/debug/hyperclay-server
[ -x "$tray" ] || { echo "build it first: cargo build --release -p hyperclay-sync -p hyperclay-sync-tray" >&2; exit 1; }
[ -x "$server" ] || { echo "build the server first: cargo build -p hyperclay-server" >&2; exit 1; }

# The screen rig (Xvfb, a session bus with no activation, the tray host) is the test kit's, started
# the one way the UI tests and the bench start it: this script re-runs itself inside it.
if [ -z "${TRAY_FOOTPRINT_ON_SCREEN:-}" ]; then
  case $mode in
    xembed) host=trayer ;;
    sni) host=sni ;;
    *) echo "unknown mode $mode" >&2; exit 1 ;;
  esac
  exec env TRAY_FOOTPRINT_ON_SCREEN=1 cargo run -q --locked -p xtask -- screen --tray "$host" -- \
    "$PWD/scripts/tray-footprint.sh" "$@"
fi

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port=$((20000 + RANDOM % 20000))
"$server" serve --data-dir "$work/server" --listen "127.0.0.1:$port" --demo >"$work/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q listening "$work/server.log" && break; sleep 0.1; done
token=$("$server" token demo --data-dir "$work/server")

mkdir -p "$work/home" "$work/data" "$work/folder"
printf '{"enabled": true}' >"$work/data/settings.json"
for i in $(seq 1000); do printf '<p>app %d</p>\n' "$i" >"$work/folder/app-$i.html"; done

HOME="$work/home" HYPERCLAY_SYNC_HOME="$work/data" HYPERCLAY_URL="http://127.0.0.1:$port" \
  HYPERCLAY_TOKEN="$token" "$tray" --folder "$work/folder" >"$work/tray.out" 2>&1 &
app=$!
pids+=($app)
for _ in $(seq 600); do grep -q '"lastSync": "' "$work/data/status.json" 2>/dev/null && break; sleep 0.1; done
grep -q '"lastSync": "' "$work/data/status.json" || { echo "the tray did not sync" >&2; cat "$work/tray.out" >&2; exit 1; }
sleep 5

max=0
for _ in $(seq "$window"); do
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$app/status")
  [ "$rss" -gt "$max" ] && max=$rss
  sleep 1
done
field() { awk -v k="$1" '$1 == k":" {print $2}' "$2"; }
anon=$(field RssAnon "/proc/$app/status")
file=$(field RssFile "/proc/$app/status")
pss=$(field Pss "/proc/$app/smaps_rollup")
threads=$(field Threads "/proc/$app/status")
appindicator=$(grep -c appindicator "/proc/$app/maps" || true)
which=$(grep -o 'through the desktop.s StatusNotifierItem host\|using the system tray instead' "$work/data/logs/sync.log" | head -n1 || true)
printf '%s: RSS max %.1f MB over %d s; at the end anon %.1f MB, file-backed %.1f MB, PSS %.1f MB, %d threads, %d appindicator mappings (log: %s)\n' \
  "$mode" "$(echo "$max / 1000" | bc -l)" "$window" "$(echo "$anon / 1000" | bc -l)" \
  "$(echo "$file / 1000" | bc -l)" "$(echo "$pss / 1000" | bc -l)" "$threads" "$appindicator" "$which"
