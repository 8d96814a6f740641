"""The robustness report from a hand-made record (no torch): rows sorted by epsilon, strict JSON
(a missing transfer rate is null and shown as a dash), every figure inlined, names escaped, and
the accuracy plot drawn from the record's numbers."""
from __future__ import annotations

import base64
import json
import re

import numpy as np
import pytest
from matplotlib.image import imread

from fpga_sim.report.robustness import FIGURES, attack_table, plot_accuracy, plot_grid, write_robustness_report

KEYS = ("float", "8,3")


def _verdicts(n: int, pred: int = 7, conf: float = 0.5) -> dict:
    return {k: {"pred": [pred] * n, "conf_pred": [conf] * n, "conf_class": [conf] * n} for k in KEYS}


def _img(n: int, value: float = 0.5) -> list:
    return np.full((n, 8, 8), value).tolist()


@pytest.fixture(scope="module")
def record() -> dict:
    attacks = []
    for attack in ("fgsm", "pgd", "pgd_targeted"):
        for eps, acc in ((0.2, 0.125), (0.0, 0.875)):               # deliberately out of order
            attacks.append({"attack": attack, "eps": eps, "linf": eps, "accuracy": {"float": acc, "8,3": acc / 2},
                            "targeted_success": {"float": 1 - acc, "8,3": 0.5},
                            "transfer": {"float": None if eps == 0 else 1.0, "8,3": None if eps == 0 else 0.25},
                            "input_changed": {"8,3": float(eps > 0)},
                            "own_accuracy": {"8,3": 0.75 - eps}, "own_targeted_success": {"8,3": eps}})
    return {
        "title": "robust <model> & co", "created_utc": "2026-01-01 00:00:00 UTC", "versions": {"fpga_sim": "test"},
        "command": "fpga-sim robustness", "model": {"name": "m"}, "data": "unit data", "samples": 8,
        "config": {"pgd_steps": 3, "dream_steps": 2}, "steps": [{"name": "craft", "seconds": 1.5}],
        "evaluators": [{"key": "float", "label": "m float", "kind": "torch", "model": "m", "precision": None,
                        "input_type": None, "logits_type": None},
                       {"key": "8,3", "label": "m ap_fixed<8,3>", "kind": "engine", "model": "m",
                        "precision": "ap_fixed<8,3>", "input_type": "ap_fixed<8,3>", "logits_type": "ap_fixed<16,6>",
                        "own_attacks": True}],
        "clean_accuracy": {"float": 0.875, "8,3": 0.4375},
        "attacks": attacks,
        "examples": {"eps": 0.1, "label": [0, 1], "images": {k: _img(2) for k in ("clean", "fgsm", "pgd", "pgd_targeted")},
                     "verdicts": {k: _verdicts(2) for k in ("clean", "fgsm", "pgd", "pgd_targeted")}},
        "fooling": {"target": [3, 4], "confidence": [0.995, 0.999], "steps": [4, 9], "threshold": 0.99,
                    "images": _img(2, 0.3), "verdicts": _verdicts(2),
                    "summary": {"float": {"transfer": 1.0, "mean_confidence": 0.997, "above_threshold": 1.0},
                                "8,3": {"transfer": 0.5, "mean_confidence": 0.8, "above_threshold": 0.0}}},
        "class_models": {"target": [0, 1], "confidence": [0.9, 0.8], "steps": [5, 5], "images": _img(2, 0.1),
                         "verdicts": {"float": {"pred": [0, 1], "conf_pred": [0.9, 0.8], "conf_class": [0.9, 0.8]},
                                      "8,3": {"pred": [0, 6], "conf_pred": [0.7, 0.6], "conf_class": [0.7, 0.2]}}},
        "dream": {"layer": "relu2", "label": [0, 1], "gain": [1.5, 2.0],
                  "images": {"original": _img(2), "dream": _img(2, 0.9)},
                  "verdicts": {"original": _verdicts(2), "dream": _verdicts(2)}},
    }


def test_attack_rows_are_sorted_by_epsilon(record):
    assert [r["eps"] for r in attack_table(record, "pgd")] == [0.0, 0.2]
    assert attack_table(record, "none") == []


def test_accuracy_plot_is_drawn_from_the_record(record, tmp_path):
    # float's FGSM curve goes 87.5% -> 12.5%; the blue of the first curve must be in the picture
    path = plot_accuracy(record, tmp_path / "acc.png")
    pixels = (imread(path)[..., :3] * 255).round()
    assert np.all(np.abs(pixels - np.array([0x1F, 0x77, 0xB4])) <= 3, axis=-1).sum() > 100
    empty = {**record, "attacks": [r for r in record["attacks"] if r["attack"] == "fgsm"]}
    wide, narrow = imread(path).shape[1], imread(plot_accuracy(empty, tmp_path / "one.png")).shape[1]
    assert narrow < wide / 2                                              # one panel instead of three


def test_grid_shows_the_images(tmp_path):
    imgs = [np.eye(8).tolist(), np.zeros((8, 8)).tolist()]
    path = plot_grid([("row", imgs, None)], list(KEYS), tmp_path / "g.png", "title")
    pixels = imread(path)[..., :3]
    assert (pixels.sum(axis=-1) < 0.05).sum() > 1000                     # the black image and diagonal


def test_report_is_strict_self_contained_and_escaped(record, tmp_path):
    html = write_robustness_report(record, tmp_path).read_text()
    data = json.loads((tmp_path / "report.json").read_text(),
                      parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert data["attacks"][1]["transfer"] == {"float": None, "8,3": None}
    assert set(data["figures"]) == set(FIGURES)
    images = [base64.b64decode(i) for i in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)]
    assert sorted(images) == sorted((tmp_path / n).read_bytes() for n in FIGURES.values())
    assert not re.search(r'(src|href)="(?!data:)', html)
    assert "robust &lt;model&gt; &amp; co" in html
    pgd = html[html.index("<h3>PGD</h3>"):html.index("<h3>PGD targeted")]
    rows = re.findall(r"<tr><td class=\"n\">([^<]*)</td>(.*?)</tr>", pgd, flags=re.S)
    assert [r[0] for r in rows] == ["0", "0.2"]
    # accuracy float, 8,3; 8,3 attacked on its own weights; transfer 8,3; inputs changed 8,3
    assert re.findall(r'<td class="n">([^<]*)</td>', rows[0][1]) == ["87.5%", "43.8%", "75.0%", "–", "0.0%"]
    assert re.findall(r'<td class="n">([^<]*)</td>', rows[1][1]) == ["12.5%", "6.2%", "55.0%", "25.0%", "100.0%"]
    assert "attacked on its own weights" in html
    assert "20.0% (says 6)" in html                                     # a class model the chip gets wrong
    assert "1.5–2×" in html                                             # the dream's gain range
