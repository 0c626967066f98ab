#!/usr/bin/env bash
# Checks fura's GGUF exports with a real llama.cpp (not part of CI). Builds llama.cpp's llama-simple (greedy decoding)
# from the llama-cpp-python source package on PyPI, with cmake and ninja from PyPI, into cache/llama.cpp (about 5
# minutes on 2 cores, once). Then, from the default model (a GGUF base) and from an HF directory made from it
# (a 2-step FuRA adapter merged in), exports each --type in TYPES (default f16 q8_0 q4_0 q4_K) and compares the
# greedy continuation of PROMPT by llama-simple with fura generate's, token text for token text. Where they part, it
# says at which new token and how far apart llama.cpp itself had the two candidates (its logits there, from
# scripts/llama-cpp/greedy_top.cpp, built against the same library): a small gap is a near-tie that llama.cpp's
# 8-bit activation rounding can decide either way (fura multiplies the file's dequantized weights in f32).
#
#   scripts/check-llama-cpp.sh            # prints one line per export: same / differs (both texts, the gap)
set -euo pipefail
cd "$(dirname "$0")/.."
types=${TYPES:-f16 q8_0 q4_0 q4_K}
prompt=${PROMPT:-"The capital of France is"}
tokens=${TOKENS:-24}
version=${LLAMA_CPP_PYTHON_VERSION:-0.3.36}
work=cache/llama.cpp
model=cache/SmolLM2-135M-Instruct.Q4_1.gguf
scripts/setup.sh
swift build -c release --product fura
fura=.build/release/fura

simple=$work/llama_cpp_python-$version/vendor/llama.cpp/build/bin/llama-simple
if [ ! -x "$simple" ]; then
  mkdir -p "$work"
  python3 -m venv "$work/venv"
  "$work/venv/bin/pip" install -q cmake ninja
  "$work/venv/bin/pip" download -q --no-deps --no-binary :all: --no-build-isolation "llama-cpp-python==$version" -d "$work" 2>/dev/null \
    || curl -sL -o "$work/llama_cpp_python-$version.tar.gz" \
      "$(curl -s "https://pypi.org/pypi/llama-cpp-python/$version/json" | python3 -c 'import json,sys; print([u["url"] for u in json.load(sys.stdin)["urls"] if u["packagetype"]=="sdist"][0])')"
  tar xzf "$work/llama_cpp_python-$version.tar.gz" -C "$work"
  src=$work/llama_cpp_python-$version/vendor/llama.cpp
  PATH="$PWD/$work/venv/bin:$PATH" cmake -S "$src" -B "$src/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF \
    -DGGML_NATIVE=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF > "$work/cmake.log"
  PATH="$PWD/$work/venv/bin:$PATH" cmake --build "$src/build" --target llama-simple -j "$(nproc)" > "$work/build.log"
fi

src=$work/llama_cpp_python-$version/vendor/llama.cpp
top=$src/build/bin/greedy_top
if [ ! -x "$top" ] || [ scripts/llama-cpp/greedy_top.cpp -nt "$top" ]; then
  g++ -O2 -std=c++17 -I "$src/include" -I "$src/ggml/include" scripts/llama-cpp/greedy_top.cpp -L "$src/build/bin" \
    -lllama -lggml -lggml-base -Wl,-rpath,"$PWD/$src/build/bin" -o "$top"
fi

out=$work/exports
mkdir -p "$out"
# An HF base: SmolLM2 with a 2-step FuRA adapter merged in (fura merge writes config.json, safetensors, tokenizer.json).
if [ ! -f "$out/hf/config.json" ]; then
  printf '[{"instruction": "Say yes", "input": "", "output": "yes", "answer": "yes"}, {"instruction": "Say no", "input": "", "output": "no", "answer": "no"}]' > "$out/data.json"
  $fura train --model "$model" --data "$out/data.json" --output "$out/run" --iters 2 --batch-size 2 --grad-accum 1 --val-size 0 > "$out/train.log"
  $fura merge --model "$model" --adapter "$out/run" --output "$out/hf" > /dev/null
fi

status=0
for base in gguf hf; do
  source=$model; [ "$base" = hf ] && source=$out/hf
  for type in $types; do
    file=$out/$base-$type.gguf
    $fura export --model "$source" --gguf "$file" --type "$type" > /dev/null 2>&1
    theirs=$("$simple" -m "$file" -n "$tokens" "$prompt" 2>/dev/null | tr -d '\r')
    ours=$prompt$($fura generate --model "$file" --prompt "$prompt" --max-tokens "$tokens" 2>/dev/null)
    if [ "$(echo "$theirs" | xargs)" = "$(echo "$ours" | xargs)" ]; then
      echo "$base → $type: same greedy text in llama.cpp and fura: $(echo "$ours" | xargs)"
    else
      echo "$base → $type: DIFFERS"; echo "  llama.cpp: $(echo "$theirs" | xargs)"; echo "  fura:      $(echo "$ours" | xargs)"
      # Where the ids part, and llama.cpp's own logits of its token and of fura's there.
      $fura generate --model "$file" --prompt "$prompt" --max-tokens "$tokens" --json 2>/dev/null > "$out/fura.json"
      "$top" "$file" "$tokens" "$prompt" 2>/dev/null > "$out/top.txt"
      python3 - "$out/fura.json" "$out/top.txt" <<'PY'
import json, sys
ours = json.load(open(sys.argv[1]))["ids"]
steps = [dict((int(i), float(l)) for i, l in (p.split(":") for p in line.split()[1:])) for line in open(sys.argv[2]) if line.startswith("TOP")]
for k, (mine, top) in enumerate(zip(ours, steps)):
    theirs = max(top, key=top.get)
    if mine != theirs:
        gap = f"{top[theirs] - top[mine]:.3f}" if mine in top else f"more than {top[theirs] - min(top.values()):.3f}"
        print(f"  parts at new token {k + 1}: llama.cpp picks id {theirs} (logit {top[theirs]:.3f}), fura id {mine}, "
              f"which llama.cpp puts {gap} lower")
        break
PY
      status=1
    fi
  done
done
exit $status
