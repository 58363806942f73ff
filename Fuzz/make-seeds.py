#!/usr/bin/env python3
"""Writes the seed inputs of the fuzz targets into Fuzz/Corpus/TARGET (valid
inputs made by independent producers: Python's lz4.frame, numpy, scripts/prn1.py).
The checkpoint seeds come from the engine itself (PRUNERD_WRITE_FUZZ_SEEDS=1
swift test --filter SeedWriter). Run once; libFuzzer grows the corpus from here
and `scripts/fuzz --merge TARGET` minimises it.

The first byte of an lz4-stream, prn1, json-lines or checkpoint input is the
target's control byte (how the rest is cut into pieces, and for records the
maximum record size), not part of the stream.
"""
import os
import struct
import sys

import lz4.frame
import numpy as np

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "Corpus")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from prn1 import prn1_record, json_record  # noqa: E402

rng = np.random.default_rng(14)


def write(target, name, data):
    os.makedirs(os.path.join(root, target), exist_ok=True)
    with open(os.path.join(root, target, "seed-" + name), "wb") as f:
        f.write(data)


def vectors(n, d):
    return rng.standard_normal((n, d)).astype(np.float32)


# PRN1 streams: every dtype, with and without score, plus framing-level rejects.
prn1_streams = {
    "f32": b"".join(prn1_record(f"id{i}", v, "f32") for i, v in enumerate(vectors(3, 4))),
    "f16-score": b"".join(prn1_record(f"r{i}", v, "f16", score=0.5 + i) for i, v in enumerate(vectors(3, 4))),
    "bf16": b"".join(prn1_record(f"b{i}", v, "bf16") for i, v in enumerate(vectors(2, 8))),
    "mixed-dim": prn1_record("a", vectors(1, 4)[0], "f32") + prn1_record("b", vectors(1, 3)[0], "f16"),
    "bad-dtype": prn1_record("x", vectors(1, 4)[0], "f32")[:8] + b"\x07" + prn1_record("x", vectors(1, 4)[0], "f32")[9:],
    "utf8-id": prn1_record("é-ü-\u2603", vectors(1, 4)[0], "f32"),
    "nan": prn1_record("n", np.array([np.nan, 1, 2, 3], dtype=np.float32), "f32"),
    "zero": prn1_record("z", np.zeros(4, dtype=np.float32), "f16"),
    "truncated": prn1_record("t", vectors(1, 4)[0], "f32")[:-3],
}
for name, data in prn1_streams.items():
    for control in (0, 3, 0x41, 0x85, 0xC7):
        write("prn1", f"{name}-{control:02x}", bytes([control]) + data)

# JSON Lines: scores, escapes, numbers in every form, blank lines, a last line without newline.
json_streams = {
    "plain": b"".join(json_record(f"id{i}", v) .encode() if isinstance(json_record(f"id{i}", v), str) else json_record(f"id{i}", v) for i, v in enumerate(vectors(3, 4))),
    "score": b"".join((lambda r: r.encode() if isinstance(r, str) else r)(json_record(f"s{i}", v, score=0.25)) for i, v in enumerate(vectors(2, 4))),
    "escapes": b'{"id":"a\\"b\\\\c\\u00e9\\ud83d\\ude00\\n","embedding":[1,2,3,4]}\n',
    "numbers": b'{"embedding":[-0.0,1e-3,2E+2,3.25e1],"id":"n","score":-1.5e-2}\n\n  \n{"id":"m","embedding":[0,0,0,1]}',
    "extra-keys": b'{"id":"k","meta":{"a":[1,{"b":null}],"t":true,"f":false},"embedding":[1,1,1,1]}\r\n',
    "rejects": b'{"id":"x","embedding":[1,2]}\n{"id":7,"embedding":[1,2,3,4]}\n{"embedding":[1,2,3,4]}\nnot json\n{"id":"y","embedding":[1,"a",3,4]}\n',
    "deep": b'{"id":"d","x":' + b"[" * 40 + b"]" * 40 + b',"embedding":[1,2,3,4]}\n',
}
for name, data in json_streams.items():
    for control in (0, 5, 0x42, 0x83, 0xC1):
        write("json-lines", f"{name}-{control:02x}", bytes([control]) + data)

