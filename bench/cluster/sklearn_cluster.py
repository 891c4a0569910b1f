#!/usr/bin/python3
"""Peer timing for bench/cluster: scikit-learn's Birch and KMeans on the same
weights the Go side clusters.

usage: sklearn_cluster.py WEIGHTS.npy THRESHOLD K SEED
Prints one JSON object: birch_s, birch_k (subclusters), kmeans_s,
kmeans_inertia, kmeans_iters, threads.
"""
import json
import sys
import time

import numpy as np
from sklearn.cluster import Birch, KMeans
from threadpoolctl import threadpool_info


def main():
    path, threshold, k, seed = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    x = np.load(path).astype(np.float64).reshape(-1, 1)

    # compute_labels=False: only the CF-tree, like the Go side's Birch1D.
    t0 = time.perf_counter()
    b = Birch(threshold=threshold, branching_factor=50, n_clusters=None, compute_labels=False).fit(x)
    t1 = time.perf_counter()

    km = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(x)
    t2 = time.perf_counter()

    threads = max((p.get("num_threads", 1) for p in threadpool_info()), default=1)
    print(json.dumps({
        "birch_s": t1 - t0,
        "birch_k": int(len(b.subcluster_centers_)),
        "kmeans_s": t2 - t1,
        "kmeans_inertia": float(km.inertia_),
        "kmeans_iters": int(km.n_iter_),
        "threads": threads,
    }))


if __name__ == "__main__":
    main()
