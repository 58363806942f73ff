"""The Markdown report of bench.py (bench/results.md): one section per
measurement, every figure with how it was taken (see bench/README.md)."""


def fmt_rate(v):
    return "—" if v is None or v != v else "{:,.0f}".format(v)


def fmt_ratio(v):
    return "—" if v is None or v != v else "%.2f×" % v


def kernel_name(result):
    """"openblas 0.3.15 Zen" from a baselines.py result's threadpoolctl pools."""
    pools = result.get("blas")
    if pools is None:
        return "? (threadpoolctl missing)"
    if not pools:
        return "? (no BLAS pool found)"
    return ", ".join("%s %s %s" % (p["internal_api"], p["version"], p["architecture"]) for p in pools)


def variant_label(name, chosen):
    if name == "machine":
        return "with " + " ".join("%s=%s" % kv for kv in sorted(chosen.items()))
    return "OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE unset" + ("" if chosen else " (as on this machine)")


def ratio(x, y):
    return x / y if x == x and y and y == y else float("nan")


def header(a, res, L):
    cpu = res["cpu"]
    L.append("# prunerd benchmark results\n")
    L.append("- date: %s; the run took %.1f min" % (res["date"], res["wall_seconds"] / 60))
    L.append("- machine: %s" % res["machine"])
    L.append("- ISA flags (/proc/cpuinfo) present: %s; absent: %s" % (
        " ".join(cpu["flags"]) or "none", " ".join(cpu.get("missing", [])) or "none"))
    L.append("- command: `%s`" % res["command"])
    L.append("- prunerd: %s" % res["prunerd"])
    if res.get("assignment"):
        L.append("- prunerd's kernel (its log line `assignment:`): %s" % res["assignment"])
    L.append("- BLAS variables in the environment: %s" % (
        " ".join("%s=%s" % kv for kv in sorted(res["blas_vars"].items())) or "none (so faiss and numpy ran once, unset)"))
    worst = max(res["busy"], key=lambda v: v[1]) if res["busy"] else ("-", 0.0)
    L.append("- other load: CPU used by other processes just before each measurement: max %.0f%% (before %s)%s" % (
        100 * worst[1], worst[0], "  **— numbers may be low: the machine was shared**" if worst[1] > 0.15 else ""))


def baselines_section(a, res, L):
    chosen = res["blas_vars"]
    names = list(res["configs"][0]["faiss"])
    L.append("\n## Baselines: assignment alone (faiss) and the sgemm bound (numpy), each BLAS setting in its own process\n")
    for name in names:
        c = res["configs"][0]
        L.append("- %s: faiss's OpenBLAS ran **%s**; numpy's ran **%s**" % (
            variant_label(name, chosen), kernel_name(c["faiss"][name]), kernel_name(c["sgemm"][name])))
    L.append("")
    cols = "".join(" faiss rec/s, %s | sgemm GFLOP/s, %s |" % (n, n) for n in names)
    L.append("| config (k, d) |%s faiss best rec/s | sgemm bound rec/s |" % cols)
    L.append("|---|" + "---:|" * (2 * len(names) + 2))
    for c in res["configs"]:
        cells = "".join(" %s | %.0f |" % (fmt_rate(c["faiss"][n]["rate"]), c["sgemm"][n]["gflops"]) for n in names)
        L.append("| k=%d, d=%d |%s %s (%s) | %s (%s) |" % (
            c["k"], c["d"], cells, fmt_rate(c["faiss_best"][1]["rate"]), c["faiss_best"][0],
            fmt_rate(c["sgemm_best"][1]["bound_rate"]), c["sgemm_best"][0]))
    L.append("\nfaiss: `IndexFlatIP(d).search(x, 1)` on the N shuffled vectors (float32, normalised, in memory), "
             "%d OpenMP threads, best of 2 passes. sgemm: numpy float32 (%d × d) @ (d × k), %d threads, best call; "
             "bound = best GFLOP/s / (2·k·d). machine = the variables as set, unset = both removed; best = the faster."
             % (a.threads, a.sgemm_rows, a.threads))


