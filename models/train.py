"""Training, evaluation and checkpoints: one deterministic loop that every method reuses.

Compression methods plug into the same loop through `loss_fn` (distillation, hints), `params`
(what the optimiser updates: weights, centroids, a regressor), `before_step` (edit gradients:
masks, grouped centroid gradients) and `after_step` (project weights: masks, codebooks).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from fpga_sim.errors import FpgaSimError

LossFn = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
Hook = Callable[[nn.Module], None]


@dataclass
class TrainConfig:
    """Hyperparameters of one training run (they key the checkpoint cache)."""

    epochs: int = 30
    lr: float = 3e-3
    batch_size: int = 64
    weight_decay: float = 0.0
    seed: int = 0
    cosine: bool = True          # cosine-annealed learning rate over the run

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def cross_entropy(model: nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(model(xb), yb)


def _progress(enabled: bool):
    """A rich progress bar over epochs (disabled: prints nothing)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[status]}"), TimeElapsedColumn(), transient=True, disable=not enabled)


def train(model: nn.Module, x: np.ndarray, y: np.ndarray, config: TrainConfig | None = None, *,
          loss_fn: LossFn = cross_entropy, params: Iterable[torch.Tensor] | None = None,
          before_step: Hook | None = None, after_step: Hook | None = None,
          progress: bool = True, label: str = "train", threads: int = 1) -> list[float]:
    """Train in place with Adam on (x, y); returns the mean loss per epoch.  Deterministic per seed.

    threads=1 by default: on a shared 2-core machine torch's second thread spin-waits and made
    training ~10x slower in measurement.  Runs are bit-identical for a given seed and thread count.
    """
    cfg = config or TrainConfig()
    if len(x) != len(y) or len(x) == 0:
        raise FpgaSimError(f"training data has {len(x)} inputs and {len(y)} labels; need equal, non-zero counts")
    torch.set_num_threads(threads)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    xt, yt = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long)
    opt_params = [p for p in (params if params is not None else model.parameters()) if p.requires_grad]
    opt = torch.optim.Adam(opt_params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = (len(xt) + cfg.batch_size - 1) // cfg.batch_size
    sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, cfg.epochs * steps_per_epoch))
             if cfg.cosine else None)
    history: list[float] = []
    prog = _progress(progress)
    with prog:
        task = prog.add_task(label, total=cfg.epochs, status="")
        for epoch in range(cfg.epochs):
            model.train()
            order = torch.randperm(len(xt), generator=gen)
            total_loss = 0.0
            for i in range(steps_per_epoch):
                idx = order[i * cfg.batch_size:(i + 1) * cfg.batch_size]
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model, xt[idx], yt[idx])
                loss.backward()
                if before_step is not None:
                    before_step(model)
                opt.step()
                if sched is not None:
                    sched.step()
                if after_step is not None:
                    after_step(model)
                total_loss += loss.item() * len(idx)
            history.append(total_loss / len(xt))
            prog.update(task, advance=1, status=f"epoch {epoch + 1} loss {history[-1]:.4f}")
    model.eval()
    return history


@torch.no_grad()
def predict(model: nn.Module, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Logits as a float32 array (eval mode)."""
    model.eval()
    xt = torch.as_tensor(x, dtype=torch.float32)
    return torch.cat([model(xt[i:i + batch_size]) for i in range(0, len(xt), batch_size)]).numpy()


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    """Top-1 accuracy in [0, 1]."""
    return float((predict(model, x).argmax(axis=1) == np.asarray(y)).mean())


# ------------------------------------------------------------------ checkpoints
@dataclass
class Checkpoint:
    """A trained network and what it is: architecture, data, accuracy, seed, recipe."""

    model: nn.Module
    metadata: dict[str, Any] = field(default_factory=dict)


def save_checkpoint(path: str | Path, model: nn.Module, metadata: dict[str, Any]) -> Path:
    """Write state_dict + metadata (torch file) and the metadata alone as JSON beside it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if "arch" not in metadata:
        raise FpgaSimError(f"checkpoint {path}: metadata needs an 'arch' entry naming a models.zoo architecture")
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save({"state_dict": model.state_dict(), "metadata": metadata}, tmp)
    tmp.replace(path)                          # nothing half-written is left behind
    path.with_suffix(".json").write_text(json.dumps(metadata, indent=2, default=str))
    return path


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Rebuild the architecture named in the metadata and load its weights."""
    from .zoo import build

    path = Path(path)
    if not path.is_file():
        raise FpgaSimError(f"checkpoint {path} does not exist")
    blob = torch.load(path, map_location="cpu", weights_only=False)
    meta = blob["metadata"]
    model = build(meta["arch"], **meta.get("arch_kwargs", {}))
    model.load_state_dict(blob["state_dict"])
    model.eval()
    return Checkpoint(model, meta)