# LZ4 frames: block sizes, independent/linked blocks, checksums, content size,
# several frames, a skippable frame, and raw (non-LZ4) bytes.
text = b"".join((lambda r: r.encode() if isinstance(r, str) else r)(json_record(f"id{i}", v)) for i, v in enumerate(vectors(40, 8)))
binary = b"".join(prn1_record(f"id{i}", v, "f16") for i, v in enumerate(vectors(40, 8)))
frames = {
    "default": lz4.frame.compress(text),
    "checksums": lz4.frame.compress(binary, content_checksum=True, block_checksum=True),
    "linked": lz4.frame.compress(text * 3, block_linked=True, block_size=lz4.frame.BLOCKSIZE_MAX64KB),
    "size": lz4.frame.compress(binary, store_size=True, compression_level=9),
    "uncompressible": lz4.frame.compress(rng.bytes(300)),
    "two-frames": lz4.frame.compress(text[:200]) + lz4.frame.compress(binary[:200]),
    "skippable": struct.pack("<II", 0x184D2A5A, 5) + b"hello" + lz4.frame.compress(text[:100]),
    "empty-frame": lz4.frame.compress(b""),
    "raw-json": text[:300],
    "raw-prn1": binary[:300],
}
for name, data in frames.items():
    for control in (0, 1, 9, 0x90):
        write("lz4-stream", f"{name}-{control:02x}", bytes([control]) + data)

# .npy: every dtype the reader takes, every header version, and some it refuses.
def npy(array, version=None):
    import io
    buf = io.BytesIO()
    if version is None:
        np.save(buf, array)
    else:
        np.lib.format.write_array(buf, array, version=version)
    return buf.getvalue()

write("npy", "f4", npy(vectors(3, 4)))
write("npy", "f2", npy(vectors(2, 5).astype(np.float16)))
write("npy", "f8", npy(vectors(2, 3).astype(np.float64)))
write("npy", "v2", npy(vectors(2, 2), version=(2, 0)))
write("npy", "v3", npy(vectors(1, 3), version=(3, 0)))
write("npy", "empty", npy(np.zeros((0, 4), dtype=np.float32)))
write("npy", "fortran", npy(np.asfortranarray(vectors(3, 2))))
write("npy", "1d", npy(np.zeros(4, dtype=np.float32)))
write("npy", "big-endian", npy(vectors(2, 2).astype(">f4")))
write("npy", "int", npy(np.arange(6, dtype=np.int32).reshape(2, 3)))


def npz(name, save, **arrays):
    import io
    buf = io.BytesIO()
    save(buf, **arrays)
    write("npy", name, buf.getvalue())


npz("npz-stored", np.savez, emb=vectors(3, 4))
npz("npz-deflated", np.savez_compressed, emb=vectors(4, 3).astype(np.float16), ids=np.arange(4))
npz("npz-two", np.savez, a=vectors(2, 2), b=np.zeros((1, 5), dtype=np.float64))

# Config: the shipped file uncommented, and small files of every value type.
shipped = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "systemd", "prunerd.toml"), "rb").read()
uncommented = b"\n".join(line[1:] if line.startswith(b"#") and b" = " in line[:40] else line for line in shipped.split(b"\n"))
uncommented = uncommented.replace(b'#listen = ["tcp', b'listen = ["tcp')
write("config", "shipped", shipped)
# Keep only the first of repeated keys (TOML forbids duplicates).
seen, lines = set(), []
for line in uncommented.split(b"\n"):
    key = line.split(b" = ")[0] if b" = " in line and not line.startswith(b"#") else None
    if key is not None and key in seen:
        continue
    if key is not None:
        seen.add(key)
    lines.append(line)
write("config", "uncommented", b"\n".join(lines))
write("config", "listen", b'listen = ["unix:/tmp/p.sock", "tcp:127.0.0.1:7070", "tcp:[::1]:7071", "tcp:9000"]\nmetrics = "tcp:127.0.0.1:9464"\nreply = true\n')
write("config", "numbers", b"keep-ratio = 0.5\nclusters = 7\nseed = 18446744073\ntemperature = 1e-2\nmin-score = -inf\nwarmup = 0x10\n")
write("config", "types", b"keep = 'easy'\nupdate = \"\"\"online\"\"\"\nfresh = false\nthreads = 2\ndecisions = '-'\nlog-level = \"debug\"\n")
write("config", "bad", b"clusters = [1, 2]\n[table]\nx = 1\n")
write("config", "datetime", b"seed = 1979-05-27T07:32:00Z\nkeep-ratio = nan\n")
print("seeds written to", root)
