#!/usr/bin/env bash
# The Windows setup, tested on this Linux machine: builds it (installer/windows/build.sh), installs
# it silently into a fresh Wine prefix (install.sh), runs the end-to-end scenarios that matter on
# Windows with the INSTALLED hyperclay-sync.exe against the Linux reference server, runs it once
# with its default data folder and sync folder, then uninstalls silently and checks that the
# programs, the shortcut, the Apps entry and the start-at-login value went and the user's sync
# folder, backups and data stayed. On the way: a browser login whose token must land in Credential
# Manager and nowhere else, and the installed tray app on a virtual screen (tray.sh: its icon,
# left and right clicks, tooltip and "Start at login"'s HKCU Run value). Last, the self-update:
# a test build of this version, installed in a second prefix, updates itself through the release
# feed to a test build of the next patch version. Ends with "N passed, N failed".
#   installer/windows/wine/test.sh
# Environment:
#   HYPERCLAY_WINDOWS_SETUP   test this setup instead of building one
#   HYPERCLAY_WINE_SCENARIOS  e2e test-name filters to run instead of the list below (space-separated)
# The setup it builds and tests is the one that ships (target/windows/hyperclay-sync-setup.exe,
# Cargo.toml's release profile): one build serves both. Trying the test build without LTO and
# with 16 codegen units, as the .deb smoke test does, was not faster here (926 s against 607 s
# fresh), because the ~300 dependencies and std are compiled optimised either way.
# Needs the workspace's debug build (the reference server and the e2e test binary), which
# scripts/test.sh has made by the time it runs this; it builds them otherwise.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../../.."
root=$PWD
work=$root/target/wine-test
prefix=$work/prefix
mkdir -p "$work"

# Wine 8 (64-bit programs need no wine32) and curl; build.sh installs the compilers and NSIS.
"$root/scripts/setup.sh" packages wine-test wine wine64 curl gcc-mingw-w64-x86-64 \
  xvfb trayer xdotool imagemagick x11-utils

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "wine-test: ok: $*"; }
fail() { failed=$((failed + 1)); echo "wine-test: FAILED: $*" >&2; }
fatal() {
  echo "wine-test: FAILED: $1" >&2
  [ -n "${2:-}" ] && [ -f "$2" ] && tail -n 40 "$2" >&2
  echo "$passed passed, $((failed + 1)) failed"
  exit 1
}

