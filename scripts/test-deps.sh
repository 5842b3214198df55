#!/usr/bin/env bash
# Installs what the whole test suite needs beyond building (scripts/test.sh runs it; CI too):
# a private sound server and real sound, a virtual display, the packaging checks, and the real
# peers the tests talk to (each started privately on loopback by the tests, never as a service).
set -euo pipefail
cd "$(dirname "$0")"

packages=(
  # a private sound server, real sound, a virtual display, screenshots.
  pulseaudio pulseaudio-utils sox espeak-ng xvfb imagemagick xdotool
  # packaging checks: desktop entry, AppStream metainfo, the WiX configuration.
  desktop-file-utils appstream wixl
  # scripts/reliability.sh: network namespaces and link faults.
  iproute2
  # real peers of the stream encoders: opusinfo and opusdec check the Ogg/Opus we write;
  # Chromium plays the web player (tests/browser.rs, page.rs).
  opus-tools chromium
  # Icecast and RTP peers (tests/icecast.rs, rtp.rs): a real Icecast server, curl as its
  # listener, GStreamer's RTP L16 receiver, ffprobe opening the SDP file (ffmpeg also makes the
  # MP3 of tests/playlist.rs), tcpdump reading the multicast TTL (inside a network
  # namespace the test makes).
  icecast2 curl gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good ffmpeg tcpdump
  # private streams and discovery (tests/tls.rs, discovery.rs): openssl s_client as a TLS
  # peer, tcpdump on lo, python3-zeroconf as an independent mDNS browser (bound to lo).
  openssl python3-zeroconf
)
exec ./install-packages.sh "${packages[@]}"
