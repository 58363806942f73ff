"""clip-retrieval and DataComp layouts made here with pyarrow, through the real binary."""
import os
import subprocess

import numpy as np
import pytest

import prunerd
from conftest import blobs

pyarrow = pytest.importorskip("pyarrow")
import pyarrow.parquet as pq  # noqa: E402


def make_clip_retrieval_folder(root, shard_sizes, dimension=32):
    """What clip-retrieval writes: img_emb/img_emb_N.npy (float16) + metadata/metadata_N.parquet."""
    os.makedirs(os.path.join(root, "img_emb"))
    os.makedirs(os.path.join(root, "metadata"))
    x, _ = blobs(sum(shard_sizes), dimension=dimension, concepts=6, seed=11, dtype=np.float16)
    uids, start = [], 0
    for number, size in enumerate(shard_sizes):
        rows = x[start:start + size]
        shard_uids = [f"{(start + i) * 2654435761 % (1 << 128):032x}" for i in range(size)]
        np.save(os.path.join(root, "img_emb", f"img_emb_{number}.npy"), rows)
        pq.write_table(pyarrow.table({
            "uid": shard_uids,
            "url": [f"https://example.org/{u}.jpg" for u in shard_uids],
            "caption": [f"a photo number {start + i}" for i in range(size)],
        }), os.path.join(root, "metadata", f"metadata_{number}.parquet"))
        uids += shard_uids
        start += size
    return x, uids


def test_a_clip_retrieval_folder_streams_shard_by_shard_and_kept_ids_come_out_as_parquet(binary, workdir):
    folder = os.path.join(workdir, "clip")
    # Shard 10 after shard 2: numeric order, not lexical.
    x, uids = make_clip_retrieval_folder(folder, [700, 500, 600])
    os.rename(os.path.join(folder, "img_emb", "img_emb_2.npy"), os.path.join(folder, "img_emb", "img_emb_10.npy"))
    os.rename(os.path.join(folder, "metadata", "metadata_2.parquet"), os.path.join(folder, "metadata", "metadata_10.parquet"))
    shards = list(prunerd.read_clip_retrieval(folder))
    assert [len(ids) for ids, _ in shards] == [700, 500, 600]
    assert all(emb.dtype == np.float16 and emb.shape[1] == 32 for _, emb in shards)
    assert sum((ids for ids, _ in shards), []) == uids

    stream = os.path.join(workdir, "clip.lz4")
    assert prunerd.write_shards(stream, prunerd.read_clip_retrieval(folder)) == 1800
    table = prunerd.prune(np.concatenate([emb for _, emb in shards]), uids, keep_ratio=0.3, clusters=6,
                          returns="numpy")
    kept = prunerd.kept_ids(table)
    assert len(kept) == 540
    # The shard-by-shard stream, decided by the binary itself, keeps the same records.
    log = os.path.join(workdir, "clip.jsonl")
    subprocess.run([binary, "offline", stream, "--decisions", log, "--keep-ratio", "0.3", "--clusters", "6"],
                   check=True, capture_output=True)
    assert prunerd.kept_ids(log) == kept
    out = os.path.join(workdir, "kept.parquet")
    prunerd.write_ids_parquet(out, kept)
    assert pq.read_table(out).column("uid").to_pylist() == kept
    resharder = prunerd.datacomp_uid_array(kept)
    assert resharder.dtype == np.dtype("u8,u8") and len(resharder) == 540
    pairs = resharder.tolist()
    assert pairs == sorted(pairs)
    # The binary's own writer of the same array agrees, byte for byte.
    from_binary = os.path.join(workdir, "kept-by-binary.npy")
    subprocess.run([binary, "kept", log, "-o", from_binary], check=True, capture_output=True)
    np.save(os.path.join(workdir, "kept-by-python.npy"), resharder)
    assert open(from_binary, "rb").read() == open(os.path.join(workdir, "kept-by-python.npy"), "rb").read()
    assert f"{resharder[0][0]:016x}{resharder[0][1]:016x}" == min(kept)


def test_a_mismatched_shard_names_both_files(workdir):
    folder = os.path.join(workdir, "bad")
    make_clip_retrieval_folder(folder, [50])
    np.save(os.path.join(folder, "img_emb", "img_emb_0.npy"), np.zeros((49, 32), np.float16))
    with pytest.raises(ValueError, match="img_emb_0.npy.*49.*50 metadata rows.*metadata_0.parquet"):
        list(prunerd.read_clip_retrieval(folder))


def test_a_datacomp_pool_carries_its_clip_scores_to_the_score_filter(binary, workdir):
    x, _ = blobs(900, dimension=24, seed=12)
    uids = [f"{i:032x}" for i in range(900)]
    score = np.linspace(0.1, 0.4, 900).astype(np.float64)
    for shard, rows in enumerate([slice(0, 400), slice(400, 900)]):
        pq.write_table(pyarrow.table({"uid": uids[rows], "clip_l14_similarity_score": score[rows],
                                      "text": ["t"] * len(uids[rows])}), os.path.join(workdir, f"{shard:08d}.parquet"))
        np.savez(os.path.join(workdir, f"{shard:08d}.npz"), l14_img=x[rows].astype(np.float16),
                 b32_img=np.zeros((len(uids[rows]), 8), np.float16))
    shards = list(prunerd.read_datacomp(workdir))
    assert [len(s[0]) for s in shards] == [400, 500]
    ids = sum((s[0] for s in shards), [])
    embeddings = np.concatenate([s[1] for s in shards])
    scores = np.concatenate([s[2] for s in shards])
    assert ids == uids and embeddings.shape == (900, 24)
    table = prunerd.prune(embeddings, ids, scores=scores, clusters=4, min_score=0.2, returns="numpy")
    low = table["reason"] == "low_score"
    np.testing.assert_array_equal(low, scores < np.float32(0.2))
