#!/usr/bin/env python3
"""Load test of a running `prunerd serve` through real unix sockets.

Starts prunerd listening on a fresh unix socket, opens CLIENTS connections at
once (one thread each, blocking sockets, as a crawler's senders are), has each
send RECORDS PRN1 records (float16, distinct ids) and half-close, then waits
until every record has its decision line. Meanwhile it samples the daemon's
RSS. The run is checked, not just timed:

- every record of every client has exactly one decision line (by id and by
  (src, seq)), none is missing or doubled;
- the daemon is still running at the end and exits 0 on SIGTERM;
- no sender is stuck: the longest single `send` call is reported (a send blocks
  only while the daemon applies backpressure, see docs/reliability.md).

With --flow the daemon runs `--reply` and every client opens with the opt-in
line `{"flow":"on"}`: it reads its verdicts and the daemon's flow lines
(pause, resume) on a thread of its own, and checks issue 14's "no sender
blocked for longer than the backpressure it was told of": for every `send`,
the time it blocked outside the pauses told to its client (from the pause
line's arrival to the resume line's) must stay within --tolerance seconds
(the time the daemon takes to come back to a connection it is reading). The
figures per sender: its longest send, the told pause inside it, and the most
any send blocked untold.

With --slow-log BYTES_PER_SECOND the decision log is a FIFO that this script
drains at that rate (a slow disk): backpressure must then hold the daemon's
memory flat instead of growing or dropping lines.

  bench/load.py --clients 64 --records 50000
  bench/load.py --clients 1000 --records 1000
  bench/load.py --clients 32 --records 20000 --slow-log 4000000
  bench/load.py --clients 64 --records 50000 --flow

Prints one JSON object (figures) on stdout; progress on stderr. Exit status 1
when a check fails.
"""
import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from gen_data import clustered, encode_prn1  # noqa: E402  (the vectorised PRN1 encoder)

CHUNK_RECORDS = 512
FLOW_ON = b'{"flow":"on"}\n'


def rss_kib(pid):
    """Resident set size of `pid` in KiB (VmRSS), or None once it is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class Sampler(threading.Thread):
    """Samples the daemon's RSS every `period` seconds until stopped."""

    def __init__(self, pid, period=0.1):
        super().__init__(daemon=True)
        self.pid, self.period = pid, period
        self.samples = []  # (seconds since start, KiB)
        self.running = True
        self.start_time = time.monotonic()

    def run(self):
        while self.running:
            value = rss_kib(self.pid)
            if value is None:
                break
            self.samples.append((time.monotonic() - self.start_time, value))
            time.sleep(self.period)


class Sender(threading.Thread):
    """One client: connects, sends its records in chunks, half-closes, reads to EOF.
    With `flow`, it asks for flow lines and a second thread reads the replies."""

    def __init__(self, index, path, records, pool, first_id, flow=False):
        super().__init__(daemon=True)
        self.index, self.path, self.records, self.pool, self.first_id = index, path, records, pool, first_id
        self.flow = flow
        self.longest_send = 0.0
        self.sends = []          # (began, ended) of each send, monotonic seconds
        self.flow_lines = []     # (arrived, line) of each flow line
        self.verdicts = 0
        self.sent_records = 0
        self.error = None
        self.done_at = None

    def run(self):
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(self.path)
            reader = None
            if self.flow:
                s.sendall(FLOW_ON)
                reader = threading.Thread(target=self.read_replies, args=(s,), daemon=True)
                reader.start()
            rng = np.random.default_rng(self.index)
            for start in range(0, self.records, CHUNK_RECORDS):
                n = min(CHUNK_RECORDS, self.records - start)
                rows = self.pool[rng.integers(0, len(self.pool), n)]
                data = encode_prn1(rows, start_id=self.first_id + start)
                began = time.monotonic()
                s.sendall(data)
                ended = time.monotonic()
                self.sends.append((began, ended))
                self.longest_send = max(self.longest_send, ended - began)
                self.sent_records += n
            s.shutdown(socket.SHUT_WR)
            if reader:
                reader.join()
            else:
                while s.recv(65536):
                    pass
            s.close()
        except OSError as error:
            self.error = repr(error)
        self.done_at = time.monotonic()

    def read_replies(self, s):
        rest = b""
        try:
            while True:
                chunk = s.recv(1 << 16)
                if not chunk:
                    break
                arrived = time.monotonic()
                lines = (rest + chunk).split(b"\n")
                rest = lines.pop()
                for line in lines:
                    if line.startswith(b'{"flow"'):
                        self.flow_lines.append((arrived, json.loads(line)))
                    else:
                        self.verdicts += 1
        except OSError as error:
            self.error = repr(error)

    def told_pauses(self, end):
        """(from, to) of each pause told: the pause line's arrival to the resume line's."""
        spans, since = [], None
        for arrived, line in self.flow_lines:
            if line["flow"] == "pause" and since is None:
                since = arrived
            elif line["flow"] == "resume" and since is not None:
                spans.append((since, arrived))
                since = None
        if since is not None:
            spans.append((since, end))
        return spans

    def blocked_vs_told(self):
        """Per sender: the longest send and the told pause inside it, the most a send blocked
        outside told pauses, and the totals (seconds)."""
        spans = self.told_pauses(self.done_at or time.monotonic())
        longest = (0.0, 0.0)
        worst_untold = 0.0
        blocked_total = told_total = 0.0
        j = 0
        for began, ended in self.sends:
            while j < len(spans) and spans[j][1] < began:
                j += 1
            told = 0.0
            k = j
            while k < len(spans) and spans[k][0] < ended:
                told += max(0.0, min(ended, spans[k][1]) - max(began, spans[k][0]))
                k += 1
            blocked = ended - began
            if blocked > longest[0]:
                longest = (blocked, told)
            worst_untold = max(worst_untold, blocked - told)
            blocked_total += blocked
        told_total = sum(line.get("paused_ms", 0) for _, line in self.flow_lines if line["flow"] == "resume") / 1000
        pauses = sum(line["flow"] == "pause" for _, line in self.flow_lines)
        return {"sender": self.index, "longest_send": round(longest[0], 3), "told_in_longest": round(longest[1], 3),
                "worst_untold": round(worst_untold, 3), "blocked_total": round(blocked_total, 2),
                "told_total": round(told_total, 2), "pauses": pauses,
                "subscribed": bool(self.flow_lines) and self.flow_lines[0][1]["flow"] == "on"}


