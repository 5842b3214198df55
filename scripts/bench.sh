#!/usr/bin/env bash
# Reproduces the numbers in docs/BENCHMARKS.md.
#
#   scripts/bench.sh fanout [N ...]   the shipped build (packaging profile: release, LTO; or
#                                     each binary of AUDIOMI_BINS="A B" in turn); for
#                                     each N (default 100 1000 5000 10000):
#                                     `audiomi serve --source file:ramp.wav --loop` and
#                                     audiomi-loadgen with N receivers for 20 s; prints the
#                                     server's CPU (% of one core) and peak RSS beside the
#                                     loadgen's gap and delay report
#   scripts/bench.sh dsp              audiomi-dspbench: quality and speed of each converter
#   scripts/bench.sh latency          audiomi-latency: source stage → receiver socket, p50/p99 at
#                                     1, 100 and 1,000 receivers, 20 and 10 ms chunks
#   scripts/bench.sh outputs [SECS]  the RTP, Icecast and web outputs: latency to a receiver's socket
#                                     (audiomi-outputs, against a private icecast2 on loopback),
#                                     then the CPU of `audiomi serve --source tone:440` over SECS
#                                     (default 60) alone, with --rtp, and with --icecast (and one
#                                     listener), per thread
#   scripts/bench.sh icecast [N ...]  Icecast's own cost: N listeners (default 1000 5000) of
#                                     a private icecast2 that audiomi publishes to, 30 s each;
#                                     icecast2's CPU and peak RSS
#   scripts/bench.sh idle [SECS] [silent]
#                                     CPU of `audiomi serve --source loopback` with one
#                                     `audiomi record` over SECS (default 60) on a private
#                                     PulseAudio playing a sine (`silent`: playing nothing);
#                                     then the GUI with both tabs running (scripts/screenshot.sh
#                                     with MEASURE_SECS). AUDIOMI_BIN=PATH measures that binary
#                                     instead of building one (to compare two builds)
#   scripts/bench.sh web [N] [SECS]   the web player: the server's CPU and RSS over SECS
#                                     (default 30) with no listener, then with N (default
#                                     1000) /stream.opus listeners of audiomi-httpload
#                                     --check-ogg (every page sequence number and granule
#                                     position checked) and one ramp-checking TCP receiver;
#                                     AUDIOMI_BINS="A B" measures each binary in turn
#   scripts/bench.sh fanout-tls [N ...]
#                                     the same with TLS receivers on the TLS port (release
#                                     build; default N 1000); AUDIOMI_BINS="A B" measures each
#                                     binary in turn for each N (before/after in one run)
#   scripts/bench.sh listen [SECS] [ROUNDS]
#                                     CPU of `audiomi listen` playing a 48 kHz stereo tone into a
#                                     private PulseAudio's null sink (cpal's PulseAudio host, the
#                                     pulseaudio crate) over SECS (default 45), ROUNDS times
#                                     (default 2); AUDIOMI_BINS="A B" alternates the binaries
#                                     (e.g. with and without the vendored pulseaudio patch)
#   scripts/bench.sh fanout-check     the short CI version: debug build, 1,000 receivers, 5 s;
#                                     fails on any gap, corruption or error
#
# Raises the open-file limit to the hard limit (10,000 receivers need 10,000 descriptors in
# each process). Everything runs on 127.0.0.1.
set -euo pipefail
# The servers this script starts announce over mDNS on the loopback interface only.
export AUDIOMI_MDNS_INTERFACE=${AUDIOMI_MDNS_INTERFACE:-lo}
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

