#!/usr/bin/env bash
# The slow fault tests; results in docs/RELIABILITY.md. (The fast ones run in the test suite:
# engine/tests, tests and wire/tests.) Each mode prints what it measured and
# exits non-zero if the server or receiver misbehaved.
#
#   scripts/reliability.sh hostile      1,000 healthy receivers (gap check) next to 100 stalled
#                                       clients and one each of: random bytes, wrong checkcode,
#                                       2 GB size claim, silent, half-open; 20 s (the Rust test
#                                       tools/tests/reliability.rs, asserting on server counters)
#   scripts/reliability.sh storm        5,000 connect/PING/ACK/close cycles; open file descriptors
#                                       and RSS before and after (the same Rust test file)
#   scripts/reliability.sh netem        needs root: server and `record --reconnect` in two network
#                                       namespaces; 50 ms ± 10 ms delay, 2 % loss, 25 % reordering
#                                       each way (tc netem on a veth pair; where the kernel has no
#                                       netem, scripts/impair.py between two TUN devices) for 30 s;
#                                       then the link is down for 5 s in the middle of another 30 s
#                                       recording
#   scripts/reliability.sh fuzz [SECS]  cargo fuzz (installed if missing; RUSTC_BOOTSTRAP=1 on the
#                                       stable toolchain, no sanitizer: the code has no unsafe) on
#                                       both decoders for SECS each (default 300)
#   scripts/reliability.sh all          hostile, storm, netem, fuzz 60
set -euo pipefail
# The servers this script starts announce over mDNS on the loopback interface only.
export AUDIOMI_MDNS_INTERFACE=${AUDIOMI_MDNS_INTERFACE:-lo}
cd "$(dirname "$0")/.."
root=$(pwd)
mode=${1:-all}
shift || true
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

work=$(mktemp -d)
pids=()
netns=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for n in "${netns[@]}"; do ip netns del "$n" 2>/dev/null || true; done
  for l in "ta$$" "tb$$"; do ip link del "$l" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

