#!/usr/bin/env bash
# The whole test suite, as README.md and CI run it: installs what is missing, then runs every
# test of the workspace (unit, golden-byte, property and end-to-end tests).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
cargo test --workspace --locked "$@"
