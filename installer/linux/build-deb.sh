#!/usr/bin/env bash
# Builds the two distribution binaries, hyperclay-sync (command line) and hyperclay-sync-tray (the
# tray app), in the release profile, so they default to https://hyperclay.com, and the Debian
# package from the [package.metadata.deb] section of the root Cargo.toml.
#   installer/linux/build-deb.sh            prints the path of the .deb as its last stdout line
# Needs cargo-deb, which it installs from crates.io when missing (a few minutes, once), and
# dpkg-dev (for dpkg-shlibdeps), which it installs with apt-get when run as root.
# It must never build with a HYPERCLAY_URL in the environment baked in: the URL comes from .env
# or .env.example only (see build.rs), and HYPERCLAY_URL is a run-time override, so it is unset.
set -euo pipefail
cd "$(dirname "$0")/../.."

# The version the metadata in Cargo.toml was written and tested against.
cargo_deb_version=3.8.0
if ! command -v cargo-deb >/dev/null 2>&1; then
  echo "build-deb: installing cargo-deb $cargo_deb_version (once; takes a few minutes)" >&2
  cargo install cargo-deb --locked --version "$cargo_deb_version" >&2
fi
if ! command -v dpkg-shlibdeps >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends dpkg-dev >&2
  else
    echo "build-deb: dpkg-shlibdeps not found; install it with: sudo apt-get install dpkg-dev" >&2
    exit 1
  fi
fi

unset HYPERCLAY_URL
export CARGO_TERM_COLOR=never
# Separate steps so a build failure is reported as such, not as a packaging failure; cargo-deb
# then packages the binaries that were just built (--no-build) instead of building them again.
cargo build --release --locked -p hyperclay-sync -p hyperclay-sync-tray --bins >&2
# cargo-deb prints the path of the package it wrote as its last stdout line.
deb=$(cargo deb --no-build --locked -p hyperclay-sync | tail -n 1)
if [ ! -f "$deb" ]; then
  echo "build-deb: cargo-deb did not report a package file (got: $deb)" >&2
  exit 1
fi
echo "build-deb: built $deb" >&2
echo "$deb"
