#!/usr/bin/env bash
# The Windows build under Wine, against the Linux build (scripts/windows.sh test; CI runs it after
# scripts/windows.sh build). Everything runs in a private Wine prefix and talks to 127.0.0.1 only;
# sound goes through the tests' private PulseAudio (scripts/pulse.sh), which Wine's PulseAudio
# driver turns into WASAPI devices (scripts/wine/env.sh). Ends with "wine tests: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

version=$(grep -m1 '^version' Cargo.toml | sed 's/.*"\(.*\)".*/\1/')
exe="$root/dist/windows/audiomi.exe"
msi="$root/dist/windows/audiomi-$version.msi"
[ -f "$exe" ] && [ -f "$msi" ] || { echo "wine tests: build first: scripts/windows.sh build" >&2; exit 2; }
cargo build --locked --bin audiomi >/dev/null 2>&1 || cargo build --locked --bin audiomi || exit 1
linux="$root/target/debug/audiomi"
wav() { python3 "$root/scripts/wine/wav.py" "$1"; }

# A private Wine prefix, display and PulseAudio; free_port, listening, winpath.
. scripts/wine/env.sh

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; shift; for f in "$@"; do [ -f "$f" ] && sed 's/^/     | /' "$f" | tail -15; done; }
# frames=N … freq_hz=F … from wav.py, as shell variables w_frames, w_rms_dbfs, …
read_wav() { eval "$(wav "$1" | tr ' ' '\n' | sed 's/^/w_/')"; }
near() { python3 -c "import sys; sys.exit(0 if abs($1 - $2) <= $3 else 1)"; }

# 1. It starts.
if wine "$exe" --version >"$work/version.log" 2>&1 && grep -q "$version" "$work/version.log"; then
  ok "audiomi.exe --version: $(tr -d '\r' <"$work/version.log")"
else fail "audiomi.exe --version" "$work/version.log"; fi

# 2. The Windows build serves a tone; the Linux build records exactly 3 s of it at −12 dBFS peak.
p=$(free_port); h=$(free_port)
wine "$exe" serve --host 127.0.0.1 --port "$p" --http-port "$h" --source tone:1000 --no-announce \
  >"$work/serve-win.log" 2>&1 &
pids+=($!)
if listening "$p" 60 && "$linux" record --host 127.0.0.1 --port "$p" --duration 3 \
  --out "$work/from-win.wav" >"$work/record-linux.log" 2>&1; then
  read_wav "$work/from-win.wav"
  if [ "$w_frames" = 48000 ] && near "$w_freq_hz" 1000 5 && near "$w_peak_dbfs" -12 0.5; then
    ok "Windows serve -> Linux record: $(wav "$work/from-win.wav")"
  else fail "Windows serve -> Linux record: $(wav "$work/from-win.wav")"; fi
else fail "Windows serve -> Linux record" "$work/serve-win.log" "$work/record-linux.log"; fi

# 3. Its web page and /status.json answer.
if curl -fsS --max-time 5 "http://127.0.0.1:$h/" -o "$work/page.html" &&
  grep -qi "<audio\|audioMi" "$work/page.html" &&
  curl -fsS --max-time 5 "http://127.0.0.1:$h/status.json" -o "$work/status.json" &&
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d else 1)" "$work/status.json"; then
  ok "Windows web page and /status.json: $(head -c 160 "$work/status.json")"
else fail "Windows web page and /status.json" "$work/serve-win.log"; fi

# 4. A Linux server; the Windows build records a valid WAV of exactly 2 s.
p=$(free_port)
"$linux" serve --host 127.0.0.1 --port "$p" --source tone:440 --no-http --no-announce \
  >"$work/serve-linux.log" 2>&1 &
pids+=($!)
if listening "$p" 20 && wine "$exe" record --host 127.0.0.1 --port "$p" --duration 2 \
  --out "$(winpath "$work/from-linux.wav")" >"$work/record-win.log" 2>&1; then
  read_wav "$work/from-linux.wav"
  if [ "$w_frames" = 32000 ] && near "$w_freq_hz" 440 5; then
    ok "Linux serve -> Windows record: $(wav "$work/from-linux.wav")"
  else fail "Linux serve -> Windows record: $(wav "$work/from-linux.wav")"; fi
else fail "Linux serve -> Windows record" "$work/serve-linux.log" "$work/record-win.log"; fi

# 5. TLS with an access key, both ways; a wrong key is refused.
p=$(free_port); t=$(free_port)
wine "$exe" serve --host 127.0.0.1 --port "$p" --tls --tls-port "$t" --access-key s3cret-key \
  --no-plain --no-http --no-announce --source tone:1000 >"$work/serve-win-tls.log" 2>&1 &