bins() {
  cargo build --locked -p audiomi -p audiomi-tools --bins --quiet
  bin=$root/target/debug
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_server [ip netns exec NS] -- HOST PORT EXTRA...: a ramp server; sets $server (its PID).
start_server() {
  local prefix=()
  while [ "$1" != "--" ]; do prefix+=("$1"); shift; done
  shift
  local host=$1 port=$2
  shift 2
  [ -f "$work/ramp.wav" ] || "$bin/audiomi-loadgen" --write-ramp "$work/ramp.wav" >/dev/null
  RUST_LOG=info "${prefix[@]}" "$bin/audiomi" serve --host "$host" --port "$port" --no-http \
    --source "file:$work/ramp.wav" --loop "$@" 2>"$work/serve.log" &
  server=$!
  pids+=("$server")
  for _ in $(seq 1 100); do grep -q listening "$work/serve.log" 2>/dev/null && break; sleep 0.05; done
  grep -q listening "$work/serve.log" || { cat "$work/serve.log" >&2; return 1; }
}


# hostile and storm are Rust tests (tools/tests/reliability.rs, #[ignore]d for their length):
# they assert on the server's counters, not on its log text.
hostile() {
  cargo test --locked -p audiomi-tools --test reliability -- --ignored --nocapture --exact \
    hostile_clients_never_disturb_healthy_receivers
}

storm() {
  cargo test --locked -p audiomi-tools --test reliability -- --ignored --nocapture --exact \
    a_connection_storm_leaves_nothing_behind
}

netem() {
  bins
  local a="ami-srv-$$" b="ami-rx-$$" rc=0 link impaired impair=""
  ip netns add "$a" && netns+=("$a")
  ip netns add "$b" && netns+=("$b")
  for n in "$a" "$b"; do ip -n "$n" link set lo up; done
  if ip netns exec "$a" tc qdisc add dev lo root netem delay 1ms 2>/dev/null; then
    ip netns exec "$a" tc qdisc del dev lo root
    # The kernel's netem on both ends of a veth pair.
    ip link add "vs$$" type veth peer name "vr$$"
    ip link set "vs$$" netns "$a"
    ip link set "vr$$" netns "$b"
    ip -n "$a" addr add 10.78.0.1/24 dev "vs$$"
    ip -n "$b" addr add 10.78.0.2/24 dev "vr$$"
    ip -n "$a" link set "vs$$" up
    ip -n "$b" link set "vr$$" up
    ip netns exec "$a" tc qdisc add dev "vs$$" root netem delay 50ms 10ms loss 2% reorder 25% 50%
    ip netns exec "$b" tc qdisc add dev "vr$$" root netem delay 50ms 10ms loss 2% reorder 25% 50%
    link="vr$$"
    impaired="50 ms ± 10 ms delay, 2 % loss, 25 % reordering each way (tc netem on a veth pair)"
  else
    # No sch_netem in this kernel: two TUN devices, one per namespace, joined by scripts/impair.py,
    # which forwards every packet with the same delay, loss and reordering.
    ip tuntap add mode tun name "ta$$"
    ip tuntap add mode tun name "tb$$"
    python3 scripts/impair.py "ta$$" "tb$$" --delay-ms 50 --jitter-ms 10 --loss 0.02 --reorder 0.25 \
      2>"$work/impair.log" &
    impair=$!
    pids+=("$impair")
    for _ in $(seq 1 100); do grep -q ready "$work/impair.log" 2>/dev/null && break; sleep 0.05; done
    ip link set "ta$$" netns "$a"
    ip link set "tb$$" netns "$b"
    ip -n "$a" addr add 10.78.0.1 peer 10.78.0.2 dev "ta$$"
    ip -n "$b" addr add 10.78.0.2 peer 10.78.0.1 dev "tb$$"
    ip -n "$a" link set "ta$$" up
    ip -n "$b" link set "tb$$" up
    link="tb$$"
    impaired="50 ms ± 10 ms delay, 2 % loss, 25 % sent at once (reordering) each way (scripts/impair.py over TUN: this kernel has no netem)"
  fi
  echo "link: $impaired"
  # Any port is free in a namespace this script made; still not the default one.
  local port=$((30000 + RANDOM % 20000))
  start_server ip netns exec "$a" -- 10.78.0.1 "$port"

  echo "-- 30 s over the impaired link"
  ip netns exec "$b" "$bin/audiomi" record --host 10.78.0.1 --port "$port" --reconnect \
    --duration 30 --out "$work/netem.wav" 2>"$work/rec1.log" || { cat "$work/rec1.log" >&2; rc=1; }
  tail -n 1 "$work/rec1.log"
  "$bin/audiomi-faults" check-ramp "$work/netem.wav" | tee "$work/check1.txt" || rc=1
  grep -q "silence inserted 0 samples" "$work/check1.txt" || { echo "audio was lost on the impaired link" >&2; rc=1; }

  echo "-- 30 s with the link down for 5 s after 10 s (record --reconnect)"
  ip netns exec "$b" "$bin/audiomi" record --host 10.78.0.1 --port "$port" --reconnect \
    --duration 30 --out "$work/pull.wav" 2>"$work/rec2.log" &
  local rec=$!
  pids+=("$rec")
  sleep 10
  ip -n "$b" link set "$link" down
  sleep 5
  ip -n "$b" link set "$link" up
  wait "$rec" || { cat "$work/rec2.log" >&2; rc=1; }
  grep -E "lost|reconnect|connected|saved" "$work/rec2.log" | sed 's/^/  /' | tail -n 8
  "$bin/audiomi-faults" check-ramp "$work/pull.wav" | tee "$work/check2.txt" || rc=1
  grep -q "samples (30.000 s)" "$work/check2.txt" || { echo "the recording is not 30 s long" >&2; rc=1; }
  if [ -n "$impair" ]; then
    kill "$impair"
    wait "$impair" 2>/dev/null || true
    tail -n 1 "$work/impair.log"
  fi
  return "$rc"
}

fuzz() {
  local secs=${1:-300}
  command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
  for t in decode_client decode_server; do
    mkdir -p "$work/corpus/$t"
    (cd wire/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -s none -O "$t" "$work/corpus/$t" "corpus/$t" \
      -- -max_total_time="$secs" -max_len=4096 -print_final_stats=1) >"$work/fuzz-$t.log" 2>&1 || {
      tail -n 30 "$work/fuzz-$t.log" >&2
      echo "fuzz target $t failed; the input is under wire/fuzz/artifacts/$t: copy it to wire/fuzz/regressions/$t" >&2
      return 1
    }
    echo "$t: $(grep -E '^stat::number_of_executed_units' "$work/fuzz-$t.log" | awk '{print $2}') executions in ${secs} s, no failure; corpus $(ls "$work/corpus/$t" | wc -l) inputs"
  done
}

case "$mode" in
  hostile) hostile ;;
  storm) storm ;;
  netem) netem ;;
  fuzz) fuzz "$@" ;;
  all) hostile && storm && netem && fuzz 60 ;;
  *)
    echo "usage: $0 hostile | storm | netem | fuzz [SECS] | all" >&2
    exit 2
    ;;
esac
