"""Client against a real daemon on a unix socket, in reply mode."""
import os
import signal
import threading
import time

import numpy as np

import prunerd
from conftest import blobs


def shards_of(x, ids, size):
    for start in range(0, len(x), size):
        yield ids[start:start + size], x[start:start + size]


def test_reply_mode_yields_one_verdict_per_record_as_the_log_has_it(start_daemon):
    daemon = start_daemon("--warmup", "300", "--clusters", "6", "--lookahead", "0")
    x, _ = blobs(2500, dimension=32)
    ids = [f"c{i}" for i in range(len(x))]
    with prunerd.Client("unix:" + daemon.socket) as client:
        verdicts = list(client.stream(shards_of(x, ids, 700)))
        assert client.connections == 1 and client.resent == [] and client.unanswered == 0
    assert [v["id"] for v in verdicts] == ids
    assert [v["seq"] for v in verdicts] == list(range(len(ids)))
    assert daemon.stop() == 0
    logged = {line["id"]: line for line in daemon.log_lines()}
    for v in verdicts:   # the reply is the log's line
        assert logged[v["id"]] == v
    kept = sum(v["decision"] == "keep" for v in verdicts)
    assert abs(kept / len(ids) - 0.3) < 0.02


def test_verdicts_arrive_while_sending(start_daemon):
    # After warm-up, decisions for the first batch come back before the last is sent.
    daemon = start_daemon("--warmup", "200", "--clusters", "4", "--lookahead", "0")
    x, _ = blobs(1200, dimension=16, seed=3)
    ids = [f"v{i}" for i in range(len(x))]
    client = prunerd.Client("unix:" + daemon.socket, compress=True)
    client.send(ids[:600], x[:600])
    deadline = time.monotonic() + 60
    early = []
    while len(early) < 600 and time.monotonic() < deadline:
        early += client.poll()
        time.sleep(0.01)
    assert [v["id"] for v in early] == ids[:600]
    client.send(ids[600:], x[600:])
    rest = list(client.finish())
    assert [v["id"] for v in rest] == ids[600:]
    client.close()


def test_a_reconnect_resends_exactly_the_records_without_a_verdict(start_daemon):
    # Daemon 1 holds records back (--lookahead 500): after 1,000 records, the first
    # ones are answered and the rest wait. It is killed (no graceful drain), a new
    # daemon takes its socket, and the client resends only what had no verdict.
    first = start_daemon("--warmup", "200", "--clusters", "4", "--lookahead", "500", "--fresh", name="one")
    x, _ = blobs(1500, dimension=16, seed=5)
    ids = [f"r{i}" for i in range(len(x))]
    client = prunerd.Client("unix:" + first.socket, reconnect_timeout=60)
    client.send(ids[:1000], x[:1000])
    received = []
    deadline = time.monotonic() + 60
    while not any(v["id"] == "r400" for v in received) and time.monotonic() < deadline:
        received += client.poll()
        time.sleep(0.01)
    assert any(v["id"] == "r400" for v in received), "daemon one never answered r400"
    first.stop(signal.SIGKILL)

    # Daemon two takes over the same socket path; the client has been retrying it.
    second = start_daemon("--warmup", "200", "--clusters", "4", "--lookahead", "500", "--fresh", name="two",
                          socket_path=first.socket)
    deadline = time.monotonic() + 60
    while not client.resent and time.monotonic() < deadline:   # reconnected and resent
        time.sleep(0.01)
    assert client.resent, "the client never resent to daemon two"
    unanswered_before = client.resent[-1]
    # What had no verdict is exactly a tail of the first 1,000 records: everything
    # before it was answered by daemon one, in order.
    assert 0 < len(unanswered_before) < 1000
    assert unanswered_before == ids[1000 - len(unanswered_before):1000]
    client.send(ids[1000:], x[1000:])
    finisher = threading.Thread(target=lambda: received.extend(client.finish()))
    finisher.start()
    # Daemon two holds its last records (look-ahead) until it stops: stop it once it
    # has read everything; a graceful stop decides and answers every record it read.
    second.wait_for_status(lambda status: status["records_read"] == len(unanswered_before) + 500)
    assert second.stop() == 0
    finisher.join(60)
    client.close()

    # Usually two connections; three when the first retry reached daemon one's
    # listening socket in the instant before the kernel closed it. Each resend
    # is exactly the records without a verdict.
    assert client.connections >= 2
    assert all(resent == unanswered_before for resent in client.resent)
    assert sorted(v["id"] for v in received) == sorted(ids)     # one verdict per record
    assert len(received) == len(ids)
    answered_by_one = [v["id"] for v in received[:1000 - len(unanswered_before)]]
    assert answered_by_one == ids[:1000 - len(unanswered_before)]
    decided_by_two = [line["id"] for line in second.log_lines()]
    assert decided_by_two == unanswered_before + ids[1000:]    # only what had no verdict, then the new


def test_reply_mode_over_tcp_with_lz4_frames(start_daemon):
    from test_write_records import free_tcp_port
    port = free_tcp_port()
    daemon = start_daemon("--listen", f"tcp:127.0.0.1:{port}", "--warmup", "200", "--clusters", "4", "--lookahead", "0")
    x, _ = blobs(900, dimension=16, seed=9)
    ids = [f"t{i}" for i in range(len(x))]
    with prunerd.Client(f"tcp:127.0.0.1:{port}", compress=True, dtype="bfloat16") as client:
        verdicts = list(client.stream(shards_of(x, ids, 250)))
    assert [v["id"] for v in verdicts] == ids
    assert all(v["src"].startswith(f"tcp:127.0.0.1:{port}#") for v in verdicts)


def test_a_daemon_that_refuses_the_stream_ends_in_connection_lost(start_daemon):
    # A record over --max-record-size closes the input every time it is sent:
    # the client gives up with ConnectionLost instead of resending forever.
    import pytest
    daemon = start_daemon("--warmup", "20", "--clusters", "2", "--lookahead", "0", "--max-record-size", "4096")
    x, _ = blobs(50, dimension=16)
    client = prunerd.Client("unix:" + daemon.socket, reconnect_timeout=10)
    client.send([f"ok{i}" for i in range(50)], x)
    client.send(["huge"], np.ones((1, 4000), np.float32))   # 16 kB > 4 kB
    with pytest.raises(prunerd.ConnectionLost, match="without answering record .huge."):
        list(client.finish())
    client.close()
