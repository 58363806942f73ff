#!/usr/bin/env python3
"""The comparison side of the benchmark. Each mode runs in its own process (so
faiss's and numpy's BLAS/OpenMP runtimes never share one) and prints one JSON
object on stdout.

  baselines.py faiss --vectors X.f16.npy --centroids C.npy [--threads 2] [--repeat 2]
      IndexFlatIP(d) over the centroids, search(x, 1) on all vectors (float32,
      L2-normalised as prunerd does); the assignment alone. Reports the best
      of `repeat` timed passes (the first pass is also the warm-up).
  baselines.py sgemm --d D --k K [--rows 65536] [--seconds 3]
      numpy float32 (rows × d) @ (d × k), OpenBLAS; GFLOP/s = 2·rows·d·k / t,
      best of repeated calls after a warm-up; bound = GFLOP/s·1e9 / (2·k·d) records/s.
"""
import argparse
import json
import os
import sys
import time


def cmd_faiss(a):
    import numpy as np
    import faiss
    faiss.omp_set_num_threads(a.threads)
    x = np.load(a.vectors, mmap_mode="r")
    if a.rows:
        x = x[: a.rows]
    x = np.ascontiguousarray(x, dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    c = np.ascontiguousarray(np.load(a.centroids), dtype=np.float32)
    index = faiss.IndexFlatIP(c.shape[1])
    index.add(c)
    index.search(x[:4096], 1)  # warm-up (thread pool, pages)
    times = []
    for _ in range(a.repeat):
        t = time.perf_counter()
        _, labels = index.search(x, 1)
        times.append(time.perf_counter() - t)
    best = min(times)
    print(json.dumps({"n": len(x), "d": c.shape[1], "k": c.shape[0], "threads": a.threads,
                      "seconds": best, "all_seconds": times, "rate": len(x) / best,
                      "gflops": 2.0 * len(x) * c.shape[0] * c.shape[1] / best / 1e9}))


def cmd_sgemm(a):
    import numpy as np
    rng = np.random.default_rng(0)
    x = rng.standard_normal((a.rows, a.d), dtype=np.float32)
    w = rng.standard_normal((a.d, a.k), dtype=np.float32)
    out = np.empty((a.rows, a.k), dtype=np.float32)
    np.matmul(x, w, out=out)  # warm-up
    best, calls, start = float("inf"), 0, time.perf_counter()
    while time.perf_counter() - start < a.seconds or calls < 3:
        t = time.perf_counter()
        np.matmul(x, w, out=out)
        best = min(best, time.perf_counter() - t)
        calls += 1
    gflops = 2.0 * a.rows * a.d * a.k / best / 1e9
    try:
        import threadpoolctl  # optional
        info = threadpoolctl.threadpool_info()
    except ImportError:
        info = None
    print(json.dumps({"d": a.d, "k": a.k, "rows": a.rows, "calls": calls, "best_seconds": best,
                      "gflops": gflops, "bound_rate": gflops * 1e9 / (2.0 * a.k * a.d),
                      "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS"), "pools": info}))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("faiss")
    f.add_argument("--vectors", required=True)
    f.add_argument("--centroids", required=True)
    f.add_argument("--rows", type=int)
    f.add_argument("--threads", type=int, default=2)
    f.add_argument("--repeat", type=int, default=2)
    s = sub.add_parser("sgemm")
    s.add_argument("--d", type=int, required=True)
    s.add_argument("--k", type=int, required=True)
    s.add_argument("--rows", type=int, default=65536)
    s.add_argument("--seconds", type=float, default=3.0)
    a = p.parse_args()
    {"faiss": cmd_faiss, "sgemm": cmd_sgemm}[a.cmd](a)


if __name__ == "__main__":
    main()
