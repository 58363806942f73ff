#!/usr/bin/env python3
"""Orchestrates the prunerd benchmark (called by bench/run; see bench/README.md).

Everything large goes to $BENCH_DATA (default /tmp/prunerd-bench); the
Markdown table goes to stdout and bench/results.md, raw numbers to
$BENCH_DATA/results.json.
"""
import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import time

import numpy as np

import report

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PY = sys.executable


def log(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def run_json(args, env=None):
    out = subprocess.run(args, stdout=subprocess.PIPE, check=True, env=env).stdout.decode()
    return json.loads(out.strip().splitlines()[-1])


# ---------------------------------------------------------------- machine load

def cpu_busy(seconds=1.0):
    """Fraction of all CPUs busy over `seconds` (from /proc/stat)."""
    def snap():
        v = [int(x) for x in open("/proc/stat").readline().split()[1:]]
        return sum(v), v[3] + v[4]
    t0, i0 = snap()
    time.sleep(seconds)
    t1, i1 = snap()
    return 1.0 - (i1 - i0) / max(1, t1 - t0)


BUSY = []


def wait_quiet(what, limit=float(os.environ.get("BENCH_WAIT_QUIET", 120))):
    """Waits (up to `limit` s) until other processes use < 15% of the CPUs, so
    that measurements on a shared machine are not silently halved."""
    start = time.time()
    busy = cpu_busy()
    while busy > 0.15 and time.time() - start < limit:
        log("machine busy (%.0f%% CPU used by others) before %s; waiting" % (100 * busy, what))
        time.sleep(5)
        busy = cpu_busy()
    if busy > 0.15:
        log("WARNING: measuring %s with %.0f%% CPU used by other processes" % (what, 100 * busy))
    BUSY.append((what, busy))


# ---------------------------------------------------------------- data

def make_vectors(data, n, d, seed=0, order="shuffled"):
    base = subprocess.run([PY, os.path.join(HERE, "gen_data.py"), "vectors", "--n", str(n), "--d", str(d),
                           "--seed", str(seed), "--order", order, "--out", data],
                          stdout=subprocess.PIPE, check=True).stdout.decode().strip()
    return base + ".prn1.lz4", base + ".f16.npy"


def make_centroids(data, vectors_npy, d, k, niter):
    out = "%s-centroids-k%d.npy" % (vectors_npy[: -len(".f16.npy")], k)
    subprocess.run([PY, os.path.join(HERE, "gen_data.py"), "centroids", "--vectors", vectors_npy, "--k", str(k),
                    "--niter", str(niter), "--out", out], check=True)
    return out


# ---------------------------------------------------------------- prunerd runs

def thread_times(pid):
    """{tid: (comm, cpu seconds)} of all threads of pid, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except FileNotFoundError:
        return out
    for tid in tids:
        try:
            stat = open("/proc/%d/task/%s/stat" % (pid, tid)).read()
        except (FileNotFoundError, ProcessLookupError):
            continue
        comm = stat[stat.index("(") + 1: stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        out[int(tid)] = (comm + (" [main/loop]" if int(tid) == pid else ""), (int(fields[11]) + int(fields[12])) / tick)
    return out


def run_prunerd(binary, args, stdin=None, label=""):
    """Runs prunerd to completion: wall time, peak RSS (wait4 ru_maxrss, and
    VmHWM polled), per-thread CPU seconds (polled /proc), its stderr summary."""
    err_path = os.path.join(os.environ["BENCH_DATA"], "prunerd-stderr.txt")
    with open(err_path, "wb") as err:
        t = time.perf_counter()
        proc = subprocess.Popen([binary] + args, stdin=stdin, stdout=subprocess.DEVNULL, stderr=err)
        threads, hwm = {}, 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            snap = thread_times(proc.pid)
            for tid, v in snap.items():
                threads[tid] = v
            try:
                m = re.search(r"VmHWM:\s+(\d+)", open("/proc/%d/status" % proc.pid).read())
                hwm = max(hwm, int(m.group(1)) if m else 0)
            except FileNotFoundError:
                pass
            time.sleep(0.1)
        wall = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
    stderr = open(err_path, encoding="utf-8", errors="replace").read()
    if proc.returncode != 0:
        log("prunerd %s exited %d:\n%s" % (label, proc.returncode, stderr[-3000:]))
    summary = parse_summary(stderr)
    # Peak RSS is prunerd's own VmHWM. wait4's ru_maxrss is not: Linux folds the
    # forked child's pre-exec RSS (a copy of this Python process, which holds the
    # faiss arrays) into it, which once reported 379 MiB for a 112 MiB prunerd.
    summary.update(wall=wall, maxrss_kb=hwm or usage.ru_maxrss, ru_maxrss_kb=usage.ru_maxrss, vmhwm_kb=hwm,
                   exit=proc.returncode,
                   user=usage.ru_utime, sys=usage.ru_stime,
                   threads=sorted(([c, s] for c, s in threads.values()), key=lambda v: -v[1]), stderr_tail=stderr[-1500:])
    return summary


def parse_summary(text):
    s = {}
    m = re.search(r"records: (\d+)\s+kept: (\d+).*?rejected: (\d+)\s+rate: (\d+) records/s\s+\(([\d.]+) s\)", text)
    if m:
        s.update(records=int(m.group(1)), kept=int(m.group(2)), rejected=int(m.group(3)),
                 reported_rate=int(m.group(4)), reported_seconds=float(m.group(5)))
    m = re.search(r"assignment: ([^\n(]+)", text)
    if m:
        s.update(assignment=m.group(1).strip())
    m = re.search(r"(\d+) (?:Lloyd |k-means )?(?:iterations|updates)", text)
    if m:
        s.update(kmeans_iterations=int(m.group(1)))
    m = re.search(r"(?:centroid[_ ]update|update)[:=]\s*\"?(online|frozen)", text)
    if m:
        s.update(update=m.group(1))
    m = re.search(r"latency \(read → decision written\): p50 ([\d.]+) ms, p99 ([\d.]+) ms", text)
    if m:
        s.update(p50_ms=float(m.group(1)), p99_ms=float(m.group(2)))
    return s


def count_lines(path):
    n = 0
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 24)
            if not b:
                return n
            n += b.count(b"\n")


def serve_args(a, inputs, centroids, k, decisions, extra=()):
    return (["serve"] + inputs + ["--centroids", centroids, "--clusters", str(k), "--warmup", str(a.warmup),
                                  "--decisions", decisions, "--state-dir", os.path.join(a.data, "state")]
            + a.serve_extra + list(extra))


def throughput(a, binary, lz4_file, tiny_file, n, tiny_n, centroids, k, extra=(), label=""):
    decisions = os.path.join(a.data, "decisions.jsonl")
    results = {}
    for name, f, count in (("tiny", tiny_file, tiny_n), ("full", lz4_file, n)):
        if os.path.exists(decisions):
            os.remove(decisions)
        wait_quiet(label + " " + name)
        r = run_prunerd(binary, serve_args(a, [f], centroids, k, decisions, extra), label=label + " " + name)
        r["lines"] = count_lines(decisions) if os.path.exists(decisions) else 0
        if r["lines"] != count or r.get("rejected", 0) or r["exit"]:
            log("WARNING %s %s: %d decision lines for %d records, rejected %s, exit %d"
                % (label, name, r["lines"], count, r.get("rejected"), r["exit"]))
        r["ok"] = r["lines"] == count and not r["exit"]
        results[name] = r
    full, tiny = results["full"], results["tiny"]
    full["rate_wall"] = n / full["wall"] if full["ok"] else float("nan")
    dt = full["wall"] - tiny["wall"]
    full["startup_s"] = tiny["wall"]
    # Only meaningful when the full run is well above startup noise.
    full["rate_net"] = (n - tiny_n) / dt if full["ok"] and tiny["ok"] and dt > 0.2 * full["wall"] else float("nan")
    full["tiny"] = {key: tiny[key] for key in ("wall", "maxrss_kb", "exit")}
    os.remove(decisions)
    cpu = ", ".join("%s %.0f%%" % (c, 100 * s / full["wall"]) for c, s in full["threads"][:4])
    log("%s: %.0f rec/s wall (%.2f s), %.0f rec/s net of startup (%.2f s); threads: %s"
        % (label, full["rate_wall"], full["wall"], full["rate_net"], tiny["wall"], cpu))
    return full


def latency_run(a, binary, vectors_npy, centroids, k, rate, extra=()):
    decisions = os.path.join(a.data, "decisions-latency.jsonl")
    times = os.path.join(a.data, "send-times.npy")
    if os.path.exists(decisions):
        os.remove(decisions)
    wait_quiet("latency")
    # At most ~3M records (pre-encoded in the sender's memory), at least 5 s.
    seconds = max(5.0, min(a.latency_seconds, 3e6 / rate))
    sender = subprocess.Popen([PY, os.path.join(HERE, "latency_sender.py"), "--vectors", vectors_npy,
                               "--rate", str(rate), "--seconds", str(seconds), "--burst", str(a.warmup),
                               "--times", times], stdout=subprocess.PIPE)
    r = run_prunerd(binary, serve_args(a, ["-"], centroids, k, decisions, extra), stdin=sender.stdout, label="latency")
    sender.stdout.close()
    sender.wait()
    r["rate_target"] = rate
    r["seconds"] = seconds
    r["extra"] = " ".join(a.serve_extra + list(extra))
    # Independent check: send time (sender, before write) → decision `ts`
    # (prunerd, ms resolution), for the records after warm-up only.
    try:
        r.update(external_latency(decisions, times, a.warmup))
    except Exception as e:  # the table still has prunerd's own numbers
        log("external latency not computed: %s" % e)
    os.remove(decisions)
    log("latency %s at %.0f rec/s: prunerd p50 %s ms p99 %s ms; send→ts after warm-up p50 %s ms p99 %s ms; steady p50 %s p99 %s max %s ms"
        % (r["extra"], rate, r.get("p50_ms"), r.get("p99_ms"), r.get("ext_p50_ms"), r.get("ext_p99_ms"),
           r.get("steady_p50_ms"), r.get("steady_p99_ms"), r.get("steady_max_ms")))
    return r


def external_latency(decisions, times_npy, warmup, settle_s=3.0):
    raw = np.fromfile(decisions, dtype=np.uint8)
    ends = np.flatnonzero(raw == 10)
    starts = np.concatenate([[0], ends[:-1] + 1])
    assert bytes(raw[starts[0]:starts[0] + 7]) == b'{"ts":"'

    def digits(off, width):
        v = np.zeros(len(starts), dtype=np.int64)
        for i in range(width):
            v = v * 10 + (raw[starts + off + i].astype(np.int64) - 48)
        return v
    # {"ts":"2026-11-26T16:06:44.893Z"  hh at 18, mm 21, ss 24, mmm 27
    ms_of_day = ((digits(18, 2) * 60 + digits(21, 2)) * 60 + digits(24, 2)) * 1000 + digits(27, 3)
    day0 = np.datetime64(bytes(raw[starts[0] + 7:starts[0] + 17]).decode(), "ms").astype(np.int64)
    day = np.array([np.datetime64(bytes(raw[s + 7:s + 17]).decode(), "ms").astype(np.int64) for s in starts[[0, -1]]])
    decided_ms = day0 + ms_of_day + (0 if day[0] == day[1] else np.where(ms_of_day < ms_of_day[0], 86400000, 0))
    t = np.load(times_npy)
    first = t[:, 0]
    idx = np.searchsorted(first, np.arange(len(starts)), side="right") - 1
    sent_ms = t[idx, 1] / 1e6
    lat_all = decided_ms - sent_ms
    lat = lat_all[warmup:]
    # Steady state: records sent more than settle_s after the warm-up burst
    # (prunerd first decides the buffered warm-up, and the records that queued
    # meanwhile drain; that transient is excluded here, included above).
    steady = lat_all[t[idx, 1] / 1e9 >= t[np.searchsorted(first, warmup), 1] / 1e9 + settle_s]
    # ts has 1 ms resolution (truncated): +0.5 ms centres the estimate.
    over = np.flatnonzero(lat > 20)
    return {"ext_p50_ms": round(float(np.percentile(lat, 50)) + 0.5, 1),
            "ext_p99_ms": round(float(np.percentile(lat, 99)) + 0.5, 1),
            "ext_max_ms": round(float(lat.max()) + 0.5, 1), "ext_records": int(len(lat)),
            "steady_p50_ms": round(float(np.percentile(steady, 50)) + 0.5, 1) if len(steady) else None,
            "steady_p99_ms": round(float(np.percentile(steady, 99)) + 0.5, 1) if len(steady) else None,
            "steady_max_ms": round(float(steady.max()) + 0.5, 1) if len(steady) else None,
            "steady_records": int(len(steady)), "settle_s": settle_s,
            "last_over_20ms_s": round(float((t[idx[warmup + over[-1]], 1] - t[np.searchsorted(first, warmup), 1]) / 1e9), 2)
            if len(over) else 0.0}


# ---------------------------------------------------------------- machine, BLAS

ISA_FLAGS = ("avx2", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_vpopcntdq",
             "amx_tile", "amx_int8", "amx_bf16")


def cpu_info():
    """CPU model, family/model and the ISA flags prunerd's kernels choose by (from /proc/cpuinfo)."""
    info = {"model_name": "?", "family": "?", "model": "?", "flags": []}
    try:
        for line in open("/proc/cpuinfo"):
            key, _, value = line.partition(":")
            key, value = key.strip(), value.strip()
            if key == "model name" and info["model_name"] == "?":
                info["model_name"] = value
            elif key == "cpu family" and info["family"] == "?":
                info["family"] = value
            elif key == "model" and info["model"] == "?":
                info["model"] = value
            elif key == "flags":
                have = set(value.split())
                info["flags"] = [f for f in ISA_FLAGS if f in have]
                info["missing"] = [f for f in ISA_FLAGS if f not in have]
                break
    except OSError:
        pass
    return info


def machine():
    cpu = cpu_info()
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    return "%s (family %s model %s), %s logical CPUs, %.0f GiB RAM, %s" % (
        cpu["model_name"], cpu["family"], cpu["model"], os.cpu_count(), mem, platform.platform())


BLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def blas_variants(base_env):
    """[(name, env)]: "machine" with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE as this
    environment sets them (BENCH_BLAS_VARS="OPENBLAS_CORETYPE=Haswell …" sets
    them for the benchmark only), and "unset" without both. Without any set,
    the two are one measurement."""
    unset = {k: v for k, v in base_env.items() if k not in BLAS_VARS}
    given = os.environ.get("BENCH_BLAS_VARS")
    if given is not None:
        chosen = dict(item.split("=", 1) for item in given.split())
    else:
        chosen = {k: base_env[k] for k in BLAS_VARS if k in base_env}
    if not chosen:
        return [("unset", unset)], {}
    return [("machine", dict(unset, **chosen)), ("unset", unset)], chosen


def best_of(variants, key):
    name = max(variants, key=lambda v: variants[v][key])
    return name, variants[name]


# ---------------------------------------------------------------- offline recipe

def offline_run(a, binary, base_env, faiss_variant=None):
    """`prunerd offline` (k-means to convergence, quotas, decisions on disk) vs.
    the same recipe from faiss k-means (as many iterations) and numpy."""
    n, d, k = a.offline_n, 384, 500
    lz4_file, npy = make_vectors(a.data, n, d)
    out = {"n": n, "d": d, "k": k}
    if binary:
        decisions = os.path.join(a.data, "decisions-offline.jsonl")
        if os.path.exists(decisions):
            os.remove(decisions)
        wait_quiet("prunerd offline")
        log("prunerd offline: %d × %d, k=%d (k-means to convergence, at most %d iterations)" % (n, d, k, a.kmeans_cap))
        r = run_prunerd(binary, ["offline", lz4_file, "--clusters", str(k), "--decisions", decisions,
                                 "--state-dir", os.path.join(a.data, "state")], label="offline")
        r["lines"] = count_lines(decisions) if os.path.exists(decisions) else 0
        r["ok"] = r["lines"] == n and not r["exit"]
        if not r["ok"]:
            log("WARNING prunerd offline: %d decision lines for %d records, exit %d" % (r["lines"], n, r["exit"]))
        if os.path.exists(decisions):
            os.remove(decisions)
        out["prunerd"] = r
        log("prunerd offline: %.1f s wall, kept %s, k-means iterations %s" % (
            r["wall"], r.get("kept"), r.get("kmeans_iterations", "not printed")))
    iters = (out.get("prunerd") or {}).get("kmeans_iterations")
    out["iterations_source"] = "prunerd's output" if iters else "the cap (prunerd offline does not print its count)"
    out["niter"] = iters or a.kmeans_cap
    wait_quiet("faiss+numpy offline")
    # faiss with the BLAS setting that searched faster at k=500, d=384 (else the machine's).
    variants = dict(blas_variants(base_env)[0])
    out["blas_variant"] = faiss_variant if faiss_variant in variants else next(iter(variants))
    out["faiss_numpy"] = run_json([PY, os.path.join(HERE, "baselines.py"), "offline", "--vectors", npy, "--k", str(k),
                                   "--niter", str(out["niter"]), "--threads", str(a.threads)],
                                  env=variants[out["blas_variant"]])
    f = out["faiss_numpy"]
    log("faiss k-means (%d iterations) + numpy recipe: %.1f s (k-means %.1f s, assign %.1f s, quotas+keep %.1f s)" % (
        out["niter"], f["total_seconds"], f["kmeans_seconds"], f["assign_seconds"], f["recipe_seconds"]))
    return out


# ---------------------------------------------------------------- main

def baselines(a, res, configs, files, cents, env):
    variants, chosen = blas_variants(env)
    res["blas_vars"] = chosen
    for k, d in configs:
        npy = files[(d, "shuffled")][1]
        c = next(c for c in res["configs"] if (c["k"], c["d"]) == (k, d))
        c["sgemm"], c["faiss"] = {}, {}
        for name, venv in variants:
            wait_quiet("sgemm k=%d d=%d (%s)" % (k, d, name))
            c["sgemm"][name] = run_json([PY, os.path.join(HERE, "baselines.py"), "sgemm", "--d", str(d), "--k", str(k),
                                         "--rows", str(a.sgemm_rows), "--seconds", "2" if a.quick else "3"], env=venv)
            wait_quiet("faiss k=%d d=%d (%s)" % (k, d, name))
            c["faiss"][name] = run_json([PY, os.path.join(HERE, "baselines.py"), "faiss", "--vectors", npy,
                                         "--centroids", cents[(k, d)], "--threads", str(a.threads)], env=venv)
            log("k=%d d=%d, BLAS variables %s: sgemm %.0f GFLOP/s (numpy kernel %s) → bound %.0f rec/s; "
                "faiss %.0f rec/s (kernel %s)" % (
                    k, d, name, c["sgemm"][name]["gflops"], report.kernel_name(c["sgemm"][name]),
                    c["sgemm"][name]["bound_rate"], c["faiss"][name]["rate"], report.kernel_name(c["faiss"][name])))
        c["faiss_best"] = best_of(c["faiss"], "rate")
        c["sgemm_best"] = best_of(c["sgemm"], "gflops")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    p.add_argument("--binary", default=os.environ.get("BENCH_PRUNERD") or os.path.join(ROOT, ".build", "release", "prunerd"))
    p.add_argument("--no-prunerd", action="store_true", help="baselines only")
    p.add_argument("--offline", action="store_true", help="only the offline section")
    p.add_argument("--no-offline", action="store_true", help="skip the offline section")
    p.add_argument("--command", default="bench/run")
    a = p.parse_args()
    a.data = os.environ.setdefault("BENCH_DATA", "/tmp/prunerd-bench")
    os.makedirs(os.path.join(a.data, "state"), exist_ok=True)
    a.n = int(os.environ.get("BENCH_N", 200_000 if a.quick else 1_000_000))
    a.offline_n = int(os.environ.get("BENCH_OFFLINE_N", 1_000_000))
    a.tiny_n = 20_000
    a.warmup = int(os.environ.get("BENCH_WARMUP", 10_000))
    a.threads = 2
    a.sgemm_rows = 65536
    a.latency_seconds = float(os.environ.get("BENCH_LATENCY_SECONDS", 8 if a.quick else 15))
    niter = 5 if a.quick else 10
    a.serve_extra = os.environ.get("BENCH_SERVE_ARGS", "").split()
    configs = [(100, 384), (500, 384), (1000, 384), (500, 768)]
    orders = ("shuffled", "crawl")
    run_offline = a.offline or not (a.quick or a.no_offline)
    run_streams = not a.offline
    t_start = time.time()

    binary = None if a.no_prunerd or not os.access(a.binary, os.X_OK) else os.path.abspath(a.binary)
    has_threads = has_lookahead = False
    a.kmeans_cap = 40
    if binary:
        help_text = subprocess.run([binary, "serve", "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True).stdout
        has_threads = "--threads" in help_text
        has_lookahead = "--lookahead" in help_text
        m = re.search(r"kmeans-iterations.*?default (\d+)", subprocess.run(
            [binary, "offline", "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout, re.S)
        a.kmeans_cap = int(m.group(1)) if m else a.kmeans_cap
    try:
        rel = os.path.relpath(binary, ROOT) if binary else None
    except ValueError:
        rel = binary
    res = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "machine": machine(), "cpu": cpu_info(),
           "command": a.command + "".join(" --" + f for f in ("quick", "offline", "no-offline", "no-prunerd")
                                          if getattr(a, f.replace("-", "_"))),
           "prunerd": ("%s (repo HEAD at run time: %s)" % (rel, subprocess.run(
               ["git", "-C", ROOT, "log", "-1", "--format=%h %s"], stdout=subprocess.PIPE, text=True).stdout.strip()))
           if binary else "NOT BUILT — prunerd columns are empty", "configs": [], "orders": orders}
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(a.threads), OMP_NUM_THREADS=str(a.threads))
    res["blas_vars"] = blas_variants(env)[1]
    log("CPU: %s" % res["machine"])
    log("ISA flags present: %s; absent: %s" % (" ".join(res["cpu"]["flags"]) or "none",
                                               " ".join(res["cpu"].get("missing", [])) or "none"))

    if run_streams:
        log("data in %s: %d records per dimension and order" % (a.data, a.n))
        files = {}
        for d in sorted({d for _, d in configs}):
            for order in orders:
                lz4_file, npy = make_vectors(a.data, a.n, d, order=order)
                tiny_lz4, _ = make_vectors(a.data, a.tiny_n, d, seed=1, order=order)
                files[(d, order)] = (lz4_file, npy, tiny_lz4)
        cents = {}
        for k, d in configs:
            log("centroids k=%d d=%d (faiss spherical k-means on a sample)" % (k, d))
            cents[(k, d)] = make_centroids(a.data, files[(d, "shuffled")][1], d, k, niter)
        res["configs"] = [{"k": k, "d": d, "prunerd": {}} for k, d in configs]
        baselines(a, res, configs, files, cents, env)
        for c in res["configs"]:
            k, d = c["k"], c["d"]
            for order in orders if binary else ():
                lz4_file, npy, tiny_lz4 = files[(d, order)]
                c["prunerd"][order] = throughput(a, binary, lz4_file, tiny_lz4, a.n, a.tiny_n, cents[(k, d)], k,
                                                 label="prunerd k=%d d=%d %s" % (k, d, order))
                res["assignment"] = res.get("assignment") or c["prunerd"][order].get("assignment")

    if binary and run_streams:
        lz4_file, npy, tiny_lz4 = files[(384, "shuffled")]
        main_cfg = next(c for c in res["configs"] if (c["k"], c["d"]) == (500, 384))
        if has_threads:
            res["threads"] = {}
            for t in (1, 2):
                res["threads"][str(t)] = throughput(a, binary, lz4_file, tiny_lz4, a.n, a.tiny_n, cents[(500, 384)],
                                                    500, extra=["--threads", str(t)], label="prunerd --threads %d" % t)
        # The default on the crawl (auto → online) against frozen centroids on the same stream.
        lz4_crawl, _, tiny_crawl = files[(384, "crawl")]
        res["crawl_frozen"] = throughput(a, binary, lz4_crawl, tiny_crawl, a.n, a.tiny_n, cents[(500, 384)], 500,
                                         extra=["--update", "frozen"], label="prunerd crawl --update frozen")
        peak = main_cfg["prunerd"]["shuffled"]["rate_net"]
        if not peak == peak or peak <= 0:
            peak = main_cfg["prunerd"]["shuffled"]["rate_wall"]
        if not peak == peak or peak <= 0:
            peak = 20000.0
            log("WARNING: no valid peak rate; latency run at %.0f rec/s" % (0.5 * peak))
        res["peak_rate"] = peak
        res["latency"] = [latency_run(a, binary, npy, cents[(500, 384)], 500, 0.5 * peak)]
        if has_lookahead and "--lookahead" not in a.serve_extra:
            # The engine holds `lookahead` records back before deciding (a decision
            # delay by design); show the latency without it too.
            res["latency"].append(latency_run(a, binary, npy, cents[(500, 384)], 500, 0.5 * peak,
                                              extra=["--lookahead", "0"]))
        # The stream once and 8 times over, both as one stream of concatenated LZ4
        # frames through a FIFO: like for like, so the figure isolates growth in
        # stream length from how the input is read (a file input maps and reads
        # ahead differently from a pipe).
        res["rss"] = {"file": main_cfg["prunerd"]["shuffled"]}
        for times in (1, 8):
            label = "%dx" % times
            log("RSS run: one stream of the %d-record file %d time(s) over, through a FIFO" % (a.n, times))
            wait_quiet("RSS " + label)
            decisions = os.path.join(a.data, "decisions-rss.jsonl")
            fifo = os.path.join(a.data, "rss-%s.fifo" % label)
            for stale in (decisions, fifo):
                if os.path.exists(stale):
                    os.remove(stale)
            os.mkfifo(fifo)
            feeder = subprocess.Popen(["sh", "-c", 'cat "$@" > "$0"', fifo] + [lz4_file] * times)
            run = run_prunerd(binary, serve_args(a, [fifo], cents[(500, 384)], 500, decisions), label=label)
            feeder.wait()
            os.remove(fifo)
            lines = count_lines(decisions)
            if lines != times * a.n:
                log("WARNING %s run: %d decision lines for %d records" % (label, lines, times * a.n))
            os.remove(decisions)
            res["rss"][label] = run
        log("peak RSS %.1f MiB (1×) vs %.1f MiB (8×), both through a FIFO" % (
            res["rss"]["1x"]["maxrss_kb"] / 1024, res["rss"]["8x"]["maxrss_kb"] / 1024))
        if not has_threads:
            res["threads"] = None
    elif run_streams:
        res["threads"] = None
        log("prunerd binary not available (%s): baselines only" % a.binary)

    if run_offline:
        best = next((c["faiss_best"][0] for c in res["configs"] if (c["k"], c["d"]) == (500, 384)), None)
        res["offline"] = offline_run(a, binary, env, best)
        if binary:
            res["assignment"] = res.get("assignment") or res["offline"]["prunerd"].get("assignment")
    res["wall_seconds"] = time.time() - t_start
    res["busy"] = BUSY
    text = report.render(a, res)
    json.dump(res, open(os.path.join(a.data, "results.json"), "w"), indent=1, default=str)
    with open(os.path.join(HERE, "results.md"), "w") as f:
        f.write(text)
    print(text)
    log("bench done in %.1f min" % (res["wall_seconds"] / 60))


if __name__ == "__main__":
    main()
