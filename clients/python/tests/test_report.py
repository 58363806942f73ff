"""`prunerd report` from a real daemon's control socket and from its state,
rendered by headless Chromium: the picture is not blank and the concept map
has one mark per concept."""
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

import prunerd
from conftest import blobs

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def concept_marks(html):
    """The circles of class `concept` inside the concept map's <svg>."""
    start = html.index('<svg id="concept-map"')
    svg = html[start:html.index("</svg>", start)]
    return re.findall(r'<circle class="concept" data-cluster="(\d+)"', svg)


def screenshot(html_path, png_path, workdir):
    profile = os.path.join(workdir, "chromium-profile")
    result = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                             f"--user-data-dir={profile}", "--window-size=1100,2400",
                             f"--screenshot={png_path}", "file://" + html_path],
                            capture_output=True, timeout=120)
    assert os.path.exists(png_path), result.stderr.decode(errors="replace")


def assert_not_blank(png_path):
    from PIL import Image
    pixels = np.asarray(Image.open(png_path).convert("RGB"), dtype=np.float64)
    assert pixels.shape[0] >= 2000 and pixels.shape[1] >= 1000
    assert pixels.std() > 10, "screenshot is (nearly) one colour"
    # Coloured marks (the viridis fills), not just grey text and lines.
    saturation = pixels.max(axis=2) - pixels.min(axis=2)
    assert (saturation > 60).mean() > 0.005, "no coloured marks in the screenshot"
    distinct = len(np.unique(pixels.reshape(-1, 3)[::7], axis=0))
    assert distinct > 200


def assert_self_contained(html):
    assert "<script" not in html
    assert not re.search(r'(src|href)\s*=\s*"(?!#)', html), "the page refers to something outside itself"
    assert "http://" not in html.split("<footer>")[0] and "https://" not in html


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/install-deps installs it)")
def test_a_report_from_a_running_daemon_and_from_its_checkpoint(binary, start_daemon, workdir):
    daemon = start_daemon("--warmup", "600", "--clusters", "12", "--lookahead", "0", reply=False)
    x, _ = blobs(4000, dimension=32, concepts=12, seed=21)
    ids = [f"doc-{i:05d}" for i in range(len(x))]
    prunerd.write_records("unix:" + daemon.socket, ids, x)
    bad = np.zeros((15, 32), np.float32)
    prunerd.write_records("unix:" + daemon.socket, [f"zero-{i}" for i in range(15)], bad)
    daemon.wait_for_lines(4015)
    status = daemon.status()
    assert len(status["concepts"]) == 12
    assert status["history"]["columns"] == ["seconds", "records", "kept", "dropped", "rejected"]
    assert status["history"]["samples"][-1][1:] == [4015, status["kept"], status["dropped"], 15]

    live = os.path.join(workdir, "live.html")
    result = subprocess.run([binary, "report", daemon.control, "-o", live], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    html = open(live, encoding="utf-8").read()
    assert_self_contained(html)
    assert sorted(map(int, concept_marks(html))) == list(range(12))
    assert 'id="quota-chart"' in html and 'id="timeline"' in html
    assert "4,015" in html and "zero_vector 15" in html
    # Example ids come from the daemon's own decision log (its status names it).
    assert re.search(r"<code title=\"doc-\d{5}\">", html)
    png = os.path.join(workdir, "live.png")
    screenshot(live, png, workdir)
    assert_not_blank(png)

    assert daemon.stop() == 0   # writes the checkpoint
    for source in [daemon.state, os.path.join(daemon.state, "checkpoint.prnckpt")]:
        out = os.path.join(workdir, "state.html")
        result = subprocess.run([binary, "report", source, "-o", out, "--decisions", daemon.log],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        html = open(out, encoding="utf-8").read()
        assert sorted(map(int, concept_marks(html))) == list(range(12))
        assert "From the decision log" in html           # the time series, from the log
        assert "target 30.0%" in html                    # the checkpoint knows the configured ratio
    png = os.path.join(workdir, "state.png")
    screenshot(out, png, workdir)
    assert_not_blank(png)


def test_a_source_that_is_not_one_says_what_it_expects(binary, workdir):
    path = os.path.join(workdir, "log.jsonl")
    with open(path, "w") as f:
        f.write('{"id":"a"}\n')
    result = subprocess.run([binary, "report", path, "-o", os.path.join(workdir, "x.html")], capture_output=True, text=True)
    assert result.returncode != 0
    assert "not a prunerd checkpoint" in result.stderr and "control socket, a state directory or a checkpoint" in result.stderr
    result = subprocess.run([binary, "report", os.path.join(workdir, "missing"), "-o", "x.html"], capture_output=True, text=True)
    assert result.returncode != 0 and "no such file" in result.stderr


def test_ids_that_need_escaping_reach_the_page_intact_and_inert(binary, workdir):
    # Ids with quotes, backslashes, markup and non-ASCII: the decision log escapes
    # them as JSON, the report decodes them and escapes them again as HTML.
    x, _ = blobs(1200, dimension=16, concepts=3, seed=8)
    special = ['say "hi"', "back\\slash", "<script>alert(1)</script>", "naïve—ünïcode", "tab\there"]
    ids = [special[i % len(special)] + f"#{i}" for i in range(len(x))]
    stream = os.path.join(workdir, "odd.lz4")
    prunerd.write_records(stream, ids, x)
    state = os.path.join(workdir, "state")
    log = os.path.join(workdir, "odd.jsonl")
    subprocess.run([binary, "serve", stream, "--decisions", log, "--state-dir", state, "--checkpoint-every", "0",
                    "--warmup", "300", "--clusters", "3", "--lookahead", "0", "--seed", "2"],
                   check=True, capture_output=True)
    out = os.path.join(workdir, "odd.html")
    result = subprocess.run([binary, "report", state, "-o", out, "--examples", "20", "--decisions", log],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    html = open(out, encoding="utf-8").read()
    assert "<script>" not in html
    shown = set(re.findall(r'<code title="([^"]*)"', html))
    import html as html_module
    decoded = {html_module.unescape(value) for value in shown}
    assert decoded and decoded <= set(ids)                   # every example is a real id, byte for byte
    assert any(value.startswith("<script>") for value in decoded)
    assert any('"' in value for value in decoded) and any("\\" in value for value in decoded)
    assert any("ï" in value for value in decoded)
