#!/usr/bin/env python3
"""DDPG against the simple rules at one parameter budget (issue 22's ablation).

usage: bench/ddpg/ablation.py BASE.onnx OUTDIR [--data fashion-mnist]
           [--keep 0.3] [--seeds 1,2,3] [--episodes 60] [--warmup 15]
           [--methods ddpg,random,uniform,slim] [--ft-epochs 1]
           [--train-limit 20000] [--test-limit 0] [--extra "--mean 0.5 --std 0.5"]
           [--search "--episode-steps 100"] [--label NAME]

For every seed and method it runs `slimgo prune --method M` on BASE with the
same budget (--target-params = keep x BASE's parameters), the same training
images and the same fine-tuning, and collects each JSON summary into
OUTDIR/results.json (a rerun skips finished entries); OUTDIR/results.md gets
the per-seed rows and a mean/spread table. `random` is random search with the
same number of scored episodes as DDPG; `--search` flags go to ddpg and
random alike. Every figure in results.md comes from a command run here.
"""
import argparse, json, os, shlex, statistics, subprocess, sys, time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base"); ap.add_argument("out")
    ap.add_argument("--data", default="fashion-mnist")
    ap.add_argument("--keep", type=float, default=0.3)
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--episodes", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=15)
    ap.add_argument("--methods", default="ddpg,random,uniform,slim")
    ap.add_argument("--ft-epochs", type=int, default=1)
    ap.add_argument("--train-limit", type=int, default=20000)
    ap.add_argument("--test-limit", type=int, default=0)
    ap.add_argument("--extra", default="", help="flags for every command (preprocessing, ...)")
    ap.add_argument("--search", default="", help="flags for ddpg and random only")
    ap.add_argument("--label", default="")
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
        log = open(os.path.join(a.out, key.replace(" ", "_") + ".log"), "w")
        p = subprocess.run([exe] + args + ["--json"], stdout=subprocess.PIPE, stderr=log, text=True)
        if p.returncode != 0:
            sys.exit(f"{key}: exit {p.returncode}, see {log.name}")
        r = json.loads(p.stdout)
        r["_seconds"] = time.time() - t0
        r["_command"] = "slimgo " + " ".join(shlex.quote(x) for x in args)
        results[key] = r
        json.dump(results, open(resfile, "w"), indent=1)
        print(f"{key}: {r['_seconds']:.0f}s, {r.get('accuracy', 0):.2f}%", file=sys.stderr)
        return r

    extra = shlex.split(a.extra)
    info = run("info", ["info", "--model", a.base])
    target = int(a.keep * info["params"])
    common = ["--model", a.base, "--data", a.data, "--train-limit", str(a.train_limit), "--target-params", str(target),
              "--finetune-epochs", str(a.ft_epochs), "--no-ort"] + extra
    if a.test_limit:
        common += ["--test-limit", str(a.test_limit)]
    methods = a.methods.split(",")
    rows, acc = [], {m: [] for m in methods}
    for seed in a.seeds.split(","):
        for m in methods:
            args = ["prune", "--method", m, "--seed", seed, "--out", os.path.join(a.out, f"{m}{seed}.onnx")] + common
            if m in ("ddpg", "random"):
                args += ["--episodes", str(a.episodes), "--warmup", str(a.warmup)] + shlex.split(a.search)
            r = run(f"{m} seed{seed}", args)
            acc[m].append(r["accuracy"])
            t = f"{r['search_minutes']*60:.0f} s" if "search_minutes" in r else "-"
            rows.append(f"| {seed} | {m} | {r['params']} | {r['macs']/1e6:.2f} M | {r.get('accuracy_pruned', float('nan')):.2f}% | "
                        f"{r['accuracy']:.2f}% | {t} | {r['_seconds']:.0f} s |")
    base_acc = next(iter(results.values()), {}).get("accuracy_before", float("nan"))
    for r in results.values():
        if "accuracy_before" in r:
            base_acc = r["accuracy_before"]
            break
    md = [f"# DDPG ablation{(': ' + a.label) if a.label else ''}\n",
          f"Model `{a.base}`: {info['params']} params, {info['macs']/1e6:.2f} M MACs, test accuracy {base_acc:.2f}%. "
          f"Budget {a.keep:g} of the parameters ({target}); search and {a.ft_epochs}-epoch fine-tuning on the first "
          f"{a.train_limit} training images (the search's validation split carved from them); accuracy on the test set"
          f"{' (first %d images)' % a.test_limit if a.test_limit else ''}. ddpg and random: {a.episodes} scored episodes"
          f"{', ' + a.search if a.search else ''}.\n",
          "| method | mean | spread (min-max) | seeds |", "|---|---:|---:|---:|"]
    for m in methods:
        v = acc[m]
        md.append(f"| {m} | {statistics.mean(v):.2f}% | {min(v):.2f}-{max(v):.2f} | {len(v)} |")
    md += ["", "| seed | method | params | MACs | before fine-tuning | after | search | wall |",
           "|---|---|---:|---:|---:|---:|---:|---:|"] + rows
    md += ["", "Commands: results.json (`_command` of each entry)."]
    open(os.path.join(a.out, "results.md"), "w").write("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
