#!/usr/bin/env bash
# Runs every test of the project on a fresh Debian 12 machine with Rust installed: installs what is
# missing, checks formatting and lints, builds everything, runs the unit, conformance, end-to-end,
# UI (Xvfb + tray host) and browser (headless Chromium) tests, fuzzes each parser briefly, lints the
# macOS code, builds the Windows setup and tests it installed under Wine, then builds the .deb,
# installs it for real and syncs through the installed app (root only).
# Each stage ends with a line "test: <stage> took N s" on stderr, so a slow CI run says where.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test

export CARGO_TERM_COLOR=never NO_AT_BRIDGE=1 RUST_BACKTRACE=1
# Every test deadline is multiplied by this (testkit/src/wait.rs): CI machines are shared and
# noisy, and a deadline is only the most a failing test waits. Raise it on a slower machine.
export HYPERCLAY_TEST_TIME_SCALE="${HYPERCLAY_TEST_TIME_SCALE:-3}"
# mold links the ~10 test and app binaries several times faster than GNU ld on 2 cores. Set here
# only, so a plain `cargo build` keeps the system linker; flags are part of cargo's cache key, so
# scripts/demo.sh sets the same to reuse what the tests built.
export RUSTFLAGS="${RUSTFLAGS:-} -C link-arg=-fuse-ld=mold"

stage() {
  local name=$1 start=$SECONDS
  shift
  "$@"
  echo "test: $name took $((SECONDS - start)) s" >&2
}

# Every platform's crates, not only this one's: a test reads the dependency tree for all targets
# (`cargo tree --target all --offline`: the engine crate must pull in no GUI crate anywhere).
stage fetch cargo fetch --locked
stage fmt cargo fmt --all -- --check
stage clippy cargo clippy --workspace --all-targets --locked -- -D warnings
# The self-update tests update this build to "the next release": the same source built as the next
# patch version (target/next-version/). Built first: the build below then makes the crate itself again.
stage next-version scripts/build-next-version.sh
stage build cargo build --workspace --all-targets --locked
stage test cargo test --workspace --locked
# The UI and browser tests are #[ignore]d for a plain `cargo test` on a desktop (they start their
# own Xvfb, tray host and Chromium); here they must run.
stage ui-tests cargo test --locked -p hyperclay-sync --test ui -- --ignored

# Bounded fuzzing (20 s a target) of the path validator, the changes parser, the base-state loader
# and the JWT check; docs/reliability.md has the long-run command.
cargo fuzz --version >/dev/null 2>&1 || stage fuzz-install cargo install cargo-fuzz --locked
stage fuzz fuzz/run.sh

# The other desktop systems, from this machine: the macOS code type-checked and linted for both
# architectures; the Windows setup cross-built, installed silently into a fresh Wine prefix, put
# through the e2e scenarios that matter on Windows and uninstalled (installer/README.md).
stage macos-check installer/macos/check.sh
stage windows-clippy installer/windows/clippy.sh
stage windows-wine installer/windows/wine/test.sh

if [ "$(id -u)" -eq 0 ]; then
  stage smoke-test installer/linux/smoke-test.sh
else
  echo "test: installer/linux/smoke-test.sh skipped: installing the .deb needs root (CI runs as root)" >&2
fi
echo "test: all stages passed in $SECONDS s" >&2
