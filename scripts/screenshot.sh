#!/usr/bin/env bash
# Runs the real app the way a person would, under Xvfb with a private PulseAudio, and checks that
# it does its main job with only the window:
#   1. instance A: Server tab, "Start serving" (the loopback of the default output, where a
#      1 kHz sine is playing);
#   2. instance B: Receiver tab, "Connect & Record", then "Stop";
#   3. the WAV that B saved holds the sine.
# The server streams 48 kHz stereo. It writes screenshots of both tabs (server.png serving with
# the web player's QR code, receiver.png recording, receiver-stopped.png after Stop) to OUTDIR
# (default docs/images).
# Both instances use a free port (never the fixed 26070) and audioMi's default log filter; a log
# longer than 40 lines (a dependency logging at `info`) fails the check.
# Any failure (no window, nothing recorded, wrong sound, a noisy log) exits non-zero.
#
#   scripts/screenshot.sh [OUTDIR]
#
# Environment: AUDIOMI_BIN=PATH runs that binary instead of a debug build; MEASURE_SECS=N also
# measures the CPU of both instances (% of one core) over N seconds while both tabs run.
set -euo pipefail
# The servers this script starts announce over mDNS on the loopback interface only.
export AUDIOMI_MDNS_INTERFACE=${AUDIOMI_MDNS_INTERFACE:-lo}
cd "$(dirname "$0")/.."
root=$(pwd)
out=${1:-docs/images}
mkdir -p "$out"
out=$(cd "$out" && pwd)

if [ -n "${AUDIOMI_BIN:-}" ]; then
  bin=$AUDIOMI_BIN
else
  cargo build -p audiomi --locked --quiet
  bin="$root/target/debug/audiomi"
fi

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.3
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  bash "$root/scripts/pulse.sh" stop "$work/pulse" || true
  rm -rf "$work"
}
trap cleanup EXIT

eval "$(bash "$root/scripts/pulse.sh" start "$work/pulse")"

# A free TCP port on 127.0.0.1 for the server and the receiver (through PORT, as .env would).
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export PORT=$port
# And one for the Server tab's web player (HTTP_PORT, as .env would).
HTTP_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export HTTP_PORT

# A free X display.
display=99
while [ -e "/tmp/.X11-unix/X$display" ] || [ -e "/tmp/.X$display-lock" ]; do display=$((display + 1)); done
Xvfb ":$display" -screen 0 1600x900x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
pids+=($!)
export DISPLAY=":$display"
for _ in $(seq 1 100); do xdotool getdisplaygeometry >/dev/null 2>&1 && break; sleep 0.05; done

sh -c "sox -n -t raw -r 48000 -c 2 -b 16 -e signed - synth $((60 + ${MEASURE_SECS:-0})) sine 1000 vol 0.5 | pacat --latency-msec=20 --raw --rate=48000 --channels=2 --format=s16le" &
pids+=($!)

# Starts an instance with its own settings and home folder, and the environment assignments
# that follow its name; sets $launched to its PID.
launch() {
  local name=$1
  shift
  mkdir -p "$work/$name"
  HOME="$work/$name" AUDIOMI_CONFIG_DIR="$work/$name" env -u RUST_LOG "$@" "$bin" >"$work/$name.log" 2>&1 &
  launched=$!
  pids+=("$launched")
}

# Prints the window of process $1 once it is mapped, moved to x = $2.
window_of() {
  local pid=$1 x=$2 wid=""
  for _ in $(seq 1 200); do
    for w in $(xdotool search --name '^audioMi' 2>/dev/null || true); do
      if [ "$(xdotool getwindowpid "$w" 2>/dev/null || true)" = "$pid" ]; then wid=$w; fi
    done
    [ -n "$wid" ] && break
    sleep 0.05
  done
  [ -n "$wid" ] || return 1
  xdotool windowmove "$wid" "$x" 0
  sleep 0.5
  echo "$wid"
}

click() { # window x y
  xdotool mousemove --window "$1" "$2" "$3" click 1
  sleep 0.4
}

# The server streams hi-fi (Music: 48 kHz stereo, the Quality pick's default from FORMAT).
launch server FORMAT=48000:2
server_pid=$launched
a=$(window_of "$launched" 0) || { echo "the server instance opened no window" >&2; cat "$work/server.log" >&2; exit 1; }
sleep 1.5 # the device list arrives
click "$a" 75 439 # Start serving
# "listening", not "capturing": the level preview captures before anything is served.
for _ in $(seq 1 100); do grep -q "listening" "$work/server.log" && break; sleep 0.05; done
grep -q "listening" "$work/server.log" || { echo "the server did not start serving (did Start serving move?)" >&2; cat "$work/server.log" >&2; exit 1; }

launch receiver
b=$(window_of "$launched" 800) || { echo "the receiver instance opened no window" >&2; cat "$work/receiver.log" >&2; exit 1; }
click "$b" 140 28  # Receiver tab
click "$b" 95 515 # Connect & Record
sleep 3.5
if [ -n "${MEASURE_SECS:-}" ]; then
  ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
  clk=$(getconf CLK_TCK)
  sa=$(ticks "$server_pid"); sb=$(ticks "$launched"); t0=$(date +%s.%N)
  sleep "$MEASURE_SECS"
  ea=$(ticks "$server_pid"); eb=$(ticks "$launched"); t1=$(date +%s.%N)
  awk -v a="$sa" -v b="$ea" -v c="$sb" -v d="$eb" -v k="$clk" -v s="$t0" -v e="$t1" 'BEGIN {
    printf "GUI CPU over %.0f s (%% of one core): server tab serving %.1f %%, receiver tab recording %.1f %%\n",
      e - s, 100 * (b - a) / k / (e - s), 100 * (d - c) / k / (e - s) }'
fi
import -window "$a" "$out/server.png"
import -window "$b" "$out/receiver.png"
click "$b" 40 515 # Stop
sleep 1
# Scrolled down to the figures of the saved file.
xdotool mousemove --window "$b" 380 400 click --repeat 15 --delay 30 5
sleep 0.5
import -window "$b" "$out/receiver-stopped.png"

wav=$(ls "$work"/receiver/audiomi-*.wav 2>/dev/null | head -n 1 || true)
if [ -z "$wav" ]; then
  echo "no recording was saved" >&2
  cat "$work/receiver.log" >&2
  exit 1
fi
length=$(soxi -D "$wav")
# Both channels mixed (sox's rough frequency of a stereo file is not the tone's).
freq=$(sox "$wav" -n remix - stat 2>&1 | awk '/Rough/ {print $3}')
echo "recorded $(basename "$wav"): ${length} s, rough frequency ${freq} Hz"
awk -v l="$length" -v f="$freq" 'BEGIN { exit !(l >= 2.5 && f >= 950 && f <= 1050) }' || {
  echo "the recording is not the 1 kHz sine that was playing" >&2
  exit 1
}
# audioMi's default log filter keeps dependencies at `warn`: a start, a recording and a stop
# take a handful of lines, not thousands.
for name in server receiver; do
  lines=$(wc -l <"$work/$name.log")
  echo "$name instance logged $lines lines"
  if [ "$lines" -gt 40 ]; then
    echo "the $name instance's log is noisy:" >&2
    head -n 20 "$work/$name.log" >&2
    exit 1
  fi
done
for img in server receiver; do
  size=$(identify -format '%wx%h' "$out/$img.png")
  echo "$out/$img.png: $size"
done
