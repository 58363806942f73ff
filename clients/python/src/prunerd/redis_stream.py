"""Redis Streams as prunerd's work queue (issue 18; docs/scale-out.md).

`StreamProducer` XADDs numpy batches to a stream that `prunerd serve --listen
redis://HOST:PORT/STREAM?group=NAME` shards read through a consumer group: one
entry per batch, its field `records` holding the batch as PRN1 (LZ4-framed by
default) or JSON Lines. `read_verdicts` reads the decision lines back from the
stream that `--decisions redis://HOST:PORT/STREAM` writes (field `lines`).

Needs the `redis` package (`pip install prunerd[redis]`).
"""
import json
from typing import Iterable, Iterator, Optional, Sequence
from urllib.parse import urlsplit

import numpy as np

from .wire import Framer, encode_records


def _redis():
    try:
        import redis
    except ImportError as error:   # pragma: no cover - depends on the environment
        raise ImportError("prunerd's Redis producer needs the redis package: pip install 'prunerd[redis]'") from error
    return redis


def parse_stream_url(url: str):
    """`redis://HOST[:PORT]/STREAM` → (host, port, stream); the query (`?group=`) is the daemon's business."""
    parts = urlsplit(url)
    if parts.scheme != "redis" or not parts.hostname:
        raise ValueError(f"{url}: expected redis://HOST:PORT/STREAM")
    stream = parts.path.lstrip("/")
    if not stream:
        raise ValueError(f"{url}: no stream name (redis://HOST:PORT/STREAM)")
    return parts.hostname, parts.port or 6379, stream


def encode_entry(ids: Sequence, embeddings: np.ndarray, scores: Optional[np.ndarray] = None,
                 format: str = "prn1", compress: bool = True, dtype: Optional[str] = None) -> bytes:
    """The `records` field of one entry: a whole message the daemon decodes on its own."""
    if format == "prn1":
        body = b"".join(encode_records(list(ids), embeddings, scores, dtype))
    elif format == "jsonl":
        embeddings = np.asarray(embeddings, dtype=np.float64)
        if embeddings.ndim != 2 or len(ids) != embeddings.shape[0]:
            raise ValueError(f"{len(ids)} ids for embeddings of shape {embeddings.shape}")
        lines = []
        for index, record_id in enumerate(ids):
            record = {"id": str(record_id), "embedding": embeddings[index].tolist()}
            if scores is not None:
                record["score"] = float(scores[index])
            lines.append(json.dumps(record, separators=(",", ":")))
        body = ("\n".join(lines) + "\n").encode()
    else:
        raise ValueError(f"format must be 'prn1' or 'jsonl', not {format!r}")
    if not compress:
        return body
    framer = Framer(compress=True)
    return framer.encode(body) + framer.finish()


class StreamProducer:
    """XADDs batches of (ids, embeddings) to a Redis stream for prunerd shards.

    Each `send` is one entry, so one batch is the unit a shard acknowledges,
    redelivers after a crash or hands to another shard (`--claim-after`): keep
    batches to a few hundred or thousand records. `maxlen` trims the stream
    (`MAXLEN ~`); leave it None unless shards are sure to keep up, since a trimmed
    entry that no shard read is never decided.
    """

    def __init__(self, url: str, format: str = "prn1", compress: bool = True, dtype: Optional[str] = None,
                 maxlen: Optional[int] = None, client=None):
        host, port, self.stream = parse_stream_url(url)
        self.redis = client or _redis().Redis(host=host, port=port)
        self.format, self.compress, self.dtype, self.maxlen = format, compress, dtype, maxlen
        self.records_sent = 0

    def send(self, ids: Optional[Sequence], embeddings: np.ndarray, scores: Optional[np.ndarray] = None) -> str:
        """Adds one entry; returns its stream id. Without ids, rows are numbered on from the records sent so far."""
        embeddings = np.asarray(embeddings)
        if ids is None:
            ids = [str(self.records_sent + row) for row in range(embeddings.shape[0])]
        payload = encode_entry(ids, embeddings, scores, self.format, self.compress, self.dtype)
        entry = self.redis.xadd(self.stream, {"records": payload}, maxlen=self.maxlen,
                                approximate=self.maxlen is not None)
        self.records_sent += len(ids)
        return entry.decode() if isinstance(entry, bytes) else entry

    def send_batches(self, batches: Iterable) -> list:
        """Sends `(ids, embeddings)` or `(ids, embeddings, scores)` tuples; returns the entry ids."""
        return [self.send(*batch) for batch in batches]

    def close(self):
        self.redis.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_verdicts(url: str, last_id: str = "0", block_ms: int = 1000, count: int = 100, client=None) -> Iterator[dict]:
    """Yields the decision lines (as dicts) of a `--decisions redis://…` stream from `last_id` on,
    until no entry arrives within `block_ms`."""
    host, port, stream = parse_stream_url(url)
    redis = client or _redis().Redis(host=host, port=port)
    while True:
        reply = redis.xread({stream: last_id}, count=count, block=block_ms)
        if not reply:
            return
        for _, entries in reply:
            for entry_id, fields in entries:
                last_id = entry_id
                for line in fields[b"lines"].splitlines():
                    if line:
                        yield json.loads(line)
