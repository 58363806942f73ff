"""`write_records` / `write_shards`: numpy arrays → a PRN1 stream, in bounded memory."""
from __future__ import annotations

from typing import Iterable, Optional, Sequence

import numpy as np

from .destinations import open_sink
from .wire import Framer, batches, encode_records

__all__ = ["write_records", "write_shards", "row_ids"]

#: Records encoded at a time: bounds memory whatever the input's size (a
#: memory-mapped .npy is read 4,096 rows at a time).
BATCH_SIZE = 4096


def row_ids(count: int, start: int = 0) -> list:
    """Row numbers as ids ("0", "1", …), what prunerd uses when no ids are given."""
    return [str(i) for i in range(start, start + count)]


def write_records(dest, ids: Optional[Sequence], embeddings: np.ndarray, scores: Optional[np.ndarray] = None,
                  dtype: Optional[str] = None, compress: bool = True, batch_size: int = BATCH_SIZE) -> int:
    """Writes one PRN1 record per row of `embeddings` to `dest` and returns the count.

    dest: a path (`-` is stdout), an open binary file or pipe (left open), or a
    daemon's `unix:PATH` / `tcp:HOST:PORT` (closed for writing at the end, which
    is end of input for that connection).
    ids: one per row (str, bytes or anything `str()` turns into an id), or None
    for row numbers. scores: one float per row (e.g. a CLIP similarity), or None.
    dtype: float32, float16 or bfloat16; None keeps float16 input as float16
    and sends the rest as float32. compress: LZ4 frames (what `lz4` writes).
    """
    return write_shards(dest, [(ids, embeddings, scores)], dtype=dtype, compress=compress, batch_size=batch_size)


def write_shards(dest, shards: Iterable, dtype: Optional[str] = None, compress: bool = True,
                 batch_size: int = BATCH_SIZE) -> int:
    """Like `write_records` for a sequence of shards, each `(ids, embeddings)` or
    `(ids, embeddings, scores)` (what `read_clip_retrieval` and `read_datacomp`
    yield), as one stream. Row-number ids continue across shards."""
    sink = open_sink(dest)
    framer = Framer(compress=compress)
    written = 0
    try:
        for shard in shards:
            ids, embeddings = shard[0], shard[1]
            scores = shard[2] if len(shard) > 2 else None
            embeddings = embeddings if hasattr(embeddings, "shape") else np.asarray(embeddings)
            if embeddings.ndim != 2:
                raise ValueError(f"embeddings must be 2-D (records × dimension), got shape {embeddings.shape}")
            count = embeddings.shape[0]
            if ids is None:
                ids = row_ids(count, start=written)
            for rows in batches(count, batch_size):
                records = encode_records(ids[rows], np.asarray(embeddings[rows]),
                                         None if scores is None else np.asarray(scores[rows]), dtype)
                chunk = framer.encode(b"".join(records))
                if chunk:
                    sink.write(chunk)
            written += count
        tail = framer.finish()
        if tail:
            sink.write(tail)
    finally:
        sink.close()
    return written
