"""The study: fixed-point verdicts come from the engine (not torch), the record is consistent with
itself (epsilon 0 is the clean accuracy, the float model is fooled by its own fooling images), and
a perturbation below half a step of the input type is rounded away before the first layer."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import fpga_sim.simulation
from fpga_sim import Fixed
from fpga_sim.onnx_import import load_onnx
from fpga_sim.quantization import quantize
from models import robustness as rob
from models.export import export_onnx
from tests.robustness_support import digits, small_lenet

P8 = "ap_fixed<8,3,AP_RND,AP_SAT>"


@pytest.fixture(scope="module")
def onnx_path(tmp_path_factory):
    return export_onnx(small_lenet(), tmp_path_factory.mktemp("rob") / "lenet.onnx")


def test_engine_evaluator_runs_the_engine_not_torch(onnx_path, monkeypatch):
    x_tr, _, xt, _ = digits()
    calls = []
    real = fpga_sim.simulation.simulate

    def spy(qg, x, *a, **kw):
        calls.append(len(x))
        torch.set_num_threads(2)          # what Numba's first OpenMP launch does to torch's thread count
        return real(qg, x, *a, **kw)

    monkeypatch.setattr(fpga_sim.simulation, "simulate", spy)
    ev = rob.engine_evaluator("8,3", "lenet", onnx_path, x_tr[:256], P8)
    model = small_lenet()
    handle = model.register_forward_pre_hook(lambda m, a: pytest.fail("torch ran inside the engine evaluator"))
    torch.set_num_threads(1)
    try:
        probs = ev.probs(xt[:40])
    finally:
        handle.remove()
    assert calls == [40]
    assert torch.get_num_threads() == 1           # the evaluator restores torch's thread count
    # the same numbers as the engine run by hand, with the logits widened as logits_config says
    graph = load_onnx(str(onnx_path))
    qg = quantize(graph, calibration=x_tr[:256], precision=P8, config=rob.logits_config(graph, P8))
    logits = real(qg, xt[:40]).outputs["logits"]
    np.testing.assert_allclose(probs, rob.softmax(logits), rtol=0, atol=0)
    assert qg.tensor_types["logits"] == Fixed.parse(rob.DEFAULT_OUT_TYPE)
    # and they are fixed-point numbers: not the float model's probabilities
    assert np.abs(probs - rob.float_evaluator(model, "lenet").probs(xt[:40])).max() > 1e-3
    assert ev.info()["logits_type"] == rob.DEFAULT_OUT_TYPE and ev.info()["input_type"] == P8


def test_logits_are_widened_only_when_narrower():
    class G:  # a graph as far as logits_config reads it
        outputs = ["logits"]

    assert rob.logits_config(G, "ap_fixed<16,6>") is None
    assert rob.logits_config(G, "ap_fixed<24,10>") is None
    assert rob.logits_config(G, P8) == {"LayerName": {"logits": {"Precision": {"result": rob.DEFAULT_OUT_TYPE}}}}


@pytest.fixture(scope="module")
def record(onnx_path):
    x_tr, _, xt, yt = digits()
    model = small_lenet()
    evs = [rob.float_evaluator(model, "lenet"), rob.engine_evaluator("8,3", "lenet", onnx_path, x_tr[:256], P8)]
    cfg = rob.StudyConfig(eps=(0.0, 0.01, 0.2), pgd_steps=3, fooling_per_class=1, class_model_steps=30,
                          dream_steps=5)
    return rob.run_study(model, evs, xt[:80], yt[:80], cfg)


def test_study_record_is_consistent(record):
    json.dumps(record, allow_nan=False)                                 # plain JSON as it is
    assert [e["key"] for e in record["evaluators"]] == ["float", "8,3"]
    rows = {(r["attack"], r["eps"]): r for r in record["attacks"]}
    assert set(rows) == {(a, e) for a in rob.ATTACKS for e in (0.0, 0.01, 0.2)}
    for a in rob.ATTACKS:
        assert rows[(a, 0.0)]["accuracy"] == record["clean_accuracy"]
        assert rows[(a, 0.0)]["linf"] == 0.0 and rows[(a, 0.0)]["input_changed"] == {"8,3": 0.0}
        assert rows[(a, 0.2)]["linf"] == pytest.approx(0.2, abs=1e-6)
    assert rows[("pgd", 0.2)]["accuracy"]["float"] < record["clean_accuracy"]["float"] - 0.5
    # transfer: nothing is fooled at epsilon 0; the float model always "transfers" to itself
    assert all(rows[(a, 0.0)]["transfer"] == {"float": None, "8,3": None} for a in rob.ATTACKS)
    assert rows[("pgd", 0.2)]["transfer"]["float"] == 1.0 and 0.0 <= rows[("pgd", 0.2)]["transfer"]["8,3"] <= 1.0
    fool = record["fooling"]
    assert fool["summary"]["float"]["transfer"] == 1.0 and fool["summary"]["float"]["above_threshold"] == 1.0
    assert fool["verdicts"]["float"]["conf_class"] == pytest.approx(fool["confidence"])
    assert len(record["examples"]["label"]) == 10 == len(record["class_models"]["images"])
    assert np.asarray(record["dream"]["images"]["dream"]).shape == (10, 8, 8)


def test_perturbations_below_half_an_input_step_are_rounded_away(record):
    # The digits' pixels are multiples of 1/16, on ap_fixed<8,3>'s grid of 1/32; a change of at
    # most 0.01 < 1/64 rounds back to the clean pixel (AP_RND), so the chip sees the clean image.
    for a in rob.ATTACKS:
        row = next(r for r in record["attacks"] if r["attack"] == a and r["eps"] == 0.01)
        assert row["input_changed"]["8,3"] == 0.0
        assert row["accuracy"]["8,3"] == record["clean_accuracy"]["8,3"]
        big = next(r for r in record["attacks"] if r["attack"] == a and r["eps"] == 0.2)
        assert big["input_changed"]["8,3"] == 1.0


def test_study_is_deterministic(onnx_path):
    x_tr, _, xt, yt = digits()
    model = small_lenet()
    cfg = rob.StudyConfig(eps=(0.1,), pgd_steps=2, fooling_per_class=1, class_model_steps=5, dream_steps=2, seed=7)

    def once():
        evs = [rob.float_evaluator(model, "lenet"), rob.engine_evaluator("8,3", "lenet", onnx_path, x_tr[:256], P8)]
        return rob.run_study(model, evs, xt[:30], yt[:30], cfg)

    a, b = once(), once()
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    other = rob.run_study(model, [rob.float_evaluator(model, "lenet")], xt[:30], yt[:30],
                          rob.StudyConfig(**{**cfg.__dict__, "seed": 8}))
    assert other["fooling"]["images"] != a["fooling"]["images"]          # the seed is what fixes them
