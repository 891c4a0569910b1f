#!/bin/bash
# The torchvision zoo as proof: train torchvision CNNs briefly in PyTorch,
# export them with torch.onnx.export's defaults, and run every slimgo command
# that matters on the files as they are: info, predict against ONNX Runtime,
# eval against PyTorch's accuracy, prune (slim, ddpg) and compress.
#
# usage: bench/models/zoo.sh [WORKDIR]      (default /tmp/slimgo-zoo-run)
#   MODELS="resnet18,darknet" bench/models/zoo.sh   to run a subset
#   bench/models/zoo.sh --assemble [WORKDIR]      only rewrite results/ from
#                                                 a finished WORKDIR
#
# Writes bench/models/results/MODEL.json (one per model, failures included
# with slimgo's error message), bench/models/results/native.json and
# bench/models/results/table.md; the models, data and logs stay in WORKDIR.
# Not part of go test or CI: about 35 minutes on 2 busy cores.
set -u
cd "$(dirname "$0")/../.."
REPO=$(pwd)
ASSEMBLE=0
if [ "${1:-}" = --assemble ]; then
  ASSEMBLE=1
  shift
fi
W=${1:-/tmp/slimgo-zoo-run}
MODELS=${MODELS:-resnet18,resnet50,mobilenet_v2,mobilenet_v3_small,vgg11_bn,darknet}
PY=/usr/bin/python3
ZOO=$REPO/bench/models/zoo.py
RES=$REPO/bench/models/results
BIN=$W/slimgo
NICE="nice -n 10"
export SLIMGO_ORT_DIR=$REPO/tools/ort
mkdir -p "$W" "$RES"
T0=$(date +%s)

DATA=$W/rgb-folder
NORM=(--mean imagenet --std imagenet)
LIMITS=(--train-limit 1000 --test-limit 1000)

# step NAME DIR CMD...: runs CMD (JSON on stdout) with its stderr in
# DIR/NAME.err; DIR/NAME.json gets the JSON plus "seconds", or on failure
# {"error": slimgo's one-line message, "exit": status}.
step() {
  local name=$1 dir=$2
  shift 2
  local t0 t1 rc
  t0=$(date +%s.%N)
  $NICE "$@" >"$dir/$name.out" 2>"$dir/$name.err"
  rc=$?
  t1=$(date +%s.%N)
  local secs
  secs=$(echo "$t1 - $t0" | bc)
  if [ $rc -eq 0 ] && jq -e . "$dir/$name.out" >/dev/null 2>&1; then
    jq -c --argjson s "$secs" '. + {seconds: $s}' "$dir/$name.out" >"$dir/$name.json"
  else
    local msg
    msg=$(grep -E '^(slimgo|ort_run.js|run.js):' "$dir/$name.err" | tail -1)
    [ -z "$msg" ] && msg=$(tail -1 "$dir/$name.err")
    jq -nc --arg e "$msg" --argjson rc $rc --argjson s "$secs" '{error: $e, exit: $rc, seconds: $s}' >"$dir/$name.json"
  fi
  echo "  $name: $(jq -c 'if .error then {error, exit} else {seconds} end' "$dir/$name.json")"
  return $rc
}

# agree NAME DIR MODEL: slimgo predict and ONNX Runtime on every test image
# through MODEL; DIR/NAME.json gets the comparison (or the failure).
agree() {
  local name=$1 dir=$2 model=$3
  if step "$name.predict" "$dir" "$BIN" predict --model "$model" --input "$W/x.npy" --out "$dir/$name.slimgo.npy" --json &&
    step "$name.ortrun" "$dir" node bench/models/ort_run.js "$model" "$W/x.npy" "$dir/$name.ort.npy"; then
    $PY "$ZOO" compare "$dir/$name.slimgo.npy" "$dir/$name.ort.npy" "$W/labels.npy" >"$dir/$name.json"
  else
    for f in predict ortrun; do
      [ -e "$dir/$name.$f.json" ] && jq -e .error "$dir/$name.$f.json" >/dev/null && cp "$dir/$name.$f.json" "$dir/$name.json"
    done
  fi
}

