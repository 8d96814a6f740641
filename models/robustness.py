"""The robustness study: does the fixed-point model on the chip keep the float model's robustness,
and do images crafted on the float model (adversarial, fooling, class models, dreams) fool it too?

Everything is crafted on the float torch model (the attacker has the float weights; the chip's
arithmetic has no gradient).  Each image set is then classified by every *evaluator*: the float
model itself (torch) and fixed-point models run bit-accurately by the engine (`fpga_sim.simulate`
on the exported ONNX, quantised with `fpga_sim.quantize`).  A fixed-point-trained twin has weights
of its own, so an attack on the float model only *transfers* to it; the attacks are also crafted
on its own float weights (white-box) and measured on it.  The result is one plain, JSON-ready
record (images included as nested lists), which `fpga_sim.report.robustness` turns into a report.
"""
from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, ContextManager

import numpy as np
import torch
from torch import nn

from fpga_sim import Fixed

from . import adversarial as adv
from . import visualise as vis
from .fixed_train import DEFAULT_OUT_TYPE

DEFAULT_EPS = (0.0, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3)
ATTACKS = {"fgsm": "FGSM", "pgd": "PGD", "pgd_targeted": "PGD targeted (to digit y+1)"}
Step = Callable[[str], ContextManager[Any]]


@dataclass(frozen=True)
class StudyConfig:
    """What the study crafts (all seeded: the same config gives the same record)."""

    eps: tuple[float, ...] = DEFAULT_EPS
    pgd_steps: int = 10
    pgd_step_size: float | None = None     # None: 2.5 * eps / pgd_steps (Madry et al.)
    fooling_per_class: int = 2
    fooling_confidence: float = 0.99
    class_model_steps: int = 100
    dream_layer: str | None = None   # None: visualise.default_dream_layer
    dream_steps: int = 20
    dream_step: float = 0.02
    show_eps: float = 0.1          # the epsilon of the example images
    seed: int = 0


@dataclass
class Evaluator:
    """Something that classifies images: the float model (torch) or a fixed-point model (engine)."""

    key: str
    label: str
    kind: str                                   # "torch" or "engine"
    model: str
    precision: str | None
    probs: Callable[[np.ndarray], np.ndarray]   # images -> softmax probabilities (N, classes)
    input_type: Fixed | None = field(default=None, repr=False)
    logits_type: str | None = None
    # A model with weights of its own (the fixed-point-trained twin): the torch model a white-box
    # attacker on *it* would take gradients from; its attacks are measured besides the transferred ones.
    own_model: nn.Module | None = field(default=None, repr=False)

    def info(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "kind": self.kind, "model": self.model,
                "precision": self.precision, "input_type": str(self.input_type) if self.input_type else None,
                "logits_type": self.logits_type, "own_attacks": self.own_model is not None}


def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def float_evaluator(model: nn.Module, name: str) -> Evaluator:
    return Evaluator("float", f"{name} float (torch)", "torch", name, None, lambda x: adv.probabilities(model, x))


def logits_config(graph: Any, precision: str) -> dict[str, Any] | None:
    """Logits at least as wide as fixed-point training's output type (ap_fixed<16,6>): with only a
    few integer bits several classes saturate together and argmax and confidence become ties."""
    t, out = Fixed.parse(precision), Fixed.parse(DEFAULT_OUT_TYPE)
    if t.int_bits >= out.int_bits:
        return None
    return {"LayerName": {o: {"Precision": {"result": DEFAULT_OUT_TYPE}} for o in graph.outputs}}