pids+=($!)
if listening "$t" 60 && "$linux" record --host 127.0.0.1 --port "$t" --tls --access-key s3cret-key \
  --duration 1 --out "$work/tls-from-win.wav" >"$work/record-linux-tls.log" 2>&1 &&
  [ "$(wav "$work/tls-from-win.wav" | sed 's/ .*//')" = frames=16000 ] &&
  ! "$linux" record --host 127.0.0.1 --port "$t" --tls --access-key wrong-key --duration 1 \
    --out "$work/tls-wrong.wav" >"$work/record-linux-tls-wrong.log" 2>&1; then
  ok "TLS + access key, Windows serve -> Linux record (a wrong key: $(tail -1 "$work/record-linux-tls-wrong.log"))"
else fail "TLS + access key, Windows serve -> Linux record" "$work/serve-win-tls.log" "$work/record-linux-tls.log" "$work/record-linux-tls-wrong.log"; fi
p=$(free_port); t=$(free_port)
"$linux" serve --host 127.0.0.1 --port "$p" --tls --tls-port "$t" --access-key s3cret-key \
  --no-plain --no-http --no-announce --source tone:440 >"$work/serve-linux-tls.log" 2>&1 &
pids+=($!)
if listening "$t" 20 && wine "$exe" record --host 127.0.0.1 --port "$t" --tls --access-key s3cret-key \
  --duration 1 --out "$(winpath "$work/tls-from-linux.wav")" >"$work/record-win-tls.log" 2>&1 &&
  [ "$(wav "$work/tls-from-linux.wav" | sed 's/ .*//')" = frames=16000 ]; then
  ok "TLS + access key, Linux serve -> Windows record"
else fail "TLS + access key, Linux serve -> Windows record" "$work/serve-linux-tls.log" "$work/record-win-tls.log"; fi

# 6. WASAPI devices through Wine's PulseAudio driver: the sink's monitor is a microphone.
wine "$exe" devices >"$work/devices.log" 2>&1
tr -d '\r' <"$work/devices.log" >"$work/devices.txt"
mic=$(grep -i "monitor of virtual_output\|monitor of virtual output" "$work/devices.txt" | grep -oE 'mic:[^ ]+' | head -1)
if [ -n "$mic" ]; then
  ok "WASAPI devices listed; the sink's monitor is $mic"
else fail "WASAPI devices (no monitor of the sink among the microphones)" "$work/devices.txt"; fi

# 7. Capture the monitor as a WASAPI microphone while real sound plays into the sink; compare.
sox -n -r 48000 -c 2 -b 16 "$work/played.wav" synth 30 sine 1000 vol 0.25 2>/dev/null
paplay --device=virt "$work/played.wav" &
pids+=($!)
p=$(free_port)
wine "$exe" serve --host 127.0.0.1 --port "$p" --source "${mic:-mic}" --no-http --no-announce \
  >"$work/serve-win-mic.log" 2>&1 &
pids+=($!)
if [ -n "$mic" ] && listening "$p" 60 && sleep 2 && "$linux" record --host 127.0.0.1 --port "$p" \
  --duration 3 --out "$work/mic.wav" >"$work/record-mic.log" 2>&1; then
  read_wav "$work/mic.wav"
  # Played: 1 kHz at 0.25 peak (−12.04 dBFS peak, −15.05 dBFS RMS).
  if [ "$w_frames" = 48000 ] && near "$w_freq_hz" 1000 10 && near "$w_rms_dbfs" -15.05 1.5; then
    ok "monitor captured as a WASAPI microphone: $(wav "$work/mic.wav") (played 1000 Hz, -15.05 dBFS RMS)"
  else fail "monitor captured as a WASAPI microphone: $(wav "$work/mic.wav")" "$work/serve-win-mic.log"; fi
else fail "monitor captured as a WASAPI microphone" "$work/serve-win-mic.log" "$work/record-mic.log"; fi

# 8. WASAPI loopback of the sink: Wine 8 refuses it; the user reads one line naming the cause,
# no raw HRESULT. (The day Wine or Windows runs it, this shows the capture instead.)
p=$(free_port)
wine "$exe" serve --host 127.0.0.1 --port "$p" --source loopback --no-http --no-announce \
  >"$work/serve-win-loopback.log" 2>&1 &
lpid=$!
pids+=($lpid)
listening "$p" 60
sleep 3
tr -d '\r' <"$work/serve-win-loopback.log" >"$work/loopback.txt"
if grep -q "AUDCLNT_E_WRONG_ENDPOINT_TYPE" "$work/loopback.txt" && ! grep -q -- "-2004287485\|FormatMessageW\|0x8889\|88890003" "$work/loopback.txt"; then
  ok "loopback refused in words: $(grep -m1 "AUDCLNT_E_WRONG_ENDPOINT_TYPE" "$work/loopback.txt" | cut -c1-220)"
