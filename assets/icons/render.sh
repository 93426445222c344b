#!/bin/sh
# Regenerates every tray PNG from the SVG sources in svg/. Needs rsvg-convert (Debian: librsvg2-bin).
# Run from anywhere: sh assets/icons/render.sh. The app embeds a few of these PNGs (tray/src/icons.rs),
# so rebuild after re-rendering.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
command -v rsvg-convert >/dev/null 2>&1 || {
  echo "render.sh: rsvg-convert not found (apt-get install librsvg2-bin)" >&2
  exit 1
}
mkdir -p "$here/png"
for svg in "$here"/svg/*.svg; do
  name=$(basename "$svg" .svg)
  # 16/24/32 Windows and generic, 22 GNOME/KDE panels, 48/64 large panels; @2x for HiDPI.
  for size in 16 22 24 32 48 64; do
    rsvg-convert --width "$size" --height "$size" "$svg" --output "$here/png/$name-$size.png"
    rsvg-convert --width "$((size * 2))" --height "$((size * 2))" "$svg" --output "$here/png/$name-$size@2x.png"
  done
done
echo "render.sh: wrote $(ls "$here/png" | wc -l) PNGs to $here/png"