# assemble MODEL: one file per model, the figures the table needs (not the
# full summaries), from WORKDIR/MODEL/*.json.
assemble() {
  local m=$1 d=$W/$1
  rd() { if [ -e "$d/$1.json" ]; then cat "$d/$1.json"; else echo null; fi; }
  jq -n --arg m "$m" --slurpfile t "$W/$m.torch.json" \
    --slurpfile info <(rd info) --slurpfile ort <(rd ort) --slurpfile torch <(rd torch) --slurpfile ev <(rd eval) \
    --slurpfile slim <(rd slim) --slurpfile slimort <(rd slim.ort) \
    --slurpfile ddpg <(rd ddpg) --slurpfile ddpgort <(rd ddpg.ort) \
    --slurpfile comp <(rd compress) --slurpfile comport <(rd compress.ort) '
    def pr: if . == null then null elif .error then . else
      {method, bn_restored, accuracy_before, accuracy_pruned, accuracy, params_before, params, macs_before, macs,
       images_per_s_before, images_per_s, best_episode, mode, seconds} | with_entries(select(.value != null)) end;
    $info[0] as $info | $ev[0] as $ev | $comp[0] as $comp |
    {model: $m, torch: $t[0],
     info: (if $info == null or $info.error then $info else ($info | {params, macs, bytes, layers, nodes, prunable_groups,
            residual_blocks, removable_blocks: (.removable_blocks // [] | length), input, file_batch, ops, seconds}) end),
     ort: $ort[0], torch_vs_slimgo: $torch[0],
     eval: (if $ev == null or $ev.error then $ev else ($ev | {accuracy, images, images_per_s, seconds}) end),
     slim: ($slim[0] | pr), slim_ort: $slimort[0],
     ddpg: ($ddpg[0] | pr), ddpg_ort: $ddpgort[0],
     compress: (if $comp == null or $comp.error then $comp else ($comp | {accuracy_before, accuracy, params_before, params,
       macs_before, macs, bytes_before, bytes, compression, speedup, removed_blocks, best_episode, seconds,
       stages: [.stages[] | {name, accuracy, params, macs, bytes, seconds, notes}]}) end),
     compress_ort: $comport[0]}' >"$RES/$m.json"
}

if [ $ASSEMBLE = 0 ]; then
  go build -o "$BIN" ./cmd/slimgo || exit 1
  # what ran where, for the README
  jq -n --arg commit "$(git rev-parse HEAD)" --arg dirty "$(git status --porcelain -- '*.go' | wc -l)" \
    --arg start "$(date -u +%FT%TZ)" --arg cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)" \
    --argjson cores "$(nproc)" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" --arg go "$(go version)" \
    --arg torch "$(cd /tmp && $PY -c 'import torch, torchvision; print(torch.__version__, torchvision.__version__)')" \
    --arg ort "$(jq -r .version tools/ort/node_modules/onnxruntime-node/package.json 2>/dev/null)" \
    '{commit: $commit, go_files_changed: ($dirty | tonumber), start: $start, cpu: $cpu, cores: $cores,
      load_at_start: $load, go: $go, torch_torchvision: $torch, onnxruntime_node: $ort}' >"$W/run.json"
  if [ ! -e tools/ort/node_modules/onnxruntime-node/package.json ]; then
    (cd tools/ort && npm install --ignore-scripts --no-audit --no-fund) || exit 1
  fi

  # PyTorch: the image folder, training, export. Run from WORKDIR: the
  # repository's onnx/ folder would shadow the python onnx package.
  # Two one-thread training processes side by side, the models split so both
  # take about as long.
  rm -f "$W"/*.torch.json "$W"/torch.*.log
  (cd "$W" && $NICE $PY "$ZOO" data --out "$W") || exit 1
  A=$(echo "$MODELS" | tr , '\n' | grep -xE 'vgg11_bn|mobilenet_v3_small|darknet' | paste -sd,)
  B=$(echo "$MODELS" | tr , '\n' | grep -vxE 'vgg11_bn|mobilenet_v3_small|darknet' | paste -sd,)
  for g in "$A" "$B"; do
    [ -n "$g" ] && (cd "$W" && $NICE $PY "$ZOO" train --out "$W" --models "$g" >"$W/torch.$g.log" 2>&1) &
  done
  wait
  cat "$W"/torch.*.log | grep -v Warning

  for m in ${MODELS//,/ }; do
    echo "== $m ($(($(date +%s) - T0)) s)"
    d=$W/$m
    rm -rf "$d"
    mkdir -p "$d"
    tj=$W/$m.torch.json
    onnx=$(jq -r '.onnx // empty' "$tj" 2>/dev/null)
    if [ -z "$onnx" ]; then
      continue
    fi
    step info "$d" "$BIN" info --model "$onnx" --json
    agree ort "$d" "$onnx"
    $PY "$ZOO" compare "$d/ort.slimgo.npy" "${onnx%.onnx}.torch.npy" "$W/labels.npy" >"$d/torch.json" 2>/dev/null || echo '{}' >"$d/torch.json"
    step eval "$d" "$BIN" eval --model "$onnx" --data "$DATA" "${NORM[@]}" --json
    step slim "$d" "$BIN" prune --method slim --ratio 0.5 --finetune-epochs 1 --model "$onnx" --data "$DATA" \
      "${NORM[@]}" "${LIMITS[@]}" --no-ort --out "$d/slim.onnx" --json
    [ -e "$d/slim.onnx" ] && agree slim.ort "$d" "$d/slim.onnx"
    params=$(jq -r '.params // 0' "$d/info.json")
    step ddpg "$d" "$BIN" prune --method ddpg --target-params $((params / 2)) --episodes 6 --warmup 2 --val-size 200 \
      --finetune-epochs 1 --model "$onnx" --data "$DATA" "${NORM[@]}" "${LIMITS[@]}" --no-ort --out "$d/ddpg.onnx" --json
    [ -e "$d/ddpg.onnx" ] && agree ddpg.ort "$d" "$d/ddpg.onnx"
    step compress "$d" "$BIN" compress --model "$onnx" --data "$DATA" "${NORM[@]}" "${LIMITS[@]}" \
      --sparse-epochs 1 --episodes 6 --warmup 2 --val-size 200 --finetune-epochs 1 --layer-finetune-epochs 1 \
      --quant-finetune-epochs 0 --blocks 1 --no-ort --restart --out "$d/compress" --json
    [ -e "$d/compress/model.pruned.onnx" ] && agree compress.ort "$d" "$d/compress/model.pruned.onnx"
  done

  # vgg11_bn at its native 224x224 input (untrained): import and arithmetic only.
  echo "== vgg11_bn at 224x224 ($(($(date +%s) - T0)) s)"
  d=$W/native
  mkdir -p "$d"
  if (cd "$W" && $NICE $PY "$ZOO" native --out "$d" >"$d/torch.log" 2>&1); then
    step info "$d" "$BIN" info --model "$d/vgg11_bn-224.onnx" --json
    step predict "$d" "$BIN" predict --model "$d/vgg11_bn-224.onnx" --input "$d/x224.npy" --out "$d/slimgo.npy" --json
    step ortrun "$d" node bench/models/ort_run.js "$d/vgg11_bn-224.onnx" "$d/x224.npy" "$d/ort.npy"
  fi
fi

for m in ${MODELS//,/ }; do
  if [ -e "$W/$m/info.json" ]; then
    assemble "$m"
  elif [ -e "$W/$m.torch.json" ]; then # PyTorch could not export it
    jq -n --arg m "$m" --slurpfile t "$W/$m.torch.json" '{model: $m, torch: $t[0]}' >"$RES/$m.json"
  fi
done
d=$W/native
if [ -e "$d/info.json" ]; then
  $PY "$ZOO" compare "$d/slimgo.npy" "$d/ort.npy" >"$d/ort.json" 2>/dev/null || echo null >"$d/ort.json"
  $PY "$ZOO" compare "$d/slimgo.npy" "$d/vgg11_bn-224.torch.npy" >"$d/torch.json" 2>/dev/null || echo null >"$d/torch.json"
  jq -n --slurpfile info "$d/info.json" --slurpfile ort "$d/ort.json" --slurpfile torch "$d/torch.json" \
    '{model: "vgg11_bn (224x224, untrained)", info: ($info[0] | {params, macs, input, file_batch, ops}),
      ort: $ort[0], torch_vs_slimgo: $torch[0]}' >"$RES/native.json"
fi
if [ $ASSEMBLE = 0 ]; then
  jq --argjson s $(($(date +%s) - T0)) --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
    '. + {seconds: $s, load_at_end: $load}' "$W/run.json" >"$RES/run.json"
fi
$PY "$ZOO" table "$RES" >"$RES/table.md"
cat "$RES/table.md"
[ $ASSEMBLE = 0 ] && echo "total $(($(date +%s) - T0)) s"
