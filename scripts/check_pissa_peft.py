"""Checks a fura PiSSA (or any LoRA-family) adapter in PyTorch PEFT: loads the base model the adapter was trained on
(an HF directory, or a GGUF that transformers dequantizes), applies the adapter with PeftModel, and compares the
per-token log-probs of a text with `fura score --adapter` (whose --json output is passed in).

Usage: python3 scripts/check_pissa_peft.py MODEL ADAPTER FURA_SCORE.json     Needs: pip install torch transformers peft gguf
Not part of the test suite (it needs PyTorch); the suite checks PEFT's own PiSSA files (AdapterPEFTPiSSATests).
"""
import json, os, sys
import torch
from transformers import AutoModelForCausalLM
from peft import PeftModel

model_path, adapter, score_path = sys.argv[1:4]
if model_path.endswith(".gguf"):
    base = AutoModelForCausalLM.from_pretrained(os.path.dirname(os.path.abspath(model_path)), gguf_file=os.path.basename(model_path),
                                                dtype=torch.float32)
else:
    base = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)
model = PeftModel.from_pretrained(base.eval(), adapter).eval()
ours = json.load(open(score_path))
ids = torch.tensor([ours["ids"]])
with torch.no_grad():
    logp = torch.log_softmax(model(input_ids=ids).logits[0].double(), dim=-1)
    base_logp = None
    with model.disable_adapter():
        base_logp = torch.log_softmax(model(input_ids=ids).logits[0].double(), dim=-1)
theirs = [logp[t - 1, ids[0, t]].item() for t in range(1, ids.shape[1])]
plain = [base_logp[t - 1, ids[0, t]].item() for t in range(1, ids.shape[1])]
gap = max(abs(a - b) for a, b in zip(theirs, ours["token_logprobs"]))
moved = max(abs(a - b) for a, b in zip(theirs, plain))
print(f"{len(theirs)} tokens: max |fura - PEFT| log-prob = {gap:.2e}; the adapter moves log-probs by up to {moved:.3f}")
sys.exit(0 if gap < 1e-3 else 1)
