# Sourced by scripts/demo.sh and scripts/compare-methods.sh: the commonsense recipe they share.
# Needs $data (the DATA_DIR), $fura and $limit set by the caller.
train_suites=(boolq ARC-Easy ARC-Challenge openbookqa)
eval_suites=(boolq piqa social_i_qa winogrande ARC-Easy ARC-Challenge openbookqa)

# Exits with one line naming the first missing data file, and where the files come from.
check_commonsense_data() {
  local missing=()
  for s in "${train_suites[@]}"; do [ -s "$data/commonsense/$s.train.json" ] || missing+=("$data/commonsense/$s.train.json"); done
  for s in "${eval_suites[@]}"; do [ -s "$data/commonsense-eval/$s.eval.json" ] || missing+=("$data/commonsense-eval/$s.eval.json"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "$(basename "$0"): missing ${missing[0]} (and $((${#missing[@]} - 1)) more); set DATA_DIR to a folder holding" \
      "commonsense/ and commonsense-eval/ (see \"Where the demo's data comes from\" in README.md)" >&2
    exit 1
  fi
}

# $1 = examples, $2 = output file: an equal-share mix of the training splits (seed 1).
make_commonsense_mix() {
  local mix=()
  for s in "${train_suites[@]}"; do mix+=(--mix "$data/commonsense/$s.train.json"); done
  $fura make-data "${mix[@]}" --count "$1" --seed 1 --output "$2"
}

# $1 = run directory the report is saved in (eval.json; the table in eval.txt), $2 = model; remaining = extra flags
# (--adapter).
evaluate_commonsense() {
  local dir=$1 model=$2; shift 2
  local args=()
  for s in "${eval_suites[@]}"; do args+=(--task "$s" --data "$data/commonsense-eval/$s.eval.json"); done
  mkdir -p "$dir"
  $fura eval --model "$model" "$@" "${args[@]}" --protocol loglikelihood --limit "$limit" --run-dir "$dir" > "$dir/eval.txt"
}
