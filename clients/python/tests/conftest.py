"""Fixtures: the real prunerd binary, a real daemon on a unix socket, and
seeded synthetic embeddings with concept structure."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import numpy as np
import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def _binary():
    configured = os.environ.get("PRUNERD_BINARY")
    if configured:
        return configured
    candidates = [os.path.join(REPO, ".build", kind, "prunerd") for kind in ("release", "debug")]
    built = [path for path in candidates if os.path.exists(path)]
    if not built:
        subprocess.run(["swift", "build", "--product", "prunerd"], cwd=REPO, check=True)
        built = [candidates[1]]
    return max(built, key=os.path.getmtime)   # the freshest build


@pytest.fixture(scope="session")
def binary():
    path = _binary()
    assert os.access(path, os.X_OK), f"no prunerd binary at {path}"
    os.environ["PRUNERD_BINARY"] = path   # what prunerd.prune() finds
    return path


@pytest.fixture
def workdir():
    # Short paths: a unix socket path must fit in 108 bytes.
    path = tempfile.mkdtemp(prefix="prd-py-", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def blobs(count, dimension=32, concepts=8, seed=0, dtype=np.float32):
    """Seeded records around `concepts` random directions (unit vectors)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(concepts, dimension))
    labels = rng.integers(0, concepts, size=count)
    x = centers[labels] + 0.6 * rng.normal(size=(count, dimension))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(dtype), labels


class Daemon:
    """`prunerd serve --listen unix:SOCKET` as a real process."""

    def __init__(self, binary, workdir, *options, name="d", reply=True, socket_path=None):
        self.socket = socket_path or os.path.join(workdir, name + ".sock")
        self.control = os.path.join(workdir, name + ".ctl")
        self.log = os.path.join(workdir, name + ".jsonl")
        self.state = os.path.join(workdir, name + "-state")
        self.stderr_path = os.path.join(workdir, name + ".stderr")
        command = [binary, "serve", "--listen", "unix:" + self.socket, "--decisions", self.log,
                   "--state-dir", self.state, "--control", self.control, "--log-level", "info"]
        command += (["--reply"] if reply else []) + [str(o) for o in options]
        self.stderr = open(self.stderr_path, "wb")
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.stderr)
        self.wait_for_socket(self.socket)
        self.wait_for_socket(self.control)

    def wait_for_socket(self, path, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"prunerd exited with {self.process.returncode}: {self.stderr_text()}")
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(path)
                return
            except OSError:
                time.sleep(0.02)
            finally:
                probe.close()
        raise AssertionError(f"no daemon on {path} after {timeout}s: {self.stderr_text()}")

    def stderr_text(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self, sig=signal.SIGTERM, timeout=120):
        if self.process.poll() is None:
            self.process.send_signal(sig)
        status = self.process.wait(timeout)
        self.stderr.close()
        return status

    def status(self):
        """The control socket's status document."""
        import json
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as control:
            control.connect(self.control)
            control.sendall(b"status\n")
            data = b""
            while chunk := control.recv(65536):
                data += chunk
        return json.loads(data)

    def wait_for_status(self, predicate, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.status()
            if predicate(status):
                return status
            time.sleep(0.02)
        raise AssertionError(f"status never satisfied the condition: {self.status()}")

    def wait_for_lines(self, count, timeout=120):
        """Waits until the decision log holds `count` whole lines."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self.log_lines()
            if len(lines) >= count:
                return lines
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError(f"{len(self.log_lines())} of {count} decision lines: {self.stderr_text()}")

    def log_lines(self):
        import json
        if not os.path.exists(self.log):
            return []
        with open(self.log, "rb") as f:
            return [json.loads(line) for line in f if line.endswith(b"\n")]


@pytest.fixture
def start_daemon(binary, workdir):
    started = []

    def start(*options, **kwargs):
        daemon = Daemon(binary, workdir, *options, **kwargs)
        started.append(daemon)
        return daemon
    yield start
    for daemon in started:
        if daemon.process.poll() is None:
            daemon.process.kill()
            daemon.process.wait()
