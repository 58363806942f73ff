"""Flow lines: the reply-mode client is told when the daemon stops reading its
connection and when it reads it again, and never takes those lines for
verdicts. Backpressure is forced with a decision log on a FIFO drained slowly."""
import os
import threading
import time

import prunerd
from conftest import blobs


def drain_slowly(fifo, out_path, rate):
    """Copies the FIFO into `out_path` at `rate` bytes/s (a slow disk)."""
    began, total = time.monotonic(), 0
    with open(fifo, "rb", buffering=0) as src, open(out_path, "wb") as dst:
        while chunk := src.read(65536):
            dst.write(chunk)
            total += len(chunk)
            ahead = total / rate - (time.monotonic() - began)
            if ahead > 0:
                time.sleep(ahead)


def test_pause_and_resume_are_told_and_never_yielded_as_verdicts(start_daemon, workdir):
    fifo = os.path.join(workdir, "d.jsonl")   # where the fixture's daemon writes its log
    os.mkfifo(fifo)
    copy = os.path.join(workdir, "copy.jsonl")
    drain = threading.Thread(target=drain_slowly, args=(fifo, copy, 1_500_000), daemon=True)
    drain.start()
    daemon = start_daemon("--warmup", "2000", "--clusters", "8", "--recompute-every", "1000", "--lookahead", "0")
    count = 40_000
    x, _ = blobs(count, dimension=16, seed=5)
    results = {}

    def run(name, flow):
        ids = [f"{name}{i}" for i in range(count)]
        lines = []
        client = prunerd.Client("unix:" + daemon.socket, flow=flow, batch_size=2000, on_flow=lines.append)
        verdicts = list(client.stream((ids[i:i + 2000], x[i:i + 2000]) for i in range(0, count, 2000)))
        results[name] = (client, verdicts, lines, ids)
        client.close()

    threads = [threading.Thread(target=run, args=(name, flow)) for name, flow in (("f", True), ("p", False))]
    for thread in threads:
        thread.start()
    # About 16 MB of decision lines at 1.5 MB/s: reading pauses, and status says so.
    paused = daemon.wait_for_status(lambda status: status["reading"]["paused"], timeout=120)
    assert paused["reading"]["reason"] in ("engine", "log")
    assert paused["reading"]["paused_for_seconds"] >= 0
    for thread in threads:
        thread.join(240)
    assert daemon.stop() == 0
    drain.join(120)

    client, verdicts, lines, ids = results["f"]
    assert client.flow_enabled
    assert [v["id"] for v in verdicts] == ids   # flow lines are not verdicts
    assert all("flow" not in v for v in verdicts)
    kinds = [line["flow"] for line in lines]
    assert kinds[0] == "on" and "pause" in kinds
    assert kinds[1:] == ["pause", "resume"] * ((len(kinds) - 1) // 2)   # pairs, ending resumed
    assert client.pauses == kinds.count("pause") and not client.paused
    assert client.paused_seconds > 0

    client, verdicts, lines, ids = results["p"]
    assert not client.flow_enabled and lines == [] and client.pauses == 0
    assert [v["id"] for v in verdicts] == ids
