#!/usr/bin/env bash
# Reproduces the numbers in docs/BENCHMARKS.md.
#
#   scripts/bench.sh fanout [N ...]   the shipped build (packaging profile: release, LTO); for
#                                     each N (default 100 1000 5000 10000):
#                                     `audiomi serve --source file:ramp.wav --loop` and
#                                     audiomi-loadgen with N receivers for 20 s; prints the
#                                     server's CPU (% of one core) and peak RSS beside the
#                                     loadgen's gap and delay report
#   scripts/bench.sh dsp              audiomi-dspbench: quality and speed of each converter
#   scripts/bench.sh latency          audiomi-latency: source stage → receiver socket, p50/p99 at
#                                     1, 100 and 1,000 receivers, 20 and 10 ms chunks
#   scripts/bench.sh idle [SECS] [silent]
#                                     CPU of `audiomi serve --source loopback` with one
#                                     `audiomi record` over SECS (default 60) on a private
#                                     PulseAudio playing a sine (`silent`: playing nothing);
#                                     then the GUI with both tabs running (scripts/screenshot.sh
#                                     with MEASURE_SECS). AUDIOMI_BIN=PATH measures that binary
#                                     instead of building one (to compare two builds)
#   scripts/bench.sh fanout-check     the short CI version: debug build, 1,000 receivers, 5 s;
#                                     fails on any gap, corruption or error
#
# Raises the open-file limit to the hard limit (10,000 receivers need 10,000 descriptors in
# each process). Everything runs on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-fanout}
shift || true
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
target=${CARGO_TARGET_DIR:-target}

work=$(mktemp -d)
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# run_fanout BIN_DIR N SECONDS: prints one result line; returns loadgen's exit status.
run_fanout() {
  local dir=$1 n=$2 secs=$3 port
  port=$(free_port)
  "$dir/audiomi-loadgen" --write-ramp "$work/ramp.wav" >/dev/null
  "$dir/audiomi" serve --host 127.0.0.1 --port "$port" --no-http --source "file:$work/ramp.wav" --loop \
    --max-clients $((n + 100)) 2>"$work/serve.log" &
  server=$!
  for _ in $(seq 1 100); do grep -q listening "$work/serve.log" 2>/dev/null && break; sleep 0.05; done
  local clk ticks0 ticks1 t0 t1 rc=0
  clk=$(getconf CLK_TCK)
  ticks0=$(awk '{print $14 + $15}' "/proc/$server/stat")
  t0=$(date +%s.%N)
  "$dir/audiomi-loadgen" --port "$port" --clients "$n" --seconds "$secs" >"$work/loadgen.txt" || rc=$?
  t1=$(date +%s.%N)
  ticks1=$(awk '{print $14 + $15}' "/proc/$server/stat")
  local rss
  rss=$(awk '/VmHWM/ {print $2}' "/proc/$server/status")
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  server=""
  local cpu
  cpu=$(awk -v a="$ticks0" -v b="$ticks1" -v c="$clk" -v s="$t0" -v e="$t1" 'BEGIN { printf "%.1f", 100 * (b - a) / c / (e - s) }')
  echo "N=$n: server CPU ${cpu}% of one core, peak RSS $((rss / 1024)) MiB"
  sed 's/^/  /' "$work/loadgen.txt"
  return "$rc"
}

