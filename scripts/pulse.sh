#!/usr/bin/env bash
# A private PulseAudio server for tests: no sound card, no D-Bus, works as root.
#
#   scripts/pulse.sh start DIR   starts it with its socket under DIR, a null sink "virt"
#                                (48 kHz stereo, the default sink), a null sink "mic_sink" whose
#                                monitor is remapped to the source "vmic", the default source,
#                                standing in for a microphone, and a null sink "out2" for
#                                playback tests; prints the environment
#                                to export (eval "$(scripts/pulse.sh start DIR)").
#   scripts/pulse.sh stop DIR    stops the server started in DIR, by the PID it recorded.
#
# Only what this script started is stopped, by PID.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
  echo "usage: $0 start|stop DIR" >&2
  exit 2
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

case "$cmd" in
  start)
    if [ -f "$dir/pulseaudio.pid" ] && kill -0 "$(cat "$dir/pulseaudio.pid")" 2>/dev/null; then
      echo "a PulseAudio started by this script already runs in $dir (pid $(cat "$dir/pulseaudio.pid"))" >&2
      exit 1
    fi
    mkdir -p "$dir/run/pulse" "$dir/home"
    export XDG_RUNTIME_DIR="$dir/run"
    export PULSE_SERVER="unix:$dir/run/pulse/native"
    export PULSE_COOKIE="$dir/cookie"
    export HOME="$dir/home"
    pulseaudio -n --daemonize=no --exit-idle-time=-1 --use-pid-file=no --disallow-exit \
      -L "module-native-protocol-unix socket=$dir/run/pulse/native auth-anonymous=1" \
      -L "module-null-sink sink_name=virt rate=48000 channels=2 sink_properties=device.description=Virtual_output" \
      -L "module-null-sink sink_name=mic_sink rate=48000 channels=1 sink_properties=device.description=Virtual_microphone" \
      -L "module-null-sink sink_name=out2 rate=48000 channels=2 sink_properties=device.description=Second_output" \
      -L "module-remap-source master=mic_sink.monitor source_name=vmic channels=1 master_channel_map=mono channel_map=mono source_properties=device.description=Virtual_microphone_input" \
      >"$dir/pulseaudio.log" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/pulseaudio.pid"
    for _ in $(seq 1 100); do
      if ! kill -0 "$pid" 2>/dev/null || pactl info >/dev/null 2>&1; then
        break
      fi
      sleep 0.05
    done
    if ! kill -0 "$pid" 2>/dev/null || ! pactl info >/dev/null 2>&1; then
      echo "PulseAudio did not start; see $dir/pulseaudio.log" >&2
      cat "$dir/pulseaudio.log" >&2 || true
      exit 1
    fi
    pactl set-default-sink virt
    pactl set-default-source vmic
    echo "export XDG_RUNTIME_DIR='$XDG_RUNTIME_DIR' PULSE_SERVER='$PULSE_SERVER' PULSE_COOKIE='$PULSE_COOKIE'"
    ;;
  stop)
    if [ -f "$dir/pulseaudio.pid" ]; then
      pid=$(cat "$dir/pulseaudio.pid")
      if kill "$pid" 2>/dev/null; then
        for _ in $(seq 1 50); do
          kill -0 "$pid" 2>/dev/null || break
          sleep 0.05
        done
        kill -9 "$pid" 2>/dev/null || true
      fi
      rm -f "$dir/pulseaudio.pid"
    fi
    ;;
  *)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
