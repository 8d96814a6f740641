"""benchmarks/: the int64 reference against a plain-Python loop, and the --quick runner end to end.

Times are never asserted: the runner's JSON must have its structure, and every bit-exactness
check it made must have run and passed.
"""
from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks import int_reference
from fpga_sim.fixed import Fixed, product_type

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ the reference itself
def _slow_layer(x, w, b, in_t, w_t, b_t, acc_t, res_t, relu, stride=(1, 1), pads=(0, 0, 0, 0), groups=1):
    """Conv as HLS C++ does it, one product and one add at a time (plain Python ints)."""
    prod_t = product_type(in_t, w_t)
    n, c, h, wd = x.shape
    cout, cg, kh, kw = w.shape
    top, left, bottom, right = pads
    ho = (h + top + bottom - kh) // stride[0] + 1
    wo = (wd + left + right - kw) // stride[1] + 1
    og = cout // groups
    out = np.zeros((n, cout, ho, wo), np.int64)
    for s, o, i, j in itertools.product(range(n), range(cout), range(ho), range(wo)):
        acc = int(acc_t.cast(np.array([b[o]]), b_t)[0]) if b is not None else 0
        g = o // og
        for ci, u, v in itertools.product(range(cg), range(kh), range(kw)):
            r, q = i * stride[0] + u - top, j * stride[1] + v - left
            xv = int(x[s, g * cg + ci, r, q]) if 0 <= r < h and 0 <= q < wd else 0
            p = int(acc_t.cast(np.array([xv * int(w[o, ci, u, v])]), prod_t)[0])
            acc = int(acc_t.cast(np.array([acc + p]), acc_t)[0])      # each add in the accumulator
        y = int(res_t.cast(np.array([acc]), acc_t)[0])
        out[s, o, i, j] = max(y, 0) if relu else y
    return out


CASES = [
    # (in, weight, bias, accum, result, groups, stride, pads)
    ("ap_fixed<8,3>", "ap_fixed<8,3>", "ap_fixed<8,3>", "ap_fixed<20,8>", "ap_fixed<8,3>", 1, (1, 1), (1, 1, 1, 1)),
    ("ap_fixed<16,6>", "ap_fixed<16,6>", "ap_fixed<16,6>", "ap_fixed<16,6>", "ap_fixed<16,6>", 1, (2, 1), (0, 1, 1, 0)),
    ("ap_fixed<8,3>", "ap_fixed<6,1>", "ap_fixed<8,3>", "ap_fixed<12,5,AP_RND,AP_WRAP>", "ap_fixed<8,4,AP_RND_CONV,AP_SAT>",
     4, (1, 1), (1, 1, 1, 1)),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c[3]}-g{c[5]}" for c in CASES])
