"""Decision logs → columns, and columns → the table type the user has."""
from __future__ import annotations

import json
from typing import Dict, Iterable

import numpy as np

__all__ = ["COLUMNS", "read_decisions", "columns_from_lines", "to_table", "kept_ids"]

#: The columns of a decision table, in this order (docs/wire-format.md, the decision log).
COLUMNS = ("id", "decision", "reason", "cluster", "dist", "threshold")


def columns_from_lines(lines: Iterable) -> Dict[str, np.ndarray]:
    """Decision log lines (JSON) → a dict of numpy arrays, in line order.

    `cluster` is int64 with -1 where the log has null (rejected records);
    `dist` and `threshold` are float64 with NaN for null.
    """
    ids, decisions, reasons, clusters, dists, thresholds, scores = [], [], [], [], [], [], []
    for line in lines:
        if not line.strip():
            continue
        entry = json.loads(line)
        ids.append(entry["id"])
        decisions.append(entry["decision"])
        reasons.append(entry["reason"])
        cluster = entry.get("cluster")
        clusters.append(-1 if cluster is None else cluster)
        dist = entry.get("dist")
        dists.append(np.nan if dist is None else dist)
        threshold = entry.get("threshold")
        thresholds.append(np.nan if threshold is None else threshold)
    return {
        "id": np.array(ids, dtype=object),
        "decision": np.array(decisions, dtype=object),
        "reason": np.array(reasons, dtype=object),
        "cluster": np.array(clusters, dtype=np.int64),
        "dist": np.array(dists, dtype=np.float64),
        "threshold": np.array(thresholds, dtype=np.float64),
    }


def read_decisions(path, returns: str = "auto"):
    """A decision log file as a table (see `to_table`)."""
    with open(path, "rb") as log:
        return to_table(columns_from_lines(log), returns)


def to_table(columns: Dict[str, np.ndarray], returns: str = "auto"):
    """The columns as a pandas DataFrame (`returns="pandas"`), a pyarrow Table
    (`"arrow"`) or the dict itself (`"numpy"`). `"auto"`: pandas if it is
    installed, else pyarrow if installed, else the dict."""
    if returns not in ("auto", "pandas", "arrow", "numpy"):
        raise ValueError(f"returns={returns!r}: expected auto, pandas, arrow or numpy")
    if returns in ("auto", "pandas"):
        try:
            import pandas
            return pandas.DataFrame({name: columns[name] for name in COLUMNS})
        except ImportError:
            if returns == "pandas":
                raise
    if returns in ("auto", "arrow"):
        try:
            import pyarrow
            return pyarrow.table({
                "id": pyarrow.array(columns["id"].tolist(), type=pyarrow.string()),
                "decision": pyarrow.array(columns["decision"].tolist(), type=pyarrow.string()),
                "reason": pyarrow.array(columns["reason"].tolist(), type=pyarrow.string()),
                "cluster": pyarrow.array(columns["cluster"]),
                "dist": pyarrow.array(columns["dist"]),
                "threshold": pyarrow.array(columns["threshold"]),
            })
        except ImportError:
            if returns == "arrow":
                raise
    return columns


def _column(table, name) -> np.ndarray:
    if isinstance(table, dict):
        return np.asarray(table[name])
    if hasattr(table, "to_numpy") and hasattr(table, "columns") and not hasattr(table, "column"):  # pandas
        return table[name].to_numpy()
    return np.asarray(table.column(name).to_pylist(), dtype=object)  # pyarrow


def kept_ids(table) -> list:
    """The ids of kept records, in input order, from a decision table (any of
    `to_table`'s kinds) or the path of a decision log."""
    if isinstance(table, (str, bytes)) or hasattr(table, "__fspath__"):
        table = read_decisions(table, returns="numpy")
    ids = _column(table, "id")
    decisions = _column(table, "decision")
    return [record_id for record_id, decision in zip(ids, decisions) if decision == "keep"]
