#!/usr/bin/env bash
# Type-checks and lints the app for macOS on this Linux machine, so a change that breaks the
# macOS code fails here and not first on a Mac: `cargo clippy -D warnings` of the library and both
# programs for aarch64-apple-darwin and x86_64-apple-darwin, and of their unit tests for the first.
#   installer/macos/check.sh            # both architectures
#   installer/macos/check.sh aarch64    # one
# Nothing is linked (no macOS SDK can reach this machine; desktop.yml builds, tests and packages
# on a real Mac). What it needs, installed when missing:
# - Debian's rustc-web/cargo-web 1.96 + rust-web-src + rust-web-clippy, which build `std` for any
#   target from source (-Zbuild-std, RUSTC_BOOTSTRAP=1) in their own target dir;
# - a C compiler with macOS headers for `ring`'s build script: PyPI's ziglang (in a venv under
#   target/macos-check), called through a small wrapper that drops the flags zig does not take;
# - llvm-ar (Debian's clang brings llvm-ar-14).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
work=$root/target/macos-check
zig_version=0.17.0

packages=(rustc-web cargo-web rust-web-src rust-web-clippy clang llvm)
"$root/scripts/setup.sh" packages macos/check.sh "${packages[@]}"
ar=$(command -v llvm-ar || command -v llvm-ar-14 || true)
[ -n "$ar" ] || { echo "macos/check.sh: no llvm-ar found (Debian: apt-get install llvm)" >&2; exit 1; }

mkdir -p "$work"
if ! "$work/zig/bin/python" -m ziglang version 2>/dev/null | grep -qx "$zig_version"; then
  rm -rf "$work/zig"
  python3 -m venv "$work/zig"
  "$work/zig/bin/pip" install -q "ziglang==$zig_version"
fi

# PATH=/usr/bin first: Debian's cargo and cargo-clippy, not rustup's proxies (which ask for
# rust-src); a target dir of their own.
export PATH=/usr/bin:$PATH RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR=never CARGO_TARGET_DIR=$work/build
unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS

arches=("$@")
[ ${#arches[@]} -gt 0 ] || arches=(aarch64 x86_64)
for arch in "${arches[@]}"; do
  case $arch in aarch64 | x86_64) ;; *) echo "macos/check.sh: unknown arch $arch" >&2; exit 2 ;; esac
  target=$arch-apple-darwin
  cc=$work/cc-$arch
  # cc-rs passes clang's macOS flags; zig names the target itself and refuses these.
  cat >"$cc" <<EOF
#!/usr/bin/env bash
args=()
skip=0
for a in "\$@"; do
  if [ \$skip = 1 ]; then skip=0; continue; fi
  case \$a in
    --target=* | -mmacosx-version-min=*) ;;
    -arch) skip=1 ;;
    *) args+=("\$a") ;;
  esac
done
exec "$work/zig/bin/python" -m ziglang cc -target $arch-macos "\${args[@]}"
EOF
  chmod +x "$cc"
  var=${target//-/_}
  start=$SECONDS
  # The library and both programs as shipped, then (Apple silicon only, to keep CI's time: the
  # unit tests' dev-dependencies, the reference server among them, cost a third more) again with
  # their unit tests (`--profile test` turns cfg(test) on). Not --tests: the integration tests
  # drive Linux desktops (D-Bus, Xvfb).
  profiles=(dev)
  [ "$arch" = aarch64 ] && profiles+=(test)
  for profile in "${profiles[@]}"; do
    env "CC_$var=$cc" "AR_$var=$ar" \
      /usr/bin/cargo clippy --locked -Zbuild-std=std,panic_abort --target "$target" \
      --profile "$profile" -p hyperclay-sync -p hyperclay-sync-tray --lib --bins -- -D warnings
  done
  echo "macos/check.sh: $target clean in $((SECONDS - start)) s" >&2
done
