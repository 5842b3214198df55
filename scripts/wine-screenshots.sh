#!/usr/bin/env bash
# Screenshots of the Windows build's window under Wine and Xvfb (scripts/windows.sh screenshots):
# the Server tab serving the monitor of the private PulseAudio's sink as a WASAPI microphone while
# a 1 kHz sine plays into that sink, and the Receiver tab of the same window recording it. Writes
# windows-server.png and windows-receiver.png to OUTDIR (default docs/images); fails if the
# recording does not hold the sine.
#
#   scripts/wine-screenshots.sh [OUTDIR]
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out=${1:-docs/images}
mkdir -p "$out"
out=$(cd "$out" && pwd)
exe="$root/dist/windows/audiomi.exe"
[ -f "$exe" ] || { echo "wine screenshots: build first: scripts/windows.sh build" >&2; exit 2; }

. scripts/wine/env.sh

# The monitor of the default sink "virt", as the Windows build lists it.
mic=$(wine "$exe" devices 2>/dev/null | tr -d '\r' | grep -i "monitor of virtual_output" |
  grep -oE 'mic:[^ ]+' | head -1)
[ -n "$mic" ] || { echo "wine screenshots: no WASAPI microphone for the sink's monitor" >&2; exit 1; }
sox -n -r 48000 -c 2 -b 16 "$work/played.wav" synth 60 sine 1000 vol 0.25 2>/dev/null
paplay --device=virt "$work/played.wav" &
pids+=($!)

# The window's settings, as a user would leave them: that microphone, free ports, a folder.
p=$(free_port); h=$(free_port)
conf="$work/conf"
mkdir -p "$conf/recordings"
cat >"$conf/settings.toml" <<TOML
[server]
host = "127.0.0.1"
port = "$p"
source = "$mic"
http_port = "$h"

[receiver]
host = "127.0.0.1"
port = "$p"
folder = '$(winpath "$conf/recordings")'
TOML
AUDIOMI_CONFIG_DIR="$(winpath "$conf")" wine "$exe" >"$work/window.log" 2>&1 &
pids+=($!)
wid=""
for _ in $(seq 1 120); do
  wid=$(xdotool search --name '^audioMi' 2>/dev/null | head -1 || true)
  [ -n "$wid" ] && break
  sleep 0.5
done
[ -n "$wid" ] || { echo "wine screenshots: no window" >&2; cat "$work/window.log" >&2; exit 1; }
xdotool windowmove "$wid" 0 0
sleep 3 # the device list arrives
click() { xdotool mousemove --window "$wid" "$2" "$3" click 1; sleep "${4:-0.5}"; }
click "$wid" 75 439 2 # Start serving
listening "$p" 20 || { echo "wine screenshots: the window did not start serving" >&2; cat "$work/window.log" >&2; exit 1; }
sleep 2
import -window "$wid" "$out/windows-server.png"
click "$wid" 140 28 # Receiver tab
click "$wid" 95 515 4 # Connect & Record
import -window "$wid" "$out/windows-receiver.png"
click "$wid" 40 515 1 # Stop
wav=$(ls "$conf"/recordings/*.wav 2>/dev/null | head -1)
[ -n "$wav" ] || { echo "wine screenshots: nothing recorded" >&2; cat "$work/window.log" >&2; exit 1; }
python3 scripts/wine/wav.py "$wav"
for img in windows-server windows-receiver; do echo "$out/$img.png: $(identify -format '%wx%h' "$out/$img.png")"; done
