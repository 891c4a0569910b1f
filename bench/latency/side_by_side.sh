#!/bin/sh
# side by side: ORT batch 1, 1 thread, original / latency-budget / params-budget models, 5 alternating rounds in one process each
cd "${OUT:-/tmp/lat/exp}"
for r in 1 2 3 4 5; do
  nice -n 10 node /work/wt-latency/tools/ort/run.js orig.onnx x.npy y.npy latf.onnx x.npy y.npy parf.onnx x.npy y.npy --timing --threads 1 --repeat 300 --warmup 20 --min-ms 1000
done
