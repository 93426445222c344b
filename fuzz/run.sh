#!/usr/bin/env bash
# Bounded fuzzing for CI: builds the cargo-fuzz targets and runs each for SECONDS (default 20).
# The seeds in fuzz/corpus/<target>/ are committed; what libFuzzer learns is kept in
# fuzz/target/corpus-work/<target>/ (cache it in CI). A crash leaves its input in
# fuzz/artifacts/<target>/ and fails the script.
#   fuzz/run.sh                 # every target, 20 s each
#   SECONDS_EACH=600 fuzz/run.sh path_from_url
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`). The toolchain here is stable, so
# RUSTC_BOOTSTRAP=1 unlocks the -Z flags cargo-fuzz passes; no sanitizer (-s none) keeps the
# build to the Rust code's own checks (asserts, overflow checks via -O debug-assertions).
set -euo pipefail
cd "$(dirname "$0")"
each="${SECONDS_EACH:-20}"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(path_from_url changes_parser base_state jwt_check)
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is missing: cargo install cargo-fuzz --locked" >&2
    exit 2
fi
export RUSTC_BOOTSTRAP=1
cargo fuzz build -s none -O
status=0
for t in "${targets[@]}"; do
    work="target/corpus-work/$t"
    mkdir -p "$work" "artifacts/$t"
    echo "== $t (${each}s)"
    if ! cargo fuzz run -s none -O "$t" "$work" "corpus/$t" -- \
        -max_total_time="$each" -print_final_stats=0 2>&1 | grep -E "^(Done|==|SUMMARY)|panicked|crash-"; then
        :
    fi
    if [ -n "$(ls -A "artifacts/$t" 2>/dev/null)" ]; then
        echo "FAILED: $t left crash inputs in fuzz/artifacts/$t:" >&2
        ls "artifacts/$t" >&2
        status=1
    fi
done
exit $status
