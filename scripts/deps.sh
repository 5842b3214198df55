#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages audioMi needs to build and run (README's first command).
# The test suite's own tools and peers are installed by scripts/test-deps.sh, which
# scripts/test.sh runs. Does nothing when they are all present. Uses sudo when not root.
set -euo pipefail
cd "$(dirname "$0")"

# The samplerate crate compiles libsamplerate with cmake; cpal links ALSA; capture on
# PulseAudio/PipeWire goes through libpulse.
exec ./install-packages.sh cmake pkg-config libasound2-dev libpulse-dev build-essential
