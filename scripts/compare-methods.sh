#!/usr/bin/env bash
# The paper's question at small scale: FuRA against LoRA, DoRA, PiSSA, full fine-tuning and QFuRA on SmolLM2, with the
# same data, the same steps and the same evaluation, then one report. Not part of CI (about an hour on 2 cores).
#
# Data as in scripts/demo.sh: COMPARE_EXAMPLES (default 600) examples mixed from the BoolQ, ARC-e, ARC-c and OBQA
# training splits under DATA_DIR (default ../shared/data), one epoch at batch 4 × 2; every method sees the same
# examples in the same order. Evaluation: the seven commonsense eval suites, first COMPARE_LIMIT (default 100) of each,
# log-likelihood protocol. COMPARE_METHODS (default "fura lora dora pissa full qfura") picks the methods.
# Learning rates are the reference's: 2e-4 for the adapters (lora/dora/pissa at rank 16, alpha 32), 1e-5 for full
# fine-tuning (its documented best; 2e-4 degrades it). Outputs: compare-output/<method>/, report.html, report.md.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${DATA_DIR:-../shared/data}
examples=${COMPARE_EXAMPLES:-600}
limit=${COMPARE_LIMIT:-100}
read -r -a methods <<< "${COMPARE_METHODS:-fura lora dora pissa full qfura}"
source scripts/commonsense.sh
check_commonsense_data

start=$(date +%s)
scripts/setup.sh
swift build -c release --product fura
fura=.build/release/fura
model=cache/SmolLM2-135M-Instruct.Q4_1.gguf
out=compare-output
rm -rf "$out"; mkdir -p "$out"

make_commonsense_mix "$examples" "$out/train.json"

echo "== base model"
evaluate_commonsense "$out/base" "$model"

runs=("$out/base")
for method in "${methods[@]}"; do
  case $method in
    full) extra=(--lr 1e-5) ;;
    lora|dora|pissa|qlora|qdora) extra=(--lr 2e-4 --lora-rank 16 --lora-alpha 32) ;;
    *) extra=(--lr 2e-4) ;;
  esac
  echo "== $method (${extra[*]})"
  $fura train --model "$model" --data "$out/train.json" --method "$method" --output "$out/$method" "${extra[@]}" \
    --epochs 1 --batch-size 4 --grad-accum 2 --max-seq-len 256 --val-size 0 --save-every 0
  if [ -d "$out/$method/model" ]; then   # full fine-tuning writes the whole model, not an adapter
    evaluate_commonsense "$out/$method" "$out/$method/model"
  else
    evaluate_commonsense "$out/$method" "$model" --adapter "$out/$method"
  fi
  runs+=("$out/$method")
done

$fura compare "${runs[@]}" --format md --output "$out/report.md"
$fura compare "${runs[@]}" --output "$out/report.html"
cat "$out/report.md"
elapsed=$(( $(date +%s) - start ))
printf '\ncompare-methods took %d min %02d s; report: %s/report.html\n' $((elapsed / 60)) $((elapsed % 60)) "$out"
