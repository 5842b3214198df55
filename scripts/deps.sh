#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages audioMi needs to build and to run its whole test suite.
# Does nothing when they are all present. Uses sudo when not run as root.
set -euo pipefail

packages=(
  # build: the samplerate crate compiles libsamplerate with cmake; cpal links ALSA; capture on
  # PulseAudio/PipeWire goes through libpulse.
  cmake pkg-config libasound2-dev libpulse-dev build-essential
  # tests: a private sound server, real sound, a virtual display, screenshots.
  pulseaudio pulseaudio-utils sox espeak-ng xvfb imagemagick xdotool
  # packaging checks: desktop entry, AppStream metainfo, the WiX configuration.
  desktop-file-utils appstream wixl
  # scripts/reliability.sh: network namespaces and link faults.
  iproute2
  # real peers of the stream encoders: opusinfo and opusdec check the Ogg/Opus we write;
  # Chromium plays the web player (app/tests/browser.rs).
  opus-tools chromium
  # Icecast and RTP peers (app/tests/icecast.rs, rtp.rs): a real Icecast server (the tests start
  # private ones on loopback; no system service), curl as its listener, GStreamer's RTP L16
  # receiver, ffprobe opening the SDP file (ffmpeg also makes the MP3 of app/tests/playlist.rs),
  # tcpdump reading the multicast TTL (inside a network
  # namespace the test makes).
  icecast2 curl gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good ffmpeg tcpdump
  # private streams and discovery (app/tests/tls.rs, discovery.rs): openssl s_client as a TLS
  # peer, tcpdump on lo, python3-zeroconf as an independent mDNS browser (bound to lo).
  openssl python3-zeroconf
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
