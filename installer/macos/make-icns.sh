#!/bin/sh
# Makes the app icon (AppIcon.icns) from the tray icon's "on" artwork in assets/icons/.
#   installer/macos/make-icns.sh OUT.icns
# On a Mac it uses iconutil over a full .iconset; elsewhere png2icns (Debian: icnsutils), so the
# bundle can be assembled and checked on Linux CI as well. Pixels come from the SVG through
# rsvg-convert (macOS: brew install librsvg) so every size is crisp; without it, the PNGs already
# rendered in assets/icons/png are used and the sizes above 128 px are left out, never upscaled.
set -eu
out=${1:?usage: make-icns.sh OUT.icns}
here=$(cd "$(dirname "$0")" && pwd)
icons=$here/../../assets/icons
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# pixels SIZE FILE: writes the icon at SIZE x SIZE px to FILE, or fails when it cannot.
pixels() {
  if command -v rsvg-convert >/dev/null 2>&1; then
    rsvg-convert --width "$1" --height "$1" "$icons/svg/on.svg" --output "$2"
  else
    case $1 in
      16 | 22 | 24 | 32 | 48 | 64) cp "$icons/png/on-$1.png" "$2" ;;
      128) cp "$icons/png/on-64@2x.png" "$2" ;;
      *) return 1 ;;
    esac
  fi
}
command -v rsvg-convert >/dev/null 2>&1 ||
  echo "make-icns: rsvg-convert not found; the icon stops at 128 px (install librsvg for 1024 px)" >&2

if command -v iconutil >/dev/null 2>&1; then
  set_dir=$work/AppIcon.iconset
  mkdir -p "$set_dir"
  for size in 16 32 128 256 512; do
    pixels "$size" "$set_dir/icon_${size}x${size}.png" || rm -f "$set_dir/icon_${size}x${size}.png"
    pixels "$((size * 2))" "$set_dir/icon_${size}x${size}@2x.png" ||
      rm -f "$set_dir/icon_${size}x${size}@2x.png"
  done
  iconutil --convert icns --output "$out" "$set_dir"
elif command -v png2icns >/dev/null 2>&1; then
  set --
  for size in 16 32 48 128 256 512 1024; do
    pixels "$size" "$work/$size.png" && set -- "$@" "$work/$size.png"
  done
  png2icns "$out" "$@" >/dev/null
else
  echo "make-icns: needs iconutil (macOS) or png2icns (Debian: apt-get install icnsutils)" >&2
  exit 1
fi
echo "make-icns: wrote $out" >&2