def engine_evaluator(key: str, name: str, onnx_path: str | Path, calibration: np.ndarray, precision: str,
                     own_model: nn.Module | None = None) -> Evaluator:
    """A fixed-point model: the ONNX export quantised to `precision` and run by the engine
    (`own_model`: the float torch model of that export, when it is not the study's float model)."""
    from fpga_sim.onnx_import import load_onnx
    from fpga_sim.quantization import quantize
    from fpga_sim.simulation import simulate

    graph = load_onnx(str(onnx_path))
    cfg = logits_config(graph, precision)
    qg = quantize(graph, calibration=calibration, precision=precision, config=cfg)
    out = graph.outputs[0]

    def probs(x: np.ndarray) -> np.ndarray:
        # Numba's OpenMP launch resets the process's OpenMP thread count, which torch shares: torch
        # then ran on every core, and on the shared 2-core machine crafting became 10-40x slower.
        threads = torch.get_num_threads()
        try:
            return softmax(simulate(qg, np.asarray(x, dtype=np.float64)).outputs[out].reshape(len(x), -1))
        finally:
            torch.set_num_threads(threads)

    return Evaluator(key, f"{name} {precision}", "engine", name, precision, probs, qg.tensor_types[graph.inputs[0]],
                     logits_type=DEFAULT_OUT_TYPE if cfg else precision, own_model=own_model)


def _verdicts(evaluators: list[Evaluator], x: np.ndarray, cls: np.ndarray) -> dict[str, dict[str, list]]:
    """Each evaluator's predicted class and its confidence in `cls` (the class an image is for)."""
    out = {}
    for e in evaluators:
        p = e.probs(x)
        out[e.key] = {"pred": p.argmax(axis=1).tolist(), "conf_pred": p.max(axis=1).tolist(),
                      "conf_class": p[np.arange(len(x)), cls].tolist()}
    return out


def _images(x: np.ndarray) -> list:
    return np.round(np.asarray(x, dtype=np.float64)[:, 0], 4).tolist()


def _attack(kind: str, model: nn.Module, x: np.ndarray, y: np.ndarray, eps: float, cfg: StudyConfig) -> np.ndarray:
    if kind == "fgsm":
        return adv.fgsm(model, x, y, eps)
    target = adv.next_class_targets(y) if kind == "pgd_targeted" else None
    return adv.pgd(model, x, y, eps, steps=cfg.pgd_steps, step_size=cfg.pgd_step_size, target=target, seed=cfg.seed)


def attack_rows(model: nn.Module, evaluators: list[Evaluator], x: np.ndarray, y: np.ndarray, cfg: StudyConfig,
                clean: dict[str, np.ndarray], step: Step) -> list[dict[str, Any]]:
    """Per attack and epsilon: each evaluator's accuracy, targeted success, the transfer rate (of the
    samples both the float model and the evaluator get right when clean and the attack makes the
    float model get wrong, the share the evaluator also gets wrong), and the share of samples whose
    quantised input differs from clean.  An evaluator with a model of its own is also attacked
    white-box, on its own float weights ("own_accuracy", "own_targeted_success")."""
    rows = []
    goal = adv.next_class_targets(y)
    float_key = evaluators[0].key
    for kind, name in ATTACKS.items():
        with step(f"{name}: craft on the float model, evaluate {len(evaluators)} models at {len(cfg.eps)} epsilons"):
            for eps in cfg.eps:
                xa = _attack(kind, model, x, y, float(eps), cfg)
                preds = {e.key: e.probs(xa).argmax(axis=1) for e in evaluators}
                fooled = clean[float_key] & (preds[float_key] != y)      # the attack made the float model wrong
                row: dict[str, Any] = {"attack": kind, "eps": float(eps),
                                       "linf": float(np.abs(xa - x).max()), "accuracy": {}, "targeted_success": {},
                                       "transfer": {}, "input_changed": {}}
                for e in evaluators:
                    p = preds[e.key]
                    row["accuracy"][e.key] = float((p == y).mean())
                    row["targeted_success"][e.key] = float((p == goal).mean())
                    pool = fooled & clean[e.key]
                    row["transfer"][e.key] = float((p[pool] != y[pool]).mean()) if pool.any() else None
                    if e.input_type is not None:
                        diff = e.input_type.quantize(xa.astype(np.float64)) != e.input_type.quantize(x.astype(np.float64))
                        row["input_changed"][e.key] = float(diff.reshape(len(x), -1).any(axis=1).mean())
                own = [e for e in evaluators if e.own_model is not None]
                row.update({"own_accuracy": {}, "own_targeted_success": {}})
                for e in own:
                    p = e.probs(_attack(kind, e.own_model, x, y, float(eps), cfg)).argmax(axis=1)
                    row["own_accuracy"][e.key] = float((p == y).mean())
                    row["own_targeted_success"][e.key] = float((p == goal).mean())
                rows.append(row)
    return rows


