#!/usr/bin/env bash
# Fingerprints what slimgo writes, to show that a refactoring changed no
# behaviour: trains resnet8 on a slice of the bundled sample, runs
# `compress` and `prune --method ddpg` on it with seed 1, and prints one line
# per output file: its SHA-256, with the summaries' timing fields (seconds,
# images/s, speed-ups, dates, paths) removed first. GOMAXPROCS is fixed,
# since the float sums of parallel kernels depend on how work is split.
#
# usage: scripts/golden.sh [WORKDIR]     (default: a temporary directory)
#   before=$(scripts/golden.sh); git checkout NEW; after=$(scripts/golden.sh)
#   diff <(echo "$before") <(echo "$after")
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-$(mktemp -d)}
mkdir -p "$work"
export GOMAXPROCS=2
go build -o "$work/slimgo" ./cmd/slimgo
s="$work/slimgo"
d=(--data sample --train-limit 1200 --test-limit 300)
"$s" train --arch resnet8 "${d[@]}" --epochs 2 --seed 1 --out "$work/base.onnx" --json >"$work/train.json" 2>/dev/null
rm -rf "$work/c"
"$s" compress --model "$work/base.onnx" "${d[@]}" --out "$work/c" --seed 1 --no-ort \
  --sparse-epochs 1 --episodes 6 --warmup 2 --val-size 150 --finetune-epochs 1 \
  --layer-finetune-epochs 1 --quant-finetune-epochs 1 --blocks 1 --json >"$work/compress.json" 2>/dev/null
"$s" prune --model "$work/base.onnx" "${d[@]}" --method ddpg --episodes 6 --warmup 2 --val-size 150 \
  --target-params 40000 --finetune-epochs 1 --seed 1 --no-ort --out "$work/ddpg.onnx" --json >"$work/prune.json" 2>/dev/null

# strip drops the keys whose values are timings, dates or paths.
strip() {
  /usr/bin/python3 - "$1" <<'EOF'
import json, re, sys
timing = re.compile(r"(seconds|images_per_s|images_per_s_before|per_min|minutes|speedup|started|finished|speed_check|report|files|out|packed|plots|model|file|checkpoint)$")
def clean(v):
    if isinstance(v, dict):
        return {k: clean(x) for k, x in sorted(v.items()) if not timing.search(k)}
    if isinstance(v, list):
        return [clean(x) for x in v]
    if isinstance(v, str):  # a stage note quoting a rate
        return re.sub(r"[0-9.]+ episodes/min", "", v)
    return v
print(json.dumps(clean(json.load(open(sys.argv[1]))), sort_keys=True))
EOF
}
for f in base.onnx c/model.pruned.onnx c/model.shared.onnx c/model.slimpack ddpg.onnx; do
  echo "$(sha256sum <"$work/$f" | cut -c1-64)  $f"
done
for f in train.json compress.json prune.json c/summary.json; do
  echo "$(strip "$work/$f" | sha256sum | cut -c1-64)  $f (timings removed)"
done
