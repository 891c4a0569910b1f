#!/bin/sh
# side by side (models BN-folded with `slimgo convert --fold-bn` first; x.npy: N(0,1) [1,1,28,28]): ORT batch 1, 1 thread, original / latency-budget / params-budget models, 5 alternating rounds in one process each
RUNJS=$(cd "$(dirname "$0")/../../tools/ort" && pwd)/run.js
cd "${OUT:-/tmp/lat/exp}"
for r in 1 2 3 4 5; do
  nice -n 10 node "$RUNJS" orig.onnx x.npy y.npy latf.onnx x.npy y.npy parf.onnx x.npy y.npy --timing --threads 1 --repeat 300 --warmup 20 --min-ms 1000
done
