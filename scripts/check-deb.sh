#!/usr/bin/env bash
# Builds the .deb (scripts/package.sh deb), installs it with dpkg -i, and checks the installed
# app as a user would: --version, devices (against a private PulseAudio), a short serve/record
# from /usr/bin, the desktop entry, the AppStream metainfo and the icons. Then removes it again.
# Needs root (dpkg). CI runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/package.sh deb
deb=$(ls -t dist/audiomi_*.deb | head -n 1)
dpkg -i "$deb"
work=$(mktemp -d)
cleanup() {
  [ -n "${server:-}" ] && kill "$server" 2>/dev/null || true
  bash scripts/pulse.sh stop "$work/pulse" || true
  dpkg -r audiomi >/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

bin=$(command -v audiomi)
[ "$bin" = /usr/bin/audiomi ] || { echo "audiomi is not installed in /usr/bin (found: $bin)" >&2; exit 1; }
"$bin" --version
eval "$(bash scripts/pulse.sh start "$work/pulse")"
"$bin" devices | tee "$work/devices.txt"
grep -q 'loopback:pulseaudio:virt.monitor' "$work/devices.txt"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$work" && exec "$bin" serve --host 127.0.0.1 --port "$port" --source tone:440 2>"$work/serve.log") &
server=$!
for _ in $(seq 1 100); do grep -q listening "$work/serve.log" 2>/dev/null && break; sleep 0.05; done
(cd "$work" && "$bin" record --port "$port" --duration 2 --out installed.wav)
length=$(soxi -D "$work/installed.wav")
freq=$(sox "$work/installed.wav" -n stat 2>&1 | awk '/Rough/ {print $3}')
echo "installed binary recorded ${length} s at about ${freq} Hz"
awk -v l="$length" -v f="$freq" 'BEGIN { exit !(l == 2 && f >= 430 && f <= 450) }'

desktop-file-validate /usr/share/applications/org.audiomi.AudioMi.desktop
appstreamcli validate --no-net /usr/share/metainfo/org.audiomi.AudioMi.metainfo.xml
for size in 16x16 32x32 48x48 128x128 256x256 512x512; do
  test -s "/usr/share/icons/hicolor/$size/apps/org.audiomi.AudioMi.png"
done
test -s /usr/share/icons/hicolor/scalable/apps/org.audiomi.AudioMi.svg
echo "package check: $(basename "$deb") $(stat -c %s "$deb") bytes, binary $(stat -c %s /usr/bin/audiomi) bytes"
