# Sourced by scripts/wine-tests.sh and scripts/wine-screenshots.sh: a private Wine prefix
# ($WINEPREFIX under $work, removed on exit with everything started here), a virtual display
# ($DISPLAY) and the tests' private PulseAudio (scripts/pulse.sh), which Wine's PulseAudio driver
# turns into WASAPI devices. Wine 8 lacks bcryptprimitives.dll (ProcessPrng, which Rust's
# standard library uses; real Windows has it): a test-only stand-in
# (scripts/wine/bcryptprimitives.c) goes into the prefix's system32.
# Helpers: free_port, listening PORT [SECONDS], winpath UNIX_PATH.

work=$(mktemp -d /tmp/audiomi-wine.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  WINEPREFIX="$work/prefix" wineserver -k 2>/dev/null
  scripts/pulse.sh stop "$work/pulse" >/dev/null 2>&1
  sleep 0.5
  rm -rf "$work"
}
trap cleanup EXIT

export WINEPREFIX="$work/prefix" WINEARCH=win64 WINEDEBUG=-all
# No Gecko or Mono installer prompts: nothing here needs them.
export WINEDLLOVERRIDES="mscoree,mshtml="
export AUDIOMI_MDNS_INTERFACE=lo

# A display for the window test (and wineserver, which keeps the display it was started with).
disp=$((90 + RANDOM % 400))
while [ -e "/tmp/.X11-unix/X$disp" ] || [ -e "/tmp/.X$disp-lock" ]; do disp=$((disp + 1)); done
Xvfb ":$disp" -screen 0 1280x800x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
pids+=($!)
export DISPLAY=":$disp"
for _ in $(seq 1 100); do xdotool getdisplaygeometry >/dev/null 2>&1 && break; sleep 0.05; done

# The private PulseAudio of the tests, before the prefix: Wine's driver connects to it.
eval "$(scripts/pulse.sh start "$work/pulse")" || { echo "wine: no PulseAudio" >&2; exit 1; }

started=$SECONDS
wineboot -i >"$work/wineboot.log" 2>&1
x86_64-w64-mingw32-gcc -shared -O2 -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
  scripts/wine/bcryptprimitives.c -ladvapi32 || { echo "wine: shim DLL failed" >&2; exit 1; }
echo "wine: prefix ready in $((SECONDS - started)) s ($(wine --version))"

free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 30000))
    ss -Hltn "sport = :$p" | grep -q . || { echo "$p"; return; }
  done
}
listening() { # PORT [SECONDS]
  local end=$((SECONDS + ${2:-30}))
  while [ $SECONDS -lt $end ]; do
    ss -Hltn "sport = :$1" | grep -q . && return 0
    sleep 0.2
  done
  return 1
}
winpath() { winepath -w "$1" 2>/dev/null; }
