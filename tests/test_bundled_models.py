"""The models and data that ship in the package: what they claim, that flow runs on them without
torch, and that retraining with `fpga-sim train --bundle` reproduces them.

Reproduction is checked bit for bit (hash of every weight) when the torch build and CPU kernel
set equal those recorded at bundling: training is single-threaded and seeded, and two runs on
one platform were measured byte-identical.  On another torch or CPU ISA (AVX2 vs AVX512 kernels
round float sums differently) it checks the same test accuracy (within 1 point) and 98% top-1
agreement between the shipped and the retrained model instead.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fpga_sim.bundled import BUNDLED_DIR, bundled_names, get_bundled, load_digits8, weights_sha256
from fpga_sim.errors import FpgaSimError

SHIPPED = ("lenet", "mlp")
ROOT = Path(__file__).parent.parent

# Run the CLI with torch, scikit-learn and models/ unimportable; exit 9 if any got imported anyway.
NO_TORCH = """
import sys, importlib.abc
HEAVY = ("torch", "sklearn", "models")
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HEAVY:
            raise ImportError("blocked by the test: " + name)
sys.meta_path.insert(0, Block())
from fpga_sim.cli import main
code = main(sys.argv[1:])
sys.exit(code or (9 if [m for m in sys.modules if m.split(".")[0] in HEAVY] else 0))
"""


def _ort_logits(path: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x.astype(np.float32)})[0]


def test_the_default_models_ship_with_their_test_accuracy():
    assert set(SHIPPED) <= set(bundled_names())
    _, _, x_te, y_te = load_digits8()
    for name in SHIPPED:
        m = get_bundled(name)
        assert m.metadata["test_samples"] == len(y_te) == 450
        assert weights_sha256(m.onnx_path) == m.metadata["weights_sha256"]       # the file is what was recorded
        acc = float((_ort_logits(m.onnx_path, x_te).argmax(axis=1) == y_te).mean())
        assert acc == m.metadata["accuracy_onnxruntime"] and abs(acc - m.accuracy) <= 1 / 450
        assert 0.95 < m.accuracy <= 1.0


def test_an_unknown_name_says_what_ships(tmp_path):
    with pytest.raises(FpgaSimError, match="lenet"):
        get_bundled("alexnet")
    with pytest.raises(FpgaSimError, match="missing"):
        load_digits8(tmp_path / "digits8.npz")


def test_shipped_digits_equal_the_scikit_learn_split():
    from models.data import load_digits_split

    for shipped, ref in zip(load_digits8(), load_digits_split(8)):
        assert shipped.dtype == ref.dtype and np.array_equal(shipped, ref)


def test_shipped_models_are_the_current_recipes():
    """A recipe changed since bundling changes its cache key: re-run `fpga-sim train --bundle`."""
    from models.recipes import RECIPES, cache_key

    for name in SHIPPED:
        meta = get_bundled(name).metadata
        assert meta["key"] == cache_key(name) and meta["recipe"] == RECIPES[name].params


@pytest.mark.slow
@pytest.mark.gxx
def test_flow_on_the_default_model_imports_no_torch(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-c", NO_TORCH, "flow", "--samples", "16", "--csim-samples", "4",
                           "--out", str(out), "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rec = json.loads((out / "report.json").read_text())
    assert rec["model"]["onnx"] == str((BUNDLED_DIR / "lenet.onnx").resolve())
    assert rec["comparison"]["data"] == "digits 8x8 test split" and rec["csim"]["status"] == "pass"
    assert rec["model"]["accuracy_trained"] == get_bundled("lenet").accuracy


def test_without_torch_a_model_that_does_not_ship_says_how_to_get_it():
    proc = subprocess.run([sys.executable, "-c", NO_TORCH, "simulate", "lenet_wide", "--quiet"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    (line,) = proc.stderr.strip().splitlines()
    assert "lenet_wide" in line and "[models]" in line and "lenet, mlp" in line
    for cmd in (["train", "lenet"], ["compress", "--method", "prune"]):
        proc = subprocess.run([sys.executable, "-c", NO_TORCH, *cmd], cwd=ROOT, capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode == 2 and "[models]" in proc.stderr.strip().splitlines()[-1], proc.stderr[-2000:]


@pytest.mark.slow
def test_train_bundle_ships_a_recipe_into_a_directory(tmp_path, capsys, monkeypatch):
    from models import recipes

    from fpga_sim.cli import main

    monkeypatch.setitem(recipes.RECIPES, "t_one", recipes.Recipe(
        recipes._plain, {"arch": "student", "epochs": 1, "lr": 3e-3, "batch_size": 64}, doc="one-epoch student"))
    ship = tmp_path / "ship"
    assert main(["train", "t_one", "--bundle", str(ship), "--cache-dir", str(tmp_path / "cache"), "--json"]) == 0
    (rec,) = json.loads(capsys.readouterr().out)
    shipped = get_bundled("t_one", root=ship)
    assert bundled_names(ship) == ["t_one"] and rec["onnx"] == str(shipped.onnx_path)
    assert shipped.metadata["key"] == recipes.cache_key("t_one") and shipped.metadata["made_by"].endswith("t_one")
    assert weights_sha256(shipped.onnx_path) == shipped.metadata["weights_sha256"]
    assert np.array_equal(load_digits8(ship / "digits8.npz")[2], load_digits8()[2])


@pytest.mark.slow
def test_retraining_reproduces_what_ships(tmp_path):
    from models.bundle import training_platform, write_bundle

    records = {r["name"]: r for r in write_bundle(list(SHIPPED), dest=tmp_path / "ship",
                                                  cache_dir=tmp_path / "cache", progress=False)}
    _, _, x_te, y_te = load_digits8()
    for name in SHIPPED:
        shipped, again = get_bundled(name), records[name]
        assert again["key"] == shipped.metadata["key"]
        if shipped.metadata["trained_on"] == training_platform():
            assert again["weights_sha256"] == shipped.metadata["weights_sha256"], f"{name}: weights differ"
            assert again["accuracy"] == shipped.accuracy
        else:           # another torch build or CPU kernel set: the same model, not the same bits
            assert abs(again["accuracy"] - shipped.accuracy) <= 0.01
            top_s = _ort_logits(shipped.onnx_path, x_te).argmax(axis=1)
            top_r = _ort_logits(Path(again["onnx"]), x_te).argmax(axis=1)
            assert float((top_s == top_r).mean()) >= 0.98
    assert np.array_equal(np.load(tmp_path / "ship" / "digits8.npz")["test_labels"], y_te)
