#!/usr/bin/env python3
"""Synthetic benchmark data for prunerd: clustered float16 embeddings as PRN1
records in LZ4 frames (python lz4.frame), the same vectors as .npy (float16)
for the baselines, and k-means centroids (.npy, float32, L2-normalised).

The PRN1 encoding is vectorised: every record has the same size (fixed-width
ids "r" + 9 digits), so a chunk of records is one numpy structured array whose
bytes are exactly the concatenated records (see docs/wire-format.md and
scripts/prn1.py, which writes the same bytes one record at a time).

  gen_data.py vectors --n N --d D --out DIR [--order shuffled|crawl]
                                                      → DIR/x-d{D}-n{N}[-crawl].prn1.lz4, .f16.npy
  gen_data.py centroids --vectors X.f16.npy --k K --out C.npy
  gen_data.py selftest                                → compares with scripts/prn1.py
"""
import argparse
import json
import os
import sys
import time

import numpy as np

ID_DIGITS = 9
ID_LEN = 1 + ID_DIGITS  # "r000000123"
CHUNK = 65536


def record_dtype(d, dtype="f16"):
    """The structured dtype of one PRN1 record (no score), little-endian, packed."""
    code, elem = {"f16": (2, "<f2"), "f32": (1, "<f4")}[dtype]
    return np.dtype([("magic", "S4"), ("length", "<u4"), ("dtype", "u1"), ("flags", "u1"),
                     ("dim", "<u2"), ("id_len", "<u2"), ("id", "S%d" % ID_LEN), ("vec", elem, (d,))]), code


def ids_bytes(start, n):
    """Fixed-width ASCII ids r{start..start+n-1:09d} as an (n, ID_LEN) uint8 array, vectorised."""
    i = np.arange(start, start + n, dtype=np.int64)
    out = np.empty((n, ID_LEN), dtype=np.uint8)
    out[:, 0] = ord("r")
    for p in range(ID_DIGITS):
        out[:, ID_LEN - 1 - p] = 48 + (i // 10 ** p) % 10
    return out


def encode_prn1(vectors, start_id=0, dtype="f16"):
    """PRN1 bytes of all rows of `vectors` (n × d), ids r{start_id + row}."""
    n, d = vectors.shape
    rec, code = record_dtype(d, dtype)
    a = np.empty(n, dtype=rec)
    a["magic"] = b"PRN1"
    a["length"] = rec.itemsize - 8
    a["dtype"] = code
    a["flags"] = 0
    a["dim"] = d
    a["id_len"] = ID_LEN
    a["id"] = ids_bytes(start_id, n).view("S%d" % ID_LEN).ravel()
    a["vec"] = vectors
    return a.tobytes()


def clustered(n, d, centers=1000, seed=0, order="shuffled", labels=False):
    """n unit vectors (float16) around `centers` random directions, with uneven
    cluster sizes and spreads (as real concept clusters have). `order`
    "shuffled": random order; "crawl": the same records grouped by their
    generating centre (centre 0's first, in generation order within a centre),
    as a crawler emitting one site at a time delivers concepts one by one.
    `labels`: also return each row's generating centre."""
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centers, d)).astype(np.float32)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    weights = rng.pareto(1.5, centers) + 1
    weights /= weights.sum()
    spread = rng.uniform(0.5, 1.5, centers).astype(np.float32)
    out = np.empty((n, d), dtype=np.float16)
    centre = np.empty(n, dtype=np.int32)
    for s in range(0, n, CHUNK):
        m = min(CHUNK, n - s)
        lab = rng.choice(centers, m, p=weights)
        x = c[lab] * 3.0 + rng.standard_normal((m, d), dtype=np.float32) * spread[lab, None] / np.sqrt(d) * 3.0
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        out[s:s + m] = x
        centre[s:s + m] = lab
    assert order in ("shuffled", "crawl"), order
    if order == "crawl":
        perm = np.argsort(centre, kind="stable")
        out, centre = out[perm], centre[perm]
    return (out, centre) if labels else out


