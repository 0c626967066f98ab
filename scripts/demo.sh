#!/usr/bin/env bash
# The main job on the default model, on a fresh machine: fetch SmolLM2-135M-Instruct, fine-tune it with FuRA on a
# mix of the commonsense training splits (BoolQ, ARC-e, ARC-c, OBQA), and evaluate base and adapter on the seven
# commonsense eval suites (log-likelihood protocol). Prints suite | n | base | fura | difference, and the average.
# Everything lands in demo-output/ (git-ignored), including report.html (`fura compare`).
#
# DATA_DIR (default ../shared/data) holds commonsense/<suite>.train.json and commonsense-eval/<suite>.eval.json, in the
# LLM-Adapters format; DEMO_EXAMPLES (training examples, default 600), DEMO_LIMIT (questions per suite, default 100),
# DEMO_LR (default 2e-4) change the recipe.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${DATA_DIR:-../shared/data}
examples=${DEMO_EXAMPLES:-600}
limit=${DEMO_LIMIT:-100}
lr=${DEMO_LR:-2e-4}
source scripts/commonsense.sh

check_commonsense_data

start=$(date +%s)
scripts/setup.sh
swift build -c release --product fura
fura=.build/release/fura
model=cache/SmolLM2-135M-Instruct.Q4_1.gguf
out=demo-output
rm -rf "$out"; mkdir -p "$out"

echo "== 1. data: $examples examples drawn in equal shares from ${train_suites[*]} (training splits)"
make_commonsense_mix "$examples" "$out/train.json"

echo "== 2. evaluate the base model (log-likelihood of each answer, first $limit questions of each suite)"
evaluate_commonsense "$out/base" "$model"

echo "== 3. fine-tune with FuRA (full rank, output_one_block: the small core and the singular values train; 1 epoch)"
$fura train --model "$model" --data "$out/train.json" --method fura --output "$out/fura" \
  --epochs 1 --batch-size 4 --grad-accum 2 --lr "$lr" --max-seq-len 256 --val-size 0 --save-every 0

echo "== 4. evaluate the fine-tuned model (base + adapter, not merged)"
evaluate_commonsense "$out/fura" "$model" --adapter "$out/fura"

$fura compare "$out/base" "$out/fura" --format md --output "$out/report.md"
$fura compare "$out/base" "$out/fura" --output "$out/report.html"
echo
echo "accuracy (%) on the commonsense eval suites, log-likelihood protocol:"
sed -n '/^## By suite/,$p' "$out/report.md" | tail -n +3
elapsed=$(( $(date +%s) - start ))
printf '\ndemo took %d min %02d s. outputs: %s/ (train.json, base/ and fura/ with eval.json, metrics.jsonl, loss.svg,\nadapter/; report.md and report.html from `fura compare`)\n' $((elapsed / 60)) $((elapsed % 60)) "$out"
