#!/usr/bin/env bash
# Generates every icon from assets/audiomi.svg (the outputs are committed):
#   assets/icons/audiomi-N.png for N in 16 24 32 48 64 128 256 512  (rsvg-convert, librsvg2-bin)
#   assets/audiomi.ico (16–256, ImageMagick)   assets/audiomi.icns (png2icns, icnsutils)
# Debian packages: librsvg2-bin imagemagick icnsutils.
set -euo pipefail
cd "$(dirname "$0")/.."
src=assets/audiomi.svg
mkdir -p assets/icons
for n in 16 24 32 48 64 128 256 512; do
  rsvg-convert -w "$n" -h "$n" "$src" -o "assets/icons/audiomi-$n.png"
done
convert assets/icons/audiomi-{16,24,32,48,64,128,256}.png assets/audiomi.ico
png2icns assets/audiomi.icns assets/icons/audiomi-{16,32,48,128,256,512}.png >/dev/null
ls -l assets/audiomi.ico assets/audiomi.icns assets/icons/
