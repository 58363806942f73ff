"""prunerd's Python client.

- `write_records(dest, ids, embeddings, scores=None)`: numpy → PRN1 (LZ4-framed)
  to a file, a pipe, `unix:PATH` or `tcp:HOST:PORT`.
- `Client(address)`: streams batches to a daemon; in reply mode yields verdicts
  as they come back and, after a reconnect, resends exactly the unanswered records.
- `prune(embeddings, ids, keep_ratio=0.3, **options)`: runs the binary's offline
  (or streaming) recipe and returns the decisions as a table.
- `StreamProducer(url)`: XADDs numpy batches to a Redis stream that prunerd
  shards read as a consumer group; `read_verdicts(url)` reads a decision stream.
- `read_clip_retrieval(folder)`, `read_datacomp(parquet, npz)`: shards in;
  `kept_ids`, `write_ids_parquet`, `datacomp_uid_array`: kept ids out.
"""
from .client import Client, ConnectionLost
from .datasets import datacomp_uid_array, read_clip_retrieval, read_datacomp, write_ids_parquet
from .redis_stream import StreamProducer, read_verdicts
from .run import PrunerdError, find_binary, prune
from .tables import COLUMNS, kept_ids, read_decisions
from .wire import encode_record, encode_records
from .writer import write_records, write_shards

__version__ = "0.1.0"

__all__ = [
    "Client", "ConnectionLost", "PrunerdError", "COLUMNS",
    "write_records", "write_shards", "encode_record", "encode_records",
    "StreamProducer", "read_verdicts", "prune", "find_binary", "read_decisions", "kept_ids",
    "read_clip_retrieval", "read_datacomp", "write_ids_parquet", "datacomp_uid_array",
]