def test_reference_conv_matches_python_loop(case):
    tin, tw, tb, ta, tr, groups, stride, pads = (Fixed.parse(c) if isinstance(c, str) else c for c in case)
    rng = np.random.default_rng(7)
    x = rng.integers(tin.min_raw, tin.max_raw + 1, (2, 4, 5, 5))
    w = rng.integers(tw.min_raw, tw.max_raw + 1, (4, 4 // groups, 3, 3))
    b = rng.integers(tb.min_raw, tb.max_raw + 1, 4)
    got = int_reference.hls_layer(x, tin, w, b, tw, tb, ta, tr, True,
                                  {"stride": stride, "pads": pads, "groups": groups})
    want = _slow_layer(x, w, b, tin, tw, tb, ta, tr, True, stride, pads, groups)
    np.testing.assert_array_equal(got, want)


def test_reference_dense_matches_python_loop():
    t8 = Fixed.parse("ap_fixed<8,3>")
    acc = Fixed.parse("ap_fixed<14,4>")       # narrower than the products: casts and wraps happen
    rng = np.random.default_rng(3)
    x = rng.integers(-128, 128, (3, 10))
    w = rng.integers(-128, 128, (5, 10))
    b = rng.integers(-128, 128, 5)
    got = int_reference.hls_layer(x, t8, w, b, t8, t8, acc, t8, False)
    want = _slow_layer(x[:, :, None, None], w[:, :, None, None], b, t8, t8, t8, acc, t8, False)[:, :, 0, 0]
    np.testing.assert_array_equal(got, want)


def test_reference_refuses_a_saturating_accumulator_that_may_saturate():
    t8 = Fixed.parse("ap_fixed<8,3>")
    acc = Fixed.parse("ap_fixed<12,2,AP_TRN,AP_SAT>")
    x = np.full((1, 64), 127)
    w = np.full((2, 64), 127)
    with pytest.raises(int_reference.ReferenceUnsupported, match="saturat"):
        int_reference.hls_layer(x, t8, w, None, t8, None, acc, t8, False)


# ------------------------------------------------------------------ the runner, end to end
@pytest.fixture(scope="module")
def quick_result(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "quick.json"
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.exists(), f"runner wrote no JSON (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
    return proc, json.loads(out.read_text())


@pytest.mark.slow
def test_quick_run_exits_cleanly_and_prints_the_table(quick_result):
    proc, result = quick_result
    assert result["errors"] == [], result["errors"]
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Layers: engine bit-accurate kernel" in proc.stdout
    assert "bit-exactness checks" in proc.stdout


@pytest.mark.slow
def test_quick_json_names_the_machine_and_versions(quick_result):
    _, result = quick_result
    assert result["schema"] == 1 and result["mode"] == "quick"
    m = result["machine"]
    assert m["cpu"] and m["usable_cpus"] >= 1 and len(m["load_average"]) == 3
    assert any(lib.get("user_api") == "blas" for lib in m["blas"]), m["blas"]
    for pkg in ("numpy", "numba", "onnxruntime", "fpga-sim", "python"):
        assert result["versions"][pkg], pkg
    assert set(result["sections"]) == {"layers", "simulate", "elementwise", "cost_model", "whole_networks", "networks",
                                       "vs_hls4ml", "vs_gxx", "startup", "first_run", "memory"}


@pytest.mark.slow
def test_quick_layers_ran_the_exactness_check_for_every_case(quick_result):
    _, result = quick_result
    rows = result["sections"]["layers"]
    assert {r["kind"] for r in rows} == {"conv", "dense", "depthwise"}
    assert {r["precision"] for r in rows} == {"ap_fixed<16,6>", "ap_fixed<8,3>"}
    for r in rows:
        assert r["bit_exact"] is True and r["mismatches"] == 0, r
        assert r["outputs"] > 0
        for key in ("ort_macs_per_s", "numpy_int64_macs_per_s", "engine_macs_per_s", "vs_ort", "vs_numpy_int64"):
            assert isinstance(r[key], float) and r[key] > 0, (key, r)
        assert r["cycles"] > 0
    names = [c["name"] for c in result["checks"]]
    assert len([n for n in names if n.startswith("layer ")]) == len(rows)
    assert all(c["passed"] for c in result["checks"])
    conv_targets = [t for t in result["targets"] if t["target"].startswith("conv3x3")]
    assert len(conv_targets) == 2 and all(isinstance(t["met"], bool) for t in conv_targets)


@pytest.mark.slow
def test_quick_other_sections_report_or_say_why_not(quick_result):
    _, result = quick_result
    s = result["sections"]
    net = s["networks"][0]
    assert net["cycles_per_image"] > 0 and net["sim_s_per_image"] > 0 and net["ort_s_per_image"] > 0
    # --quick always skips the two g++ comparisons (codegen's tests build and compare instead):
    # they must say so, rather than a branch here that never runs.
    for sec in ("vs_hls4ml", "vs_gxx"):
        assert set(s[sec]) == {"skipped"} and s[sec]["skipped"], (sec, s[sec])
        if shutil.which("g++"):   # (without g++ the reason is that g++ is missing)
            assert s[sec]["skipped"].startswith("quick mode:"), (sec, s[sec])
    assert s["startup"]["first_call_cold_s"] > 0 and s["startup"]["first_call_warm_s"] > 0
    assert s["memory"]["sim_peak_mib"] > 0 and s["memory"]["ort_peak_mib"] > 0
    # issue 18's user-facing sections: every row measured beside its peer, with a target
    for sec in ("simulate", "elementwise", "whole_networks"):
        assert s[sec] and all(r["measured"] > 0 and isinstance(r["target_met"], bool) for r in s[sec]), s[sec]
    assert {r["op"] for r in s["elementwise"]} == {"Relu", "Clip", "Add", "Mul", "Concat", "MaxPool", "AveragePool"}
    assert s["cost_model"]["computed_s"] > 0 and s["cost_model"]["reused_s"] > 0
    assert s["first_run"]["simulate_s"] > 0 and len(s["first_run"]["rows"]) == 2


def test_compression_tradeoff_plot_and_its_pareto_front(tmp_path):
    from benchmarks.compression import pareto, plot_tradeoff

    # (1, 1) and (0.5, 2) and (2, 0.5) are each best somewhere; (0.5, 0.5) is beaten by (1, 1)
    assert pareto([(1.0, 1.0), (2.0, 0.5), (0.5, 2.0), (0.5, 0.5)]) == [0, 1, 2]
    assert pareto([(1.0, 1.0), (1.0, 1.0)]) == [0, 1]                # equal points do not beat each other
    rows = [{"model": m, "top1": a, "compression": c, "energy_uj": e}
            for m, a, c, e in (("base", 0.98, 1.0, 47.0), ("pruned", 0.985, 12.6, 5.9), ("student", 0.97, 181, 0.6))]
    png = plot_tradeoff({"rows": rows, "baseline": "base", "baseline_bytes": 1000}, tmp_path / "t.png")
    assert png.read_bytes().startswith(b"\x89PNG")
