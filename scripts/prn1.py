#!/usr/bin/env python3
"""Independent producer of prunerd input streams (PRN1 binary or JSON Lines),
optionally LZ4-framed with Python's lz4.frame. Used by tests, the sample
generator and benchmarks, so inputs never come only from prunerd's own encoder.

Usage as a command:
  prn1.py --npy X.npy [--ids ids.txt] [--rows N] [--shuffle SEED] [--order-labels labels.txt]
          [--dtype f16|f32|bf16|json] [--lz4 none|python|cli] [--block-size 4|5|6|7]
          [--checksums] [--score] -o OUT
"""
import argparse
import json
import struct
import subprocess
import sys

import numpy as np

DTYPES = {"f32": (1, np.float32), "f16": (2, np.float16), "bf16": (3, None)}


def to_bf16_bytes(vec):
    """float32 → bfloat16 bytes, round to nearest even."""
    bits = np.asarray(vec, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounding = ((bits >> 16) & 1) + 0x7FFF
    return ((bits + rounding) >> 16).astype(np.uint16).tobytes()


def prn1_record(record_id, vec, dtype="f16", score=None):
    code, np_type = DTYPES[dtype]
    payload = to_bf16_bytes(vec) if dtype == "bf16" else np.asarray(vec, dtype=np_type).astype("<" + np.dtype(np_type).str[1:]).tobytes()
    id_bytes = record_id.encode("utf-8")
    flags = 1 if score is not None else 0
    body = struct.pack("<BBHH", code, flags, len(vec), len(id_bytes)) + id_bytes + payload
    if score is not None:
        body += struct.pack("<f", score)
    return b"PRN1" + struct.pack("<I", len(body)) + body


def json_record(record_id, vec, score=None):
    obj = {"id": record_id, "embedding": [float(x) for x in np.asarray(vec, dtype=np.float32)]}
    if score is not None:
        obj["score"] = score
    return (json.dumps(obj) + "\n").encode()


def encode(ids, vectors, dtype="f16", scores=None):
    out = bytearray()
    for i, (record_id, vec) in enumerate(zip(ids, vectors)):
        score = None if scores is None else float(scores[i])
        out += json_record(record_id, vec, score) if dtype == "json" else prn1_record(record_id, vec, dtype, score)
    return bytes(out)


def compress(data, how="python", block_size=4, checksums=False):
    if how == "none":
        return data
    if how == "python":
        import lz4.frame
        sizes = {4: lz4.frame.BLOCKSIZE_MAX64KB, 5: lz4.frame.BLOCKSIZE_MAX256KB,
                 6: lz4.frame.BLOCKSIZE_MAX1MB, 7: lz4.frame.BLOCKSIZE_MAX4MB}
        return lz4.frame.compress(data, block_size=sizes[block_size], content_checksum=checksums,
                                  block_checksum=checksums)
    args = ["lz4", "-q", "-c", f"-B{block_size}"] + (["-BX", "--content-size"] if checksums else ["--no-frame-crc"])
    return subprocess.run(args, input=data, stdout=subprocess.PIPE, check=True).stdout


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--npy", required=True)
    p.add_argument("--ids")
    p.add_argument("--rows", type=int)
    p.add_argument("--shuffle", type=int, help="seed of a row permutation")
    p.add_argument("--order-labels", help="sort rows by this label file (stable)")
    p.add_argument("--dtype", default="f16", choices=["f16", "f32", "bf16", "json"])
    p.add_argument("--lz4", default="python", choices=["none", "python", "cli"])
    p.add_argument("--block-size", type=int, default=4)
    p.add_argument("--checksums", action="store_true")
    p.add_argument("--score", action="store_true", help="add a synthetic score field")
    p.add_argument("-o", "--output", required=True)
    a = p.parse_args()
    x = np.load(a.npy).astype(np.float32)
    ids = open(a.ids).read().split("\n")[: len(x)] if a.ids else [f"row-{i}" for i in range(len(x))]
    order = np.arange(len(x))
    if a.shuffle is not None:
        order = np.random.default_rng(a.shuffle).permutation(len(x))
    if a.rows:
        order = order[: a.rows]
    if a.order_labels:
        labels = np.array(open(a.order_labels).read().split("\n")[: len(x)])
        order = order[np.argsort(labels[order], kind="stable")]
    scores = np.random.default_rng(7).random(len(order)).astype(np.float32) if a.score else None
    data = encode([ids[i] for i in order], x[order], a.dtype, scores)
    blob = compress(data, a.lz4, a.block_size, a.checksums)
    with (sys.stdout.buffer if a.output == "-" else open(a.output, "wb")) as f:
        f.write(blob)


if __name__ == "__main__":
    main()
