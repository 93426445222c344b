#!/usr/bin/env bash
# How long the engine takes to settle a folder where every file is a sync issue: N files in a
# folder whose name has a space (each one "skipped"), from the engine's start to a status that
# says "upToDate" with all N issues listed; then the time from moving that folder out of the
# sync folder to a status with no issues. The figures in docs/benchmarks.md ("Many sync issues
# at once") come from this.
#   scripts/bench-issues.sh [N…]            # default: 2000 20000
#   HYPERCLAY_BIN=/path/to/old/hyperclay-sync scripts/bench-issues.sh 2000
# Uses the debug builds of cargo build -p hyperclay-sync -p hyperclay-server unless told.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${HYPERCLAY_BIN:-target/debug/hyperclay-sync}
server=${HYPERCLAY_SERVER_BIN:-target/debug/hyperclay-server}
[ -x "$bin" ] && [ -x "$server" ] || cargo build --locked -q -p hyperclay-sync -p hyperclay-server
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(2000 20000)

settled() { # status.json, N: up to date with at least N issues (N = 0: with none)
  python3 - "$1" "$2" <<'PY' 2>/dev/null
import json, sys
s = json.load(open(sys.argv[1]))
n, issues = int(sys.argv[2]), len(s.get("issues", []))
sys.exit(0 if s.get("state") == "upToDate" and (issues >= n if n else issues == 0) else 1)
PY
}

for n in "${sizes[@]}"; do
  d=$(mktemp -d)
  mkdir -p "$d/folder/Bad Folder"
  for i in $(seq "$n"); do echo "x$i" > "$d/folder/Bad Folder/f$i.txt"; done
  "$server" serve --demo --listen 127.0.0.1:0 --data-dir "$d/server" >"$d/server.out" 2>"$d/server.log" &
  server_pid=$!
  url=""
  for _ in $(seq 200); do
    url=$(sed -n 's/^listening on //p' "$d/server.out" | head -n 1)
    [ -n "$url" ] && break
    sleep 0.05
  done
  token=$("$server" token demo --data-dir "$d/server")
  start=$(date +%s.%N)
  HYPERCLAY_URL=$url HYPERCLAY_TOKEN=$token HYPERCLAY_SYNC_HOME=$d/home \
    "$bin" run --headless --folder "$d/folder" >/dev/null 2>&1 &
  app_pid=$!
  until settled "$d/home/status.json" "$n"; do sleep 0.05; done
  end=$(date +%s.%N)
  mkdir "$d/away"
  mv "$d/folder/Bad Folder" "$d/away/"
  until settled "$d/home/status.json" 0; do sleep 0.05; done
  gone=$(date +%s.%N)
  kill "$app_pid" "$server_pid"
  wait "$app_pid" "$server_pid" 2>/dev/null || true
  echo "$n skipped files: $(python3 -c "print(round($end - $start, 2))") s to up to date," \
    "$(python3 -c "print(round($gone - $end, 2))") s to no issues once their folder moved away"
  rm -rf "$d"
done