def throughput_section(a, res, L):
    L.append("\n## Throughput: end-to-end `prunerd serve` (defaults) vs. faiss best and the sgemm bound\n")
    L.append("| config (k, d) | order | prunerd rec/s (wall) | prunerd rec/s (net of startup) | faiss best rec/s "
             "| sgemm bound rec/s | prunerd/faiss best | prunerd/sgemm bound |")
    L.append("|---|---|---:|---:|---:|---:|---:|---:|")
    for c in res["configs"]:
        f, b = c["faiss_best"][1]["rate"], c["sgemm_best"][1]["bound_rate"]
        for order in res["orders"]:
            p = c["prunerd"].get(order) or {}
            w, net = p.get("rate_wall", float("nan")), p.get("rate_net", float("nan"))
            fail = " FAILED" if p and not p.get("ok") else ""
            L.append("| k=%d, d=%d | %s | %s%s | %s | %s | %s | %s (%s) | %s (%s) |" % (
                c["k"], c["d"], order, fmt_rate(w), fail, fmt_rate(net), fmt_rate(f), fmt_rate(b),
                fmt_ratio(ratio(w, f)), fmt_ratio(ratio(net, f)), fmt_ratio(ratio(w, b)), fmt_ratio(ratio(net, b))))
    L.append("\nRatios: wall-clock rate (net of startup in parentheses). Targets: ≥ 1.0× faiss best, ≥ 0.6× sgemm "
             "bound, on both orders. crawl = the same records grouped by generating centre (concept order); "
             "`--update auto` (the default) should choose online there, frozen on the shuffled order.")
    if any(c["prunerd"] for c in res["configs"]):
        L.append("\nprunerd CPU per thread (CPU-seconds / wall-seconds of the full run; 100% = one core saturated):\n")
        for c in res["configs"]:
            for order, p in c["prunerd"].items():
                main = sum(s for n, s in p["threads"] if "[main/loop]" in n)
                other = sum(s for n, s in p["threads"] if "[main/loop]" not in n)
                L.append("- k=%d, d=%d, %s: loop thread %.0f%%, all other threads %.0f%% (top: %s); process %.0f%% "
                         "of 200%%; prunerd's own rate %s rec/s" % (
                             c["k"], c["d"], order, 100 * main / p["wall"], 100 * other / p["wall"],
                             ", ".join(["%.0f%%" % (100 * s / p["wall"]) for n, s in p["threads"]
                                        if "[main/loop]" not in n][:4]),
                             100 * (p["user"] + p["sys"]) / p["wall"], fmt_rate(p.get("reported_rate"))))


def threads_section(res, L):
    L.append("\n## Worker threads and update modes (k=500, d=384)\n")
    th = res.get("threads")
    if th is None:
        L.append("- n/a (single engine worker): `prunerd serve --help` has no `--threads` option")
    else:
        for t, p in th.items():
            L.append("- shuffled, `--threads %s`: %s rec/s wall, %s rec/s net of startup" % (
                t, fmt_rate(p["rate_wall"]), fmt_rate(p["rate_net"])))
    frozen = res.get("crawl_frozen")
    if frozen:
        main = next(c for c in res["configs"] if (c["k"], c["d"]) == (500, 384))["prunerd"]["crawl"]
        L.append("- crawl, `--update frozen`: %s rec/s wall, %s net; the default (auto) on the crawl is **%s** (%s) "
                 "of it (target ≥ 0.8× when auto chooses online)" % (
                     fmt_rate(frozen["rate_wall"]), fmt_rate(frozen["rate_net"]),
                     fmt_ratio(ratio(main["rate_wall"], frozen["rate_wall"])),
                     fmt_ratio(ratio(main["rate_net"], frozen["rate_net"]))))


def latency_section(a, res, L):
    L.append("\n## Latency (k=500, d=384, shuffled)\n")
    lats = res.get("latency")
    if not lats:
        L.append("- not measured (prunerd not built)")
        return
    for lat in lats:
        L.append("- serve options `%s`: steady load %s rec/s (0.5 × peak %s rec/s) for %.0f s after a burst of "
                 "%d warm-up records, LZ4 frames every ~2 ms through a pipe into `prunerd serve -`" % (
                     lat["extra"] or "(defaults)", fmt_rate(lat["rate_target"]), fmt_rate(res["peak_rate"]),
                     lat["seconds"], a.warmup))
        L.append("  - prunerd's own (read → decision written, all records incl. warm-up): **p50 %s ms, p99 %s ms** "
                 "(target p99 ≤ 20 ms)%s" % (lat.get("p50_ms", "?"), lat.get("p99_ms", "?"),
                                              "" if lat.get("ok", True) and not lat["exit"] else " — RUN FAILED"))
        if "ext_p50_ms" in lat:
            L.append("  - harness check (sender write → decision `ts`, 1 ms resolution, %s records after warm-up): "
                     "p50 %s ms, p99 %s ms, max %s ms" % ("{:,}".format(lat["ext_records"]), lat["ext_p50_ms"],
                                                          lat["ext_p99_ms"], lat["ext_max_ms"]))
            L.append("  - steady state (records sent ≥ %.0f s after the warm-up burst, %s records): **p50 %s ms, "
                     "p99 %s ms**, max %s ms; the last record over 20 ms was sent %s s after the burst" % (
                         lat["settle_s"], "{:,}".format(lat["steady_records"]), lat["steady_p50_ms"],
                         lat["steady_p99_ms"], lat["steady_max_ms"], lat["last_over_20ms_s"]))


