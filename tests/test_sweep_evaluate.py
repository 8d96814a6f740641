"""A batch evaluated in-process: every metric equals the library's own cost_report / simulate /
onnxruntime on an independently built machine; invalid points carry their sentence; a
(model, precision) is quantised once per process."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from fpga_sim import Hardware, load_onnx, quantize, simulate
from fpga_sim.simulation import cost_report
from fpga_sim.sweep import evaluate
from fpga_sim.sweep.runner import plan
from fpga_sim.sweep.sources import load_models
from fpga_sim.sweep.spec import load_spec
from tests.sweep_support import write_sweep


@pytest.fixture(scope="module")
def cost(tmp_path_factory):
    s = load_spec(write_sweep(tmp_path_factory.mktemp("eval")))
    models = load_models(s)
    return s, models, plan(s, models)


def test_cost_rows_equal_cost_report_on_the_same_machine(cost):
    s, models, points = cost
    rows = [r for p in range(len(s.precisions))
            for r in evaluate.evaluate_batch(models[0], s.precisions[p], s.mode, [pt for pt in points if pt.precision == p])]
    assert [r["key"] for r in rows] == [pt.key for pt in points]
    g = load_onnx(models[0].onnx_path)
    qgs = [quantize(g, calibration=models[0].calibration, precision=p.type) for p in s.precisions]
    checked = 0
    for r, pt in zip(rows, points):
        if pt.hardware["sram_bytes"] == 4:           # smaller than one tile of any layer
            assert r["status"] == "error" and "SRAM too small" in r["error"] and r["metrics"] == {}
            continue
        assert r["status"] == "ok", r["error"]
        hw = Hardware.from_dict({**pt.hardware, "part": "xcu250"} if not pt.fits else pt.hardware)
        ref = cost_report(qgs[pt.precision], hw)
        assert r["metrics"]["cycles"] == ref.totals["cycles"]
        assert r["metrics"]["energy_total_pj"] == ref.totals["energy_total_pj"]
        assert r["metrics"]["dram_words"] == ref.totals["dram_reads"] + ref.totals["dram_writes"]
        assert r["metrics"]["layers"] == [[lr.name, lr.cycles, lr.bound] for lr in ref.layers if lr.on_accelerator]
        assert r["fits"] == (pt.hardware["n_dsp"] <= 90)
        checked += 1
    assert checked == 2 * 6 * 2 * 4 and any(not r["fits"] for r in rows)
    assert rows[0]["versions"]["fpga_sim"] and rows[0]["worker"].startswith("serial")


def test_simulate_metrics_equal_simulate_and_onnxruntime(tmp_path):
    s = load_spec(write_sweep(tmp_path, mode="simulate", precisions='["ap_fixed<6,2,AP_RND,AP_SAT>"]',
                              hardware="[hardware]\nn_dsp = [8, 16]"))
    models = load_models(s)
    m = models[0]
    points = plan(s, models)
    rows = evaluate.evaluate_batch(m, s.precisions[0], s.mode, points)
    qg = quantize(load_onnx(m.onnx_path), calibration=m.calibration, precision=s.precisions[0].type)
    sim = simulate(qg, m.x)
    fixed = sim.outputs[qg.graph.outputs[0]].argmax(axis=1)
    ref = ort.InferenceSession(m.onnx_path).run(None, {"x": m.x.astype(np.float32)})[0].argmax(axis=1)
    for r in rows:
        assert r["metrics"]["accuracy_fixed"] == float(np.mean(fixed == m.y))
        assert r["metrics"]["accuracy_float"] == float(np.mean(ref == m.y))
        assert r["metrics"]["agreement"] == float(np.mean(fixed == ref))
        assert r["metrics"]["accuracy_loss"] == r["metrics"]["accuracy_float"] - r["metrics"]["accuracy_fixed"]
        assert r["metrics"]["overflows"] == sim.totals["overflows"]
    assert rows[0]["metrics"]["cycles"] > rows[1]["metrics"]["cycles"]       # 16 DSPs beat 8
    # quantised once per (model, precision) in this process
    assert evaluate.prepare(m, s.precisions[0], s.mode) is evaluate.prepare(m, s.precisions[0], s.mode)
