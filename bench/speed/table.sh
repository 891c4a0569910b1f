#!/usr/bin/env bash
# The speed table of issue 24: inference images/s of slimgo, ONNX Runtime
# and PyTorch side by side in one run, at 1 and 2 threads, on
#   - torchvision resnet18, resnet50, mobilenet_v2, mobilenet_v3_small and
#     vgg11_bn at 3x224x224, exported by Debian's PyTorch with random weights
#     and torch.onnx.export's defaults (export_torchvision.py), batch 1 and 8;
#   - slimgo's resnet8 and resnet20 at 1x28x28 (`slimgo train --epochs 1` on
#     a slice of the bundled sample, then `convert --fold-bn`), batch 1, 8, 64.
# slimgo and ONNX Runtime are timed by `slimgo bench --ort` (same file, batch
# and threads; random N(0,1) input), PyTorch by torch_speed.py infer (the
# same architecture in eager mode, eval, no_grad; OMP_WAIT_POLICY=PASSIVE,
# see TABLE.md). Every figure is the
# fastest timed pass after warm-up. Writes bench/speed/TABLE.md (and keeps
# the raw JSON lines in WORKDIR/results.jsonl).
#
# usage: bench/speed/table.sh [WORKDIR]      (default /tmp/slimgo-speed-table)
#   MODELS="resnet18 resnet8" bench/speed/table.sh   # a subset (TABLE.md then lists only those)
#   THREADS="1 2" OUT=path/TABLE.md                  # thread counts, where the table goes
# Needs /usr/bin/python3 with torch + torchvision, node with tools/ort's
# onnxruntime-node (scripts/setup-peers.sh installs both) and Go.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=${1:-/tmp/slimgo-speed-table}
models=${MODELS:-"resnet18 resnet50 mobilenet_v2 mobilenet_v3_small vgg11_bn resnet8 resnet20"}
threads=${THREADS:-"1 2"}
out=${OUT:-$repo/bench/speed/TABLE.md}
py=/usr/bin/python3
mkdir -p "$work/models"
cd "$work" # python must not run from the repository root (its onnx/ shadows the module)
start=$(date -u +%s)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

echo "building slimgo" >&2
go build -C "$repo" -o "$work/slimgo" ./cmd/slimgo
s="$work/slimgo"

big=() small=()
for m in $models; do
  case $m in
  resnet8 | resnet20) small+=("$m") ;;
  *) big+=("$m") ;;
  esac
done
if [ ${#big[@]} -gt 0 ]; then
  echo "exporting ${big[*]} from torchvision" >&2
  nice -n 5 "$py" "$repo/bench/speed/export_torchvision.py" "$work/models" 224 "${big[@]}" >&2
fi
for m in "${small[@]}"; do
  if [ ! -f "models/$m.onnx" ]; then
    echo "writing $m with slimgo train --epochs 1 + convert --fold-bn" >&2
    "$s" train --arch "$m" --data sample --train-limit 256 --test-limit 64 --epochs 1 --out "models/$m.bn.onnx" --json >/dev/null 2>>"$work/log"
    "$s" convert --model "models/$m.bn.onnx" --fold-bn --out "models/$m.onnx" --json >/dev/null 2>>"$work/log"
  fi
done

results="$work/results.jsonl"
: >"$results"
for m in $models; do
  case $m in
  resnet8 | resnet20) batches="1 8 64" timing=(2 10 1) ;; # warm-up, passes at least, seconds at least
  *) batches="1 8" timing=(1 3 1) ;;
  esac
  for b in $batches; do
    for t in $threads; do
      echo "$m batch $b threads $t" >&2
      sl=$(nice -n 5 "$s" bench --model "models/$m.onnx" --batch "$b" --threads "$t" --ort \
        --warmup "${timing[0]}" --passes "${timing[1]}" --min-seconds "${timing[2]}" --json 2>>"$work/log") || sl=null
      pt=$(OMP_WAIT_POLICY=PASSIVE nice -n 5 "$py" "$repo/bench/speed/torch_speed.py" infer "$m" "$b" "${timing[1]}" "$t" "${timing[0]}" "${timing[2]}" 2>>"$work/log") || pt=null
      echo "{\"model\": \"$m\", \"batch\": $b, \"threads\": $t, \"slimgo\": $sl, \"torch\": $pt}" >>"$results"
    done
  done
done

secs=$(($(date -u +%s) - start))
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
cmd="bench/speed/table.sh${1:+ $1}"
[ -n "${MODELS:-}" ] && cmd="MODELS=\"$MODELS\" $cmd"
[ -n "${THREADS:-}" ] && cmd="THREADS=\"$THREADS\" $cmd"
"$py" - "$results" "$out" "$cmd" "$secs" "$load_before" "$load_after" "$repo" <<'PYEOF'
import json, os, platform, subprocess, sys, time

