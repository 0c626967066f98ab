#!/usr/bin/env bash
# Sets up a fresh machine and runs the main job on the default model.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build -c release --product fura
.build/release/fura inspect cache/SmolLM2-135M-Instruct.Q4_1.gguf "$@"
