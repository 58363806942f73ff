#!/usr/bin/env python3
"""Rate-limited PRN1 producer for the latency run: writes LZ4-framed PRN1
records to stdout (a pipe into `prunerd serve -`) or to a unix socket, first
`--burst` records at once (prunerd's warm-up), then a steady `--rate`
records/s for `--seconds`, in small batches (one LZ4 frame each, every
~2 ms, so no record waits in a half-filled LZ4 block). Records come from a
float16 .npy; when the file is exhausted it wraps around with the vector
elements rotated, so no record repeats.

Writes the wall-clock time (ns, time.time_ns, before each write) of every
batch with its first record index to `--times` (.npy, int64 pairs) so the
harness can compute send → decision latency from the decision log's `ts`.
"""
import argparse
import os
import socket
import sys
import time

import numpy as np
import lz4.frame

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_data import encode_prn1  # noqa: E402


def records(x, start, n):
    """Vectors start..start+n-1 of the endless stream over x (rotated on each wrap)."""
    out = []
    while n > 0:
        wrap, i = divmod(start, len(x))
        m = min(n, len(x) - i)
        v = x[i:i + m]
        out.append(np.roll(v, wrap, axis=1) if wrap else v)
        start += m
        n -= m
    return np.concatenate(out) if len(out) > 1 else out[0]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--vectors", required=True)
    p.add_argument("--rate", type=float, required=True)
    p.add_argument("--seconds", type=float, default=15)
    p.add_argument("--burst", type=int, default=0)
    p.add_argument("--period", type=float, default=0.002)
    p.add_argument("--unix", help="connect to this unix socket instead of writing to stdout")
    p.add_argument("--times", required=True)
    a = p.parse_args()

    x = np.load(a.vectors, mmap_mode="r")
    batch = max(1, int(round(a.rate * a.period)))
    steady = int(a.rate * a.seconds) // batch * batch
    total = a.burst + steady
    # Pre-encode everything so that sending is only os.write.
    frames = []
    for s in range(0, a.burst, 65536):
        m = min(65536, a.burst - s)
        frames.append((s, lz4.frame.compress(encode_prn1(records(x, s, m), start_id=s))))
    burst_frames = len(frames)
    for s in range(a.burst, total, batch):
        frames.append((s, lz4.frame.compress(encode_prn1(records(x, s, batch), start_id=s))))

    if a.unix:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        for _ in range(200):
            try:
                sock.connect(a.unix)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                time.sleep(0.05)
        fd = sock.fileno()
    else:
        fd = sys.stdout.fileno()
        try:
            import fcntl
            fcntl.fcntl(fd, 1031, 1 << 20)  # F_SETPIPE_SZ: 1 MiB
        except OSError:
            pass

    def send(data):
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]

    times = np.zeros((len(frames), 2), dtype=np.int64)
    for j in range(burst_frames):
        times[j] = (frames[j][0], time.time_ns())
        send(frames[j][1])
    t0 = time.perf_counter()
    late = 0
    for j in range(burst_frames, len(frames)):
        due = t0 + (j - burst_frames) * batch / a.rate
        while True:
            now = time.perf_counter()
            if now >= due:
                break
            if due - now > 0.0005:
                time.sleep(due - now - 0.0003)
        if now - due > 0.002:
            late += 1
        times[j] = (frames[j][0], time.time_ns())
        send(frames[j][1])
    elapsed = time.perf_counter() - t0
    np.save(a.times, times)
    if a.unix:
        sock.shutdown(socket.SHUT_WR)
        sock.close()
    else:
        os.close(fd)
    print("sender: %d records (%d burst + %d steady in %.2f s = %.0f records/s, batch %d, %d batches >2 ms late)"
          % (total, a.burst, steady, elapsed, steady / elapsed, batch, late), file=sys.stderr)


if __name__ == "__main__":
    main()