def write_lz4(path, vectors):
    import lz4.frame
    tmp = path + ".tmp"
    with open(tmp, "wb") as f, lz4.frame.LZ4FrameCompressor(block_size=lz4.frame.BLOCKSIZE_MAX64KB) as comp:
        f.write(comp.begin())
        for s in range(0, len(vectors), CHUNK):
            f.write(comp.compress(encode_prn1(vectors[s:s + CHUNK], start_id=s)))
        f.write(comp.flush())
    os.replace(tmp, path)


def cmd_vectors(a):
    os.makedirs(a.out, exist_ok=True)
    base = os.path.join(a.out, "x-d%d-n%d%s" % (a.d, a.n, "" if a.order == "shuffled" else "-" + a.order))
    meta_path = base + ".json"
    meta = {"n": a.n, "d": a.d, "seed": a.seed, "centers": a.centers, "version": 2}
    if a.order != "shuffled":
        meta["order"] = a.order
    if os.path.exists(meta_path) and json.load(open(meta_path)) == meta \
            and os.path.exists(base + ".prn1.lz4") and os.path.exists(base + ".f16.npy"):
        print(base)
        return
    t = time.perf_counter()
    x = clustered(a.n, a.d, a.centers, a.seed, a.order)
    np.save(base + ".f16.npy", x)
    write_lz4(base + ".prn1.lz4", x)
    json.dump(meta, open(meta_path, "w"))
    print("generated %d × %d in %.1f s: %s.prn1.lz4 (%.0f MB)" % (
        a.n, a.d, time.perf_counter() - t, base, os.path.getsize(base + ".prn1.lz4") / 1e6), file=sys.stderr)
    print(base)


def cmd_centroids(a):
    import faiss
    if os.path.exists(a.out) and os.path.getmtime(a.out) > os.path.getmtime(a.vectors):
        return
    x = np.load(a.vectors, mmap_mode="r")
    rng = np.random.default_rng(a.seed)
    m = min(len(x), max(a.sample, 40 * a.k))
    sample = np.ascontiguousarray(x[np.sort(rng.choice(len(x), m, replace=False))], dtype=np.float32)
    sample /= np.linalg.norm(sample, axis=1, keepdims=True)
    km = faiss.Kmeans(sample.shape[1], a.k, niter=a.niter, seed=a.seed, spherical=True, verbose=False)
    km.train(sample)
    c = km.centroids.astype(np.float32)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    np.save(a.out, c)


def cmd_selftest(_):
    """The vectorised encoder writes exactly what scripts/prn1.py writes."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
    import prn1
    x = clustered(1000, 7, centers=5, seed=3)
    ids = ["r%09d" % (5 + i) for i in range(len(x))]
    assert encode_prn1(x, start_id=5) == prn1.encode(ids, x.astype(np.float32), "f16"), "PRN1 mismatch (f16)"
    assert encode_prn1(x.astype(np.float32), start_id=5, dtype="f32") == prn1.encode(ids, x.astype(np.float32), "f32")
    crawl = clustered(1000, 7, centers=5, seed=3, order="crawl")
    assert sorted(map(bytes, crawl)) == sorted(map(bytes, x)), "crawl order is not a permutation of the shuffled records"
    _, lab = clustered(1000, 7, centers=5, seed=3, order="crawl", labels=True)
    assert np.all(np.diff(lab) >= 0), "crawl order is not grouped by centre"
    print("selftest ok: vectorised PRN1 == scripts/prn1.py; crawl order permutes the same records", file=sys.stderr)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("vectors")
    v.add_argument("--n", type=int, required=True)
    v.add_argument("--d", type=int, required=True)
    v.add_argument("--centers", type=int, default=1000)
    v.add_argument("--seed", type=int, default=0)
    v.add_argument("--order", choices=("shuffled", "crawl"), default="shuffled")
    v.add_argument("--out", required=True)
    c = sub.add_parser("centroids")
    c.add_argument("--vectors", required=True)
    c.add_argument("--k", type=int, required=True)
    c.add_argument("--sample", type=int, default=65536)
    c.add_argument("--niter", type=int, default=10)
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--out", required=True)
    sub.add_parser("selftest")
    a = p.parse_args()
    {"vectors": cmd_vectors, "centroids": cmd_centroids, "selftest": cmd_selftest}[a.cmd](a)


if __name__ == "__main__":
    main()
