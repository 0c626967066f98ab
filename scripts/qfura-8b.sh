#!/usr/bin/env bash
# QFuRA (and QLoRA) at the paper's size on this machine: writes a Llama-3-8B-shaped HF model with random bf16
# weights (16 GB in cache/llama3-8b-random, once), asks `fura plan` what it needs, then trains 3 steps of each method
# at batch 1 x 256 with gradient checkpointing on one fixed example, printing each run's loss, step rate and peak RSS.
#
# Q8B_METHODS (default "qfura qlora"), Q8B_PRECISION (default bf16), Q8B_OUTPUT (default qfura-8b/). Needs ~17 GB of
# disk and ~14 GiB of memory; each run takes 5-8 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
methods=${Q8B_METHODS:-qfura qlora}
precision=${Q8B_PRECISION:-bf16}
out=${Q8B_OUTPUT:-qfura-8b}
model=cache/llama3-8b-random
fura=.build/release/fura
[ -n "${Q8B_SKIP_BUILD:-}" ] || swift build -c release --product fura >/dev/null  # Q8B_SKIP_BUILD=1: use the built binary
mkdir -p "$out" cache

# Llama-3-8B's config (the paper's model), untied head.
cat > "$out/llama3-8b-config.json" <<'EOF'
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336,
 "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256,
 "rope_theta": 500000.0, "rms_norm_eps": 1e-05, "max_position_embeddings": 8192, "tie_word_embeddings": false,
 "hidden_act": "silu", "torch_dtype": "bfloat16"}
EOF
[ -f "$model/config.json" ] || $fura make-model --config "$out/llama3-8b-config.json" --random --seed 1 --dtype bf16 --output "$model"

# One example of well over 256 tokens (ten math answers after one question): every step sees the same batch.
python3 - "$out/fixed.json" <<'EOF'
import json, sys
rows = json.load(open("../shared/data/math/math_data.train.json"))
example = {"instruction": rows[0]["instruction"], "input": "", "output": " ".join(r["output"].strip() for r in rows[:10]),
           "answer": rows[0]["answer"]}
json.dump([example], open(sys.argv[1], "w"))
EOF

for method in $methods; do
  $fura plan --config "$model/config.json" --method "$method" --batch-size 1 --seq-len 256 --gradient-checkpointing --precision "$precision" | grep -E "^trainable|total per process"
  rm -rf "$out/$method"
  /usr/bin/time -v $fura train --model "$model" --data "$out/fixed.json" --method "$method" --iters 3 --batch-size 1 \
    --grad-accum 1 --max-seq-len 256 --gradient-checkpointing --val-size 0 --warmup 0 --lr 1e-3 --precision "$precision" \
    --output "$out/$method" > "$out/$method.log" 2>&1
  grep -E "^(qfura|qlora|qdora|fura|lora):|^step [0-9]" "$out/$method.log"
  grep -E "Elapsed|Maximum resident" "$out/$method.log"
done
