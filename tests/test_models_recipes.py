import json

import pytest

from fpga_sim.errors import FpgaSimError
from models import recipes
from models.data import load_digits_split
from models.export import onnx_predict
from models.recipes import Recipe, _plain, _pruned, cache_key, get_trained


@pytest.fixture
def tiny_recipes(monkeypatch):
    monkeypatch.setitem(recipes.RECIPES, "tiny", Recipe(_plain, {"arch": "student", "epochs": 1}))
    monkeypatch.setitem(recipes.RECIPES, "tiny_pruned",
                        Recipe(_pruned, dict(base="tiny", target=0.5, first=0.2, last=0.2, steps=1, epochs=1),
                               ("tiny",)))


def test_get_trained_trains_exports_and_reuses(tmp_path, tiny_recipes):
    a = get_trained("tiny", cache_dir=tmp_path, progress=False)
    assert a.onnx_path.is_file() and a.checkpoint.is_file()
    meta = json.loads(a.checkpoint.with_suffix(".json").read_text())
    for field in ("arch", "data", "accuracy", "seed", "recipe", "key"):
        assert field in meta
    assert meta["arch"] == "student" and meta["onnx_max_abs_error"] < 1e-4
    _, _, xte, yte = load_digits_split()
    assert a.accuracy == pytest.approx(float((onnx_predict(a.onnx_path, xte).argmax(1) == yte).mean()))
    mtime = a.checkpoint.stat().st_mtime_ns
    b = get_trained("tiny", cache_dir=tmp_path, progress=False)
    assert b.checkpoint == a.checkpoint and b.checkpoint.stat().st_mtime_ns == mtime    # reused
    assert b.accuracy == a.accuracy
    c = get_trained("tiny_pruned", cache_dir=tmp_path, progress=False)
    assert c.metadata["prune"]["sparsity"] > 0.3
    assert c.metadata["nonzero_params"] < a.metadata["nonzero_params"]


def test_cache_key_follows_hyperparameters(monkeypatch, tiny_recipes):
    k1, kp1 = cache_key("tiny"), cache_key("tiny_pruned")
    monkeypatch.setitem(recipes.RECIPES, "tiny", Recipe(_plain, {"arch": "student", "epochs": 2}))
    assert cache_key("tiny") != k1
    assert cache_key("tiny_pruned") != kp1              # a changed parent changes the child
    with pytest.raises(FpgaSimError, match="lenet"):
        get_trained("resnet152")


def test_public_entry_points():
    import models

    assert models.get_trained is get_trained
    assert models.load_digits_split is load_digits_split
    assert {"lenet", "lenet_wide_pruned", "lenet_wide_shared", "student_kd", "lenet_fixed",
            "squeezenet_bypass"} <= set(models.RECIPES)
