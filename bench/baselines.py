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
  baselines.py offline --vectors X.f16.npy --k K --niter I [--keep-ratio 0.3 --temperature 0.1 --neighbors 20]
      `prunerd offline`'s recipe from faiss and numpy: faiss spherical k-means
      (all rows, at most I iterations: faiss stops earlier once its objective
      repeats; faiss's own random seeding), then in numpy the
      nearest centroid (faiss search), distances 1 − cos, d_intra, d_inter (the
      l nearest other centroids), softmax(C/τ) quotas projected by water-filling
      onto Σ N_j = round(ρ·n), 1 ≤ N_j ≤ n_j (ties of the rounding by lower
      index), and per concept the N_j farthest records (ties: lower row).

Every mode reports which BLAS library and kernel ran (threadpoolctl's
internal_api / architecture), since OpenBLAS picks its kernel at load time
from the CPU or OPENBLAS_CORETYPE.
"""
import argparse
import json
import os
import sys
import time


def blas_pools(owner):
    """The OpenBLAS/BLAS libraries loaded from the wheel `owner` ("faiss" or
    "numpy") with the kernel each chose, via threadpoolctl (None if absent)."""
    try:
        import threadpoolctl
    except ImportError:
        return None
    return [{"internal_api": p.get("internal_api"), "architecture": p.get("architecture"),
             "version": p.get("version"), "num_threads": p.get("num_threads"),
             "library": os.path.basename(p.get("filepath", ""))}
            for p in threadpoolctl.threadpool_info()
            if p.get("user_api") == "blas" and owner in p.get("filepath", "")]


def blas_env():
    return {v: os.environ[v] for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if v in os.environ}


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
                      "gflops": 2.0 * len(x) * c.shape[0] * c.shape[1] / best / 1e9,
                      "blas": blas_pools("faiss"), "blas_env": blas_env()}))


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
    print(json.dumps({"d": a.d, "k": a.k, "rows": a.rows, "calls": calls, "best_seconds": best,
                      "gflops": gflops, "bound_rate": gflops * 1e9 / (2.0 * a.k * a.d),
                      "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
                      "blas": blas_pools("numpy"), "blas_env": blas_env()}))


def water_fill(ideal, lo, hi, m):
    """x_j = clip(ideal_j + λ, lo_j, hi_j) with Σ x = m (the exact projection:
    the sum is piecewise linear in λ between the 2k breakpoints)."""
    import numpy as np
    breaks = np.sort(np.concatenate([lo - ideal, hi - ideal]))
    sums = np.clip(ideal[None, :] + breaks[:, None], lo, hi).sum(axis=1)
    if sums[0] >= m:
        lam = breaks[0]
    elif sums[-1] <= m:
        lam = breaks[-1]
    else:
        i = np.searchsorted(sums, m, side="right") - 1
        sa, sb = sums[i], sums[i + 1]
        lam = breaks[i] + (m - sa) * (breaks[i + 1] - breaks[i]) / (sb - sa) if sb > sa else breaks[i]
    return np.clip(ideal + lam, lo, hi)


def quotas(p, sizes, m):
    """Integer N with Σ N = m, floor_j = min(1, n_j − 1) ≤ N_j ≤ n_j (prunerd's
    QuotaProjection with minPerCluster 0): water-filling, then floors and the
    remaining units to the largest fractional parts with room."""
    import numpy as np
    if m >= sizes.sum():
        return sizes.copy()
    lo = np.maximum(0, np.minimum(1, sizes - 1)).astype(np.float64)
    if lo.sum() > m:
        lo[:] = 0
    x = water_fill(p * m, lo, sizes.astype(np.float64), float(m))
    n = np.clip(np.floor(x).astype(np.int64), lo.astype(np.int64), sizes)
    rest = m - int(n.sum())
    if rest > 0:
        order = np.lexsort((np.arange(len(x)), -(x - np.floor(x))))
        for j in order:
            if rest == 0:
                break
            if n[j] < sizes[j]:
                n[j] += 1
                rest -= 1
    return n


def cmd_offline(a):
    import numpy as np
    import faiss
    faiss.omp_set_num_threads(a.threads)
    x16 = np.load(a.vectors, mmap_mode="r")
    n, d = x16.shape
    x = np.empty((n, d), dtype=np.float32)
    for s in range(0, n, 65536):
        v = np.asarray(x16[s:s + 65536], dtype=np.float32)
        x[s:s + 65536] = v / np.linalg.norm(v, axis=1, keepdims=True)
    t0 = time.perf_counter()
    # All rows (faiss samples 256 per centroid by default); faiss seeds at random.
    km = faiss.Kmeans(d, a.k, niter=a.niter, seed=a.seed, spherical=True, verbose=False,
                      max_points_per_centroid=n // a.k + 1)
    km.train(x)
    t1 = time.perf_counter()
    c = np.ascontiguousarray(km.centroids, dtype=np.float32)
    index = faiss.IndexFlatIP(d)
    index.add(c)
    sim, lab = index.search(x, 1)
    t2 = time.perf_counter()
    lab = lab[:, 0]
    dist = 1.0 - sim[:, 0].astype(np.float64)
    sizes = np.bincount(lab, minlength=a.k)
    d_intra = np.bincount(lab, weights=dist, minlength=a.k) / np.maximum(sizes, 1)
    l = min(max(a.neighbors, 1), a.k - 1)
    far = 1.0 - (c.astype(np.float64) @ c.T.astype(np.float64))
    np.fill_diagonal(far, np.inf)
    d_inter = np.partition(far, l - 1, axis=1)[:, :l].mean(axis=1)
    cx = d_inter * d_intra
    live = sizes > 0
    p = np.where(live, np.exp((cx - cx[live].max()) / a.temperature), 0.0)
    p /= p.sum()
    quota = quotas(p, sizes, int(round(a.keep_ratio * n)))
    order = np.lexsort((np.arange(n), -dist, lab))  # by concept, farthest first, ties by row
    start = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - start[lab[order]]
    keep = rank < quota[lab]
    t3 = time.perf_counter()
    objs = [s["obj"] for s in km.iteration_stats]
    # Once no assignment changes, faiss's spherical objective repeats exactly.
    converged = next((i + 1 for i in range(1, len(objs)) if objs[i] == objs[i - 1]), None)
    print(json.dumps({"n": n, "d": d, "k": a.k, "niter": a.niter, "threads": a.threads,
                      "kmeans_seconds": t1 - t0, "assign_seconds": t2 - t1, "recipe_seconds": t3 - t2,
                      "total_seconds": t3 - t0, "kept": int(keep.sum()), "quota_total": int(quota.sum()),
                      "cumulative_seconds": [s["time"] for s in km.iteration_stats],
                      "objective_unchanged_at": converged, "iterations_run": len(objs),
                      "blas": blas_pools("faiss"), "blas_env": blas_env()}))


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
    o = sub.add_parser("offline")
    o.add_argument("--vectors", required=True)
    o.add_argument("--k", type=int, required=True)
    o.add_argument("--niter", type=int, required=True)
    o.add_argument("--threads", type=int, default=2)
    o.add_argument("--seed", type=int, default=1)
    o.add_argument("--keep-ratio", type=float, default=0.3)
    o.add_argument("--temperature", type=float, default=0.1)
    o.add_argument("--neighbors", type=int, default=20)
    a = p.parse_args()
    {"faiss": cmd_faiss, "sgemm": cmd_sgemm, "offline": cmd_offline}[a.cmd](a)


if __name__ == "__main__":
    main()
