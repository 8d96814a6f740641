"""Adversarial examples (Szegedy et al. 2013; Goodfellow et al. 2014; Madry et al. 2017): backprop
to the image to find the smallest change that flips the prediction.

All attacks are L-inf bounded: every pixel moves at most `eps` from the clean image and stays in
the valid pixel range [0, 1] (the digits' scale).  They run on the float torch model; whether they
transfer to the fixed-point model on the chip is measured by `models.robustness` through the
engine.  Arrays in, arrays out (NCHW float32), so the results feed `fpga_sim.simulate` directly.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from fpga_sim.errors import FpgaSimError

PIXEL_RANGE = (0.0, 1.0)


def as_input(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    """A float32 NCHW tensor of images (arrays are copied, tensors kept)."""
    return torch.as_tensor(np.asarray(x, dtype=np.float32)) if not isinstance(x, torch.Tensor) else x.float()


def _check(eps: float, steps: int = 1) -> None:
    if not (isinstance(eps, (int, float)) and np.isfinite(eps) and eps >= 0):
        raise FpgaSimError(f"attack epsilon {eps!r} must be a finite number >= 0 (an L-inf radius in pixel units)")
    if not (isinstance(steps, int) and steps >= 1):
        raise FpgaSimError(f"attack steps {steps!r} must be an integer >= 1")


def loss_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor, target: torch.Tensor | None = None,
                  ) -> torch.Tensor:
    """d loss / d x, signed so that *ascending* it is the attack: the cross-entropy of the true
    label (untargeted), or minus the cross-entropy of the target label (targeted)."""
    x = x.detach().requires_grad_(True)
    logits = model(x)
    loss = -F.cross_entropy(logits, target, reduction="sum") if target is not None else \
        F.cross_entropy(logits, y, reduction="sum")
    (grad,) = torch.autograd.grad(loss, x)
    return grad


def fgsm(model: nn.Module, x: np.ndarray, y: np.ndarray, eps: float, target: np.ndarray | None = None,
         ) -> np.ndarray:
    """Fast gradient sign method: one step of eps * sign(gradient), clipped to the pixel range."""
    _check(eps)
    model.eval()
    xt, yt = as_input(x), torch.as_tensor(y)
    tt = None if target is None else torch.as_tensor(target)
    g = loss_gradient(model, xt, yt, tt)
    return (xt + eps * g.sign()).clamp_(*PIXEL_RANGE).numpy()


def pgd(model: nn.Module, x: np.ndarray, y: np.ndarray, eps: float, steps: int = 10,
        step_size: float | None = None, target: np.ndarray | None = None, random_start: bool = True,
        seed: int = 0) -> np.ndarray:
    """Projected gradient descent (Madry et al.): `steps` signed-gradient steps of `step_size`
    (default 2.5 * eps / steps), each projected back onto the eps-ball around x and the pixel
    range; a seeded uniform random start inside the ball."""
    _check(eps, steps)
    model.eval()
    x0, yt = as_input(x), torch.as_tensor(y)
    tt = None if target is None else torch.as_tensor(target)
    alpha = 2.5 * eps / steps if step_size is None else float(step_size)
    lo, hi = (x0 - eps).clamp(*PIXEL_RANGE), (x0 + eps).clamp(*PIXEL_RANGE)
    adv = x0.clone()
    if random_start:
        gen = torch.Generator().manual_seed(seed)
        adv = adv + (torch.rand(x0.shape, generator=gen) * 2 - 1) * eps
    adv = torch.maximum(torch.minimum(adv, hi), lo)
    for _ in range(steps):
        adv = adv + alpha * loss_gradient(model, adv, yt, tt).sign()
        adv = torch.maximum(torch.minimum(adv, hi), lo)
    return adv.detach().numpy()


def next_class_targets(y: np.ndarray, n_classes: int = 10) -> np.ndarray:
    """The targeted attack's goal for each sample: the next digit, (y + 1) mod 10."""
    return (np.asarray(y) + 1) % n_classes


def probabilities(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """Softmax of the float model's logits (float64), for confidences."""
    model.eval()
    with torch.no_grad():
        return torch.softmax(model(as_input(x)).double(), dim=1).numpy()
