#!/bin/sh
# latency budget vs parameter budget on resnet20 (r20s.onnx), same delivered params
set -e
cd "${OUT:-/tmp/lat/exp}"
S=${SLIMGO:-/tmp/lat/slimgo}
COMMON="--model /tmp/rs/r20s.onnx --data fashion-mnist --method ddpg --episodes 40 --warmup 10 --train-limit 20000 --finetune-epochs 1 --seed 1"
date -u > times.txt
nice -n 10 $S prune $COMMON --target-latency $1 --out lat.onnx --json > lat.json 2> lat.log
date -u >> times.txt
P=$(python3 -c "import json; print(json.load(open('lat.json'))['params'])")
nice -n 10 $S prune $COMMON --target-params $P --out par.onnx --json > par.json 2> par.log
date -u >> times.txt
