#!/usr/bin/env bash
# Builds the distribution binary (release profile, so it defaults to https://hyperclay.com) and the
# Debian package from the [package.metadata.deb] section of the root Cargo.toml.
#   installer/linux/build-deb.sh            prints the path of the .deb as its last stdout line
# Needs cargo-deb (`cargo install cargo-deb --locked`) and dpkg-dev (for dpkg-shlibdeps).
# It must never build with a HYPERCLAY_URL in the environment baked in: the URL comes from .env
# or .env.example only (see build.rs), and HYPERCLAY_URL is a run-time override, so it is unset.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v cargo-deb >/dev/null 2>&1; then
  echo "build-deb: cargo-deb not found; install it with: cargo install cargo-deb --locked" >&2
  exit 1
fi
if ! command -v dpkg-shlibdeps >/dev/null 2>&1; then
  echo "build-deb: dpkg-shlibdeps not found; install it with: apt-get install dpkg-dev" >&2
  exit 1
fi

unset HYPERCLAY_URL
export CARGO_TERM_COLOR=never
# Separate steps so a build failure is reported as such, not as a packaging failure; cargo-deb
# then packages the binary that was just built (--no-build) instead of building it a second time.
cargo build --release --locked -p hyperclay-sync --bin hyperclay-sync >&2
# cargo-deb prints the path of the package it wrote as its last stdout line.
deb=$(cargo deb --no-build --locked -p hyperclay-sync | tail -n 1)
if [ ! -f "$deb" ]; then
  echo "build-deb: cargo-deb did not report a package file (got: $deb)" >&2
  exit 1
fi
echo "build-deb: built $deb" >&2
echo "$deb"