# start_icecast MAX_CLIENTS [MASTER_PORT MOUNT]: a private icecast2 on a free loopback port (as
# the tests start it), source password "bench"; with MASTER_PORT and MOUNT it relays that mount
# of the Icecast on that port. Listens on $next_ice_port if set. Sets ice (its pid) and ice_port.
start_icecast() {
  ice_port=${next_ice_port:-$(free_port)}
  next_ice_port=""
  local dir=$work/ice-$ice_port owner="" relay=""
  mkdir -p "$dir/log" && chmod 755 "$work" "$dir" && chmod 777 "$dir/log"
  [ "$(id -u)" = 0 ] && owner="<changeowner><user>nobody</user><group>nogroup</group></changeowner>"
  [ -n "${2:-}" ] && relay="<relay><server>127.0.0.1</server><port>$2</port><mount>$3</mount><local-mount>$3</local-mount><on-demand>0</on-demand></relay>"
  cat >"$dir/icecast.xml" <<XML
<icecast><limits><clients>$1</clients><sources>4</sources><burst-size>0</burst-size></limits>$relay
<authentication><source-password>bench</source-password><admin-password>bench</admin-password></authentication>
<listen-socket><port>$ice_port</port><bind-address>127.0.0.1</bind-address></listen-socket><fileserve>0</fileserve>
<paths><basedir>/usr/share/icecast2</basedir><logdir>$dir/log</logdir><webroot>/usr/share/icecast2/web</webroot><adminroot>/usr/share/icecast2/admin</adminroot></paths>
<logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog></logging><security><chroot>0</chroot>$owner</security></icecast>
XML
  icecast2 -c "$dir/icecast.xml" >"$dir/out.log" 2>&1 &
  ice=$!
  trap 'kill $(jobs -p) 2>/dev/null || true; cleanup' EXIT
  for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/$ice_port) 2>/dev/null && break; sleep 0.05; done
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# run_fanout BIN_DIR N SECONDS: prints one result line; returns loadgen's exit status. With
# tls=1 the receivers use the TLS port (`serve --tls`, a certificate made in a private config
# folder); server_bin=PATH serves with that binary instead of BIN_DIR's.
run_fanout() {
  local dir=$1 n=$2 secs=$3 port bin=${server_bin:-$1/audiomi} tls_args=() client_args=()
  port=$(free_port)
  if [ "${tls:-0}" = 1 ]; then
    local tls_port
    tls_port=$(free_port)
    tls_args=(--tls --tls-port "$tls_port")
    client_args=(--tls)
  fi
  "$dir/audiomi-loadgen" --write-ramp "$work/ramp.wav" >/dev/null
  AUDIOMI_CONFIG_DIR=$work/config "$bin" serve --host 127.0.0.1 --port "$port" --no-http \
    --source "file:$work/ramp.wav" --loop --max-clients $((n + 100)) "${tls_args[@]}" 2>"$work/serve.log" &
  server=$!
  local ready=listening; [ "${tls:-0}" = 1 ] && ready="listening (TLS)"
  for _ in $(seq 1 200); do grep -qF "$ready" "$work/serve.log" 2>/dev/null && break; sleep 0.05; done
  local clk ticks0 ticks1 t0 t1 rc=0
  clk=$(getconf CLK_TCK)
  ticks0=$(awk '{print $14 + $15}' "/proc/$server/stat")
  t0=$(date +%s.%N)
  [ "${tls:-0}" = 1 ] && port=$tls_port
  "$dir/audiomi-loadgen" --port "$port" --clients "$n" --seconds "$secs" "${client_args[@]}" \
    >"$work/loadgen.txt" || rc=$?
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

# run_web BIN TOOLS_DIR N SECS: `BIN serve` of a looping ramp with the web player; its CPU and
# RSS over SECS with no listener, then with N /stream.opus listeners (audiomi-httpload
# --check-ogg) and one ramp-checking TCP receiver; returns non-zero if either load failed.
run_web() {
  local bin=$1 tools=$2 n=$3 secs=$4 port http clk tcp load rc=0
  port=$(free_port)
  http=$(free_port)
  # The ramp (as the fan-out bench): the TCP receiver beside the web listeners checks it.
  "$tools/audiomi-loadgen" --write-ramp "$work/ramp.wav" >/dev/null
  "$bin" serve --host 127.0.0.1 --port "$port" --http-port "$http" \
    --source "file:$work/ramp.wav" --loop 2>"$work/serve.log" &
  server=$!
  for _ in $(seq 1 100); do grep -q listening "$work/serve.log" 2>/dev/null && break; sleep 0.05; done
  # The ports listen before the source is open (since the station, #25): let it settle.
  sleep 2
  clk=$(getconf CLK_TCK)
  # measure SECS LABEL: the server's CPU over SECS and its RSS now.
  measure() {
    local s0 s1 t0 t1
    s0=$(awk '{print $14 + $15}' "/proc/$server/stat"); t0=$(date +%s.%N)
    sleep "$1"
    s1=$(awk '{print $14 + $15}' "/proc/$server/stat"); t1=$(date +%s.%N)
    awk -v a="$s0" -v b="$s1" -v k="$clk" -v s="$t0" -v e="$t1" -v l="$2" \
      'BEGIN { printf "serve (a 16 kHz mono ramp), %s: %.2f %% of one core over %.0f s", l, 100 * (b - a) / k / (e - s), e - s }'
    echo ", RSS $(awk '/VmRSS/ {print $2}' "/proc/$server/status") KiB"
  }
  measure "$secs" "no listener"
  # One TCP receiver beside the web listeners: gap-free or the run fails.
  "$tools/audiomi-loadgen" --port "$port" --clients 1 --seconds "$secs" >"$work/tcp.txt" &
  tcp=$!
  "$tools/audiomi-httpload" --url "http://127.0.0.1:$http/stream.opus" --listeners "$n" \
    --seconds "$secs" --check-ogg >"$work/web.txt" &
  load=$!
  sleep 3 # the listeners join (500 per second)
  measure $((secs - 5)) "$n /stream.opus listeners"
  wait "$load" || rc=1
  wait "$tcp" || rc=1
  echo "serve peak RSS $(awk '/VmHWM/ {print $2}' "/proc/$server/status") KiB"
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  server=""
  sed 's/^/  web: /' "$work/web.txt"
  sed 's/^/  tcp: /' "$work/tcp.txt"
  return "$rc"
}

case "$mode" in
  fanout)
    # The shipped build, or each binary in AUDIOMI_BINS (space-separated; the tools then come
    # from the release build) one after the other for each N: before/after in one run.
    if [ -n "${AUDIOMI_BINS:-}" ]; then
      cargo build --release --locked -p audiomi-tools --bins
      tools=$target/release
    else
      cargo build --profile packaging --locked -p audiomi -p audiomi-tools --bins
      tools=$target/packaging
    fi
    [ $# -gt 0 ] || set -- 100 1000 5000 10000
    status=0
    for n in "$@"; do
      for bin in ${AUDIOMI_BINS:-$tools/audiomi}; do
        [ -n "${AUDIOMI_BINS:-}" ] && echo "$bin"
        server_bin=$bin run_fanout "$tools" "$n" 20 || status=1
      done
    done
    exit "$status"
    ;;
  fanout-tls)
    # TLS receivers: the release build (or each binary in AUDIOMI_BINS, space-separated, one
    # after the other for each N, to compare builds in one run).
    cargo build --release --locked -p audiomi -p audiomi-tools --bins
    [ $# -gt 0 ] || set -- 1000
    status=0
    for n in "$@"; do
      for bin in ${AUDIOMI_BINS:-$target/release/audiomi}; do
        echo "$bin"
        tls=1 server_bin=$bin run_fanout $target/release "$n" 20 || status=1
      done
    done
    exit "$status"
    ;;
  listen)
    secs=${1:-45}
    rounds=${2:-2}
    if [ -z "${AUDIOMI_BINS:-}" ]; then
      cargo build --release --locked -p audiomi
      AUDIOMI_BINS=$target/release/audiomi
    fi
    eval "$(bash scripts/pulse.sh start "$work/pulse")"
    trap 'kill $(jobs -p) 2>/dev/null || true; bash scripts/pulse.sh stop "$work/pulse" || true; cleanup' EXIT
    port=$(free_port)
    first=${AUDIOMI_BINS%% *}
    "$first" serve --host 127.0.0.1 --port "$port" --source tone:440 --format 48000:2 2>"$work/serve.log" &
    server=$!
    for _ in $(seq 1 100); do grep -q listening "$work/serve.log" 2>/dev/null && break; sleep 0.05; done
    clk=$(getconf CLK_TCK)
    for round in $(seq 1 "$rounds"); do
      for bin in $AUDIOMI_BINS; do
        "$bin" listen --host 127.0.0.1 --port "$port" 2>"$work/listen.log" &
        p=$!
        sleep 3
        c0=$(awk '{print $14 + $15}' "/proc/$p/stat"); t0=$(date +%s.%N)
        sleep "$secs"
        c1=$(awk '{print $14 + $15}' "/proc/$p/stat"); t1=$(date +%s.%N)
        awk -v a="$c0" -v b="$c1" -v k="$clk" -v s="$t0" -v e="$t1" -v n="$bin" -v r="$round" \
          'BEGIN { printf "round %d, %s listen: %.2f %% of one core over %.0f s\n", r, n, 100 * (b - a) / k / (e - s), e - s }'
        kill "$p"; wait "$p" 2>/dev/null || true
      done
    done
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
  outputs)
    secs=${1:-60}
    cargo build --profile packaging --locked -p audiomi -p audiomi-tools --bin audiomi --bin audiomi-outputs
    bin=$target/packaging/audiomi
    start_icecast 100
    echo "latency (beeps, first second skipped):"
    $target/packaging/audiomi-outputs --seconds 30 --web --icecast "icecast://source:bench@127.0.0.1:$ice_port/latency.opus"
    echo "latency through a relay (a second icecast2 relaying the first):"
    master_port=$ice_port master=$ice next_ice_port=$(free_port)
    $target/packaging/audiomi-outputs --seconds 30 --settle 5 --icecast "icecast://source:bench@127.0.0.1:$master_port/relayed.opus" \
      --listen "http://127.0.0.1:$next_ice_port/relayed.opus" &
    outputs=$!
    sleep 2
    start_icecast 100 "$master_port" /relayed.opus
    wait "$outputs"
    kill "$ice"; ice=$master ice_port=$master_port
    clk=$(getconf CLK_TCK)
    for mode in alone rtp icecast; do
      port=$(free_port)
      extra=()
      case $mode in
        rtp) extra=(--rtp "127.0.0.1:$(free_port)") ;;
        icecast) extra=(--icecast "icecast://source:bench@127.0.0.1:$ice_port/cpu.opus") ;;
      esac
      "$bin" serve --host 127.0.0.1 --port "$port" --no-http --source tone:440 "${extra[@]}" 2>"$work/serve-$mode.log" &
      server=$!
      for _ in $(seq 1 100); do grep -q listening "$work/serve-$mode.log" 2>/dev/null && break; sleep 0.05; done
      [ "$mode" = icecast ] && { sleep 1; curl -s -m $((secs + 5)) -o /dev/null "http://127.0.0.1:$ice_port/cpu.opus" & }
      sleep 2
      threads() { for t in /proc/"$server"/task/*; do echo "$(basename "$t") $(tr ' ' _ <"$t/comm") $(awk '{print $14 + $15}' "$t/stat")"; done; }
      threads >"$work/threads0"; s0=$(awk '{print $14 + $15}' "/proc/$server/stat"); t0=$(date +%s.%N)
      sleep "$secs"
      threads >"$work/threads1"; s1=$(awk '{print $14 + $15}' "/proc/$server/stat"); t1=$(date +%s.%N)
      awk -v a="$s0" -v b="$s1" -v k="$clk" -v s="$t0" -v e="$t1" -v m="$mode" \
        'BEGIN { printf "serve --source tone:440 (%s): %.2f %% of one core over %.0f s; per thread:\n", m, 100 * (b - a) / k / (e - s), e - s }'
      awk -v k="$clk" -v s="$t0" -v e="$t1" 'NR == FNR { a[$1] = $3; next }
        { d = $3 - ($1 in a ? a[$1] : 0); c[$2] += d } END { for (n in c) if (c[n] > 0) printf "  %-20s %.2f %%\n", n, 100 * c[n] / k / (e - s) }' \
        "$work/threads0" "$work/threads1" | sort -k2,2nr
      kill "$server"; wait "$server" 2>/dev/null || true; server=""
    done
    ;;
  icecast)
    # What Icecast itself costs per listener: audiomi publishes the tone to a private icecast2,
    # audiomi-httpload holds N listeners on the mount for 30 s; icecast2's CPU and RSS over it.
    cargo build --profile packaging --locked -p audiomi -p audiomi-tools --bin audiomi --bin audiomi-httpload
    start_icecast 20000
    port=$(free_port)
    $target/packaging/audiomi serve --host 127.0.0.1 --port "$port" --no-http --source tone:440 \
      --icecast "icecast://source:bench@127.0.0.1:$ice_port/load.opus" 2>"$work/serve.log" &
    server=$!
    for _ in $(seq 1 100); do grep -q "icecast: publishing" "$work/serve.log" 2>/dev/null && break; sleep 0.05; done
    clk=$(getconf CLK_TCK)
    for n in "${@:-1000 5000}"; do
      c0=$(awk '{print $14 + $15}' "/proc/$ice/stat"); t0=$(date +%s.%N)
      $target/packaging/audiomi-httpload --url "http://127.0.0.1:$ice_port/load.opus" --listeners "$n" --seconds 30 || true
      c1=$(awk '{print $14 + $15}' "/proc/$ice/stat"); t1=$(date +%s.%N)
      awk -v a="$c0" -v b="$c1" -v k="$clk" -v s="$t0" -v e="$t1" -v n="$n" \
        'BEGIN { printf "icecast2 with %d listeners: %.2f %% of one core\n", n, 100 * (b - a) / k / (e - s) }'
      echo "icecast2 peak RSS $(awk '/VmHWM/ {print $2}' "/proc/$ice/status") KiB"
    done
    ;;
  web)
    n=${1:-1000}
    secs=${2:-30}
    # The shipped build, or each binary in AUDIOMI_BINS in turn (the tools from the release
    # build), to compare builds in one run.
    if [ -n "${AUDIOMI_BINS:-}" ]; then
      cargo build --release --locked -p audiomi-tools --bin audiomi-httpload --bin audiomi-loadgen
      tools=$target/release
    else
      cargo build --profile packaging --locked -p audiomi -p audiomi-tools --bin audiomi --bin audiomi-httpload --bin audiomi-loadgen
      tools=$target/packaging
    fi
    rc=0
    for bin in ${AUDIOMI_BINS:-$tools/audiomi}; do
      [ -n "${AUDIOMI_BINS:-}" ] && echo "$bin"
      run_web "$bin" "$tools" "$n" "$secs" || rc=1
    done
    exit "$rc"
    ;;
  *)
    echo "usage: $0 fanout [N ...] | fanout-check | dsp | latency | outputs [SECS] | icecast [N ...] | idle [SECS] [silent] | web [N] [SECS]" >&2
    exit 2
    ;;
esac