def rss_section(a, res, L):
    L.append("\n## Peak RSS vs. stream length (k=500, d=384, shuffled)\n")
    rss = res.get("rss")
    if not rss:
        L.append("- not measured (prunerd not built)")
        return
    one, eight = rss["1x"], rss["8x"]
    growth = 100.0 * (eight["maxrss_kb"] - one["maxrss_kb"]) / one["maxrss_kb"]
    L.append("- %s records (one stream through a FIFO): peak RSS %.1f MiB (%.1f s)" % (
        "{:,}".format(a.n), one["maxrss_kb"] / 1024, one["wall"]))
    L.append("- %s records (one stream: the file 8 times over, through a FIFO): peak RSS %.1f MiB (%.1f s)" % (
        "{:,}".format(8 * a.n), eight["maxrss_kb"] / 1024, eight["wall"]))
    L.append("- growth: **%+.1f%%** (target < 5%%)" % growth)
    if "file" in rss:
        L.append("- for reference, the %s records read as a file (the throughput run): peak RSS %.1f MiB" % (
            "{:,}".format(a.n), rss["file"]["maxrss_kb"] / 1024))


def offline_section(a, res, L):
    o = res.get("offline")
    if not o:
        return
    L.append("\n## Offline recipe (%s × %d, k = %d): `prunerd offline` vs. faiss k-means + numpy\n"
             % ("{:,}".format(o["n"]), o["d"], o["k"]))
    p, f = o.get("prunerd"), o["faiss_numpy"]
    if p:
        L.append("- `prunerd offline FILE --clusters %d --decisions <file>` (defaults: k-means++ then Lloyd to "
                 "convergence, at most %d iterations): **%.1f s** wall, read + decode + k-means + quotas + decision "
                 "log on disk%s; kept %s" % (o["k"], a.kmeans_cap, p["wall"], "" if p["ok"] else " — RUN FAILED",
                                             fmt_rate(p.get("kept"))))
    else:
        L.append("- `prunerd offline`: not measured (prunerd not built)")
    L.append("- faiss `Kmeans(spherical, all rows, at most %d iterations — %s)` + numpy (assign, d_intra, d_inter, "
             "softmax quotas by water-filling, keep the farthest): **%.1f s** (k-means %.1f s over %d iterations, "
             "assignment %.1f s, quotas and keep %.1f s), vectors already in memory; kept %s; faiss kernel %s" % (
                 o["niter"], o["iterations_source"], f["total_seconds"], f["kmeans_seconds"], f["iterations_run"],
                 f["assign_seconds"], f["recipe_seconds"], fmt_rate(f["kept"]), kernel_name(f)))
    stop, own = f["objective_unchanged_at"], None
    if stop and stop < f["iterations_run"]:
        own = f["cumulative_seconds"][stop - 1] + f["assign_seconds"] + f["recipe_seconds"]
        L.append("- the same, faiss k-means cut where its objective stopped changing (%d iterations): %.1f s "
                 "(from faiss's own per-iteration clock)" % (stop, own))
    if p and p["ok"]:
        L.append("- prunerd offline / faiss+numpy time: **%s** (target ≤ 1.0×)%s" % (
            fmt_ratio(p["wall"] / f["total_seconds"]),
            "; against faiss cut at its convergence: %s" % fmt_ratio(p["wall"] / own) if own else ""))


def render(a, res):
    """The whole report as Markdown."""
    L = []
    header(a, res, L)
    if res["configs"]:
        L.append("- records per configuration and order: %s (float16, PRN1, LZ4 frames), warm-up %d; prunerd serve "
                 "options: `--centroids C.npy --clusters k --warmup %d --decisions <file> --state-dir <tmp>%s`" % (
                     "{:,}".format(a.n), a.warmup, a.warmup, (" " + " ".join(a.serve_extra)) if a.serve_extra else ""))
        baselines_section(a, res, L)
        throughput_section(a, res, L)
        threads_section(res, L)
        latency_section(a, res, L)
        rss_section(a, res, L)
    offline_section(a, res, L)
    L.append("")
    return "\n".join(L)
