"""`fpga-sim robustness` on tiny recipes: the float model, each precision and the fixed-point-trained
twin; --json agrees with report.json; the HTML is self-contained and renders in Chromium; bad
input (no torch, an ONNX file, bad epsilons) exits 2 with one sentence."""
from __future__ import annotations

import base64
import copy
import functools
import io
import json
import re
import sys
from contextlib import redirect_stdout

import numpy as np
import pytest

from fpga_sim.cli import main
from fpga_sim.report.robustness import FIGURES
from tests.chromium_support import chromium, rendered_image_widths, screenshot
from tests.robustness_support import small_lenet

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One small run: 40 samples, epsilons 0 and 0.2, 2 PGD steps, short ascents; the recipes are the
    tests' briefly trained LeNet and one epoch of fixed-point training from it."""
    from models import recipes
    from models import robustness as rob

    tmp = tmp_path_factory.mktemp("robustness")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(rob, "StudyConfig", functools.partial(rob.StudyConfig, fooling_per_class=1, class_model_steps=20,
                                                         dream_steps=3))
        mp.setitem(recipes.RECIPES, "t_lenet", recipes.Recipe(
            lambda ctx, **kw: (copy.deepcopy(small_lenet()), {"arch": "lenet"}), {"arch": "lenet", "tests": 1}))
        mp.setitem(recipes.RECIPES, "t_lenet_fixed", recipes.Recipe(
            recipes._fixed, dict(base="t_lenet", weight_type="ap_fixed<8,3,AP_RND,AP_SAT>",
                                 act_type="ap_fixed<8,3,AP_RND,AP_SAT>", epochs=1, lr=1e-3), ("t_lenet",)))
        out = tmp / "out"
        argv = ["robustness", "--model", "t_lenet", "--out", str(out), "--cache-dir", str(tmp / "cache"),
                "--samples", "40", "--eps", "0,0.2", "--pgd-steps", "2", "--json", "--quiet"]
        buf = io.StringIO()
        with redirect_stdout(buf):
            code = main(argv)
    assert code == 0
    return json.loads(buf.getvalue()), out


@pytest.mark.slow
def test_every_model_is_evaluated_and_json_matches_the_report(run):
    doc, out = run
    assert [e["key"] for e in doc["evaluators"]] == ["float", "16,6", "8,3", "8,3 trained"]
    assert [e["kind"] for e in doc["evaluators"]] == ["torch", "engine", "engine", "engine"]
    assert doc["evaluators"][3]["model"] == "t_lenet_fixed"
    # the fixed-point-trained twin (weights of its own) is also attacked white-box on its own weights
    assert [e["own_attacks"] for e in doc["evaluators"]] == [False, False, False, True]
    for r in doc["attacks"]:
        assert set(r["own_accuracy"]) == {"8,3 trained"} == set(r["own_targeted_success"])
        if r["eps"] == 0:
            assert r["own_accuracy"] == {"8,3 trained": doc["clean_accuracy"]["8,3 trained"]}
    assert doc["samples"] == 40 and doc["report"] == str(out / "robustness.html")
    saved = json.loads((out / "report.json").read_text(),
                       parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert saved["attacks"] == doc["attacks"] and saved["clean_accuracy"] == doc["clean_accuracy"]
    assert "images" not in doc["fooling"] and len(saved["fooling"]["images"]) == 10    # --json leaves images out
    pgd = {r["eps"]: r["accuracy"]["float"] for r in doc["attacks"] if r["attack"] == "pgd"}
    assert pgd[0.0] == doc["clean_accuracy"]["float"] > pgd[0.2]


@pytest.mark.slow
def test_html_is_self_contained_with_every_figure(run):
    _, out = run
    html = (out / "robustness.html").read_text()
    images = [base64.b64decode(i) for i in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)]
    on_disk = sorted((out / name).read_bytes() for name in FIGURES.values())
    assert sorted(images) == on_disk and all(i.startswith(PNG_MAGIC) for i in images)
    assert not re.search(r'(src|href)="(?!data:)', html)
    for text in ("Adversarial accuracy vs epsilon", "Fooling images", "Class models", "DeepDream",
                 "8,3 trained", "ap_fixed&lt;8,3,AP_RND,AP_SAT&gt;"):
        assert text in html


@pytest.mark.slow
@pytest.mark.skipif(chromium() is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_chromium_renders_the_report(run, tmp_path):
    from matplotlib.image import imread

    _, out = run
    widths, dom = rendered_image_widths(out / "robustness.html", tmp_path)
    expected = [imread(out / FIGURES[k]).shape[1] for k in ("accuracy", "examples", "fooling", "class_models", "dream")]
    assert widths == expected + [0]
    assert "Fooling images" in dom
    pixels = screenshot(out / "robustness.html", tmp_path, height=2400)
    # the curves' colours (matplotlib's first four: identical curves hide each other) appear only in the plot
    curves = sum(np.all(np.abs(pixels - np.array(c)) <= 3, axis=-1).sum()
                 for c in ((0x1F, 0x77, 0xB4), (0xFF, 0x7F, 0x0E), (0x2C, 0xA0, 0x2C), (0xD6, 0x27, 0x28)))
    assert curves > 1000


def _error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]
    return err[0]


def test_missing_torch_names_the_models_extra(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torch", None)          # import torch -> ImportError
    assert "models extra" in _error(capsys, ["robustness", "--out", str(tmp_path / "o")])


def test_bad_input_is_one_sentence(capsys, tmp_path):
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"")
    msg = _error(capsys, ["robustness", "--model", str(onnx), "--out", str(tmp_path / "o")])
    assert "bundled model" in msg and "lenet" in msg
    assert "no_such" in _error(capsys, ["robustness", "--model", "no_such", "--out", str(tmp_path / "o")])
    assert main(["robustness", "--eps", "0,2"]) == 2 and "between 0 and 1" in capsys.readouterr().err
    assert main(["robustness", "--pgd-step-size", "0"]) == 2 and "positive" in capsys.readouterr().err
    assert "auto" in _error(capsys, ["robustness", "--precision", "auto<8>", "--out", str(tmp_path / "o")])
