#!/usr/bin/env bash
# The pipeline benchmark: train resnet20 on Fashion-MNIST with slimgo, then
# run `slimgo compress` with its defaults, and print the figures that
# bench/compress/README.md records.
#
# usage: bench/compress/run.sh [WORKDIR] [EPOCHS]
#   WORKDIR  where models and the report go (default /tmp/slimgo-bench-compress)
#   EPOCHS   baseline training epochs (default 20, the PyTorch reference recipe:
#            SGD Nesterov, one-cycle peak 0.1, wd 5e-4, crop (pad 2) + flip, batch 128)
# A baseline already in WORKDIR is reused; compress resumes if interrupted.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=${1:-/tmp/slimgo-bench-compress}
epochs=${2:-20}
mkdir -p "$work"
go build -o "$work/slimgo" ./cmd/slimgo
base="$work/resnet20.e$epochs.onnx"
if [ ! -f "$base" ]; then
  /usr/bin/time -v "$work/slimgo" train --arch resnet20 --data fashion-mnist --epochs "$epochs" \
    --augment crop,flip --out "$base" --json > "$work/train.json" 2> "$work/train.log"
fi
/usr/bin/time -v "$work/slimgo" compress --model "$base" --data fashion-mnist --out "$work/compress" --json \
  > "$work/compress.json" 2> "$work/compress.log"
/usr/bin/python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
s = json.load(open(w + "/compress/summary.json"))
print(f"baseline: {s['accuracy_before']:.2f}%  {s['params_before']} params  {s['macs_before']/1e6:.2f} M MACs  {s['bytes_before']} bytes")
print("| stage | accuracy | params | MACs | stored bytes | slimgo img/s | ORT img/s (b64) | ORT img/s (b1) | seconds |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for st in s["stages"]:
    print(f"| {st['name']} | {st['accuracy']:.2f}% | {st['params']} | {st['macs']/1e6:.2f} M | {st['bytes']} | "
          f"{st['images_per_s']:.0f} | {st.get('ort_images_per_s', 0):.0f} | {st.get('ort_batch1_images_per_s', 0):.0f} | {st.get('seconds', 0):.0f} |")
c = s.get("speed_check")
if c:
    print(f"side by side ({c['rounds']} rounds, best of each), original -> delivered img/s:")
    for k, name in [("images_per_s", "slimgo b64"), ("ort_images_per_s", "ORT b64"), ("ort_batch1_images_per_s", "ORT b1")]:
        x, y = c["before"].get(k, 0), c["after"].get(k, 0)
        if x and y:
            print(f"  {name}: {x:.0f} -> {y:.0f} ({y/x:.2f}x)")
print(f"compression {s['compression']:.1f}x, MACs {s['mac_reduction']:.2f}x fewer, "
      f"ORT speed-up b64 {s.get('speedup_ort', 0):.2f}x, b1 {s.get('speedup_ort_batch1', 0):.2f}x, "
      f"accuracy {s['accuracy_before']:.2f}% -> {s['accuracy']:.2f}%")
PY
grep -E "Elapsed|Maximum resident" "$work/compress.log" || true
