"""The Redis producer against a real redis-server and a real prunerd shard:
numpy batches XADDed as PRN1 (LZ4) and JSON Lines entries, every record decided
exactly once in the decision log, every entry acknowledged, and the verdicts read
back from the decision stream."""
import json
import os
import shutil
import signal
import socket
import subprocess
import time

import numpy as np
import pytest

from conftest import blobs

redis = pytest.importorskip("redis")
pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed (scripts/install-deps)")

from prunerd import StreamProducer, read_verdicts   # noqa: E402
from prunerd.redis_stream import encode_entry, parse_stream_url   # noqa: E402


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def redis_server(workdir):
    port = free_port()
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", workdir], stdout=subprocess.DEVNULL)
    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.02)
    yield port, client
    server.kill()
    server.wait()


def wait_until(predicate, timeout=120, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_parse_stream_url():
    assert parse_stream_url("redis://127.0.0.1:7000/crawl?group=g") == ("127.0.0.1", 7000, "crawl")
    with pytest.raises(ValueError):
        parse_stream_url("redis://127.0.0.1:7000/")


def test_entry_encodings_decode(binary, workdir):
    x, _ = blobs(5, dimension=8, seed=3)
    for format in ("prn1", "jsonl"):
        for compress in (True, False):
            path = os.path.join(workdir, f"entry-{format}-{compress}")
            with open(path, "wb") as f:
                f.write(encode_entry([f"r{i}" for i in range(5)], x, format=format, compress=compress))
            decoded = subprocess.run([binary, "decode", path], capture_output=True, check=True).stdout.decode().splitlines()
            assert [json.loads(line)["id"] for line in decoded] == [f"r{i}" for i in range(5)]


def test_producer_to_shard_exactly_once(binary, workdir, redis_server):
    port, client = redis_server
    url = f"redis://127.0.0.1:{port}/crawl"
    log = os.path.join(workdir, "d.jsonl")
    stderr = open(os.path.join(workdir, "d.stderr"), "wb")
    daemon = subprocess.Popen([binary, "serve", "--listen", url + "?group=shards", "--consumer", "py-1",
                               "--decisions", log, "--decisions", f"redis://127.0.0.1:{port}/verdicts",
                               "--state-dir", os.path.join(workdir, "state"), "--control", os.path.join(workdir, "c.sock"),
                               "--warmup", "500", "--clusters", "8", "--max-hold", "0.3", "--lookahead", "0",
                               "--checkpoint-every", "1"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        x, _ = blobs(3000, dimension=32, seed=11)
        ids = [f"rec-{i}" for i in range(3000)]
        with StreamProducer(url) as producer:
            entries = [producer.send(ids[i:i + 250], x[i:i + 250]) for i in range(0, 2000, 250)]
        with StreamProducer(url, format="jsonl", compress=False) as producer:
            entries += [producer.send(ids[i:i + 250], x[i:i + 250]) for i in range(2000, 3000, 250)]
        assert len(entries) == 12

        def lines():
            if not os.path.exists(log):
                return []
            with open(log) as f:
                return [json.loads(line) for line in f if line.endswith("\n")]

        wait_until(lambda: len(lines()) >= 3000, what="3000 decision lines")
        # Acknowledged only after the lines are durable; with a state directory, after a checkpoint.
        wait_until(lambda: client.xpending("crawl", "shards")["pending"] == 0, what="every entry acknowledged")
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(60) == 0
        stderr.close()
    decided = lines()
    assert sorted(line["id"] for line in decided) == sorted(ids)   # each record exactly once
    assert {line["src"].rsplit("/", 1)[1] for line in decided} == set(entries)
    assert client.xpending("crawl", "shards")["pending"] == 0
    verdicts = list(read_verdicts(f"redis://127.0.0.1:{port}/verdicts", block_ms=200))
    assert sorted(v["id"] for v in verdicts) == sorted(ids)
    kept = sum(1 for line in decided if line["decision"] == "keep")
    assert 0.2 < kept / 3000 < 0.4
