#!/bin/sh
# Regenerates hyperclay-sync.ico (setup wizard, Start menu shortcut, Apps list) from the tray
# icon's "on" artwork. The .ico is committed, so a Windows build needs neither tool; rerun this
# after changing assets/icons/svg/on.svg. Needs rsvg-convert (librsvg2-bin) and icotool (icoutils).
#   installer/windows/make-ico.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
svg=$here/../../assets/icons/svg/on.svg
for tool in rsvg-convert icotool; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "make-ico: $tool not found (Debian: apt-get install librsvg2-bin icoutils)" >&2
    exit 1
  }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
set --
for size in 16 20 24 32 40 48 64 128; do
  rsvg-convert --width "$size" --height "$size" "$svg" --output "$work/$size.png"
  set -- "$@" "$work/$size.png"
done
# 256 px is stored as PNG inside the .ico (what Windows expects for that size), the rest as BMP.
rsvg-convert --width 256 --height 256 "$svg" --output "$work/256.png"
icotool --create --output "$here/hyperclay-sync.ico" "$@" --raw="$work/256.png"
echo "make-ico: wrote $here/hyperclay-sync.ico" >&2
