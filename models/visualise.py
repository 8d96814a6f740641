"""Images made by backprop to the image: fooling images (Nguyen et al. 2014), class models
(Simonyan et al. 2013) and DeepDream's activation boosting (Mordvintsev et al. 2015).

All three are gradient ascent on the input with the step the lecture's DeepDream code takes,
`img += g * step / mean|g|` (per image), and the image clipped to the pixel range [0, 1]
after every step.  They differ in what is ascended and where they start:

- fooling image: log-probability of a chosen class, from uniform noise, until the float model
  is `confidence` sure (Nguyen et al. evolve images to > 99.6%; gradient ascent gets there too);
- class model: the class *score* (logit) minus an L2 penalty, from a blank image, blurred every
  few steps (the blur of Yosinski et al. 2015) so the image shows shapes, not pixel noise;
- dream: half the squared activations of one layer ("set dx = x"), from a real digit.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from fpga_sim.errors import FpgaSimError

from .adversarial import PIXEL_RANGE, as_input


@dataclass
class Crafted:
    """Images made for one class each, and how sure the float model is of that class."""

    images: np.ndarray          # (N, C, H, W) float32 in [0, 1]
    target: np.ndarray          # (N,) class each image was made for
    confidence: np.ndarray      # (N,) float model's softmax probability of `target`, re-measured at the end
    steps: np.ndarray           # (N,) ascent steps taken

    def to_dict(self) -> dict:
        return {"target": self.target.tolist(), "confidence": self.confidence.tolist(), "steps": self.steps.tolist()}


def ascend(x: torch.Tensor, grad: torch.Tensor, step: float) -> torch.Tensor:
    """One normalised ascent step per image (the lecture's make_step), clipped to the pixel range."""
    scale = grad.abs().flatten(1).mean(dim=1).clamp_min(1e-12).view(-1, *([1] * (grad.dim() - 1)))
    return (x + grad * (step / scale)).clamp_(*PIXEL_RANGE)


def _grad(objective: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    (g,) = torch.autograd.grad(objective, x)
    return g


def _class_confidence(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return torch.softmax(model(x).double(), dim=1).gather(1, target[:, None])[:, 0]


def fooling_images(model: nn.Module, shape: tuple[int, ...], classes: Iterable[int] = range(10),
                   per_class: int = 1, confidence: float = 0.99, max_steps: int = 400, step_size: float = 0.02,
                   seed: int = 0) -> Crafted:
    """`per_class` images per class, each grown from seeded uniform noise by ascending the log
    probability of its class until the float model's confidence exceeds `confidence` (or
    `max_steps`); an image stops changing the step it gets there."""
    if not 0.0 < confidence < 1.0:
        raise FpgaSimError(f"fooling confidence {confidence!r} must lie strictly between 0 and 1")
    model.eval()
    target = torch.as_tensor(np.repeat(np.asarray(list(classes), dtype=np.int64), per_class))
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand((len(target), *shape), generator=gen)
    steps = torch.zeros(len(target), dtype=torch.int64)
    for _ in range(max_steps):
        active = _class_confidence(model, x, target) <= confidence
        if not active.any():
            break
        xa = x[active].clone().requires_grad_(True)
        logp = torch.log_softmax(model(xa), dim=1).gather(1, target[active][:, None]).sum()
        x[active] = ascend(xa.detach(), _grad(logp, xa), step_size)
        steps[active] += 1
    return Crafted(x.numpy(), target.numpy(), _class_confidence(model, x, target).numpy(), steps.numpy())


def blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """A 3x3 Gaussian blur of each channel (edges replicated)."""
    k1 = torch.exp(-torch.tensor([-1.0, 0.0, 1.0]) ** 2 / (2 * sigma ** 2))
    k = (k1[:, None] * k1[None, :]) / k1.sum() ** 2
    c = x.shape[1]
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), k.expand(c, 1, 3, 3).contiguous(), groups=c)


def class_models(model: nn.Module, shape: tuple[int, ...], classes: Iterable[int] = range(10), steps: int = 100,
                 step_size: float = 0.02, l2: float = 0.1, blur_every: int = 4, blur_sigma: float = 0.6,
                 ) -> Crafted:
    """One image per class: argmax_I S_c(I) - l2 * ||I||^2 by normalised gradient ascent from a
    blank image, blurred every `blur_every` steps (deterministic: no noise is involved)."""
    model.eval()
    target = torch.as_tensor(np.asarray(list(classes), dtype=np.int64))
    x = torch.zeros((len(target), *shape))
    for i in range(steps):
        xr = x.clone().requires_grad_(True)
        score = model(xr).gather(1, target[:, None]).sum() - l2 * (xr ** 2).sum()
        x = ascend(x, _grad(score, xr), step_size)
        if blur_every and (i + 1) % blur_every == 0:
            x = blur(x, blur_sigma).clamp_(*PIXEL_RANGE)
    return Crafted(x.numpy(), target.numpy(), _class_confidence(model, x, target).numpy(),
                   np.full(len(target), steps, dtype=np.int64))


def layer_module(model: nn.Module, layer: str) -> nn.Module:
    """The named sub-module whose output a dream boosts, or an error listing the names."""
    mods = dict(model.named_modules())
    if not layer or layer not in mods:
        raise FpgaSimError(f"layer {layer!r} is not in the model; its layers: "
                           f"{', '.join(n for n in mods if n)}")
    return mods[layer]


def default_dream_layer(model: nn.Module) -> str:
    """"relu2" (LeNet's second conv block: strokes and their parts) when the model has it, else
    its last ReLU module."""
    relus = [n for n, m in model.named_modules() if isinstance(m, nn.ReLU)]
    if not relus:
        raise FpgaSimError("the model has no ReLU layer to dream on; name one with the layer argument")
    return "relu2" if "relu2" in relus else relus[-1]


def deep_dream(model: nn.Module, x: np.ndarray, layer: str, steps: int = 20, step_size: float = 0.02,
               ) -> tuple[np.ndarray, np.ndarray]:
    """Boost every activation of `layer` (objective 0.5 * sum a^2, whose gradient at the layer is
    the activation itself: "set dx = x"); returns (dreamed images, activation energy gain
    ||a(dream)||^2 / ||a(x)||^2 per image)."""
    model.eval()
    seen: list[torch.Tensor] = []
    handle = layer_module(model, layer).register_forward_hook(lambda m, args, out: seen.append(out))
    try:
        def energy(img: torch.Tensor) -> torch.Tensor:
            seen.clear()
            model(img)
            return 0.5 * (seen[0] ** 2).flatten(1).sum(dim=1)

        img = as_input(x).clone()
        with torch.no_grad():
            start = energy(img)
        for _ in range(steps):
            xr = img.clone().requires_grad_(True)
            img = ascend(img, _grad(energy(xr).sum(), xr), step_size)
        with torch.no_grad():
            gain = energy(img) / start.clamp_min(1e-12)
    finally:
        handle.remove()
    return img.numpy(), gain.numpy()
