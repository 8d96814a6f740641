"""Knowledge distillation (Hinton et al. 2014) and FitNets hints (Romero et al. 2015).

KD loss, as the lecture writes it: L = H(y, P_S) + lambda * H(P_T^tau, P_S^tau), with
P^tau = softmax(logits / tau).  The gradient of the soft term scales as 1/tau^2, so Hinton et al.
multiply it by tau^2 to keep the balance of the two terms when tau changes; `tau_squared`
(default True) applies that factor, False gives the lecture's formula literally.

FitNets first trains the student up to a guided layer to predict, through a small regressor,
the teacher's hint layer (MSE), then trains the whole student with the KD loss.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from fpga_sim.errors import FpgaSimError

from .train import TrainConfig, train


def soft_cross_entropy(p_target: torch.Tensor, logits: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
    """H(p, softmax(logits / tau)) = -sum p log q, averaged over the batch."""
    return -(p_target * F.log_softmax(logits / tau, dim=1)).sum(dim=1).mean()


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, y: torch.Tensor, tau: float = 4.0,
            lam: float = 0.5, tau_squared: bool = True) -> torch.Tensor:
    """H(y, P_S) + lambda * [tau^2] * H(P_T^tau, P_S^tau)."""
    if tau <= 0:
        raise FpgaSimError(f"distillation temperature tau must be positive, got {tau!r}")
    hard = F.cross_entropy(student_logits, y)
    p_teacher = F.softmax(teacher_logits.detach() / tau, dim=1)
    soft = soft_cross_entropy(p_teacher, student_logits, tau)
    return hard + lam * (tau * tau if tau_squared else 1.0) * soft


def distill(student: nn.Module, teacher: nn.Module, x: np.ndarray, y: np.ndarray,
            config: TrainConfig | None = None, *, tau: float = 4.0, lam: float = 0.5,
            tau_squared: bool = True, progress: bool = True) -> list[float]:
    """Train `student` in place against the frozen `teacher` with the KD loss."""
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)

    def loss(model: nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            zt = teacher(xb)
        return kd_loss(model(xb), zt, yb, tau, lam, tau_squared)

    return train(student, x, y, config, loss_fn=loss, progress=progress, label="distil")


class _Capture:
    """Forward hook that keeps the latest output of one named module."""

    def __init__(self, model: nn.Module, layer: str) -> None:
        modules = dict(model.named_modules())
        if layer not in modules:
            raise FpgaSimError(f"hint layer {layer!r} is not a module of the model; modules: {sorted(m for m in modules if m)}")
        self.out: torch.Tensor | None = None
        self.handle = modules[layer].register_forward_hook(self._hook)

    def _hook(self, module: nn.Module, args: Any, out: torch.Tensor) -> None:
        self.out = out

    def remove(self) -> None:
        self.handle.remove()


def make_regressor(student_feat: torch.Tensor, teacher_feat: torch.Tensor) -> nn.Module:
    """1x1 conv (feature maps of equal size) or linear map from the guided to the hint layer."""
    if student_feat.dim() == 4 and teacher_feat.dim() == 4:
        if student_feat.shape[2:] != teacher_feat.shape[2:]:
            raise FpgaSimError(f"FitNets guided layer {tuple(student_feat.shape[1:])} and hint layer "
                               f"{tuple(teacher_feat.shape[1:])} need equal spatial sizes for a 1x1 regressor")
        return nn.Conv2d(student_feat.shape[1], teacher_feat.shape[1], 1)
    return nn.Linear(student_feat[0].numel(), teacher_feat[0].numel())


def hint_train(student: nn.Module, teacher: nn.Module, x: np.ndarray, y: np.ndarray, student_layer: str,
               teacher_layer: str, config: TrainConfig | None = None, *, progress: bool = True) -> nn.Module:
    """FitNets stage 1: train the student up to `student_layer` (+ a regressor) to predict the teacher's
    `teacher_layer` by MSE.  Returns the trained regressor."""
    teacher.eval()
    s_cap, t_cap = _Capture(student, student_layer), _Capture(teacher, teacher_layer)
    try:
        with torch.no_grad():
            probe = torch.as_tensor(x[:2], dtype=torch.float32)
            student(probe)
            teacher(probe)
        reg = make_regressor(s_cap.out, t_cap.out)

        def loss(model: nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                teacher(xb)
            model(xb)
            s = s_cap.out if isinstance(reg, nn.Conv2d) else s_cap.out.flatten(1)
            pred = reg(s)
            return F.mse_loss(pred, t_cap.out.reshape(pred.shape).detach())

        train(student, x, y, config, loss_fn=loss, params=[*student.parameters(), *reg.parameters()],
              progress=progress, label="FitNets hints")
    finally:
        s_cap.remove()
        t_cap.remove()
    return reg