elif "$linux" record --host 127.0.0.1 --port "$p" --duration 2 --out "$work/loop.wav" >/dev/null 2>&1 &&
  read_wav "$work/loop.wav" && near "$w_freq_hz" 1000 10; then
  ok "loopback captured: $(wav "$work/loop.wav")"
else fail "loopback: neither refused in words nor captured" "$work/loopback.txt"; fi

# 9. mDNS stays on lo (AUDIOMI_MDNS_INTERFACE=lo): the Windows build announces and finds itself
# there, and no audioMi mDNS packet leaves by another interface (under Wine its IPv6 loopback
# address has no interface index; sending with index 0 took the default route: eth0).
tcpdump -l -n -i any 'udp port 5353' >"$work/mdns.txt" 2>"$work/tcpdump.log" &
dump=$!
pids+=($dump)
sleep 1
p=$(free_port)
wine "$exe" serve --host 127.0.0.1 --port "$p" --no-http --name wine-mdns-check --source tone:1000 \
  >"$work/serve-win-mdns.log" 2>&1 &
pids+=($!)
listening "$p" 60
wine "$exe" discover --seconds 3 >"$work/discover.log" 2>&1
sleep 1
kill "$dump" 2>/dev/null
wait "$dump" 2>/dev/null
off_lo=$(grep -i "_audiomi" "$work/mdns.txt" | grep -v " 127\.0\.0\.1\.5353 > \| ::1\.5353 > " || true)
on_lo=$(grep -ci "_audiomi" "$work/mdns.txt" || true)
if grep -q "wine-mdns-check" "$work/discover.log" && [ -z "$off_lo" ] && [ "$on_lo" -gt 0 ]; then
  ok "mDNS on lo only: found itself, $on_lo audioMi mDNS packets on loopback, none elsewhere"
else
  echo "$off_lo" >"$work/off-lo.txt"
  fail "mDNS on lo only ($on_lo on loopback)" "$work/discover.log" "$work/off-lo.txt" "$work/tcpdump.log"
fi

# 10. The window opens under Wine and Xvfb.
wine "$exe" >"$work/window.log" 2>&1 &
pids+=($!)
shown=""
for _ in $(seq 1 60); do
  shown=$(xdotool search --name '^audioMi' getwindowname 2>/dev/null | head -1 || true)
  [ -n "$shown" ] && break
  sleep 1
done
if [ -n "$shown" ]; then ok "window shown: \"$shown\""
else fail "window shown" "$work/window.log"; fi

# 11. The .msi installs, runs, has its Start-menu shortcut, and uninstalls without a trace.
# Every version's .msi carries the same upgrade code, so a newer one replaces an older one.
want=$(grep -o 'UpgradeCode="[^"]*"' packaging/windows/main.wxs | cut -d'"' -f2)
got=$(msiinfo export "$msi" Property 2>/dev/null | tr -d '\r' | awk -F'\t' '$1 == "UpgradeCode" { print $2 }')
if [ -n "$want" ] && [ "${got^^}" = "{${want^^}}" ]; then ok "msi upgrade code $got (packaging/windows/main.wxs)"
else fail "msi upgrade code: $got, main.wxs has $want"; fi
pf="$WINEPREFIX/drive_c/Program Files/audioMi"
# The shortcut: in the all-users or this user's Start menu, as Wine places a per-machine install's.
shortcut() { find "$WINEPREFIX/drive_c" -path '*Start Menu/Programs/audioMi/audioMi.lnk' 2>/dev/null | head -1; }
if wine msiexec /i "$(winpath "$msi")" /qn >"$work/msi-install.log" 2>&1 && [ -f "$pf/audiomi.exe" ] &&
  wine "$pf/audiomi.exe" --version 2>&1 | grep -q "$version" && [ -n "$(shortcut)" ]; then
  ok "msi installed: $(ls "$pf" | tr '\n' ' ')| shortcut: ${shortcut_path:=$(shortcut)}"
  if wine msiexec /x "$(winpath "$msi")" /qn >"$work/msi-remove.log" 2>&1 && [ ! -e "$pf/audiomi.exe" ] &&
    [ -z "$(shortcut)" ]; then
    ok "msi uninstalled: program files and shortcut gone"
  else fail "msi uninstall" "$work/msi-remove.log"; fi
else
  find "$WINEPREFIX/drive_c" -iname '*audiomi*' >>"$work/msi-install.log" 2>/dev/null
  fail "msi install" "$work/msi-install.log"
fi

echo "wine tests: $passed passed, $failed failed ($((SECONDS - started)) s)"
[ "$failed" -eq 0 ]
