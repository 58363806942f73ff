"""`prune`: runs the prunerd binary over arrays and returns the decisions as a table."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from typing import Optional, Sequence

import numpy as np

from .tables import columns_from_lines, to_table
from .writer import write_records

__all__ = ["prune", "find_binary", "option_arguments", "PrunerdError"]


class PrunerdError(RuntimeError):
    """The binary failed; the message carries its exit status and standard error."""


def find_binary() -> str:
    """`$PRUNERD_BINARY` if set, else `prunerd` on PATH."""
    configured = os.environ.get("PRUNERD_BINARY")
    if configured:
        if not (os.path.isfile(configured) and os.access(configured, os.X_OK)):
            raise FileNotFoundError(f"$PRUNERD_BINARY={configured} is not an executable file")
        return configured
    found = shutil.which("prunerd")
    if found is None:
        raise FileNotFoundError("prunerd not found: put it on PATH (scripts/install) or set $PRUNERD_BINARY")
    return found


def option_arguments(options: dict) -> list:
    """Keyword options → command-line options: `clusters=20` → `--clusters 20`,
    `dedup_threshold=0.05` → `--dedup-threshold 0.05`, `True` → a bare flag,
    `False`/`None` → omitted, a list → the option repeated."""
    arguments = []
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            arguments.append(flag)
        elif isinstance(value, (list, tuple)):
            for item in value:
                arguments += [flag, str(item)]
        else:
            arguments += [flag, str(value)]
    return arguments


def prune(embeddings: np.ndarray, ids: Optional[Sequence] = None, keep_ratio: float = 0.3, *,
          scores: Optional[np.ndarray] = None, streaming: bool = False, returns: str = "auto",
          binary: Optional[str] = None, **options):
    """Decides keep/drop for every row of `embeddings` (n × d) with the prunerd
    binary and returns one row per record, in input order, with columns
    id, decision, reason, cluster, dist, threshold.

    The exact batch recipe (`prunerd offline`) by default; `streaming=True` runs
    the streaming engine (`prunerd serve`) over the same records. `options` are
    the binary's long options with underscores (`clusters=20`, `seed=1`,
    `dedup_threshold=0.05`, `lookahead=0`, …). The table is a pandas DataFrame
    if pandas is installed, else a pyarrow Table, else a dict of numpy arrays
    (`returns=` forces one: "pandas", "arrow", "numpy"); in the dict, `cluster`
    is -1 and `dist`/`threshold` NaN where the log has null.
    """
    executable = binary or find_binary()
    embeddings = np.asarray(embeddings) if not hasattr(embeddings, "shape") else embeddings
    with tempfile.TemporaryDirectory(prefix="prunerd-prune-") as work:
        log_path = os.path.join(work, "decisions.jsonl")
        command = [executable, "serve" if streaming else "offline", "-", "--decisions", log_path,
                   "--keep-ratio", str(keep_ratio)] + option_arguments(options)
        with open(os.path.join(work, "stderr"), "w+b") as stderr:
            process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=stderr)
            failure = []

            def feed():
                try:
                    write_records(process.stdin, ids, embeddings, scores)
                except BrokenPipeError:
                    pass  # the binary stopped reading: its exit status says why
                except BaseException as error:
                    failure.append(error)
                finally:
                    try:
                        process.stdin.close()
                    except BrokenPipeError:
                        pass
            feeder = threading.Thread(target=feed, name="prunerd-prune-feed", daemon=True)
            feeder.start()
            status = process.wait()
            feeder.join()
            stderr.seek(0)
            message = stderr.read().decode("utf-8", "replace").strip()
        if failure:
            raise failure[0]
        if status != 0:
            raise PrunerdError(f"{' '.join(command)} exited with status {status}: {message}")
        with open(log_path, "rb") as log:
            columns = columns_from_lines(log)
    return to_table(columns, returns)