results, out, cmd, secs, load_before, load_after, repo = sys.argv[1:]
rows = [json.loads(l) for l in open(results) if l.strip()]


def sh(*a):
    try:
        return subprocess.run(a, capture_output=True, text=True, cwd="/").stdout.strip()
    except OSError:
        return "?"


cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
ort_version = json.load(open(os.path.join(repo, "tools/ort/node_modules/onnxruntime-node/package.json")))["version"]
import torch  # noqa: E402 (after the figures: its import costs seconds)

commit = sh("git", "-C", repo, "log", "-1", "--format=%h %cd", "--date=short")


def f(v):
    return "—" if v is None else (f"{v:,.0f}" if v >= 100 else f"{v:.1f}")


def ratio(a, b):
    return "—" if not a or not b else f"{a / b:.2f}x"


lines = [
    "# Inference speed: slimgo vs ONNX Runtime vs PyTorch",
    "",
    f"Written by `{cmd}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} "
    f"({int(secs) // 60} min {int(secs) % 60} s), slimgo at {commit}.",
    "",
    f"Machine: {cpu}, {os.cpu_count()} cores, Linux {platform.release()}; "
    f"{sh('go', 'version')}; ONNX Runtime {ort_version} (npm onnxruntime-node, CPU), node {sh('node', '--version')}; "
    f"PyTorch {torch.__version__} (Debian), torchvision models with random weights.",
    "",
    (f"**The machine was loaded** (other jobs shared its {os.cpu_count()} cores): "
     f"load average {load_before} when the run started, {load_after} when it ended. "
     "Every figure is the fastest timed pass after warm-up, which other load disturbs least, "
     "but absolute figures are well below what an idle machine gives and the ratios are noisy."
     if max(float(load_before.split()[0]), float(load_after.split()[0])) > 2 else
     f"Load average {load_before} when the run started, {load_after} when it ended "
     f"(nearly idle; 1-minute, 5-minute and 15-minute figures)."),
    "",
    "Images/s at the given batch and threads; random N(0,1) input of the model's shape. "
    "slimgo and ONNX Runtime from `slimgo bench --model M --batch B --threads T --ort` "
    "(slimgo: T engine workers; ONNX Runtime: T intra-op threads, 1 inter-op, all graph optimizations, "
    "on the same .onnx file, its fixed batch freed when B > 1); PyTorch from "
    "`bench/speed/torch_speed.py infer M B PASSES T` (torch.set_num_threads(T), eager eval mode, no_grad, "
    "BN as modules, `OMP_WAIT_POLICY=PASSIVE`: with libgomp's default its idle OpenMP threads spin, and on this "
    "oversubscribed machine 2-thread runs came out 10-100x slower than 1-thread ones, e.g. resnet8 at batch 8 and "
    "2 threads 10.6 images/s with the default against 1,182 with PASSIVE, measured one after the other at 02:42 UTC "
    "on the run day; at 1 thread it makes no difference). 224x224 models: 1 warm-up, best of at least 3 passes and 1 s per side; "
    "28x28 models: 2 warm-ups, best of at least 10 passes and 1 s. Ratios above 1 mean slimgo is faster.",
    "",
    "| model | input | batch | threads | slimgo | ONNX Runtime | PyTorch | slimgo / ORT | slimgo / PyTorch |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|",
]
info = {}
for r in rows:
    sl, pt = r["slimgo"] or {}, r["torch"] or {}
    a, o, p = sl.get("images_per_s"), sl.get("ort_images_per_s"), pt.get("images_per_s")
    if sl:
        i = info.setdefault(r["model"], [sl.get("params"), sl.get("macs"), []])
        if sl.get("ort_model") not in i[2]:
            i[2].append(sl.get("ort_model"))
    shape = "x".join(str(d) for d in sl.get("input", [])[1:]) or "?"
    lines.append(f"| {r['model']} | {shape} | {r['batch']} | {r['threads']} | {f(a)} | {f(o)} | {f(p)} | {ratio(a, o)} | {ratio(a, p)} |")
lines += ["", "| model | params | MACs per image | file ONNX Runtime ran |", "|---|---:|---:|---|"]
for m, (params, macs, what) in info.items():
    lines.append(f"| {m} | {params:,} | {macs / 1e6:,.1f} M | {'; '.join(str(w) for w in what)} |")
failed = [r for r in rows if r["slimgo"] is None or r["torch"] is None]
if failed:
    lines += ["", "Failed runs (see WORKDIR/log): " + ", ".join(
        f"{r['model']} b{r['batch']} t{r['threads']} ({'slimgo bench' if r['slimgo'] is None else 'PyTorch'})" for r in failed)]
open(out, "w").write("\n".join(lines) + "\n")
print(f"wrote {out}", file=sys.stderr)
PYEOF
