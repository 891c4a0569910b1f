#!/usr/bin/env python3
"""Markdown tables of `slimgo prune --method ddpg --reward-study N --json` summaries.

usage: bench/ddpg/study_table.py LABEL=SUMMARY.json [LABEL=SUMMARY.json ...]

Per model: the policies (zero-shot and short-fine-tune validation accuracy,
fine-tuned validation accuracy) and, per episode fine-tuning step count, the
Spearman/Pearson correlation of the episode reward (and of the episode
accuracy alone) with the fine-tuned accuracy. Every figure comes from the files.
"""
import json, sys


def ranks(xs):
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    r = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return r


def pearson(x, y):
    n = len(x); mx = sum(x) / n; my = sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x); syy = sum((b - my) ** 2 for b in y)
    return sxy / (sxx * syy) ** 0.5 if sxx and syy else float("nan")


def main():
    for arg in sys.argv[1:]:
        label, path = arg.split("=", 1)
        s = json.load(open(path))
        st = s["study"]
        pols = st["policies"]
        steps = [c["episode_steps"] for c in st["correlation"]]
        tuned = [p["accuracy_finetuned"] for p in pols]
        print(f"### {label}\n")
        pp = [p["params"] for p in pols]
        print(f"{len(pols)} random budget policies ({min(pp)}-{max(pp)} of {s['params_before']} params), validation split of "
              f"{st['validation_images']} training images (unpruned: {st['validation_accuracy']:.2f}%).\n")
        print("| episode fine-tuning steps | episode accuracy, mean (min-max) | Spearman reward vs fine-tuned | Pearson | Spearman accuracy vs fine-tuned |")
        print("|---:|---:|---:|---:|---:|")
        for i, c in enumerate(st["correlation"]):
            acc = [p["accuracy"][i] for p in pols]
            sa = pearson(ranks(acc), ranks(tuned))
            fmt = lambda v: "n/a" if v is None else f"{v:+.2f}"
            print(f"| {steps[i]} | {sum(acc)/len(acc):.1f}% ({min(acc):.1f}-{max(acc):.1f}) | {fmt(c['spearman'])} | {fmt(c['pearson'])} | {sa:+.2f} |")
        print(f"\nFine-tuned validation accuracy: {min(tuned):.2f}-{max(tuned):.2f}% (mean {sum(tuned)/len(tuned):.2f}%).\n")


if __name__ == "__main__":
    main()
