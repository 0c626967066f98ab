#!/usr/bin/env bash
# The vision track's comparison (issue 14's table): one stage 1 (projector on captions), then stage 2 with FuRA, LoRA
# and DoRA from it, each evaluated with `fura eval --task image-qa` on held-out Fashion-MNIST test images; also stage 1
# alone (the untouched language model, asked through its chat template). Prints a markdown table: class accuracy,
# yes/no accuracy and F1, trainable parameters, wall time and peak RSS of each training run.
#
# VC_CAPTIONS (stage-1 records, default 1000), VC_TRAIN (stage-2 records, default 4000), VC_TEST (test records,
# default 1000: half class names, half yes/no), VC_SIZE (default 112), VC_METHODS (default "fura lora dora"),
# VC_EPOCHS (stage-2 epochs, default 1), VC_PROJECTOR_LR (stage 2's --mm-projector-lr, default 2e-4).
# Stage 2 draws its images with the captions' seed, so the captions' images are its first ones: the whole run
# trains on max(VC_CAPTIONS, VC_TRAIN) distinct images (issue 14 allows 4,000).
set -euo pipefail
cd "$(dirname "$0")/.."
captions=${VC_CAPTIONS:-1000}; train=${VC_TRAIN:-4000}; test=${VC_TEST:-1000}; size=${VC_SIZE:-112}
epochs=${VC_EPOCHS:-1}; projector_lr=${VC_PROJECTOR_LR:-2e-4}
methods=${VC_METHODS:-fura lora dora}
out=${VC_OUTPUT:-vision-compare}
fura=.build/release/fura
model=cache/SmolLM2-135M-Instruct.Q4_1.gguf
tower=cache/dinov2/vit_s_focus.onnx
scripts/setup.sh dinov2 >/dev/null
[ -n "${VC_SKIP_BUILD:-}" ] || swift build -c release --product fura >/dev/null  # VC_SKIP_BUILD=1: use the built binary
mkdir -p "$out"

$fura make-data --task fashion-mnist --split train --count "$captions" --questions caption --seed 11 --output "$out/captions"
$fura make-data --task fashion-mnist --split train --count "$train" --questions name,yesno --seed 11 --output "$out/train"
$fura make-data --task fashion-mnist --split test --count "$test" --questions name,yesno --seed 13 --output "$out/test"

timed() {  # timed NAME command…: runs it, keeps its log, wall seconds and peak RSS
  local name=$1; shift
  local start; start=$(date +%s)
  /usr/bin/time -v "$@" > "$out/$name.log" 2> "$out/$name.time"
  echo $(( $(date +%s) - start )) > "$out/$name.seconds"
}

evaluate() {  # evaluate NAME RUN [extra flags]
  local name=$1 run=$2; shift 2
  $fura eval --model "$model" --adapter "$run" --task image-qa --data "$out/test/data.json" --image-folder "$out/test" \
    --output "$out/$name.jsonl" --json "$@" > "$out/$name.eval.json.partial"
  mv "$out/$name.eval.json.partial" "$out/$name.eval.json"  # only a finished evaluation counts as kept
}

if [ ! -f "$out/stage1/summary.json" ]; then  # a finished stage 1 (and its evaluation) is kept: rerun stage 2 alone
  rm -rf "$out/stage1" "$out/stage1.eval.json"
  timed stage1 $fura train --model "$model" --data "$out/captions/data.json" --image-folder "$out/captions" \
    --vision-tower "$tower" --image-size "$size" --stage 1 --batch-size 8 --grad-accum 1 --max-seq-len 256 --val-size 0 \
    --save-every 0 --no-gradient-checkpointing --output "$out/stage1"
fi
[ -f "$out/stage1.eval.json" ] || evaluate stage1 "$out/stage1" --conversation-template chat

for method in $methods; do
  rm -rf "$out/stage2-$method"
  timed "stage2-$method" $fura train --model "$model" --data "$out/train/data.json" --image-folder "$out/train" \
    --vision-tower "$tower" --image-size "$size" --stage 2 --method "$method" --pretrain-mm-mlp-adapter "$out/stage1" \
    --batch-size 4 --grad-accum 2 --max-seq-len 256 --epochs "$epochs" --mm-projector-lr "$projector_lr" \
    --val-size 0 --save-every 0 --no-gradient-checkpointing --output "$out/stage2-$method"
  evaluate "stage2-$method" "$out/stage2-$method"
done

python3 - "$out" stage1 $(for m in $methods; do echo "stage2-$m"; done) <<'PY'
import json, re, sys
out, names = sys.argv[1], sys.argv[2:]
print("| run | class acc | yes/no acc | yes/no F1 | trainable | train wall | peak RSS |")
print("|---|---:|---:|---:|---:|---:|---:|")
for name in names:
    r = json.load(open(f"{out}/{name}.eval.json"))["tasks"][0]
    summary_path = f"{out}/{name}/summary.json"
    trainable = json.load(open(summary_path)).get("trainable_parameters", "-")
    time_text = open(f"{out}/{name}.time").read()
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", time_text).group(1)) / 1024 / 1024
    seconds = int(open(f"{out}/{name}.seconds").read())
    pct = lambda x: "-" if x is None else f"{100 * x:.1f}"
    print(f"| {name} | {pct(r.get('open_accuracy'))} | {pct(r.get('yes_no_accuracy'))} | {pct(r.get('yes_no_f1'))} | "
          f"{trainable:,} | {seconds // 60} min {seconds % 60} s | {rss:.2f} GB |")
PY
