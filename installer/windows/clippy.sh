#!/usr/bin/env bash
# Lints the Windows code paths on this Linux machine: `cargo clippy -D warnings` of the library and
# both programs for x86_64-pc-windows-gnu, as shipped and with their unit tests (`--profile test`
# turns cfg(test) on), so Windows-only code fails here and not first on a Windows runner. Debian's
# rustc-web 1.96 with rust-web-src and rust-web-clippy (-Zbuild-std) and mingw, in a target dir of
# its own (installer/windows/build.sh's notes).
#   installer/windows/clippy.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
packages=(rustc-web cargo-web rust-web-src rust-web-clippy gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64)
"$root/scripts/setup.sh" packages windows/clippy.sh "${packages[@]}"
export PATH=/usr/bin:$PATH RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR=never CARGO_TARGET_DIR=$root/target/windows-clippy
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS
target=x86_64-pc-windows-gnu
start=$SECONDS
for profile in dev test; do
  /usr/bin/cargo clippy --locked -Zbuild-std=std,panic_abort --target "$target" \
    --profile "$profile" -p hyperclay-sync -p hyperclay-sync-tray --lib --bins -- -D warnings
done
echo "windows/clippy.sh: $target clean in $((SECONDS - start)) s" >&2
