"""The report: headline numbers are sums of the layers, report.json is strict JSON, the HTML is
self-contained, and a real browser (Debian's headless Chromium) renders it with its images."""
from __future__ import annotations

import base64
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from fpga_sim.report import summarise, write_report
from fpga_sim.report.plots import energy_groups, roofline_points
from fpga_sim.results import LayerReport
from tests.chromium_support import chromium, rendered_image_widths, screenshot

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _layer(name, outputs, k, cycles, compute, stall, dram_reads, dram_writes, bound, on_acc=True):
    macs = outputs * k
    return LayerReport(
        name=name, op="Conv" if on_acc else "Softmax", on_accelerator=on_acc, outputs=outputs, macs_per_output=k,
        macs=macs, adds=macs, multipliers=25, cycles=cycles, compute_cycles=compute, stall_cycles=stall,
        mult_utilisation=macs / (25 * cycles) if cycles else 0.0, sram_reads=2 * macs, dram_reads=dram_reads,
        dram_writes=dram_writes, bound=bound, overflows=3 if name == "conv9x9" else 0,
        energy_pj={"mult": 3.1 * macs, "add": 0.1 * macs, "sram_read": 5.0 * 2 * macs,
                   "dram_read": 640.0 * dram_reads, "dram_write": 640.0 * dram_writes})


@pytest.fixture(scope="module")
def record() -> dict:
    # The lecture's three cases on 25 DSPs with one DRAM write per cycle (counts from DESIGN.md),
    # plus a host layer that must not count towards cycles.
    layers = [_layer("conv5x5", 405, 25, 405, 405, 0, 0, 405, "balanced"),
              _layer("conv9x9", 125, 81, 500, 500, 0, 0, 125, "compute"),
              _layer("conv1x1", 845, 1, 845, 34, 811, 0, 845, "bandwidth"),
              _layer("softmax", 10, 0, 7, 7, 0, 0, 0, "host", on_acc=False)]
    return {
        "title": "lecture <cases> & co", "created_utc": "2026-01-01 00:00:00 UTC", "versions": {"fpga_sim": "test"},
        "model": {"name": "lecture", "onnx": "/nowhere/lecture.onnx", "inputs": {"x": [1, 13, 13]},
                  "outputs": {"y": [10]}, "parameters": 3 * 5 * 107, "accuracy_trained": None},
        "precision": "ap_fixed<16,6>", "config": None,
        "hardware": {"part": "xc7z020", "n_dsp": 25, "clock_mhz": 100.0, "dram_write_words_per_cycle": 1.0},
        "roofs": {"macs_per_cycle": 25, "dram_read_words_per_cycle": 1.0, "dram_write_words_per_cycle": 1.0,
                  "clock_mhz": 100.0},
        "target": {"name": "xc7z020", "dsp_slices": 220},
        "simulation": {"samples": 1, "layers": layers, "totals": {}},
        "comparison": {"data": "unit test", "samples": 10, "accuracy_float": 0.9, "accuracy_fixed": 0.8,
                       "agreement": 0.85,
                       "layers": [{"name": "conv5x5", "tensor": "a", "sqnr_db": 41.5, "max_abs_error": 0.01, "exact": False},
                                  {"name": "conv9x9", "tensor": "b", "sqnr_db": math.inf, "max_abs_error": 0.0, "exact": True}]},
        "csim": {"status": "fail", "samples": 2, "values": 20, "mismatches": 1, "reason": "first difference at 3",
                 "seconds": 1.5},
        "hls_project": "/nowhere/hls", "steps": [{"name": "simulate", "seconds": 0.5}],
        "float32": {"layers": [{"name": "conv5x5", "op": "Conv", "cycles_fixed": 405, "cycles_float32": 810,
                                "energy_fixed_pj": 1000.0, "energy_float32_pj": 4321.0, "dram_bytes_fixed": 810,
                                "dram_bytes_float32": 1620}],
                    "totals": {}, "energy_ratio": 4.321, "cycles_ratio": 2.0},
    }


