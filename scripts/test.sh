#!/usr/bin/env bash
# Sets up a fresh machine (packages, default model) and runs the whole test suite in release mode.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh dinov2
export FURA_TEST_MODEL="$PWD/cache/SmolLM2-135M-Instruct.Q4_1.gguf"
swift test -c release --disable-xctest "$@"
