#!/usr/bin/env bash
# Fuzzes every parser of user files with libFuzzer (not part of CI): builds fura-fuzz with -sanitize=fuzzer into
# .build-fuzz/, writes the seed corpus (fura-fuzz corpus), then runs each format for FUZZ_SECONDS (default 600),
# FUZZ_JOBS formats at a time (default 1). Memory per input is capped (-rss_limit_mb, default 2048, and
# -malloc_limit_mb), so a size used before it is checked shows as a finding. Findings and logs land in
# fuzz-output/<format>/; replay one with: .build/release/fura-fuzz replay FORMAT fuzz-output/FORMAT/crash-…
#
#   scripts/fuzz.sh                       # all formats, 10 minutes each
#   FUZZ_SECONDS=60 scripts/fuzz.sh gguf tokenizer
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-600}
jobs=${FUZZ_JOBS:-1}
rss=${FUZZ_RSS_MB:-2048}
formats=("$@")
[ ${#formats[@]} -gt 0 ] || formats=(gguf safetensors tokenizer model-config run-config training-data adapter-config image onnx visual-data)

swift build -c release --product fura-fuzz
# Linked with lld: Debian's gold fails on the instrumented objects ("internal error in format_file_lineno"); a
# toolset file is how SwiftPM passes a flag to its link step.
mkdir -p .build-fuzz
echo '{"schemaVersion": "1.0", "swiftCompiler": {"extraCLIOptions": ["-use-ld=lld"]}}' > .build-fuzz/toolset.json
swift build -c release --product fura-fuzz --build-path .build-fuzz --toolset .build-fuzz/toolset.json \
  -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING -Xcc -fsanitize=fuzzer-no-link
fuzzer=.build-fuzz/release/fura-fuzz
out=fuzz-output
mkdir -p "$out"
.build/release/fura-fuzz corpus "$out/seeds"

run_one() {
  local format=$1 dir="$out/$1"
  mkdir -p "$dir/corpus"
  cp -n "$out/seeds/$format"/* "$dir/corpus/" 2>/dev/null || true
  FURA_FUZZ_FORMAT=$format "$fuzzer" "$dir/corpus" -max_total_time="$seconds" -rss_limit_mb="$rss" \
    -malloc_limit_mb="$rss" -max_len=262144 -timeout=20 -artifact_prefix="$dir/" -print_final_stats=1 \
    > "$dir/log.txt" 2>&1 && status=clean || status="FINDING (see $dir/)"
  local runs
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$dir/log.txt" | grep -o '[0-9]*$' || echo "?")
  echo "$format: $status after $seconds s, $runs inputs run, corpus $(ls "$dir/corpus" | wc -l) files"
}

pids=()
for format in "${formats[@]}"; do
  run_one "$format" &
  pids+=($!)
  if [ ${#pids[@]} -ge "$jobs" ]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
done
wait
