#!/usr/bin/env bash
# Checks fura's GGUF exports with a real llama.cpp (not part of CI). Builds llama.cpp's llama-simple (greedy decoding)
# from the llama-cpp-python source package on PyPI, with cmake and ninja from PyPI, into cache/llama.cpp (about 5
# minutes on 2 cores, once). Then, from the default model (a GGUF base) and from an HF directory made from it
# (a 2-step FuRA adapter merged in), exports each --type in TYPES (default f16 q8_0 q4_0 q4_K) and compares the greedy
# continuation (TOKENS, default 48) of five prompts (or PROMPT; one of 260 tokens) by llama-simple with `fura generate --precision
# llama-cpp` (llama.cpp's arithmetic, bit for bit): they must be equal. It also counts how often plain f32 generation
# gives the same text (f32 parts from llama.cpp at near-ties, which llama.cpp's 8-bit activation rounding decides).
# It builds scripts/llama-cpp/greedy_top.cpp beside llama-simple: greedy decoding that prints the top logits of each
# step (DUMP_DIR=dir also writes every f32 tensor llama.cpp computes), for tracing any difference to its layer.
#
#   scripts/check-llama-cpp.sh            # one line per export; exit 1 when a text differs
set -euo pipefail
cd "$(dirname "$0")/.."
types=${TYPES:-f16 q8_0 q4_0 q4_K}
tokens=${TOKENS:-48}
if [ -n "${PROMPT:-}" ]; then prompts=("$PROMPT"); else
  prompts=("The capital of France is" "Once upon a time" "def fibonacci(n):" "The three most important inventions of the 20th century are"
           "$(python3 -c "print(' '.join(['The quick brown fox number 7 jumps over the lazy dog.'] * 20))")")  # 260 tokens: llama.cpp's tiled attention
fi
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
squeeze() { tr '\r\n' '  ' | tr -s ' ' | sed 's/^ //; s/ $//'; }  # one line, single spaces (texts hold quotes)
check() {  # check LABEL FILE: llama-simple's greedy text against fura generate --precision llama-cpp (must be equal)
  local label=$1 file=$2 p theirs ours exact=0 plain=0 total=0
  for p in "${prompts[@]}"; do
    total=$((total + 1))
    theirs=$("$simple" -m "$file" -n "$tokens" "$p" 2>/dev/null | squeeze)
    ours=$(echo "$p$($fura generate --model "$file" --prompt "$p" --max-tokens "$tokens" --precision llama-cpp 2>/dev/null)" | squeeze)
    [ "$(echo "$p$($fura generate --model "$file" --prompt "$p" --max-tokens "$tokens" 2>/dev/null)" | squeeze)" = "$theirs" ] && plain=$((plain + 1))
    if [ "$theirs" = "$ours" ]; then
      exact=$((exact + 1))
    else
      echo "$label, \"$p\": DIFFERS"; echo "  llama.cpp: $theirs"; echo "  fura:      $ours"
      status=1
    fi
  done
  echo "$label: --precision llama-cpp gives llama.cpp's greedy text on $exact of $total prompts (f32: $plain of $total)"
}

check "gguf base (Q4_1)" "$model"
for base in gguf hf; do
  source=$model; [ "$base" = hf ] && source=$out/hf
  for type in $types; do
    file=$out/$base-$type.gguf
    $fura export --model "$source" --gguf "$file" --type "$type" > /dev/null 2>&1
    check "$base → $type" "$file"
  done
done
exit $status
