#!/usr/bin/env bash
# Visual instruction tuning from nothing, LLaVA's two stages on SmolLM2-135M-Instruct with a frozen DINOv2-S tower:
# Fashion-MNIST as LLaVA records (`fura make-data`), stage 1 (the mlp2x_gelu projector alone on captions, plain
# template, lr 1e-3), stage 2 (FuRA on the seven projections + the projector at 2e-5, the model's chat template,
# class-name and yes/no questions), then `fura eval --task image-qa` on held-out test images. Everything lands in
# vision-output/ (git-ignored).
#
# VISION_TRAIN (stage-2 records, default 600), VISION_CAPTIONS (stage-1 records, default 600), VISION_TEST (test
# records, default 200), VISION_SIZE (image side, default 112), VISION_METHOD (stage 2's method, default fura),
# VISION_EPOCHS (stage 2, default 1) change the recipe.
set -euo pipefail
cd "$(dirname "$0")/.."
train=${VISION_TRAIN:-600}
captions=${VISION_CAPTIONS:-600}
test=${VISION_TEST:-200}
size=${VISION_SIZE:-112}
method=${VISION_METHOD:-fura}
epochs=${VISION_EPOCHS:-1}
out=${VISION_OUTPUT:-vision-output}

start=$(date +%s)
scripts/setup.sh dinov2
[ -d /usr/share/datasets/fashion-mnist ] || { echo "needs Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist)" >&2; exit 1; }
swift build -c release --product fura
fura=.build/release/fura
model=cache/SmolLM2-135M-Instruct.Q4_1.gguf
tower=cache/dinov2/vit_s_focus.onnx
mkdir -p "$out"
rm -rf "$out/stage1" "$out/stage2-$method"

echo "== 1. data: $captions captions (stage 1), $train class and yes/no questions (stage 2), $test test questions"
$fura make-data --task fashion-mnist --split train --count "$captions" --questions caption --seed 1 --output "$out/captions"
$fura make-data --task fashion-mnist --split train --count "$train" --questions name,yesno --seed 2 --output "$out/train"
$fura make-data --task fashion-mnist --split test --count "$test" --questions name,yesno --seed 3 --output "$out/test"

echo "== 2. stage 1: the projector alone (LLaVA pretraining: plain template, lr 1e-3, cosine, 1 epoch)"
$fura train --model "$model" --data "$out/captions/data.json" --image-folder "$out/captions" --vision-tower "$tower" \
  --image-size "$size" --stage 1 --batch-size 8 --grad-accum 1 --max-seq-len 256 --val-size 0 --save-every 0 \
  --no-gradient-checkpointing --output "$out/stage1"

echo "== 3. stage 2: $method on the language model + the projector (lr 2e-4, projector 2e-5, chat template)"
$fura train --model "$model" --data "$out/train/data.json" --image-folder "$out/train" --vision-tower "$tower" \
  --image-size "$size" --stage 2 --method "$method" --pretrain-mm-mlp-adapter "$out/stage1" --epochs "$epochs" \
  --batch-size 4 --grad-accum 2 --max-seq-len 256 --val-size 0 --save-every 0 --no-gradient-checkpointing \
  --output "$out/stage2-$method"

echo "== 4. evaluate on the test images (greedy answers; exact match, yes/no F1)"
$fura eval --model "$model" --adapter "$out/stage2-$method" --task image-qa --data "$out/test/data.json" \
  --image-folder "$out/test" --output "$out/stage2-$method/image-qa.jsonl" --json | tee "$out/stage2-$method/image-qa.json"

echo "== done in $(( $(date +%s) - start )) s"