class SlowReader(threading.Thread):
    """Drains the decision-log FIFO at `rate` bytes/s into `out_path`."""

    def __init__(self, fifo, out_path, rate):
        super().__init__(daemon=True)
        self.fifo, self.out_path, self.rate = fifo, out_path, rate
        self.bytes = 0

    def run(self):
        began = time.monotonic()
        with open(self.fifo, "rb", buffering=0) as src, open(self.out_path, "wb") as dst:
            while True:
                chunk = src.read(65536)
                if not chunk:
                    break
                dst.write(chunk)
                dst.flush()
                self.bytes += len(chunk)
                ahead = self.bytes / self.rate - (time.monotonic() - began)
                if ahead > 0:
                    time.sleep(ahead)


def count_lines(path):
    with open(path, "rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def check_log(path, expected_ids):
    """Every expected id exactly once, every (src, seq) exactly once, no reject."""
    id_re = re.compile(rb'"src":"([^"]*)","seq":(\d+),"id":"([^"]*)","decision":"(\w+)"')
    seen_ids = set()
    seen_positions = set()
    doubled = 0
    verdicts = {}
    bad = 0
    lines = 0
    with open(path, "rb") as f:
        for line in f:
            lines += 1
            m = id_re.search(line)
            if not m or not line.endswith(b"\n"):
                bad += 1
                continue
            src, seq, rid, verdict = m.groups()
            verdicts[verdict.decode()] = verdicts.get(verdict.decode(), 0) + 1
            if rid in seen_ids or (src, seq) in seen_positions:
                doubled += 1
            seen_ids.add(rid)
            seen_positions.add((src, seq))
    missing = expected_ids - len(seen_ids)
    return {"lines": lines, "distinct_ids": len(seen_ids), "missing": missing, "doubled": doubled,
            "malformed": bad, "verdicts": verdicts}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--records", type=int, default=50000, help="records per client")
    p.add_argument("--dim", type=int, default=384)
    p.add_argument("--prunerd", default=os.path.join(ROOT, ".build/release/prunerd"))
    p.add_argument("--slow-log", type=float, default=0, help="decision log is a FIFO drained at this many bytes/s")
    p.add_argument("--timeout", type=float, default=60, help="seconds without a new decision line, while senders are not done, that count as a stall")
    p.add_argument("--flow", action="store_true", help="reply mode with flow lines: check each blocked send against the pauses told")
    p.add_argument("--tolerance", type=float, default=0.5,
                   help="with --flow: seconds a send may block outside told pauses (default 0.5)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    p.add_argument("serve_args", nargs="*", help="extra `prunerd serve` options (after --)")
    a = p.parse_args()

    work = tempfile.mkdtemp(prefix="prunerd-load-")
    sock = os.path.join(work, "in.sock")
    log = os.path.join(work, "decisions.jsonl")
    reader = None
    decisions = log
    if a.slow_log > 0:
        decisions = os.path.join(work, "decisions.fifo")
        os.mkfifo(decisions)
        reader = SlowReader(decisions, log, a.slow_log)
        reader.start()
    stderr_path = os.path.join(work, "prunerd.stderr")
    args = [a.prunerd, "serve", "--listen", "unix:" + sock, "--decisions", decisions,
            "--state-dir", os.path.join(work, "state"), "--control", os.path.join(work, "control.sock"),
            "--max-connections", str(max(a.clients + 16, 1024))] + (["--reply"] if a.flow else []) + a.serve_args
    if "--max-connections" not in subprocess.run([a.prunerd, "serve", "--help"], capture_output=True,
                                                 text=True).stdout:
        args = [x for i, x in enumerate(args) if x != "--max-connections"
                and (i == 0 or args[i - 1] != "--max-connections")]
    print("[load] %s" % " ".join(args), file=sys.stderr)
    daemon = subprocess.Popen(args, stderr=open(stderr_path, "wb"), stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not os.path.exists(sock):
        if daemon.poll() is not None or time.monotonic() > deadline:
            sys.exit("prunerd did not start: " + open(stderr_path).read())
        time.sleep(0.02)
    sampler = Sampler(daemon.pid)
    sampler.start()

    pool = clustered(65536, a.dim, centers=200, seed=1)
    began = time.monotonic()
    senders = [Sender(i, sock, a.records, pool, i * a.records, flow=a.flow) for i in range(a.clients)]
    for sender in senders:
        sender.start()
    expected = a.clients * a.records
    # Wait while senders send and lines arrive. A stall is `timeout` seconds without a new line
    # while some sender is not done. Once all are done, a look-ahead may still hold the last
    # records: wait until the log is quiet for 3 s (or complete), then stop the daemon, which
    # decides everything held.
    last_count, last_change = -1, time.monotonic()
    stalled = False
    while True:
        count = count_lines(log) if os.path.exists(log) else 0
        if count != last_count:
            last_count, last_change = count, time.monotonic()
        senders_done = all(not s.is_alive() for s in senders)
        if count >= expected or (senders_done and time.monotonic() - last_change > 3):
            break
        if time.monotonic() - last_change > a.timeout:
            stalled = True
            break
        if daemon.poll() is not None:
            break
        print("[load] %d/%d decided, %d senders done, RSS %d MiB" % (
            count, expected, sum(not s.is_alive() for s in senders), (rss_kib(daemon.pid) or 0) // 1024),
            file=sys.stderr)
        time.sleep(1.0)
    decided_before_stop = last_count
    elapsed = time.monotonic() - began
    alive = daemon.poll() is None
    daemon.terminate()
    try:
        status = daemon.wait(timeout=120)
    except subprocess.TimeoutExpired:
        daemon.kill()
        status = "killed"
    sampler.running = False
    sampler.join()
    if reader:
        reader.join(timeout=600)
    for sender in senders:
        sender.join(timeout=5)
    checked = check_log(log, expected)
    rss = [v for _, v in sampler.samples]
    quarter = max(1, len(rss) // 4)
    result = {
        "clients": a.clients, "records_per_client": a.records, "dim": a.dim, "slow_log_bytes_per_s": a.slow_log,
        "serve_args": a.serve_args, "expected": expected, "seconds": round(elapsed, 1),
        "records_per_second": round(expected / elapsed) if elapsed > 0 else None,
        "decided_before_stop": decided_before_stop,
        "stalled": stalled, "alive_at_end": alive, "exit_status": status,
        "rss_peak_mib": round(max(rss) / 1024, 1) if rss else None,
        "rss_first_quarter_peak_mib": round(max(rss[:quarter]) / 1024, 1) if rss else None,
        "rss_last_quarter_peak_mib": round(max(rss[-quarter:]) / 1024, 1) if rss else None,
        "longest_send_seconds": round(max(s.longest_send for s in senders), 2),
        "sender_errors": sorted({s.error for s in senders if s.error}),
        **checked,
    }
    flow_ok = True
    if a.flow:
        per_sender = [s.blocked_vs_told() for s in senders]
        untold = sorted(x["worst_untold"] for x in per_sender)
        over = [x for x in per_sender if x["worst_untold"] > a.tolerance]
        result["flow"] = {
            "tolerance_seconds": a.tolerance,
            "senders_subscribed": sum(x["subscribed"] for x in per_sender),
            "senders_told_a_pause": sum(x["pauses"] > 0 for x in per_sender),
            "pauses_told": sum(x["pauses"] for x in per_sender),
            "worst_untold_seconds": untold[-1] if untold else None,
            "worst_untold_p99_seconds": untold[int(0.99 * (len(untold) - 1))] if untold else None,
            "senders_over_tolerance": len(over),
            "verdicts_short": sum(s.verdicts < s.records for s in senders),
            # The five senders whose sends blocked longest outside told pauses, and the longest send's.
            "worst_senders": sorted(per_sender, key=lambda x: -x["worst_untold"])[:5],
            "longest_send_sender": max(per_sender, key=lambda x: x["longest_send"]) if per_sender else None,
        }
        flow_ok = not over and result["flow"]["verdicts_short"] == 0 and \
            result["flow"]["senders_subscribed"] == a.clients
    print(json.dumps(result))
    ok = (not stalled and alive and status == 0 and checked["missing"] == 0 and checked["doubled"] == 0
          and checked["malformed"] == 0 and not result["sender_errors"] and flow_ok)
    if not ok:
        print("[load] FAILED; daemon log: %s" % stderr_path, file=sys.stderr)
        print(open(stderr_path).read()[-3000:], file=sys.stderr)
    elif not a.keep:
        import shutil
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
