"""The fidelity table of issue #16 for every real set in a data folder.

Run through `scripts/fidelity-matrix [DATA_DIR]` (it makes the venv and the
release build). A set is a file NAME-*.npy in DATA_DIR (rows = records); its
concept orders are the files NAME-*.txt with one line per row, other than the
ids and free-text files (NAME-ids.txt, NAME-summaries.txt, NAME-texts.txt, or
any file whose lines are more than 90% distinct). For each set it prints:

- shuffled, end to end at the default warm-up and at a warm-up of 15% of the
  stream, against the mean overlap of offline runs of seeds +1..+3 with seed 0;
- each concept order: keep ratio, end to end, and its ratio to shuffled;
- same-centroid overlap with --update frozen and --update online (shuffled);
- near-duplicates at eps = 0.05 (default memory): recall and precision against
  exact within-concept SemDeDup, shuffled and in each order;
- encodings: 4,000 float32-born rows (the set rotated by a random orthogonal
  matrix in float32, so every cosine stays and the values are not float16's),
  k = 16, warm-up 1,000, encoded as f16, f32, bf16 and JSON Lines, each
  decided by `prunerd serve`; the share of decisions equal to f32's.

Every figure comes from `prunerd fidelity` or `prunerd serve` (the binary in
$PRUNERD_BINARY); nothing here decides a record itself.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

PRUNERD = os.environ.get("PRUNERD_BINARY", "prunerd")
COMMON = ["--keep-ratio", "0.3", "--clusters", "100", "--temperature", "0.1"]


def find_sets(data_dir):
    sets = []
    for name in sorted(os.listdir(data_dir)):
        if not name.endswith(".npy"):
            continue
        prefix = name.split("-")[0]
        path = os.path.join(data_dir, name)
        rows = np.load(path, mmap_mode="r").shape[0]
        orders = []
        for other in sorted(os.listdir(data_dir)):
            if not (other.startswith(prefix + "-") and other.endswith(".txt")):
                continue
            kind = other[len(prefix) + 1:-4]
            if kind in ("ids", "summaries", "texts"):
                continue
            with open(os.path.join(data_dir, other), encoding="utf-8") as f:
                lines = f.read().splitlines()
            if len(lines) != rows or len(set(lines)) > 0.9 * rows:
                continue
            orders.append((kind, os.path.join(data_dir, other)))
        sets.append((prefix, path, rows, orders))
    return sets


def fidelity(path, extra):
    """One `prunerd fidelity` run: a dict per order printed."""
    out = subprocess.run([PRUNERD, "fidelity", path] + COMMON + extra,
                         check=True, capture_output=True, text=True).stdout
    blocks = {}
    for block in out.split("order: ")[1:]:
        order = block.split("\n", 1)[0].strip()
        figures = {}

        def grab(key, pattern):
            m = re.search(pattern, block)
            if m:
                figures[key] = float(m.group(1))
        grab("keep_ratio", r"streaming keep ratio\s+([0-9.]+)")
        grab("same_centroids", r"overlap vs offline, final centroids\s+([0-9.]+)")
        grab("end_to_end", r"end to end\)\s+([0-9.]+)")
        grab("offline_mean", r"min/mean/max\s+[0-9.]+ / ([0-9.]+) /")
        grab("offline_on_final", r"offline on final centroids vs plain\s+([0-9.]+)")
        grab("dedup_recall", r"dedup recall vs exact\s+([0-9.]+)")
        grab("dedup_precision", r"dedup precision vs exact\s+([0-9.]+)")
        m = re.search(r"update=\S+ \((\w+)", block)
        figures["update"] = m.group(1) if m else "?"
        blocks[order] = figures
    return blocks


def encodings(path, rows_wanted=4000, seeds=(0, 1)):
    """Share of f16 / bf16 / JSON decisions equal to f32's, per shuffle seed."""
    full = np.load(path, mmap_mode="r")
    d = full.shape[1]
    results = []
    for seed in seeds:
        rng = np.random.default_rng(1000 + seed)
        pick = np.sort(rng.choice(full.shape[0], size=min(rows_wanted, full.shape[0]), replace=False))
        rng.shuffle(pick)
        q, _ = np.linalg.qr(rng.standard_normal((d, d)))
        rows = (np.asarray(full[pick], dtype=np.float32) @ q.astype(np.float32)).astype(np.float32)
        with tempfile.TemporaryDirectory(prefix="prunerd-fm-") as tmp:
            npy = os.path.join(tmp, "rows.npy")
            ids = os.path.join(tmp, "ids.txt")
            np.save(npy, rows)
            with open(ids, "w") as f:
                f.writelines(f"r{i}\n" for i in range(len(rows)))
            inputs = {}
            for dtype in ("f16", "f32", "bf16"):
                out = os.path.join(tmp, f"{dtype}.prn1.lz4")
                subprocess.run([PRUNERD, "encode", npy, "--ids", ids, "--dtype", dtype, "-o", out],
                               check=True, capture_output=True)
                inputs[dtype] = out
            jsonl = os.path.join(tmp, "rows.jsonl")
            with open(jsonl, "w") as f:
                for i, v in enumerate(rows):
                    f.write(json.dumps({"id": f"r{i}", "embedding": [float(x) for x in v]}) + "\n")
            inputs["json"] = jsonl
            verdicts = {}
            for kind, src in inputs.items():
                log = os.path.join(tmp, f"{kind}.jsonl")
                subprocess.run([PRUNERD, "serve", src, "--clusters", "16", "--warmup", "1000",
                                "--keep-ratio", "0.3", "--decisions", log,
                                "--state-dir", os.path.join(tmp, f"state-{kind}")],
                               check=True, capture_output=True)
                with open(log) as f:
                    verdicts[kind] = {line["id"]: line["decision"] for line in map(json.loads, f)}
            base = verdicts["f32"]
            agree = {}
            for kind in ("f16", "bf16", "json"):
                same = sum(1 for k, v in verdicts[kind].items() if base.get(k) == v)
                agree[kind] = same / len(base)
            results.append(agree)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", nargs="?", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))
    parser.add_argument("--skip-encodings", action="store_true")
    args = parser.parse_args()
    sets = find_sets(args.data_dir)
    if not sets:
        sys.exit(f"fidelity-matrix: no NAME-*.npy sets in {args.data_dir}")
    print(f"prunerd: {subprocess.run([PRUNERD, '--version'], capture_output=True, text=True).stdout.strip()}")
    print("rho = 0.3, k = 100, tau = 0.1, default options unless named; 'offline' = mean overlap of offline seeds +1..+3 with seed 0")
    for name, path, rows, orders in sets:
        print(f"\n## {name}: {rows} rows ({os.path.basename(path)}); orders: {', '.join(k for k, _ in orders) or 'none'}")
        print(f"| row | figure | bar | met |\n|---|---|---|---|")
        shuffled = fidelity(path, ["--order", "shuffled"])["shuffled"]
        e2e = shuffled["end_to_end"]
        off = shuffled["offline_mean"]

        def row(label, figure, bar, met):
            print(f"| {label} | {figure} | {bar} | {'yes' if met else '**no**'} |", flush=True)
        row(f"shuffled, end to end, default warm-up ({shuffled['update']})", f"{e2e:.3f}", f"offline {off:.3f}", e2e >= off)
        w15 = int(round(0.15 * rows))
        s15 = fidelity(path, ["--order", "shuffled", "--warmup", str(w15)])["shuffled"]
        row(f"shuffled, end to end, --warmup {w15} (15%)", f"{s15['end_to_end']:.3f}",
            f"offline {s15['offline_mean']:.3f}", s15["end_to_end"] >= s15["offline_mean"])
        frozen = fidelity(path, ["--update", "frozen"])["shuffled"]["same_centroids"]
        row("shuffled, same centroids, frozen", f"{frozen:.3f}", "0.97", frozen >= 0.97)
        online = fidelity(path, ["--update", "online"])["shuffled"]["same_centroids"]
        row("shuffled, same centroids, online", f"{online:.3f}", "0.93", online >= 0.93)
        dd = fidelity(path, ["--order", "shuffled", "--dedup-threshold", "0.05"])["shuffled"]
        row("dedup eps 0.05, shuffled: recall / precision", f"{dd['dedup_recall']:.4f} / {dd['dedup_precision']:.4f}",
            "0.95 / 0.99", dd["dedup_recall"] >= 0.95 and dd["dedup_precision"] >= 0.99)
        for kind, labels in orders:
            o = fidelity(path, ["--order", "sorted-by-label", "--labels", labels])["sorted-by-label"]
            ratio = o["end_to_end"] / e2e
            row(f"by {kind}: keep ratio", f"{o['keep_ratio']:.4f}", "0.300 +- 0.005", abs(o["keep_ratio"] - 0.3) <= 0.005)
            row(f"by {kind}: end to end ({o['update']}), x shuffled", f"{o['end_to_end']:.3f} = {ratio:.3f}x",
                f"0.95 x {e2e:.3f}", ratio >= 0.95)
            od = fidelity(path, ["--order", "sorted-by-label", "--labels", labels,
                                 "--dedup-threshold", "0.05"])["sorted-by-label"]
            row(f"by {kind}: dedup recall / precision", f"{od['dedup_recall']:.4f} / {od['dedup_precision']:.4f}",
                "0.95 / 0.99", od["dedup_recall"] >= 0.95 and od["dedup_precision"] >= 0.99)
        if not args.skip_encodings:
            for i, agree in enumerate(encodings(path)):
                worst = min(agree.values())
                row(f"encodings, 4000 float32-born rows, k = 16, shuffle {i}: f16 / bf16 / JSON = f32",
                    " / ".join(f"{agree[k]:.4f}" for k in ("f16", "bf16", "json")), "0.99", worst >= 0.99)


if __name__ == "__main__":
    main()
