"""`fpga-sim train` and `fpga-sim compress` on tiny recipes (one epoch of the small student net)."""
from __future__ import annotations

import json

import numpy as np
import pytest

import torch  # noqa: F401  (train/compress need the models extra, which .[all] installs: fail, never skip)

from fpga_sim.cli import main


@pytest.fixture
def tiny_recipes(monkeypatch):
    from models import recipes

    monkeypatch.setitem(recipes.RECIPES, "t_base", recipes.Recipe(
        recipes._plain, {"arch": "student", "epochs": 1, "lr": 3e-3, "batch_size": 64}, doc="one-epoch student"))
    monkeypatch.setitem(recipes.RECIPES, "t_pruned", recipes.Recipe(
        recipes._pruned, dict(base="t_base", target=0.6, first=0.3, last=0.5, steps=1, epochs=1, lr=1e-3),
        ("t_base",), "one-step pruned student"))


def _json(capsys, *argv):
    code = main([str(a) for a in argv] + ["--json", "--quiet"])
    cap = capsys.readouterr()
    assert code == 0, cap.err
    return json.loads(cap.out)


@pytest.mark.slow
def test_train_caches_and_exports(tiny_recipes, tmp_path, capsys):
    from fpga_sim.onnx_import import load_onnx

    (row,) = _json(capsys, "train", "t_base", "--cache-dir", tmp_path)
    meta = json.loads((tmp_path / (row["checkpoint"].rsplit("/", 1)[1].replace(".pt", ".json"))).read_text())
    assert row["accuracy"] == meta["accuracy"] and row["params"] == meta["params"]
    assert load_onnx(row["onnx"]).inputs                       # the export is one fpga_sim imports
    mtime = (tmp_path / row["checkpoint"].rsplit("/", 1)[1]).stat().st_mtime_ns
    (again,) = _json(capsys, "train", "t_base", "--cache-dir", tmp_path)
    assert again == row
    assert (tmp_path / row["checkpoint"].rsplit("/", 1)[1]).stat().st_mtime_ns == mtime   # reused, not retrained


def test_train_list_and_unknown_name(capsys):
    names = {r["name"] for r in _json(capsys, "train", "--list")}
    assert {"lenet", "lenet_wide_pruned", "student_kd"} <= names
    assert main(["train", "no_such_model"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "no_such_model" in err and "lenet" in err


@pytest.mark.slow
def test_compress_measures_pruning(tiny_recipes, tmp_path, capsys, monkeypatch):
    from models import get_trained, storage

    from fpga_sim.cli import zoo

    monkeypatch.setattr(zoo, "METHODS", {"prune": zoo.Method("t_base", "t_pruned", "sparse",
                                                             {"skip_zero_weights": True})})
    base_row, comp_row = _json(capsys, "compress", "--method", "prune", "--cache-dir", tmp_path, "--samples", "32")
    base, comp = get_trained("t_base", tmp_path, False), get_trained("t_pruned", tmp_path, False)
    assert (base_row["role"], comp_row["role"]) == ("baseline", "compressed")
    assert base_row["bytes"] == storage.model_size(base.model, "dense")["bytes"]
    assert comp_row["bytes"] == storage.model_size(comp.model, "sparse")["bytes"]
    assert comp_row["compression_rate"] == pytest.approx(base_row["bytes"] / comp_row["bytes"])
    assert comp_row["nonzero_params"] == storage.nonzero_params(comp.model) < comp_row["params"]
    assert comp_row["hardware"] == {"skip_zero_weights": True, "weights_as_codebook": False}
    # Skipping zero weights must show up in the machine's DRAM traffic.
    assert comp_row["dram_words"] < base_row["dram_words"]
    # Fixed-point accuracy against the library run of the same ONNX on the same 32 samples.
    from models.data import load_digits_split

    from fpga_sim.hardware import Hardware
    from fpga_sim.onnx_import import load_onnx
    from fpga_sim.quantization import quantize
    from fpga_sim.simulation import simulate

    x_tr, _, x_te, y_te = load_digits_split()
    from fpga_sim.cli.inputs import DEFAULT_PRECISION

    qg = quantize(load_onnx(str(comp.onnx_path)), calibration=x_tr.astype(np.float64), precision=DEFAULT_PRECISION)
    sim = simulate(qg, x_te[:32].astype(np.float64), hardware=Hardware(skip_zero_weights=True))
    acc = float((next(iter(sim.outputs.values())).argmax(axis=1) == y_te[:32]).mean())
    assert comp_row["accuracy_fixed"] == acc