case "$mode" in
  fanout)
    cargo build --profile packaging --locked -p audiomi -p audiomi-tools --bins
    [ $# -gt 0 ] || set -- 100 1000 5000 10000
    status=0
    for n in "$@"; do run_fanout $target/packaging "$n" 20 || status=1; done
    exit "$status"
    ;;
  fanout-check)
    cargo build --locked -p audiomi -p audiomi-tools --bins --quiet
    run_fanout "$target/debug" 1000 5
    ;;
  dsp)
    cargo build --profile packaging --locked -p audiomi-tools --bin audiomi-dspbench
    $target/packaging/audiomi-dspbench
    ;;
  latency)
    cargo build --profile packaging --locked -p audiomi-tools --bin audiomi-latency
    $target/packaging/audiomi-latency --clients 1,100,1000 --chunk-ms 20,10 --seconds 10
    ;;
  idle)
    secs=${1:-60}
    silent=${2:-}
    if [ -n "${AUDIOMI_BIN:-}" ]; then
      bin=$AUDIOMI_BIN
    else
      cargo build --profile packaging --locked -p audiomi
      bin=$target/packaging/audiomi
    fi
    eval "$(bash scripts/pulse.sh start "$work/pulse")"
    trap 'kill $(jobs -p) 2>/dev/null || true; bash scripts/pulse.sh stop "$work/pulse" || true; cleanup' EXIT
    [ "$silent" = silent ] || sh -c "sox -n -t raw -r 48000 -c 2 -b 16 -e signed - synth $((secs + 30)) sine 1000 vol 0.5 | pacat --latency-msec=20 --raw --rate=48000 --channels=2 --format=s16le" &
    port=$(free_port)
    # The default configuration, web player included (on a free port; it encodes Opus only
    # while a browser listens).
    "$bin" serve --host 127.0.0.1 --port "$port" --http-port "$(free_port)" --source loopback 2>"$work/serve.log" &
    server=$!
    for _ in $(seq 1 100); do grep -q listening "$work/serve.log" 2>/dev/null && break; sleep 0.05; done
    "$bin" record --host 127.0.0.1 --port "$port" --out "$work/idle.wav" --duration $((secs + 5)) 2>"$work/record.log" &
    rec=$!
    sleep 3
    clk=$(getconf CLK_TCK)
    threads() { for t in /proc/"$server"/task/*; do echo "$(basename "$t") $(cat "$t/comm" | tr ' ' _) $(awk '{print $14 + $15}' "$t/stat")"; done; }
    threads >"$work/threads0"
    s0=$(awk '{print $14 + $15}' "/proc/$server/stat"); r0=$(awk '{print $14 + $15}' "/proc/$rec/stat"); t0=$(date +%s.%N)
    sleep "$secs"
    s1=$(awk '{print $14 + $15}' "/proc/$server/stat"); r1=$(awk '{print $14 + $15}' "/proc/$rec/stat"); t1=$(date +%s.%N)
    threads >"$work/threads1"
    awk -v a="$s0" -v b="$s1" -v c="$r0" -v d="$r1" -v k="$clk" -v s="$t0" -v e="$t1" 'BEGIN {
      printf "CLI CPU over %.0f s (%% of one core): serve --source loopback %.2f %%, record %.2f %%\n",
        e - s, 100 * (b - a) / k / (e - s), 100 * (d - c) / k / (e - s) }'
    echo "serve peak RSS $(awk '/VmHWM/ {print $2}' "/proc/$server/status") KiB"
    echo "serve CPU per thread (% of one core; threads named by cpal and the pulseaudio crate as they are):"
    awk -v k="$clk" -v s="$t0" -v e="$t1" 'NR == FNR { a[$1] = $3; next }
      { d = $3 - ($1 in a ? a[$1] : 0); if (d > 0) printf "  %-20s %.2f %%  (thread %s)\n", $2, 100 * d / k / (e - s), $1 }' \
      "$work/threads0" "$work/threads1" | sort -k2,2nr
    wait "$rec" || { echo "record failed" >&2; cat "$work/record.log" >&2; exit 1; }
    freq=$(sox "$work/idle.wav" -n stat 2>&1 | awk '/Rough/ {print $3}')
    peak=$(sox "$work/idle.wav" -n stat 2>&1 | awk '/Maximum amplitude/ {print $3}')
    echo "recorded $(soxi -D "$work/idle.wav") s, rough frequency $freq Hz, maximum amplitude $peak"
    kill "$server"; wait "$server" 2>/dev/null || true; server=""
    bash scripts/pulse.sh stop "$work/pulse"
    case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
    AUDIOMI_BIN="$bin" MEASURE_SECS="$secs" bash scripts/screenshot.sh "$work/shots"
    ;;
  *)
    echo "usage: $0 fanout [N ...] | fanout-check | dsp | latency | idle [SECS] [silent]" >&2
    exit 2
    ;;
esac
