#!/usr/bin/env python3
"""Quality experiments of slimgo's pruning and clustering on one trained model.

usage: bench/experiments/run.py BASE.onnx OUTDIR [--data fashion-mnist]
           [--only slim,layer,ddpg,quantize] [--seeds 1,2,3] [--episodes 60]
           [--ft-train-limit 20000]

Runs the slimgo CLI (built once into OUTDIR), collects every command's JSON
summary into OUTDIR/results.json and writes OUTDIR/results.md:
  quantize  clustering of every Conv/Gemm layer without fine-tuning, at several
            BIRCH thresholds and fixed K (issue: adaptive clustering)
  slim      global BN-gamma threshold to 50% of the parameters + 1 epoch fine-tuning
  layer     3 residual blocks removed + 1 epoch fine-tuning
  ddpg      DDPG vs uniform vs global threshold at 50% of the parameters, before
            and after the same fine-tuning, for each seed
Every figure in results.md comes from a command run here; nothing is typed in.
"""
import argparse, json, os, subprocess, sys, time

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base"); ap.add_argument("out")
    ap.add_argument("--data", default="fashion-mnist")
    ap.add_argument("--only", default="quantize,slim,layer,ddpg")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--episodes", type=int, default=60)
    ap.add_argument("--ft-epochs", type=int, default=1)
    ap.add_argument("--ft-train-limit", type=int, default=20000,
                    help="training examples used by the DDPG comparison's search and fine-tuning")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    exe = os.path.join(os.path.abspath(a.out), "slimgo")
    subprocess.run(["go", "build", "-o", exe, "./cmd/slimgo"], cwd=root, check=True)
    resfile = os.path.join(a.out, "results.json")
    results = json.load(open(resfile)) if os.path.exists(resfile) else {}

    def run(key, args):
        if key in results:
            return results[key]
        t0 = time.time()
        log = open(os.path.join(a.out, key + ".log"), "w")
        p = subprocess.run([exe] + args + ["--json"], stdout=subprocess.PIPE, stderr=log, text=True)
        if p.returncode != 0:
            sys.exit(f"{key}: exit {p.returncode}, see {log.name}")
        r = json.loads(p.stdout)
        r["_seconds"] = time.time() - t0
        r["_command"] = "slimgo " + " ".join(args)
        results[key] = r
        json.dump(results, open(resfile, "w"), indent=1)
        print(f"{key}: {r['_seconds']:.0f}s", file=sys.stderr)
        return r

    info = run("info", ["info", "--model", a.base])
    base_eval = run("eval", ["eval", "--model", a.base, "--data", a.data])
    half = info["params"] // 2
    only = a.only.split(",")
    md = [f"# slimgo quality experiments\n", f"Model `{a.base}`: {info['params']} params, "
          f"{info['macs']/1e6:.2f} M MACs, test accuracy {base_eval['accuracy']:.2f}% on {a.data}.\n"]

    if "quantize" in only:
        md += ["## Clustering every Conv/Gemm layer (no fine-tuning)\n",
               "bits/weight: fixed-width indices + float32 codebook; stored: as in the packed file (indices Huffman-coded where smaller).\n",
               "| setting | accuracy | change | bits/weight | stored bits/weight | packed bytes | compression vs float ONNX |",
               "|---|---:|---:|---:|---:|---:|---:|"]
        for name, extra in [("T=0.1 std", ["--threshold-scale", "0.1"]), ("T=0.15 std", ["--threshold-scale", "0.15"]),
                            ("T=0.2 std", ["--threshold-scale", "0.2"]), ("T=0.3 std", ["--threshold-scale", "0.3"]),
                            ("K=16", ["--clusters", "16"]), ("K=8", ["--clusters", "8"])]:
            key = "quantize " + name
            r = run(key, ["quantize", "--model", a.base, "--data", a.data, "--out", os.path.join(a.out, key.replace(" ", "_").replace("=", "") + ".onnx")] + extra)
            md.append(f"| {name} | {r['accuracy']:.2f}% | {r['accuracy']-r['accuracy_before']:+.2f} | {r['bits_per_weight']:.2f} | "
                      f"{r['stored_bits_per_weight']:.2f} | {r['bytes']} | {r['compression']:.1f}x |")
        md.append("")

    def prune_row(label, r):
        before = f"{r['accuracy_pruned']:.2f}%" if "accuracy_pruned" in r else "-"
        return (f"| {label} | {r['params']} | {r['macs']/1e6:.2f} M | {before} | "
                f"{r['accuracy']:.2f}% | {r['accuracy']-r['accuracy_before']:+.2f} | {r['_seconds']:.0f} s |")

    if "slim" in only or "layer" in only:
        md += ["## Channel and layer pruning, full training set\n",
               "| run | params | MACs | accuracy before fine-tuning | after | change vs unpruned | wall time |", "|---|---:|---:|---:|---:|---:|---:|"]
        if "slim" in only:
            r = run("slim50", ["prune", "--model", a.base, "--data", a.data, "--method", "slim", "--target-params", str(half),
                               "--finetune-epochs", str(a.ft_epochs), "--out", os.path.join(a.out, "slim50.onnx")])
            md.append(prune_row(f"slim to 50% params + {a.ft_epochs} epoch", r))
        if "layer" in only:
            r = run("layer3", ["prune", "--model", a.base, "--data", a.data, "--method", "layer", "--blocks", "3",
                               "--finetune-epochs", str(a.ft_epochs), "--out", os.path.join(a.out, "layer3.onnx")])
            md.append(prune_row(f"3 blocks removed ({', '.join(r['removed_blocks'])}) + {a.ft_epochs} epoch", r))
        md.append("")

    if "ddpg" in only:
        md += [f"## DDPG vs uniform vs global threshold at 50% of the parameters\n",
               f"Search and fine-tuning ({a.ft_epochs} epoch) on the first {a.ft_train_limit} training images; "
               f"accuracy on the full test set. DDPG: {a.episodes} episodes, budget mode.\n",
               "| seed | policy | params | MACs | before fine-tuning | after | search time |", "|---|---|---:|---:|---:|---:|---:|"]
        common = ["--model", a.base, "--data", a.data, "--train-limit", str(a.ft_train_limit), "--target-params", str(half),
                  "--finetune-epochs", str(a.ft_epochs)]
        for seed in a.seeds.split(","):
            rd = run(f"ddpg seed{seed}", ["prune", "--method", "ddpg", "--episodes", str(a.episodes), "--warmup", str(a.episodes // 4),
                                          "--seed", seed, "--out", os.path.join(a.out, f"ddpg{seed}.onnx")] + common)
            ru = run(f"uniform seed{seed}", ["prune", "--method", "uniform", "--seed", seed, "--out", os.path.join(a.out, f"uniform{seed}.onnx")] + common)
            rs = run(f"slim seed{seed}", ["prune", "--method", "slim", "--seed", seed, "--out", os.path.join(a.out, f"slim{seed}.onnx")] + common)
            for label, r in [("DDPG", rd), ("uniform", ru), ("global threshold", rs)]:
                t = f"{r['search_minutes']*60:.0f} s ({r['episodes_per_min']:.1f} ep/min)" if label == "DDPG" else "-"
                md.append(f"| {seed} | {label} | {r['params']} | {r['macs']/1e6:.2f} M | {r['accuracy_pruned']:.2f}% | {r['accuracy']:.2f}% | {t} |")
        md.append("")
    md.append("Commands: see results.json (`_command` of each entry).")
    open(os.path.join(a.out, "results.md"), "w").write("\n".join(md) + "\n")
    print("\n".join(md))

if __name__ == "__main__":
    main()
