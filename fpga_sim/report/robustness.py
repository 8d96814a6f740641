"""The robustness report: accuracy-vs-epsilon curves, image grids, robustness.html and report.json.

Input is the plain record of `models.robustness.run_study` (plus title, command, timings), so
the report can be rebuilt from its saved report.json; nothing here needs torch.
"""
from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np

from .build import _environment
from .jsonsafe import json_safe
from .plots import _new_figure, _save

FIGURES = {"accuracy": "accuracy_vs_eps.png", "examples": "adversarial_examples.png",
           "fooling": "fooling_images.png", "class_models": "class_models.png", "dream": "deepdream.png"}
ATTACK_TITLES = {"fgsm": "FGSM", "pgd": "PGD", "pgd_targeted": "PGD targeted (to digit y+1)"}
MARKERS = ("o", "s", "^", "D", "v", "P")


def attack_table(record: dict[str, Any], attack: str) -> list[dict[str, Any]]:
    """The rows of one attack, in epsilon order."""
    return sorted((r for r in record["attacks"] if r["attack"] == attack), key=lambda r: r["eps"])


def plot_accuracy(record: dict[str, Any], path: Path) -> Path:
    """Accuracy vs epsilon, one curve per evaluator, one panel per attack (the targeted attack's
    panel shows its success rate: the share classified as the target digit)."""
    attacks = [a for a in ATTACK_TITLES if attack_table(record, a)]
    fig = _new_figure(4.0 * len(attacks), 4.0)
    axes = fig.subplots(1, len(attacks), squeeze=False)[0]
    for ax, attack in zip(axes, attacks):
        rows = attack_table(record, attack)
        metric = "targeted_success" if attack.endswith("targeted") else "accuracy"
        eps = [r["eps"] for r in rows]
        for i, e in enumerate(record["evaluators"]):
            marker = MARKERS[i % len(MARKERS)]
            line, = ax.plot(eps, [100 * r[metric][e["key"]] for r in rows], marker=marker, ms=4, lw=1.4,
                            label=e["label"])
            if e.get("own_attacks"):
                ax.plot(eps, [100 * r["own_" + metric][e["key"]] for r in rows], marker=marker, ls="--", ms=4, lw=1.0,
                        color=line.get_color(), mfc="none", label=f"{e['label']}, attacked on its own weights")
        ax.set_title(ATTACK_TITLES[attack], fontsize=10)
        ax.set_xlabel("epsilon (L-inf, pixels in [0, 1])")
        ax.set_ylabel("targeted success (%)" if metric == "targeted_success" else "accuracy (%)")
        ax.set_ylim(-3, 103)
        ax.grid(True, alpha=0.3)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=min(4, len(record["evaluators"])),
               fontsize=7)
    return _save(fig, path)


def _caption(verdicts: dict[str, dict[str, list]], i: int, keys: list[str]) -> str:
    return "\n".join(f"{k}: {verdicts[k]['pred'][i]} {100 * verdicts[k]['conf_pred'][i]:.0f}%" for k in keys)


def plot_grid(rows: list[tuple[str, list, dict[str, dict[str, list]] | None]], keys: list[str], path: Path,
              title: str) -> Path:
    """Rows of images (each row: label, images (N, H, W), verdicts), each image captioned with every
    evaluator's predicted digit and confidence.  One axes holds the whole mosaic (many small axes
    made the constrained layout the slowest part of the report)."""
    h, w = np.asarray(rows[0][1][0]).shape
    cols = max(len(imgs) for _, imgs, _ in rows)
    gap, cap = 1.0, 0.95 * len(keys) + 0.6          # in image pixels: between images, below each row
    cell_w, cell_h = w + gap, h + cap
    mosaic = np.ones((int(round(cell_h * len(rows))), int(cell_w * cols), 3))
    fig = _new_figure(0.14 * mosaic.shape[1] + 0.9, 0.14 * mosaic.shape[0] + 0.5)
    ax = fig.add_subplot()
    for r, (label, imgs, verdicts) in enumerate(rows):
        top = int(round(r * cell_h))
        for c, img in enumerate(imgs):
            left = int(c * cell_w)
            mosaic[top:top + h, left:left + w] = np.clip(np.asarray(img, dtype=float), 0, 1)[..., None]
            if verdicts is not None:
                ax.text(left + w / 2 - 0.5, top + h + 0.1, _caption(verdicts, c, keys), ha="center", va="top",
                        fontsize=5.5, linespacing=1.1)
        ax.text(-1.0, top + h / 2, label, ha="right", va="center", fontsize=7, rotation=90)
    ax.imshow(mosaic, interpolation="nearest", extent=(-0.5, mosaic.shape[1] - 0.5, mosaic.shape[0] - 0.5, -0.5))
    ax.set_axis_off()
    ax.set_title(title, fontsize=9)
    return _save(fig, path)


def write_figures(record: dict[str, Any], out: Path) -> dict[str, str]:
    keys = [e["key"] for e in record["evaluators"]]
    plot_accuracy(record, out / FIGURES["accuracy"])
    ex = record["examples"]
    plot_grid([("clean", ex["images"]["clean"], ex["verdicts"]["clean"])]
              + [(ATTACK_TITLES[k].split(" (")[0], ex["images"][k], ex["verdicts"][k]) for k in ATTACK_TITLES
                 if k in ex["images"]], keys, out / FIGURES["examples"],
              f"adversarial examples at epsilon {ex['eps']:g}, crafted on the float model")
    fool = record["fooling"]
    n = len(fool["target"])
    half = (n + 1) // 2 if n > 10 else n
    rows = [("fooling", fool["images"][s], {k: {f: v[f][s] for f in v} for k, v in fool["verdicts"].items()})
            for s in (slice(0, half), slice(half, n)) if fool["images"][s]]
    plot_grid(rows, keys, out / FIGURES["fooling"],
              f"fooling images: noise ascended to > {100 * fool['threshold']:g}% float confidence "
              f"(targets {', '.join(map(str, fool['target']))})")
    cm = record["class_models"]
    plot_grid([("class model", cm["images"], cm["verdicts"])], keys, out / FIGURES["class_models"],
              "class models: each digit's score ascended from a blank image (L2 + blur)")
    d = record["dream"]
    plot_grid([("original", d["images"]["original"], d["verdicts"]["original"]),
               (f"dream ({d['layer']})", d["images"]["dream"], d["verdicts"]["dream"])], keys,
              out / FIGURES["dream"], f"DeepDream: the activations of {d['layer']} boosted from real digits")
    return dict(FIGURES)


def write_robustness_report(record: dict[str, Any], out_dir: str | Path) -> Path:
    """Write the PNGs, report.json and a self-contained robustness.html into `out_dir`; return the HTML path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    record = json_safe(record)
    figures = write_figures(record, out)
    images = {k: base64.b64encode((out / name).read_bytes()).decode("ascii") for k, name in figures.items()}
    full = {**record, "figures": figures}
    (out / "report.json").write_text(json.dumps(full, indent=1, allow_nan=False) + "\n")
    tables = {a: attack_table(record, a) for a in ATTACK_TITLES}
    html = _environment().get_template("robustness.html.j2").render(
        r=full, images=images, tables=tables, titles=ATTACK_TITLES,
        engines=[e for e in record["evaluators"] if e["kind"] == "engine"],
        own=[e for e in record["evaluators"] if e.get("own_attacks")])
    path = out / "robustness.html"
    path.write_text(html, encoding="utf-8")
    return path
