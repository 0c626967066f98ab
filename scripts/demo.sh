#!/usr/bin/env bash
# The main job on the default model, on a fresh machine: fetch SmolLM2-135M-Instruct, make a small
# task it does poorly on, evaluate it, fine-tune it with FuRA, evaluate again, print before/after.
# Everything lands in demo-output/ (git-ignored). Takes about 10 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build -c release --product fura
fura=.build/release/fura
model=cache/SmolLM2-135M-Instruct.Q4_1.gguf
out=demo-output
task=${DEMO_TASK:-animal}
iters=${DEMO_ITERS:-80}
lr=${DEMO_LR:-5e-4}
rm -rf "$out"; mkdir -p "$out"

echo "== 1. data: generated '$task' questions (true/false), disjoint seeds for train and test"
$fura make-data --task "$task" --count 1200 --seed 1 --output "$out/train.json"
$fura make-data --task "$task" --count 200 --seed 2 --output "$out/test.json"

evaluate() {  # $1 = label, remaining = extra flags
  local label=$1; shift
  $fura eval --model "$model" "$@" --task boolq --data "$out/test.json" --protocol generate \
    --num-beams 1 --max-new-tokens 12 --batch-size 25 --output "$out/eval-$label.jsonl" --json > "$out/eval-$label.json"
  local json=$out/eval-$label.json
  local correct n
  correct=$(sed -n 's/.*"correct" : \([0-9]*\).*/\1/p' "$json" | head -n 1)
  n=$(sed -n 's/.*"n" : \([0-9]*\).*/\1/p' "$json" | head -n 1)
  echo "$correct/$n correct"
}

echo "== 2. evaluate the base model (greedy, answer = first true/false in the reply)"
before=$(evaluate before)
echo "base model: $before"

echo "== 3. fine-tune with FuRA (output_one_block, small core + singular values train; $iters steps)"
$fura train --model "$model" --data "$out/train.json" --method fura --output "$out/run" \
  --iters "$iters" --batch-size 8 --grad-accum 1 --lr "$lr" --val-size 40 --eval-every 20 --save-every 0 \
  --no-gradient-checkpointing

echo "== 4. evaluate the fine-tuned model (base + adapter, not merged)"
after=$(evaluate after --adapter "$out/run/adapter")
echo
echo "accuracy on $task (200 held-out questions): before $before, after $after"
echo "outputs: $out/ (train/test data, eval-*.jsonl per question, run/metrics.jsonl, run/loss.svg, run/adapter/)"
