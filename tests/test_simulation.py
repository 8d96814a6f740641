"""simulate: integer outputs equal a slow independent reference; reports, totals and overflows."""
from __future__ import annotations

import json

import numpy as np
import pytest

from fpga_sim.fixed import Fixed
from fpga_sim.onnx_import import load_onnx
from fpga_sim.quantization import quantize
from fpga_sim.simulation import run_float, simulate
from tests.test_onnx_import import small_cnn


def _cast(v: np.ndarray, src_frac: int, t: Fixed) -> np.ndarray:
    """Slow, obvious ap_fixed cast of exact integers (object ints): floor or saturate as t says."""
    out = np.empty(v.shape, dtype=object)
    for i, a in np.ndenumerate(v):
        s = src_frac - t.frac
        q = a >> s if s >= 0 else a << -s  # floor (AP_TRN)
        if q > t.max_raw or q < t.min_raw:
            if t.overflow == "AP_SAT":
                q = t.max_raw if q > 0 else t.min_raw
            else:
                q = ((q - t.min_raw) % (1 << t.width)) + t.min_raw
        out[i] = q
    return out


def _reference(qg, x: np.ndarray) -> np.ndarray:
    """The small CNN in plain Python integers: conv(relu) -> maxpool -> flatten -> dense(relu) -> dense."""
    g = qg.graph
    conv, pool, flatten, d1, d2 = g.nodes
    assert (conv.op, pool.op, flatten.op, d1.op, d2.op) == ("Conv", "MaxPool", "Reshape", "Dense", "Dense")
    tin = qg.tensor_types["x"]
    a = np.vectorize(int, otypes=[object])(tin.quantize(x))
    lt = qg.layer_types[conv.name]
    w = qg.qparams[conv.name]["weight"].astype(object)
    b = qg.qparams[conv.name]["bias"].astype(object)
    ap = np.pad(a, ((0, 0), (0, 0), (1, 1), (1, 1)))
    n, c, h, wd = a.shape
    p_frac = tin.frac + lt.weight.frac
    acc = np.empty((n, 4, h, wd), dtype=object)
    for o in range(4):
        for i in range(h):
            for j in range(wd):
                s = (ap[:, :, i:i + 3, j:j + 3] * w[o]).reshape(n, -1).sum(axis=1)
                acc[:, o, i, j] = s + (b[o] << (p_frac - lt.bias.frac))
    y = _cast(acc, p_frac, lt.result)
    y = np.where(y > 0, y, 0)
    y = y.reshape(n, 4, 3, 2, 3, 2).max(axis=(3, 5)).reshape(n, -1)  # maxpool 2x2, then flatten
    frac = lt.result.frac
    for d, relu in ((d1, True), (d2, False)):
        lt = qg.layer_types[d.name]
        w = qg.qparams[d.name]["weight"].astype(object)
        b = qg.qparams[d.name]["bias"].astype(object)
        pf = frac + lt.weight.frac
        acc = y.dot(w.T) + (b << (pf - lt.bias.frac))
        y = _cast(acc, pf, lt.result)
        if relu:
            y = np.where(y > 0, y, 0)
        frac = lt.result.frac
    return y.astype(np.int64)


@pytest.fixture(scope="module")
def graph():
    return load_onnx(small_cnn())


def test_integer_outputs_equal_a_slow_reference_and_track_float(graph):
    x = np.random.default_rng(3).random((6, 1, 6, 6)) * 2.0
    qg = quantize(graph)
    res = simulate(qg, x)
    np.testing.assert_array_equal(res.outputs_raw["logits"], _reference(qg, x))
    np.testing.assert_array_equal(res.outputs["logits"], Fixed.parse("ap_fixed<16,6>").to_float(res.outputs_raw["logits"]))
    np.testing.assert_allclose(res.outputs["logits"], run_float(graph, x)["logits"], atol=0.05)


def test_reports_totals_and_json(graph):
    from fpga_sim.hardware import Hardware

    hw = Hardware.lecture()
    qg = quantize(graph)
    res = simulate(qg, np.random.default_rng(0).random((2, 1, 6, 6)), hardware=hw, trace=True)
    assert [r.name for r in res.layers] == [n.name for n in graph.nodes]
    t = res.totals
    assert t["macs"] == 4 * 36 * 9 + 8 * 36 + 3 * 8 == sum(r.macs for r in res.layers)
    assert t["params"] == 4 * 9 + 4 + 8 * 36 + 8 + 3 * 8 + 3
    assert t["param_bits"] == 16 * t["params"]
    assert t["cycles"] == sum(r.cycles for r in res.layers if r.on_accelerator) > 0
    assert t["latency_us"] == pytest.approx(t["cycles"] / hw.clock_mhz, rel=1e-9)
    assert t["energy_total_pj"] == pytest.approx(sum(r.energy_total_pj for r in res.layers))
    assert t["energy_total_pj"] == pytest.approx(sum(t["energy_pj"].values()))
    assert t["dram_writes"] == sum(r.dram_writes for r in res.layers) and t["batch"] == 2
    assert set(res.tensors) >= {"x", "relu1", "pool", "relu2", "logits"}  # trace keeps every tensor
    d = json.loads(res.to_json())
    assert d["totals"]["cycles"] == t["cycles"] and len(d["layers"]) == len(graph.nodes)
    assert np.asarray(d["outputs"]["logits"]).shape == (2, 3)


def test_costs_are_per_inference_whatever_the_batch(graph):
    qg = quantize(graph)
    one = simulate(qg, np.zeros((1, 1, 6, 6)))
    many = simulate(qg, np.zeros((7, 1, 6, 6)))
    assert [r.cycles for r in one.layers] == [r.cycles for r in many.layers]
    assert one.totals["energy_total_pj"] == many.totals["energy_total_pj"]