def test_summary_is_the_sum_of_the_layers(record):
    s = summarise(record)
    acc = [r for r in record["simulation"]["layers"] if r.on_accelerator]
    assert s["cycles"] == 405 + 500 + 845          # host layer excluded
    assert s["stall_cycles"] == 811
    assert s["latency_us"] == pytest.approx((405 + 500 + 845) / 100.0)
    assert s["macs"] == 405 * 25 + 125 * 81 + 845 + 0
    assert s["overflows"] == 3
    assert s["bounds"] == {"balanced": 1, "compute": 1, "bandwidth": 1}
    mem = sum(r.energy_pj["sram_read"] + r.energy_pj["dram_read"] + r.energy_pj["dram_write"] for r in acc)
    total = sum(sum(r.energy_pj.values()) for r in record["simulation"]["layers"])
    assert s["energy_total_pj"] == pytest.approx(total)
    assert s["memory_energy_share"] == pytest.approx(mem / total)
    assert s["dram_energy_share"] == pytest.approx(640.0 * (405 + 125 + 845) / total)


def test_energy_groups_fold_every_kind():
    g = energy_groups({"mult": 1.0, "add": 2.0, "sram_read": 3.0, "sram_write": 4.0, "dram_read": 5.0,
                       "dram_write": 6.0, "lut": 7.0})
    assert g == {"multiply": 1.0, "add": 2.0, "SRAM": 7.0, "DRAM": 11.0, "other": 7.0}


def test_roofline_points_of_the_lecture_cases(record):
    pts = {p["name"]: p for p in roofline_points([r.to_dict() for r in record["simulation"]["layers"]],
                                                 record["roofs"])}
    assert set(pts) == {"conv5x5", "conv9x9", "conv1x1"}     # the host layer has no MACs
    # 5x5: 25 MACs per written word, 25 MACs/cycle, on the ridge; 1x1: 1 and 1, on the write roof.
    assert (pts["conv5x5"]["intensity"], pts["conv5x5"]["perf"], pts["conv5x5"]["ceiling"]) == (25, 25, 25)
    assert (pts["conv1x1"]["intensity"], pts["conv1x1"]["perf"], pts["conv1x1"]["ceiling"]) == (1, 1, 1)
    # 9x9: ceil(81/25) = 4 cycles per output leaves it at 81/4 under a ceiling of 25.
    assert pts["conv9x9"]["perf"] == pytest.approx(81 / 4) and pts["conv9x9"]["ceiling"] == 25


@pytest.fixture(scope="module")
def written(record, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    write_report(record, out)
    return out


def test_optional_sections_may_be_absent(record, tmp_path):
    slim = {k: v for k, v in record.items() if k not in ("comparison", "csim", "float32", "steps", "hls_project")}
    html = write_report(slim, tmp_path).read_text()
    assert "No float comparison was run." in html and "No C-simulation was run." in html
    assert "float32 operands" not in html


def test_report_json_is_strict_and_complete(written, record):
    text = (written / "report.json").read_text()
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert data["comparison"]["layers"][1]["sqnr_db"] is None            # +inf -> null
    assert data["comparison"]["layers"][1]["exact"] is True
    assert [r["name"] for r in data["simulation"]["layers"]] == ["conv5x5", "conv9x9", "conv1x1", "softmax"]
    assert data["summary"]["cycles"] == 1750
    assert set(data["figures"]) == {"roofline", "cycles", "energy", "sqnr"}


def test_html_is_self_contained_with_every_figure(written):
    html = (written / "report.html").read_text()
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == 4
    on_disk = {p.name: p.read_bytes() for p in written.glob("*.png")}
    assert len(on_disk) == 4
    decoded = [base64.b64decode(i) for i in images]
    assert all(d.startswith(PNG_MAGIC) for d in decoded)
    assert sorted(decoded) == sorted(on_disk.values())
    assert not re.search(r'(src|href)="(?!data:)', html)                  # nothing external
    assert "lecture &lt;cases&gt; &amp; co" in html                        # escaped, not pasted
    for text in ("FAIL", "1 of 20 output values differ", "/nowhere/hls", "41.5", "exact", "host", "4.32×"):
        assert text in html


@pytest.mark.slow
@pytest.mark.skipif(chromium() is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_chromium_renders_the_report_with_its_images(written, tmp_path):
    # Each image's decoded width in the browser after load; the probe's broken control gives 0.
    widths, dom = rendered_image_widths(written / "report.html", tmp_path)
    from matplotlib.image import imread

    expected = [imread(written / f"{k}.png").shape[1] for k in ("roofline", "cycles", "energy", "sqnr")]
    assert widths == expected + [0]
    assert "<h2>Roofline</h2>" in dom and "Float vs fixed point" in dom

    pixels = screenshot(written / "report.html", tmp_path)
    # The plots' blue (#4c72b0) appears only inside the figures: the screenshot must show it.
    blue = np.all(np.abs(pixels - np.array([0x4C, 0x72, 0xB0])) <= 3, axis=-1).sum()
    assert blue > 1000
