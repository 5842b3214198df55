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
  "$dir/audiomi" serve --host 127.0.0.1 --port "$port" --source "file:$work/ramp.wav" --loop \
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
    cargo build --profile packaging --locked -p audiomi -p audiomi-tests --bins
    [ $# -gt 0 ] || set -- 100 1000 5000 10000
    status=0
    for n in "$@"; do run_fanout target/packaging "$n" 20 || status=1; done
    exit "$status"
    ;;
  fanout-check)
    cargo build --locked -p audiomi -p audiomi-tests --bins --quiet
    run_fanout target/debug 1000 5
    ;;
  dsp)
    cargo build --profile packaging --locked -p audiomi-tests --bin audiomi-dspbench
    target/packaging/audiomi-dspbench
    ;;
  *)
    echo "usage: $0 fanout [N ...] | fanout-check | dsp" >&2
    exit 2
    ;;
esac
