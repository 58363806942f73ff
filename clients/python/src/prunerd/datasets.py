"""Readers for the layouts embeddings come in, one shard at a time, and
writers for kept ids (parquet, DataComp's uid array).

Embeddings are memory-mapped (`np.load(mmap_mode="r")`), so a shard is read
as it is sent, never loaded whole. Parquet needs pyarrow.
"""
from __future__ import annotations

import os
import re
from typing import Iterator, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = ["read_clip_retrieval", "read_datacomp", "write_ids_parquet", "datacomp_uid_array"]

_SHARD = re.compile(r"^(?:img_emb|text_emb)_(\d+)\.npy$")


def _pyarrow_parquet():
    try:
        import pyarrow.parquet
    except ImportError as error:
        raise ImportError("reading or writing parquet needs pyarrow: pip install 'prunerd[parquet]'") from error
    return pyarrow.parquet


def _strings(column) -> list:
    return [None if value is None else str(value) for value in column.to_pylist()]


def read_clip_retrieval(folder: Union[str, os.PathLike], embeddings: str = "img_emb",
                        id_column: Optional[str] = None) -> Iterator[Tuple[list, np.ndarray]]:
    """Yields `(ids, embeddings)` per shard of a clip-retrieval output folder:
    `img_emb/img_emb_N.npy` (float16, memory-mapped) paired with the rows of
    `metadata/metadata_N.parquet`, shards in numeric order of N.

    embeddings: the subfolder (`img_emb` or `text_emb`). id_column: the
    metadata column used as id; default the first of `uid`, `key`, `url`,
    `image_path` that the metadata has.
    """
    folder = os.fspath(folder)
    emb_dir = os.path.join(folder, embeddings)
    meta_dir = os.path.join(folder, "metadata")
    if not os.path.isdir(emb_dir) or not os.path.isdir(meta_dir):
        raise FileNotFoundError(f"{folder}: not a clip-retrieval folder (expected {embeddings}/ and metadata/)")
    shards = sorted((int(m.group(1)), name) for name in os.listdir(emb_dir) if (m := _SHARD.match(name)))
    if not shards:
        raise FileNotFoundError(f"{emb_dir}: no {embeddings}_N.npy shards")
    parquet = _pyarrow_parquet()
    for number, name in shards:
        meta_path = os.path.join(meta_dir, f"metadata_{number}.parquet")
        if not os.path.exists(meta_path):
            raise FileNotFoundError(f"{meta_path}: missing metadata for {os.path.join(emb_dir, name)}")
        schema_names = parquet.read_schema(meta_path).names
        column = id_column or next((c for c in ("uid", "key", "url", "image_path") if c in schema_names), None)
        if column is None or column not in schema_names:
            raise KeyError(f"{meta_path}: no id column (has {schema_names}; pass id_column=)")
        ids = _strings(parquet.read_table(meta_path, columns=[column]).column(column))
        vectors = np.load(os.path.join(emb_dir, name), mmap_mode="r")
        if vectors.ndim != 2 or vectors.shape[0] != len(ids):
            raise ValueError(f"{os.path.join(emb_dir, name)}: {vectors.shape} embeddings for {len(ids)} metadata rows in {meta_path}")
        yield ids, vectors


def read_datacomp(parquet: Union[str, Sequence[str]], npz: Union[str, Sequence[str], None] = None,
                  key: str = "l14_img", score_column: Optional[str] = "clip_l14_similarity_score",
                  id_column: str = "uid") -> Iterator[Tuple[list, np.ndarray, Optional[np.ndarray]]]:
    """Yields `(ids, embeddings, scores)` per shard of a DataComp pool: the
    `uid` column of each parquet file, the `key` array (`l14_img`, `b32_img`, …)
    of the `.npz` with the same rows, and `clip_l14_similarity_score` as the
    records' score (None when `score_column` is None).

    parquet and npz: one path each, equal-length lists of paths, or a directory
    as `parquet` (npz None) whose `NAME.parquet` files pair with `NAME.npz`.
    """
    if npz is None:
        folder = os.fspath(parquet)
        if not os.path.isdir(folder):
            raise ValueError("read_datacomp: give npz= or a directory of NAME.parquet + NAME.npz shards")
        stems = sorted(name[:-len(".parquet")] for name in os.listdir(folder) if name.endswith(".parquet"))
        pairs = [(os.path.join(folder, s + ".parquet"), os.path.join(folder, s + ".npz")) for s in stems]
    elif isinstance(parquet, (str, os.PathLike)):
        pairs = [(os.fspath(parquet), os.fspath(npz))]
    else:
        if len(parquet) != len(npz):
            raise ValueError(f"{len(parquet)} parquet files for {len(npz)} npz files")
        pairs = list(zip(parquet, npz))
    reader = _pyarrow_parquet()
    for parquet_path, npz_path in pairs:
        columns = [id_column] + ([score_column] if score_column else [])
        table = reader.read_table(parquet_path, columns=columns)
        ids = _strings(table.column(id_column))
        scores = None
        if score_column:
            scores = np.asarray(table.column(score_column).to_numpy(zero_copy_only=False), dtype=np.float32)
        with np.load(npz_path) as archive:
            if key not in archive.files:
                raise KeyError(f"{npz_path}: no array {key!r} (has {archive.files})")
            vectors = archive[key]
        if vectors.ndim != 2 or vectors.shape[0] != len(ids):
            raise ValueError(f"{npz_path}[{key}]: {vectors.shape} embeddings for {len(ids)} rows in {parquet_path}")
        yield ids, vectors, scores


def write_ids_parquet(path: Union[str, os.PathLike], ids: Sequence, column: str = "uid") -> None:
    """Writes ids (e.g. `kept_ids(table)`) as a one-column parquet file, atomically."""
    parquet = _pyarrow_parquet()
    import pyarrow
    path = os.fspath(path)
    temporary = path + ".tmp"
    parquet.write_table(pyarrow.table({column: pyarrow.array([str(i) for i in ids], type=pyarrow.string())}), temporary)
    os.replace(temporary, path)


def datacomp_uid_array(ids: Sequence[str]) -> np.ndarray:
    """32-hex-digit uids → the sorted `u8,u8` array DataComp's resharder reads
    (`np.save("kept.npy", datacomp_uid_array(ids))`): each uid split as
    (int(uid[:16], 16), int(uid[16:32], 16)), repeats removed — what
    `prunerd kept LOG -o kept.npy` and `--kept-ids kept.npy` write."""
    for u in ids:
        if len(u) != 32 or any(c not in "0123456789abcdefABCDEF" for c in u):
            raise ValueError(f"{u!r} is not a 32-hex-digit uid (DataComp's)")
    pairs = np.array([(int(u[:16], 16), int(u[16:32], 16)) for u in ids], dtype="u8,u8")
    return np.unique(pairs)
