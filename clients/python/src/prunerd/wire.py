"""PRN1 records (docs/wire-format.md) from numpy arrays, and LZ4 framing.

This is an encoder written from the specification, independent of prunerd's
own, so that streams made here also test the daemon's decoder.
"""
from __future__ import annotations

import struct
from typing import Iterable, Iterator, Optional, Sequence

import numpy as np

__all__ = ["DTYPES", "resolve_dtype", "encode_records", "encode_record", "to_bfloat16_bits", "Framer"]

#: Wire codes of the element types (PRN1 `dtype` byte) and their numpy storage.
DTYPES = {"float32": (1, np.dtype("<f4")), "float16": (2, np.dtype("<f2")), "bfloat16": (3, np.dtype("<u2"))}
_ALIASES = {"f32": "float32", "f4": "float32", "<f4": "float32", "f16": "float16", "f2": "float16",
            "<f2": "float16", "half": "float16", "bf16": "bfloat16"}

#: The longest id PRN1 carries (bytes of UTF-8).
MAX_ID_BYTES = 1024

_HEADER = struct.Struct("<4sIBBHH")  # magic, length, dtype, flags, dim, id_len


def resolve_dtype(dtype, embeddings: Optional[np.ndarray] = None) -> str:
    """The wire element type for `dtype`; None keeps float16 input as float16
    (what clip-retrieval writes) and sends everything else as float32 (lossless)."""
    if dtype is None:
        return "float16" if embeddings is not None and embeddings.dtype == np.float16 else "float32"
    if isinstance(dtype, np.dtype) or isinstance(dtype, type):
        dtype = np.dtype(dtype).name
    name = _ALIASES.get(str(dtype), str(dtype))
    if name not in DTYPES:
        raise ValueError(f"dtype {dtype!r} is not a PRN1 element type; use float32, float16 or bfloat16")
    return name


def to_bfloat16_bits(values: np.ndarray) -> np.ndarray:
    """float32 → bfloat16 bit patterns (uint16), rounding to nearest even."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounding = ((bits >> 16) & 1) + 0x7FFF
    return ((bits + rounding) >> 16).astype("<u2")


def _element_bytes(embeddings: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "bfloat16":
        return to_bfloat16_bits(embeddings)
    return np.ascontiguousarray(embeddings, dtype=DTYPES[dtype][1])


def _id_bytes(record_id) -> bytes:
    if isinstance(record_id, bytes):
        data = record_id
    else:
        data = str(record_id).encode("utf-8")
    if not 1 <= len(data) <= MAX_ID_BYTES:
        raise ValueError(f"id {record_id!r} is {len(data)} bytes of UTF-8; PRN1 ids are 1 to {MAX_ID_BYTES} bytes")
    return data


def encode_records(ids: Sequence, embeddings: np.ndarray, scores: Optional[np.ndarray] = None,
                   dtype: Optional[str] = None) -> list:
    """One PRN1 record (bytes) per row of `embeddings` (n × d), in order.

    Records are returned one by one (not joined) so that a client can keep
    exactly the ones still waiting for a verdict.
    """
    embeddings = np.asarray(embeddings)
    if embeddings.ndim != 2:
        raise ValueError(f"embeddings must be a 2-D array (records × dimension), got shape {embeddings.shape}")
    count, dimension = embeddings.shape
    if len(ids) != count:
        raise ValueError(f"{len(ids)} ids for {count} embeddings")
    if not 1 <= dimension <= 0xFFFF:
        raise ValueError(f"dimension {dimension} does not fit PRN1's u16 dim")
    if scores is not None:
        scores = np.asarray(scores, dtype="<f4").reshape(-1)
        if len(scores) != count:
            raise ValueError(f"{len(scores)} scores for {count} embeddings")
    name = resolve_dtype(dtype, embeddings)
    code = DTYPES[name][0]
    vectors = _element_bytes(embeddings, name)
    row_bytes = vectors.shape[1] * vectors.dtype.itemsize
    flat = memoryview(vectors.reshape(-1).view(np.uint8))
    flags = 0 if scores is None else 1
    score_bytes = b"" if scores is None else None
    out = []
    for row in range(count):
        id_data = _id_bytes(ids[row])
        tail = score_bytes if scores is None else scores[row].tobytes()
        length = 6 + len(id_data) + row_bytes + len(tail)
        out.append(b"".join((_HEADER.pack(b"PRN1", length, code, flags, dimension, len(id_data)), id_data,
                             flat[row * row_bytes:(row + 1) * row_bytes], tail)))
    return out


def encode_record(record_id, vector, score: Optional[float] = None, dtype: Optional[str] = None) -> bytes:
    """One PRN1 record."""
    vector = np.asarray(vector).reshape(1, -1)
    scores = None if score is None else np.array([score], dtype=np.float32)
    return encode_records([record_id], vector, scores, dtype)[0]


class Framer:
    """Turns record bytes into the bytes to send: LZ4 frame blocks or raw.

    With `flush_each=True` every `encode` call ends an LZ4 block, so the daemon
    can decode what was sent at once (a client waiting for verdicts needs
    that); otherwise blocks fill up first (best ratio for files).
    """

    def __init__(self, compress: bool = True, flush_each: bool = False):
        self._compressor = None
        if compress:
            import lz4.frame
            self._compressor = lz4.frame.LZ4FrameCompressor(block_size=lz4.frame.BLOCKSIZE_MAX256KB,
                                                            auto_flush=flush_each)
        self._started = False

    def encode(self, data: bytes) -> bytes:
        if self._compressor is None:
            return data
        head = b""
        if not self._started:
            head = self._compressor.begin()
            self._started = True
        return head + self._compressor.compress(data)

    def finish(self) -> bytes:
        """The bytes that end the stream (the LZ4 end mark)."""
        if self._compressor is None:
            return b""
        head = b"" if self._started else self._compressor.begin()
        self._started = True
        return head + self._compressor.flush()


def batches(count: int, batch_size: int) -> Iterator[slice]:
    """Row slices of at most `batch_size` covering 0..<count."""
    for start in range(0, count, batch_size):
        yield slice(start, min(count, start + batch_size))
