#!/usr/bin/env bash
# Runs Hyperclay Sync against a local reference server with the demo paid account (demo / demo).
#   scripts/demo.sh              the tray app when a display is available, else headless
#   scripts/demo.sh --headless   always headless
# Everything lives under target/demo/ (server data, app config and log, the synced folder).
# Stop with Ctrl-C; the server stops with it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh run

export CARGO_TERM_COLOR=never
# The same build as scripts/test.sh's (every target, its linker), so after the tests this is a
# no-op: building only the two binaries would resolve their dependencies' features without the
# tests' dev-dependencies and recompile about a hundred crates. mold is there once
# `scripts/setup.sh test` has run; without it, the system linker.
if command -v mold >/dev/null 2>&1; then
  export RUSTFLAGS="${RUSTFLAGS:-} -C link-arg=-fuse-ld=mold"
fi
cargo build --locked --workspace --all-targets

demo=${HYPERCLAY_DEMO_DIR:-$PWD/target/demo}
listen=${HYPERCLAY_DEMO_LISTEN:-127.0.0.1:8787}
mkdir -p "$demo/folder"
server=target/debug/hyperclay-server
app=target/debug/hyperclay-sync

: > "$demo/server.out"
"$server" serve --demo --listen "$listen" --data-dir "$demo/server" >"$demo/server.out" 2>"$demo/server.log" &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true' EXIT INT TERM
url=""
for _ in $(seq 200); do
  url=$(sed -n 's/^listening on //p' "$demo/server.out" | head -n 1)
  [ -n "$url" ] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.05
done
if [ -z "$url" ]; then
  echo "demo: the reference server did not start; its log:" >&2
  cat "$demo/server.log" >&2
  exit 1
fi

export HYPERCLAY_URL="$url" HYPERCLAY_SYNC_HOME="$demo/home"
cat <<TXT
Reference server: $url  (accounts: demo/demo paid, free/free unpaid; data in $demo/server)
Synced folder:    $demo/folder
Try: echo '<h1>Hello</h1>' > $demo/folder/hello.html  then open $url/hello
     a remote edit: curl -H "Authorization: Bearer \$("$server" token demo --data-dir "$demo/server")" --data-binary '<h1>Hi</h1>' $url/save/hello
App log:          $demo/home/logs/sync.log
TXT

if [ -n "${DISPLAY:-}" ] && [ "${1:-}" != "--headless" ]; then
  echo "Tray app: choose \"Sync\" in its menu and log in as demo / demo."
  "$app" --folder "$demo/folder"
else
  HYPERCLAY_TOKEN=$("$server" token demo --data-dir "$demo/server")
  export HYPERCLAY_TOKEN
  echo "Headless: syncing as demo (Ctrl-C to stop)."
  "$app" run --headless --folder "$demo/folder"
fi
