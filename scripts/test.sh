#!/usr/bin/env bash
# The whole test suite, as README.md and CI run it: installs what is missing, then runs every
# test of the workspace (unit, golden-byte, property and end-to-end tests).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
# End-to-end tests run the audiomi binary: build it in the same profile first.
cargo build --workspace --bins --locked
cargo test --workspace --locked "$@"
