#!/usr/bin/env python3
"""Independent producer of prunerd input streams (PRN1 binary or JSON Lines),
optionally LZ4-framed with Python's lz4.frame. Used by tests, the sample
generator and benchmarks, so inputs never come only from prunerd's own encoder.

Usage as a command:
  prn1.py --npy X.npy [--ids ids.txt] [--rows N] [--shuffle SEED] [--order-labels labels.txt]
          [--dtype f16|f32|bf16|json] [--lz4 none|python|cli] [--block-size 4|5|6|7]
          [--checksums] [--score SCORES.npy|scores.txt] [--chunk ROWS] -o OUT

Rows are read from a memory-mapped .npy and encoded --chunk rows at a time, so
memory stays bounded whatever the file's size. The Python client
(clients/python, `prunerd.write_records`) is the library form of this; this
script stays dependency-light (numpy, lz4) for the Swift tests and benchmarks.
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
    """One buffer framed in one go (kept for callers that hold their bytes)."""
    sink = FrameSink(how, block_size, checksums)
    return sink.encode(data) + sink.finish()


class FrameSink:
    """Streaming LZ4 framing: `python` (lz4.frame's incremental compressor),
    `cli` (the lz4 command, fed through a pipe) or `none`. Output goes to `out`
    chunk by chunk when given, else is returned."""

    def __init__(self, how="python", block_size=4, checksums=False, out=None):
        self.how, self.out, self._process, self._compressor = how, out, None, None
        if how == "python":
            import lz4.frame
            sizes = {4: lz4.frame.BLOCKSIZE_MAX64KB, 5: lz4.frame.BLOCKSIZE_MAX256KB,
                     6: lz4.frame.BLOCKSIZE_MAX1MB, 7: lz4.frame.BLOCKSIZE_MAX4MB}
            self._compressor = lz4.frame.LZ4FrameCompressor(block_size=sizes[block_size], content_checksum=checksums,
                                                            block_checksum=checksums)
            self._head = self._compressor.begin()
        elif how == "cli":
            args = ["lz4", "-q", "-c", f"-B{block_size}"] + (["-BX"] if checksums else ["--no-frame-crc"])
            self._process = subprocess.Popen(args, stdin=subprocess.PIPE,
                                             stdout=out if out is not None else subprocess.PIPE)

    def encode(self, data):
        if self.how == "python":
            chunk, self._head = self._head + self._compressor.compress(data), b""
        elif self.how == "cli":
            self._process.stdin.write(data)
            return b""
        else:
            chunk = data
        if self.out is not None:
            self.out.write(chunk)
            return b""
        return chunk

    def finish(self):
        if self.how == "python":
            chunk = self._head + self._compressor.flush()
        elif self.how == "cli":
            if self.out is not None:
                self._process.stdin.close()
                if self._process.wait() != 0:
                    raise RuntimeError("lz4 failed")
                return b""
            chunk, _ = self._process.communicate()
            if self._process.returncode != 0:
                raise RuntimeError("lz4 failed")
            return chunk
        else:
            chunk = b""
        if self.out is not None:
            self.out.write(chunk)
            return b""
        return chunk


def load_scores(path, rows):
    """One float per row of the embeddings: a 1-D .npy, or text with one number a line."""
    values = np.load(path, mmap_mode="r") if path.endswith(".npy") else np.loadtxt(path, dtype=np.float64, ndmin=1)
    values = np.asarray(values, dtype=np.float32).reshape(-1)
    if len(values) < rows:
        raise SystemExit(f"{path}: {len(values)} scores for {rows} embedding rows")
    return values


def main():
    p = argparse.ArgumentParser(description="Write a .npy file's rows as a PRN1 (or JSON Lines) stream, "
                                            "chunk by chunk (the embeddings are memory-mapped, never loaded whole).")
    p.add_argument("--npy", required=True)
    p.add_argument("--ids", help="one id per line, row order (default: row-N)")
    p.add_argument("--rows", type=int)
    p.add_argument("--shuffle", type=int, help="seed of a row permutation")
    p.add_argument("--order-labels", help="sort rows by this label file (stable)")
    p.add_argument("--dtype", default="f16", choices=["f16", "f32", "bf16", "json"])
    p.add_argument("--lz4", default="python", choices=["none", "python", "cli"])
    p.add_argument("--block-size", type=int, default=4)
    p.add_argument("--checksums", action="store_true")
    p.add_argument("--score", "--scores", dest="scores", metavar="FILE",
                   help="each row's score (e.g. a CLIP similarity): a 1-D .npy or one number per line, row order")
    p.add_argument("--chunk", type=int, default=4096, help="rows encoded at a time (bounds memory)")
    p.add_argument("-o", "--output", required=True)
    a = p.parse_args()
    x = np.load(a.npy, mmap_mode="r")
    ids = open(a.ids).read().split("\n")[: len(x)] if a.ids else None
    order = np.arange(len(x))
    if a.shuffle is not None:
        order = np.random.default_rng(a.shuffle).permutation(len(x))
    if a.rows:
        order = order[: a.rows]
    if a.order_labels:
        labels = np.array(open(a.order_labels).read().split("\n")[: len(x)])
        order = order[np.argsort(labels[order], kind="stable")]
    scores = load_scores(a.scores, len(x)) if a.scores else None
    out = sys.stdout.buffer if a.output == "-" else open(a.output, "wb")
    if a.lz4 == "cli":
        out.flush()
    sink = FrameSink(a.lz4, a.block_size, a.checksums, out=out)
    for start in range(0, len(order), a.chunk):
        rows = order[start:start + a.chunk]
        sorted_rows = np.sort(rows)   # memory-mapped reads in file order, then back to stream order
        vectors = np.asarray(x[sorted_rows], dtype=np.float32)[np.searchsorted(sorted_rows, rows)]
        chunk_ids = [ids[i] for i in rows] if ids is not None else [f"row-{i}" for i in rows]
        sink.encode(encode(chunk_ids, vectors, a.dtype, None if scores is None else scores[rows]))
    sink.finish()
    if out is not sys.stdout.buffer:
        out.close()
    else:
        out.flush()


if __name__ == "__main__":
    main()
