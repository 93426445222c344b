#!/usr/bin/env bash
# Prints the workspace's version and the next patch version ("0.1.0 0.1.1"): what the self-update
# tests build as "the next release" (scripts/build-next-version.sh, installer/windows/wine/test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
current=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
IFS=. read -r major minor patch <<<"${current%%[-+]*}"
echo "$current $major.$minor.$((patch + 1))"
