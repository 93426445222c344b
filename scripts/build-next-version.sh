#!/usr/bin/env bash
# Builds the "next release" of the command line client for the self-update tests: this same
# source, told by HYPERCLAY_SYNC_BUILD_VERSION (build.rs) that it is the next patch version, copied
# to target/next-version/. Run before the normal build: the crate is rebuilt once more afterwards
# as itself. Prints the version it built.
set -euo pipefail
cd "$(dirname "$0")/.."
read -r _ next <<<"$(scripts/next-version.sh)"
HYPERCLAY_SYNC_BUILD_VERSION="$next" cargo build --locked -q -p hyperclay-sync --bin hyperclay-sync "$@"
target=${CARGO_TARGET_DIR:-target}
mkdir -p "$target/next-version"
cp "$target/debug/hyperclay-sync" "$target/next-version/hyperclay-sync"
"$target/next-version/hyperclay-sync" --version
