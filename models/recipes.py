"""Named, cached training recipes: `get_trained(name)` trains once, then reuses the checkpoint.

A recipe is a function of its hyperparameters (and of the models it starts from); the cache key
hashes the name, those hyperparameters, the data split, the upstream keys and RECIPE_VERSION, so
changing any of them trains afresh.  Each entry is written as <name>-<key>.pt (state_dict +
metadata), .json (metadata) and .onnx (verified against onnxruntime).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from torch import nn

from fpga_sim.cache import cache_root
from fpga_sim.errors import FpgaSimError

from . import storage
from .data import data_spec, load_digits_split
from .export import export_onnx, verify_onnx
from .train import Checkpoint, TrainConfig, accuracy, load_checkpoint, save_checkpoint, train
from .zoo import ARCHS, build, count_params

RECIPE_VERSION = 1


@dataclass
class TrainedModel:
    """A trained network on disk and in memory, with what it is and how well it does."""

    name: str
    model: nn.Module
    onnx_path: Path
    checkpoint: Path
    accuracy: float
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Recipe:
    fn: Callable[..., tuple[nn.Module, dict[str, Any]]]   # (ctx, **params) -> (model, extra metadata)
    params: dict[str, Any]
    deps: tuple[str, ...] = ()
    doc: str = ""


@dataclass
class _Ctx:
    cache_dir: Path
    progress: bool
    data: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]

    def dep(self, name: str) -> TrainedModel:
        return get_trained(name, self.cache_dir, self.progress)


# ----------------------------------------------------------------- recipe bodies
def _plain(ctx: _Ctx, arch: str, **cfg: Any) -> tuple[nn.Module, dict]:
    x, y, _, _ = ctx.data
    model = build(arch, seed=cfg.get("seed", 0))
    train(model, x, y, TrainConfig(**cfg), progress=ctx.progress, label=f"train {arch}")
    return model, {"arch": arch}


def _pruned(ctx: _Ctx, base: str, target: float, first: float, last: float, steps: int, **cfg: Any):
    from .prune import default_sparsity, prune

    x, y, xt, yt = ctx.data
    parent = ctx.dep(base)
    model = parent.model
    _, rep = prune(model, x, y, default_sparsity(model, target, first, last), steps=steps,
                   retrain=TrainConfig(**cfg), x_test=xt, y_test=yt, progress=ctx.progress)
    return model, {"arch": parent.metadata["arch"], "prune": rep.to_dict()}


def _shared(ctx: _Ctx, base: str, conv_bits: int, dense_bits: int, **cfg: Any):
    from . import share

    x, y, xt, yt = ctx.data
    parent = ctx.dep(base)
    model = parent.model
    shared = share.share_weights(model, share.default_bits(model, conv_bits, dense_bits))
    before = accuracy(model, xt, yt)
    share.fine_tune(model, shared, x, y, TrainConfig(**cfg), progress=ctx.progress)
    return model, {"arch": parent.metadata["arch"], "code_bits": {n: s.bits for n, s in shared.items()},
                   "accuracy_before_fine_tune": before}


def _distilled(ctx: _Ctx, student: str, teacher: str, tau: float, lam: float, hints: bool, **cfg: Any):
    from .distill import distill, hint_train

    x, y, _, _ = ctx.data
    t = ctx.dep(teacher)
    model = build(student, seed=cfg.get("seed", 0))
    if hints:
        layer_s, layer_t = ARCHS[student].hint_layer, ARCHS[teacher].hint_layer
        hint_train(model, t.model, x, y, layer_s, layer_t, TrainConfig(epochs=10, lr=cfg.get("lr", 3e-3)),
                   progress=ctx.progress)
    distill(model, t.model, x, y, TrainConfig(**cfg), tau=tau, lam=lam, progress=ctx.progress)
    return model, {"arch": student, "teacher": teacher, "teacher_accuracy": t.accuracy, "tau": tau, "lam": lam,
                   "tau_squared": True, "fitnets_hints": hints}


def _fixed(ctx: _Ctx, base: str, weight_type: str, act_type: str, **cfg: Any):
    from .fixed_train import fixed_accuracy, fixed_train

    x, y, xt, yt = ctx.data
    parent = ctx.dep(base)
    acc_ptq = fixed_accuracy(parent.model, xt, yt, weight_type, act_type)     # quantised after training
    model = parent.model
    fm = fixed_train(model, x, y, weight_type, act_type, TrainConfig(**cfg), progress=ctx.progress)
    acc_fixed = accuracy(model, xt, yt)
    fm.to_float()
    return model, {"arch": parent.metadata["arch"], "weight_type": weight_type, "act_type": act_type,
                   "accuracy_fixed_forward": acc_fixed, "accuracy_ptq_fixed_forward": acc_ptq,
                   "accuracy_float_base": parent.accuracy}


_LENET = dict(epochs=30, lr=3e-3, batch_size=64)
_SQUEEZE = dict(epochs=60, lr=1e-3, batch_size=16)   # lr 3e-3 collapses the no-bypass net to chance
_STUDENT = dict(epochs=100, lr=3e-3, batch_size=64)     # the tiny student needs more steps to converge
RECIPES: dict[str, Recipe] = {
    **{a: Recipe(_plain, {"arch": a, **_LENET}, doc=ARCHS[a].doc)
       for a in ("mlp", "lenet", "lenet_wide", "teacher")},
    "student": Recipe(_plain, {"arch": "student", **_STUDENT}, doc=ARCHS["student"].doc),
    "squeezenet": Recipe(_plain, {"arch": "squeezenet", **_SQUEEZE}, doc=ARCHS["squeezenet"].doc),
    "squeezenet_bypass": Recipe(_plain, {"arch": "squeezenet_bypass", **_SQUEEZE}, doc=ARCHS["squeezenet_bypass"].doc),
    "lenet_wide_pruned": Recipe(_pruned, dict(base="lenet_wide", target=0.95, first=0.6, last=0.8, steps=4,
                                              epochs=10, lr=1e-3), ("lenet_wide",), "lenet_wide, magnitude-pruned"),
    "lenet_wide_shared": Recipe(_shared, dict(base="lenet_wide_pruned", conv_bits=6, dense_bits=5, epochs=10,
                                              lr=5e-4), ("lenet_wide_pruned",), "pruned + k-means shared"),
    "student_kd": Recipe(_distilled, dict(student="student", teacher="teacher", tau=4.0, lam=0.5, hints=False,
                                          **_STUDENT), ("teacher",), "student distilled from teacher"),
    "student_fitnets": Recipe(_distilled, dict(student="student", teacher="teacher", tau=4.0, lam=0.5, hints=True,
                                               **_STUDENT), ("teacher",), "student: FitNets hints, then KD"),
    "lenet_fixed": Recipe(_fixed, dict(base="lenet", weight_type="ap_fixed<8,3,AP_RND,AP_SAT>",
                                       act_type="ap_fixed<8,3,AP_RND,AP_SAT>", epochs=15, lr=1e-3),
                          ("lenet",), "lenet fine-tuned with an ap_fixed<8,3> forward pass"),
}


# ------------------------------------------------------------------- the cache
def default_cache_dir() -> Path:
    return cache_root() / "models"


def cache_key(name: str) -> str:
    if name not in RECIPES:
        raise FpgaSimError(f"unknown model {name!r}; accepted: {', '.join(sorted(RECIPES))}")
    r = RECIPES[name]
    blob = json.dumps({"name": name, "params": r.params, "data": data_spec(), "version": RECIPE_VERSION,
                       "deps": [cache_key(d) for d in r.deps]}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def get_trained(name: str = "lenet", cache_dir: str | Path | None = None, progress: bool = True) -> TrainedModel:
    """The trained model `name` (see RECIPES): loaded from the cache, or trained, exported and cached."""
    key = cache_key(name)
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    ckpt, onnx_path = root / f"{name}-{key}.pt", root / f"{name}-{key}.onnx"
    if ckpt.is_file() and onnx_path.is_file():
        c: Checkpoint = load_checkpoint(ckpt)
        return TrainedModel(name, c.model, onnx_path, ckpt, c.metadata["accuracy"], c.metadata)
    recipe = RECIPES[name]
    data = load_digits_split()
    model, extra = recipe.fn(_Ctx(root, progress, data), **recipe.params)
    acc = accuracy(model, data[2], data[3])
    meta = {"name": name, "recipe": recipe.params, "key": key, "data": data_spec(), "accuracy": acc,
            "seed": recipe.params.get("seed", 0), "params": count_params(model),
            "nonzero_params": storage.nonzero_params(model), "doc": recipe.doc,
            "arch_kwargs": {}, **extra}
    export_onnx(model, onnx_path, in_size=data[0].shape[-1])
    meta["onnx_max_abs_error"] = verify_onnx(model, onnx_path, data[2][:64])
    save_checkpoint(ckpt, model, meta)
    return TrainedModel(name, model, onnx_path, ckpt, acc, meta)