def first_of_each_class(y: np.ndarray, n_classes: int = 10) -> np.ndarray:
    """Index of the first sample of every class present (the example row of the report)."""
    return np.array([int(np.flatnonzero(y == c)[0]) for c in range(n_classes) if (y == c).any()])


def run_study(model: nn.Module, evaluators: list[Evaluator], x: np.ndarray, y: np.ndarray,
              cfg: StudyConfig = StudyConfig(), step: Step = lambda _: contextlib.nullcontext()) -> dict[str, Any]:
    """Every experiment of the study on (x, y); the float evaluator must come first."""
    shape = tuple(x.shape[1:])
    x, y = np.asarray(x, dtype=np.float32), np.asarray(y)
    with step(f"classify {len(x)} clean test samples with {len(evaluators)} models"):
        clean = {e.key: e.probs(x).argmax(axis=1) == y for e in evaluators}
    rec: dict[str, Any] = {"config": {**asdict(cfg), "eps": list(cfg.eps)}, "samples": int(len(x)),
                           "evaluators": [e.info() for e in evaluators],
                           "clean_accuracy": {k: float(v.mean()) for k, v in clean.items()}}
    rec["attacks"] = attack_rows(model, evaluators, x, y, cfg, clean, step)

    show = first_of_each_class(y)
    xs, ys = x[show], y[show]
    examples: dict[str, Any] = {"eps": cfg.show_eps, "label": ys.tolist(), "images": {"clean": _images(xs)},
                                "verdicts": {"clean": _verdicts(evaluators, xs, ys)}}
    for kind in ATTACKS:
        xa = _attack(kind, model, xs, ys, cfg.show_eps, cfg)
        examples["images"][kind] = _images(xa)
        examples["verdicts"][kind] = _verdicts(evaluators, xa, ys)
    rec["examples"] = examples

    with step(f"fooling images: {cfg.fooling_per_class} per digit from noise to > "
              f"{100 * cfg.fooling_confidence:g}% float confidence"):
        fool = vis.fooling_images(model, shape, per_class=cfg.fooling_per_class,
                                  confidence=cfg.fooling_confidence, seed=cfg.seed)
        rec["fooling"] = {**fool.to_dict(), "threshold": cfg.fooling_confidence, "images": _images(fool.images),
                          "verdicts": _verdicts(evaluators, fool.images, fool.target)}
        rec["fooling"]["summary"] = fooling_summary(rec["fooling"], cfg.fooling_confidence)
    with step("class models: gradient ascent on each digit's score (L2 + blur)"):
        cm = vis.class_models(model, shape, steps=cfg.class_model_steps)
        rec["class_models"] = {**cm.to_dict(), "images": _images(cm.images),
                               "verdicts": _verdicts(evaluators, cm.images, cm.target)}
    layer = cfg.dream_layer or vis.default_dream_layer(model)
    with step(f"DeepDream: boost {layer} from one real digit of each class"):
        dreams, gain = vis.deep_dream(model, xs, layer, steps=cfg.dream_steps, step_size=cfg.dream_step)
        rec["dream"] = {"layer": layer, "label": ys.tolist(), "gain": gain.tolist(),
                        "images": {"original": _images(xs), "dream": _images(dreams)},
                        "verdicts": {"original": examples["verdicts"]["clean"],
                                     "dream": _verdicts(evaluators, dreams, ys)}}
    return rec


def fooling_summary(fool: dict[str, Any], threshold: float) -> dict[str, dict[str, float]]:
    """Per evaluator: the share of fooling images it puts in their class (the transfer rate), its
    mean confidence in that class, and the share it is still more than `threshold` sure of."""
    target = np.asarray(fool["target"])
    out = {}
    for key, v in fool["verdicts"].items():
        conf = np.asarray(v["conf_class"])
        out[key] = {"transfer": float((np.asarray(v["pred"]) == target).mean()),
                    "mean_confidence": float(conf.mean()), "above_threshold": float((conf > threshold).mean())}
    return out
