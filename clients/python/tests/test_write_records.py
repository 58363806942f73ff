"""write_records → the real binary, through a file, a pipe and sockets."""
import json
import os
import socket
import subprocess

import numpy as np
import pytest

import prunerd
from conftest import blobs


def test_records_match_the_specifications_worked_example():
    # docs/wire-format.md, "Worked example", byte for byte.
    assert prunerd.encode_record("a1", [1.0, 0.5, -2.0], 0.75, "float16").hex() == \
        "50524e311200000002010300020061310" + "03c0038" + "00c000004" + "03f"
    assert prunerd.encode_record("a1", [1.0, 0.5, -2.0], None, "float32").hex() == \
        "50524e31140000000100030002006131" + "0000803f0000003f000000c0"
    assert prunerd.encode_record("a1", [1.0, 0.5, -2.0], None, "bfloat16").hex() == \
        "50524e310e0000000300030002006131803f003f00c0"


def run_file(binary, path, workdir, *options):
    log = os.path.join(workdir, "file.jsonl")
    subprocess.run([binary, "serve", path, "--decisions", log, "--warmup", "200", "--clusters", "4",
                    "--lookahead", "0", *options], check=True, capture_output=True)
    with open(log) as f:
        return [json.loads(line) for line in f]


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
@pytest.mark.parametrize("compress", [True, False])
def test_a_file_in_every_element_type_is_decided_record_for_record(binary, workdir, dtype, compress):
    x, _ = blobs(1000, dimension=24)
    ids = [f"rec-{i}" for i in range(len(x))]
    path = os.path.join(workdir, "x.prn1")
    assert prunerd.write_records(path, ids, x, dtype=dtype, compress=compress, batch_size=300) == 1000
    with open(path, "rb") as f:
        magic = f.read(4)
    assert magic == (b"\x04\x22\x4d\x18" if compress else b"PRN1")
    lines = run_file(binary, path, workdir)
    assert [line["id"] for line in lines] == ids
    assert {line["decision"] for line in lines} <= {"keep", "drop"}


def test_scores_reach_the_daemon(binary, workdir):
    # --min-score drops exactly the records whose score is below it: the scores went through.
    x, _ = blobs(800, dimension=16)
    scores = np.linspace(0.0, 1.0, len(x), dtype=np.float32)
    path = os.path.join(workdir, "scored.lz4")
    prunerd.write_records(path, None, x, scores=scores)
    lines = run_file(binary, path, workdir, "--min-score", "0.25")
    low = [line["id"] for line in lines if line["reason"] == "low_score"]
    assert low == [str(i) for i in range(len(x)) if scores[i] < 0.25]


def test_a_pipe_into_the_binary(binary, workdir):
    x, _ = blobs(500, dimension=16, dtype=np.float16)
    log = os.path.join(workdir, "pipe.jsonl")
    process = subprocess.Popen([binary, "serve", "-", "--decisions", log, "--warmup", "100", "--clusters", "4"],
                               stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    prunerd.write_records(process.stdin, [f"p{i}" for i in range(500)], x)
    process.stdin.close()
    assert process.wait(60) == 0, process.stderr.read()
    with open(log) as f:
        assert [json.loads(line)["id"] for line in f] == [f"p{i}" for i in range(500)]


def free_tcp_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("transport", ["unix", "tcp"])
def test_a_socket_of_a_listening_daemon(binary, workdir, transport):
    from conftest import Daemon
    x, _ = blobs(600, dimension=16)
    if transport == "unix":
        daemon = Daemon(binary, workdir, "--warmup", "100", "--clusters", "4", "--lookahead", "0", reply=False)
        address = "unix:" + daemon.socket
    else:
        port = free_tcp_port()
        daemon = Daemon(binary, workdir, "--listen", f"tcp:127.0.0.1:{port}", "--warmup", "100", "--clusters", "4",
                        "--lookahead", "0", reply=False)
        address = f"tcp:127.0.0.1:{port}"
        daemon.wait_for_socket(daemon.socket)
    try:
        prunerd.write_records(address, [f"s{i}" for i in range(600)], x)
        daemon.wait_for_lines(600)   # read and decided: a stop now loses nothing
        status = daemon.stop()
    finally:
        if daemon.process.poll() is None:
            daemon.process.kill()
    assert status == 0, daemon.stderr_text()
    lines = daemon.log_lines()
    assert [line["id"] for line in lines] == [f"s{i}" for i in range(600)]
    assert lines[0]["src"].startswith(transport + ":")
