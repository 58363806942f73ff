"""prune() runs the real binary and returns its decisions as a table."""
import json
import os
import subprocess

import numpy as np
import pytest

import prunerd
from conftest import blobs


def test_prune_matches_the_binary_run_by_hand(binary, workdir):
    x, _ = blobs(3000, dimension=32, concepts=10, seed=2)
    ids = [f"id{i}" for i in range(len(x))]
    table = prunerd.prune(x, ids, keep_ratio=0.3, clusters=10, seed=1, returns="numpy")
    assert list(table) == list(prunerd.COLUMNS)
    assert table["id"].tolist() == ids
    # The same records through the command line give the same decisions.
    path = os.path.join(workdir, "x.lz4")
    prunerd.write_records(path, ids, x)
    log = os.path.join(workdir, "cli.jsonl")
    subprocess.run([binary, "offline", path, "--decisions", log, "--keep-ratio", "0.3", "--clusters", "10",
                    "--seed", "1"], check=True, capture_output=True)
    with open(log) as f:
        lines = [json.loads(line) for line in f]
    assert table["decision"].tolist() == [line["decision"] for line in lines]
    assert table["cluster"].tolist() == [line["cluster"] for line in lines]
    np.testing.assert_allclose(table["dist"], [line["dist"] for line in lines])
    kept = (table["decision"] == "keep").sum()
    assert kept == round(0.3 * len(x))   # the exact recipe keeps exactly M = ρ·n
    assert set(table["cluster"].tolist()) == set(range(10))


def test_prune_returns_an_arrow_table_without_pandas(binary):
    pyarrow = pytest.importorskip("pyarrow")
    x, _ = blobs(500, dimension=16)
    table = prunerd.prune(x, None, keep_ratio=0.5, clusters=4, returns="arrow")
    assert isinstance(table, pyarrow.Table)
    assert table.column_names == list(prunerd.COLUMNS)
    assert table.column("id").to_pylist() == [str(i) for i in range(500)]
    assert len(prunerd.kept_ids(table)) == 250


def test_rejected_records_have_null_columns(binary):
    x, _ = blobs(400, dimension=16)
    x[7] = 0.0            # zero_vector
    x[9, 3] = np.nan      # non_finite
    table = prunerd.prune(x, None, clusters=4, returns="numpy")
    assert table["decision"][7] == "reject" and table["reason"][7] == "zero_vector"
    assert table["reason"][9] == "non_finite"
    assert table["cluster"][7] == -1 and np.isnan(table["dist"][9]) and np.isnan(table["threshold"][9])


def test_streaming_runs_serve(binary):
    x, _ = blobs(2000, dimension=16, seed=4)
    table = prunerd.prune(x, None, keep_ratio=0.3, streaming=True, clusters=4, warmup=300, lookahead=0,
                          returns="numpy")
    assert len(table["id"]) == 2000
    assert abs((table["decision"] == "keep").mean() - 0.3) < 0.02


def test_options_with_underscores_and_flags_reach_the_binary(binary):
    x, _ = blobs(600, dimension=16)
    x[300:310] = x[200:210]   # exact copies: dropped as duplicates with dedup on
    table = prunerd.prune(x, None, clusters=4, dedup_threshold=0.01, returns="numpy")
    assert (table["reason"] == "duplicate").sum() >= 10


def test_a_bad_option_raises_with_the_binarys_message(binary):
    x, _ = blobs(100, dimension=8)
    with pytest.raises(prunerd.PrunerdError, match="keep-ratio"):
        prunerd.prune(x, None, keep_ratio=1.5)