def test_narrow_accumulator_overflows_are_counted(graph):
    dense = [n for n in graph.nodes if n.op == "Dense"][0]
    x = np.random.default_rng(1).random((4, 1, 6, 6)) * 4
    wide = simulate(quantize(graph), x)
    narrow_cfg = {"LayerName": {dense.name: {"Precision": {"accum": "ap_fixed<10,2>"}}}}
    narrow = simulate(quantize(graph, config=narrow_cfg), x)
    assert wide.layer(dense.name).overflows == 0
    assert narrow.layer(dense.name).overflows > 0
    assert narrow.totals["overflows"] >= narrow.layer(dense.name).overflows


def test_input_shape_errors_are_clear(graph):
    from fpga_sim.errors import FpgaSimError

    qg = quantize(graph)
    with pytest.raises(FpgaSimError, match=r"takes a batch of shape \(N, 1, 6, 6\)"):
        simulate(qg, np.zeros((2, 3, 6, 6)))
    # one sample without the batch axis is accepted as a batch of one
    assert simulate(qg, np.zeros((1, 6, 6))).outputs["logits"].shape == (1, 3)


def test_cost_report_without_data_equals_the_simulated_costs(graph):
    from fpga_sim.simulation import cost_report

    qg = quantize(graph)
    sim = simulate(qg, np.random.default_rng(2).random((3, 1, 6, 6)))
    est = cost_report(qg)
    assert [r.to_dict() | {"overflows": 0} for r in est.layers] == [r.to_dict() | {"overflows": 0} for r in sim.layers]
    for k in ("cycles", "macs", "params", "param_bits", "energy_total_pj", "dram_reads", "dram_writes"):
        assert est.totals[k] == sim.totals[k]


def test_public_names_work_after_their_modules_are_imported(graph):
    import fpga_sim
    import fpga_sim.comparison  # noqa: F401 - every module behind a public name, imported first
    import fpga_sim.quantization  # noqa: F401
    import fpga_sim.simulation  # noqa: F401

    qg = fpga_sim.quantize(graph)
    res = fpga_sim.simulate(qg, np.zeros((1, 1, 6, 6)))
    assert res.outputs["logits"].shape == (1, 3)
    assert callable(fpga_sim.compare) and fpga_sim.compare.__module__ == "fpga_sim.comparison"


def test_costs_are_computed_once_per_graph_and_hardware(graph, monkeypatch):
    from fpga_sim import Hardware
    from fpga_sim.ops import get_op
    from fpga_sim.simulation import cost_report

    qg = quantize(graph, calibration=np.random.default_rng(0).uniform(-1, 1, (4, 1, 6, 6)), precision="ap_fixed<12,5>")
    x = np.random.default_rng(1).uniform(-1, 1, (3, 1, 6, 6))
    conv = qg.nodes[0]
    calls = []
    op = get_op(conv.op)
    real = op.cost
    monkeypatch.setattr(type(op), "cost", lambda self, n, q, h, *a, **k: calls.append(n.name) or real(n, q, h, *a, **k))
    hw, other = Hardware(), Hardware(n_dsp=7)
    first = simulate(qg, x, hw)
    for batch in (1, 2, 3):                                  # a loop over batches pays the cost once
        again = simulate(qg, x[:batch], hw)
    assert calls == [conv.name]
    assert again.layers[0].cycles == first.layers[0].cycles and again.layers[0] is not first.layers[0]
    assert cost_report(qg, hw).totals["cycles"] == first.totals["cycles"] and calls == [conv.name]
    assert simulate(qg, x, other).totals["cycles"] != first.totals["cycles"] and len(calls) == 2
    # a replaced parameter array or changed types are seen; in-place edits of cached ones raise
    with pytest.raises(ValueError):
        qg.qparams[conv.name]["weight"][0, 0, 0, 0] += 1
    w = qg.qparams[conv.name]["weight"].copy()
    w[:] = 0
    qg.qparams[conv.name]["weight"] = w
    simulate(qg, x, hw)
    assert len(calls) == 3
    lt = qg.layer_types[conv.name]
    qg.layer_types[conv.name] = type(lt)(lt.result, lt.weight, lt.bias, Fixed(30, 12))
    assert simulate(qg, x, hw).layers[0].to_dict() != first.layers[0].to_dict() and len(calls) == 4
    # mutating a returned report does not reach the cache
    first.layers[0].notes = "mine"
    assert simulate(qg, x, hw).layers[0].notes != "mine"


def test_costs_follow_in_place_edits_of_the_graph(graph):
    """The (graph, hardware) cost cache is keyed on what the costs read: a graph output added in
    place (a tensor then written to DRAM) changes the cost, and equals a fresh graph's."""
    import copy

    from fpga_sim import Hardware
    from fpga_sim.simulation import cost_report

    rng = np.random.default_rng(0)
    qg = quantize(graph, calibration=rng.uniform(-1, 1, (4, 1, 6, 6)), precision="ap_fixed<12,5>")
    hw = Hardware(activations="on_chip")
    before = cost_report(qg, hw)
    inner = qg.nodes[0].outputs[0]
    fresh = copy.deepcopy(qg)
    fresh.graph.outputs.append(inner)
    qg.graph.outputs.append(inner)                         # in place: same graph object
    after = cost_report(qg, hw)
    assert after.layer(qg.nodes[0].name).memory["output"] == "dram"
    assert before.layer(qg.nodes[0].name).memory["output"] == "on_chip"
    assert [r.to_dict() for r in after.layers] == [r.to_dict() for r in cost_report(fresh, hw).layers]
    assert after.totals == cost_report(fresh, hw).totals