server_pid=""
app_pid=""
cleanup() {
  # Nothing here may end the script with its own status: under set -e a failing last command of
  # an && list would (wineserver -k fails when that prefix's server has already gone).
  set +e
  [ -n "$app_pid" ] && kill "$app_pid" 2>/dev/null
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  [ -n "$app_pid" ] && wait "$app_pid" 2>/dev/null
  [ -n "$server_pid" ] && wait "$server_pid" 2>/dev/null
  # Only this prefix's wineserver (and the programs it still runs) is stopped.
  [ -d "$prefix" ] && WINEPREFIX=$prefix wineserver -k 2>/dev/null
  [ -d "$work/updates/prefix" ] && WINEPREFIX=$work/updates/prefix wineserver -k 2>/dev/null
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

# --- the setup -----------------------------------------------------------------------------------
start=$SECONDS
if [ -n "${HYPERCLAY_WINDOWS_SETUP:-}" ]; then
  setup=$HYPERCLAY_WINDOWS_SETUP
else
  setup=$(installer/windows/build.sh 2>"$work/build.log" | tail -n 1) ||
    fatal "build the setup (installer/windows/build.sh)" "$work/build.log"
fi
[ -f "$setup" ] || fatal "no setup at $setup" "$work/build.log"
pass "setup $setup ($((SECONDS - start)) s)"

# --- a silent install into a fresh prefix --------------------------------------------------------
exe=$(installer/windows/wine/install.sh "$setup" "$prefix" 2>"$work/install.log" | tail -n 1) ||
  fatal "install the setup silently into a fresh Wine prefix" "$work/install.log"
cat "$work/install.log" >&2
pass "silent install: both programs, the Start-menu shortcut, the HKCU Apps entry, the version resource"
export WINEPREFIX=$prefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY WAYLAND_DISPLAY
instdir=$(dirname "$exe")
user=$(id -un)
profile=$prefix/drive_c/users/$user

version_out=$(env -u HYPERCLAY_URL wine "$exe" --version 2>&1 | tr -d '\r') || true
if [[ $version_out == *"(server: https://hyperclay.com)"* ]]; then
  pass "the installed program defaults to https://hyperclay.com: $version_out"
else
  fail "--version of the installed program said: $version_out"
fi

# --- the end-to-end scenarios with the installed program ----------------------------------------
# Each filter is a test path (module::name); the e2e kit runs HYPERCLAY_TEST_CLIENT through
# HYPERCLAY_TEST_RUNNER instead of the freshly built Linux binary.
scenarios=(
  engine_sync::a_local_save_reaches_the_server_and_is_not_echoed_back
  remote_changes::remote_changes_arrive_by_long_poll_and_pushes_go_on_while_it_waits
  engine_sync::server_errors_are_retried_on_the_schedule_then_given_up
  folder_hygiene::ignored_paths_stay_local_ignored_remote_paths_stay_remote_and_the_ignore_file_is_reread
  sync_issues::an_app_over_the_quota_is_held_back_until_a_site_frees_and_the_line_stays_until_then
  engine_sync::first_session_syncs_both_ways_and_backs_up_the_losing_side
  folder_hygiene::a_folder_that_vanishes_pauses_sync_is_never_recreated_and_resumes_when_back
  engine_sync::offline_makes_no_requests_and_reconnecting_reconciles_both_ways
  # `status` shows a folder as the Windows program sees it (Z:\tmp\...): the tests compare
  # with hyperclay_testkit::bin::client_path.
  engine_cli::status_reports_a_running_engine_and_a_second_engine_is_refused
  engine_cli::a_refused_second_instance_changes_nothing_and_status_json_tells_the_running_one
  status_cli::a_synced_folder_is_up_to_date_with_no_issues_then_not_running
  # The login's browser is played by the test with the URL the program prints (a Windows program
  # cannot start a Linux script as BROWSER), and the token is in Credential Manager, not a file.
  auth_cli::logout_forgets_a_token_the_server_already_revoked
)
if [ -n "${HYPERCLAY_WINE_SCENARIOS:-}" ]; then
  read -r -a scenarios <<<"$HYPERCLAY_WINE_SCENARIOS"
fi
start=$SECONDS
if HYPERCLAY_TEST_CLIENT=$exe HYPERCLAY_TEST_RUNNER=wine \
  cargo test --locked -p hyperclay-sync --test e2e -- --exact "${scenarios[@]}" \
  >"$work/e2e.log" 2>&1; then
  pass "e2e scenarios under Wine with the installed program: $(grep -E '^test result:' "$work/e2e.log" | tail -n 1) ($((SECONDS - start)) s)"
else
  grep -E '^test .* \.\.\. |^test result:' "$work/e2e.log" >&2 || true
  fail "e2e scenarios under Wine (log: $work/e2e.log)"
fi
# A filter that matched nothing must not pass for a run.
ran=$(grep -cE '^test .* \.\.\. ok$' "$work/e2e.log" || true)
if [ "$ran" -eq "${#scenarios[@]}" ]; then
  pass "all ${#scenarios[@]} scenarios ran"
else
  fail "$ran of ${#scenarios[@]} scenarios passed (a name in the list may be stale)"
fi

# --- the default places: %APPDATA% data, %USERPROFILE%\Hyperclay -------------------------------
server=$root/target/debug/hyperclay-server
[ -x "$server" ] || cargo build --locked -p hyperclay-server >"$work/server-build.log" 2>&1 ||
  fatal "build the reference server" "$work/server-build.log"
rm -rf "$work/server" "$work/server.out"
"$server" serve --listen 127.0.0.1:0 --data-dir "$work/server" --demo \
  >"$work/server.out" 2>"$work/server.log" &
server_pid=$!
server_url() { sed -n '1s/^listening on //p' "$work/server.out"; }
server_up() { [ -n "$(server_url)" ]; }
wait_for 20 server_up || fatal "start the reference server" "$work/server.log"
url=$(server_url)
token=$("$server" token demo --data-dir "$work/server" 2>"$work/token.log" | tail -n 1)
[ -n "$token" ] || fatal "get a token for the demo account" "$work/token.log"

folder=$profile/Hyperclay
data=$profile/AppData/Roaming/Hyperclay/Hyperclay\ Sync/data
mkdir -p "$folder"
echo '<p>mine</p>' >"$folder/mine.html"
HYPERCLAY_URL=$url HYPERCLAY_TOKEN=$token HYPERCLAY_POLL_SECONDS=1 \
  wine "$exe" run --headless >"$work/app.out" 2>"$work/app.err" &
app_pid=$!
on_server() {
  curl -fsS -A hyperclay-sync/0.1.0 -H @- "$url/api/local-sync/files/mine.html" 2>/dev/null <<<"Authorization: Bearer $token" |
    grep -q mine
}
if wait_for 30 on_server; then
  pass "the installed program with no settings synced %USERPROFILE%\\Hyperclay to the server"
else
  fail "mine.html from %USERPROFILE%\\Hyperclay never reached the server (log: $work/app.err)"
fi
if [ -d "$data/state" ]; then
  pass "its data is in %APPDATA%\\Hyperclay\\Hyperclay Sync\\data"
else
  fail "no state in $data"
fi
kill "$app_pid" 2>/dev/null || true
wait "$app_pid" 2>/dev/null || true
app_pid=""
wineserver -w
mkdir -p "$folder/sites-versions"
echo 'an old copy' >"$folder/sites-versions/mine-backup.html"

# --- a browser login: the token goes to Credential Manager, never to a file ---------------------
# The login as a user makes it: `login` prints the authorize URL, a browser (browser.sh, with
# curl) signs in there and is sent back to the program's loopback callback. Wine keeps Credential
# Manager in the prefix's registry (HKCU\Software\Wine\Credential Manager), one key per
# credential, named by its type and target: keyring's target is "ACCOUNT.SERVICE", the server URL
# and "hyperclay-sync" (src/auth/store.rs). The password itself is stored encrypted there, so the
# program's own `status` is what reads it back.
cred_key='HKCU\Software\Wine\Credential Manager'
cred_target="$url.hyperclay-sync"
credentials() { wine reg query "$cred_key" /s 2>/dev/null | tr -d '\r'; }
# Old outputs go first: a `>` of a background command happens in the child, maybe after a look.
rm -f "$work"/browser-answer.html* "$work/login.out"
env -u HYPERCLAY_TOKEN -u BROWSER HYPERCLAY_URL=$url wine "$exe" login \
  >"$work/login.out" 2>"$work/login.err" &
login_pid=$!
login_url() { sed -n 's/.*visit: //p' "$work/login.out" | tr -d '\r' | head -n 1; }
url_printed() { [ -n "$(login_url)" ]; }
if wait_for 30 url_printed &&
  BROWSER_OUT=$work/browser-answer.html LOGIN_USER=demo LOGIN_PASSWORD=demo \
    sh "$here/browser.sh" "$(login_url)" 2>"$work/browser.err" &&
  wait "$login_pid" && grep -q 'Logged in as demo' "$work/login.out"; then
  pass "browser login with the installed program: $(grep 'Logged in as' "$work/login.out" | tr -d '\r')"
else
  kill "$login_pid" 2>/dev/null || true
  fail "the browser login did not finish (logs: $work/login.out, login.err, browser.err)"
fi
wineserver -w
if credentials | grep -qF "$cred_target"; then
  pass "the token is in Credential Manager: $(credentials | grep -F "$cred_target" | head -n 1 | sed 's/^ *//')"
else
  fail "no Credential Manager entry for $cred_target: $(credentials | head -n 20 | tr '\n' ' ')"
fi
# Nowhere else: no token file of the file fallback, no file in the profile holding a token (the
# programs themselves hold the word).
if [ -e "$data/tokens" ] || grep -rlsF --exclude='*.exe' --exclude='*.dll' accessToken "$profile" >"$work/token-files" 2>/dev/null; then
  fail "a token is in a file: $(ls "$data/tokens" 2>/dev/null) $(cat "$work/token-files" 2>/dev/null)"
else
  pass "no token file in %APPDATA%\\Hyperclay\\Hyperclay Sync\\data and no token anywhere in the profile"
fi
if grep -qs 'keyring is not usable' "$data"/logs/* "$work/login.err" 2>/dev/null; then
  fail "the program says the keyring is not usable: $(grep -hs 'keyring is not usable' "$data"/logs/* | tail -n 1)"
fi
status_out=$(env -u HYPERCLAY_TOKEN HYPERCLAY_URL=$url wine "$exe" status 2>&1 | tr -d '\r') || true
if grep -q '^Account: *demo' <<<"$status_out"; then
  pass "status reads the login back from Credential Manager (Account: demo)"
else
  fail "status after the login said: $status_out"
fi
logout_out=$(env -u HYPERCLAY_TOKEN HYPERCLAY_URL=$url wine "$exe" logout 2>&1 | tr -d '\r') || true
wineserver -w
if credentials | grep -qF "$cred_target"; then
  fail "logout left the Credential Manager entry ($logout_out)"
else
  pass "logout removed the Credential Manager entry"
fi

# --- the tray app on a screen: icon, clicks, menu, tooltip, start at login ----------------------
# tray.sh: the installed tray under Wine docked in an XEmbed tray on Xvfb (its own data folder).
start=$SECONDS
if installer/windows/wine/tray.sh "$prefix" "$url" "$token" "$work/tray" >"$work/tray.log" 2>&1; then
  pass "the tray under Wine ($((SECONDS - start)) s): $(grep -c '^tray: ok' "$work/tray.log") checks: $(sed -n 's/^tray: ok: //p' "$work/tray.log" | paste -sd ';' -)"
else
  cat "$work/tray.log" >&2
  fail "the tray under Wine (log: $work/tray.log, screenshots in $work/tray)"
fi

# --- a silent uninstall --------------------------------------------------------------------------
run_key='HKCU\Software\Microsoft\Windows\CurrentVersion\Run'
# As the app's own "Start at login" would have left it.
wine reg add "$run_key" /v hyperclay-sync /t REG_SZ /d "\"$(winepath -w "$instdir/hyperclay-sync-tray.exe")\"" /f >/dev/null 2>&1
wine "$instdir/uninstall.exe" /S
# The uninstaller copies itself to %TEMP% and runs from there: wait for every process of the prefix.
wineserver -w
gone=1
for f in hyperclay-sync.exe hyperclay-sync-tray.exe uninstall.exe; do
  [ -e "$instdir/$f" ] && { gone=0; fail "uninstall left $f"; }
done
if [ $gone = 1 ] && [ ! -d "$instdir" ]; then
  pass "uninstall removed the programs and their folder"
elif [ $gone = 1 ]; then
  fail "uninstall left the folder $instdir: $(ls -A "$instdir" | tr '\n' ' ')"
fi
lnk="$profile/AppData/Roaming/Microsoft/Windows/Start Menu/Programs/Hyperclay Sync.lnk"
if [ ! -e "$lnk" ]; then pass "uninstall removed the Start-menu shortcut"; else fail "the shortcut is still there"; fi
if wine reg query 'HKCU\Software\Microsoft\Windows\CurrentVersion\Uninstall\HyperclaySync' >/dev/null 2>&1; then
  fail "the Apps entry is still registered"
else
  pass "uninstall removed the HKCU Apps entry"
fi
if wine reg query "$run_key" /v hyperclay-sync >/dev/null 2>&1; then
  fail "the start-at-login Run value is still there"
else
  pass "uninstall removed the start-at-login Run value"
fi
if [ -f "$folder/mine.html" ] && [ -f "$folder/sites-versions/mine-backup.html" ] && [ -d "$data" ]; then
  pass "uninstall kept the sync folder, its backups and the app's data"
else
  fail "uninstall took the user's files: $(ls -la "$folder" "$data" 2>&1 | tr '\n' ' ')"
fi

# --- updating itself: 0.1.0 to the next patch version through the release feed ------------------
# Two test builds of this source: as this version and as the next patch version, both trusting the
# committed test release key (feature test-release-key; the shipped setup above trusts only the
# project key). The older one goes into a fresh prefix; the e2e test publishes the newer setup,
# signed with the test key, on the reference server and has the installed program update itself:
# it must download and verify it, run it silently, and then sync as the new version.
read -r current next <<<"$(scripts/next-version.sh)"
updates=$work/updates
mkdir -p "$updates"
start=$SECONDS
if older=$(HYPERCLAY_WINDOWS_FEATURES=hyperclay-sync/test-release-key \
  HYPERCLAY_WINDOWS_OUT=$updates/hyperclay-sync-setup-$current.exe \
  installer/windows/build.sh 2>"$updates/build-$current.log" | tail -n 1) &&
  newer=$(HYPERCLAY_WINDOWS_FEATURES=hyperclay-sync/test-release-key \
    HYPERCLAY_SYNC_BUILD_VERSION=$next HYPERCLAY_WINDOWS_OUT=$updates/hyperclay-sync-setup-$next.exe \
    installer/windows/build.sh 2>"$updates/build-$next.log" | tail -n 1); then
  pass "test setups $current and $next trusting the test release key ($((SECONDS - start)) s)"
  start=$SECONDS
  if old_exe=$(installer/windows/wine/install.sh "$older" "$updates/prefix" 2>"$updates/install.log" | tail -n 1); then
    if WINEPREFIX=$updates/prefix HYPERCLAY_TEST_CLIENT=$old_exe HYPERCLAY_TEST_RUNNER=wine \
      HYPERCLAY_TEST_NEXT_SETUP=$newer HYPERCLAY_TEST_NEXT_VERSION=$next \
      cargo test --locked -p hyperclay-sync --test e2e -- --ignored --exact \
      client_versions::an_installed_windows_app_updates_itself_through_its_setup_then_syncs_as_the_new_version \
      >"$updates/e2e.log" 2>&1 && grep -qE '^test result: ok\. 1 passed' "$updates/e2e.log"; then
      pass "the installed $current updated itself to $next through its setup and synced as $next ($((SECONDS - start)) s)"
    else
      grep -E '^test .* \.\.\. |^test result:' "$updates/e2e.log" >&2 || true
      fail "the self-update under Wine (log: $updates/e2e.log)"
    fi
  else
    fail "install the $current test setup (log: $updates/install.log)"
  fi
  WINEPREFIX=$updates/prefix wineserver -k 2>/dev/null || true
else
  fail "build the test setups (logs: $updates/build-*.log)"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
