"""The sweep's plots and HTML report: three PNGs, a self-contained page with them inlined and the
Pareto front as a table, rendered by headless Chromium (when installed)."""
from __future__ import annotations

import base64
import re
import shutil
import subprocess

import numpy as np
import pytest

from fpga_sim.sweep import pareto, plots, report, runner
from fpga_sim.sweep.sources import load_models
from fpga_sim.sweep.spec import load_spec
from fpga_sim.sweep.store import Store
from tests.sweep_support import write_sweep

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    s = load_spec(write_sweep(folder, extra='name = "tiny <sweep> & co"'))
    models = load_models(s)
    with Store(folder / "out") as st:
        res = runner.run(s, models, st)
        front = pareto.pareto_front(res.rows, s.objectives)
        record = report.sweep_record(s, res, front, st.path)
    report.write_report(record, folder / "out")
    return folder / "out", record, res


def test_record_and_figures(written):
    out, record, res = written
    assert record["total"] == record["computed"] == 144 and record["found"] == 0
    assert record["errors"] and all("SRAM too small" in e["error"] for e in record["errors"])
    assert record["not_fitting"] == sum(1 for r in res.rows if r["hardware"]["n_dsp"] > 90)
    assert set(record["figures"]) == {"pareto", "cycles_vs_dsp", "energy_vs_bits"}
    for path in record["figures"].values():
        assert open(path, "rb").read(8) == PNG_MAGIC
    # the cycles plot's slice: only n_dsp varies, one point per n_dsp value
    pts = plots.dsp_slice(res.rows)
    assert [p["hardware"]["n_dsp"] for p in pts] == [4, 8, 16, 32, 64, 128]
    assert len({(p["precision"], p["hardware"]["sram_bytes"], p["hardware"]["dram_read_words_per_cycle"]) for p in pts}) == 1


def test_html_is_self_contained_with_the_front(written):
    out, record, res = written
    html = (out / "sweep.html").read_text()
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    on_disk = sorted((out / n).read_bytes() for n in report.FIGURES.values())
    assert sorted(base64.b64decode(i) for i in images) == on_disk
    assert not re.search(r'(src|href)="(?!data:)', html)
    assert "tiny &lt;sweep&gt; &amp; co" in html
    table = html[html.index("<h2>Pareto front</h2>"):html.index("<figure>")]
    assert table.count("<tr><td>") == len(record["pareto"]) > 0


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
@pytest.mark.skipif(_chromium() is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_chromium_renders_the_sweep_report(written, tmp_path):
    out, _, _ = written
    html = (out / "sweep.html").read_text()
    probe = ('<img id="broken-control" src="data:image/png;base64,AAAA">'
             "<script>window.addEventListener('load', () => { document.body.setAttribute('data-widths', "
             "[...document.images].map(i => i.complete ? i.naturalWidth : -1).join(',')); });</script></body>")
    page = tmp_path / "probe.html"
    page.write_text(html.replace("</body>", probe))
    flags = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(flags + ["--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    m = re.search(r'data-widths="([-0-9,]*)"', dom)
    assert m, "the probe did not run: " + dom[:300]
    from matplotlib.image import imread

    expected = [imread(out / name).shape[1] for name in report.FIGURES.values()]
    assert [int(w) for w in m.group(1).split(",")] == expected + [0]       # the broken control shows 0
    shot = tmp_path / "shot.png"
    subprocess.run(flags + ["--window-size=1200,3000", f"--screenshot={shot}", (out / "sweep.html").as_uri()],
                   capture_output=True, timeout=120)
    pixels = (np.asarray(imread(shot))[..., :3] * 255).round()
    blue = np.all(np.abs(pixels - np.array([0x4C, 0x72, 0xB0])) <= 3, axis=-1).sum()
    assert blue > 500
