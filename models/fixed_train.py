"""Fixed-point training (Courbariaux et al., "Training deep neural networks with low precision
multiplications" and BinaryConnect): the forward pass runs in fixed point, the float weights
are shadows that the optimiser updates.

Weights and biases are quantised with `fpga_sim.Fixed` (so with exactly ap_fixed's rounding and
overflow) through a torch parametrisation; the inputs of every Conv/Linear layer and the logits
are quantised with the activation type.  Quantisation has no useful derivative, so the backward
pass is the straight-through estimator: d q(w) / d w := 1, and the gradient reaches the float
shadow weights unchanged.  Shadow weights are clipped to the representable range after each
step (as BinaryConnect clips its real-valued weights), so they cannot drift where the forward
pass no longer sees them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize

from fpga_sim import Fixed

from .train import TrainConfig, train
from .zoo import weight_layers

DEFAULT_TYPE = "ap_fixed<8,3,AP_RND,AP_SAT>"
# Logits get a wider type: at +-4 several classes would saturate together and argmax would tie.
DEFAULT_OUT_TYPE = "ap_fixed<16,6,AP_RND,AP_SAT>"


class _FixedSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, t: Fixed, clip: bool) -> torch.Tensor:  # type: ignore[override]
        raw = t.quantize(x.detach().cpu().double().numpy())
        if clip:
            ctx.save_for_backward((x >= t.min) & (x <= t.max))
        ctx.clip = clip
        return torch.from_numpy(t.to_float(raw)).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        if ctx.clip:                           # saturated values pass no gradient (hard-tanh STE)
            (inside,) = ctx.saved_tensors
            return grad * inside, None, None
        return grad, None, None                # straight-through


def fake_quant(x: torch.Tensor, t: Fixed, clip: bool = False) -> torch.Tensor:
    """x rounded to the values of fixed type t (ap_fixed semantics).

    The gradient passes straight through; with clip=True only where x lies inside t's range.
    """
    return _FixedSTE.apply(x, t, clip)


class FixedParam(nn.Module):
    """Parametrisation: the layer sees fake_quant(shadow)."""

    def __init__(self, t: Fixed) -> None:
        super().__init__()
        self.t = t

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return fake_quant(w, self.t)


@dataclass
class FixedModel:
    """Handles of a model put into fixed-point mode (undo with `to_float`)."""

    model: nn.Module
    weight_type: Fixed
    act_type: Fixed
    bias_type: Fixed
    out_type: Fixed
    handles: list = field(default_factory=list)

    def shadows(self) -> list[torch.Tensor]:
        """The float shadow parameters the optimiser updates."""
        return [getattr(l.parametrizations, p).original for l in weight_layers(self.model).values()
                for p in ("weight", "bias") if parametrize.is_parametrized(l, p)]

    def clip_shadows(self) -> None:
        with torch.no_grad():
            for l in weight_layers(self.model).values():
                for p, t in (("weight", self.weight_type), ("bias", self.bias_type)):
                    if parametrize.is_parametrized(l, p):
                        getattr(l.parametrizations, p).original.clamp_(t.min, t.max)

    def to_float(self) -> nn.Module:
        """Remove hooks and parametrisations, keeping the quantised values as plain float weights."""
        for h in self.handles:
            h.remove()
        for l in weight_layers(self.model).values():
            for p in ("weight", "bias"):
                if parametrize.is_parametrized(l, p):
                    parametrize.remove_parametrizations(l, p, leave_parametrized=True)
        self.handles.clear()
        return self.model


def as_fixed(t: Fixed | str) -> Fixed:
    return t if isinstance(t, Fixed) else Fixed.parse(t)


def to_fixed(model: nn.Module, weight_type: Fixed | str = DEFAULT_TYPE, act_type: Fixed | str = DEFAULT_TYPE,
             bias_type: Fixed | str | None = None, out_type: Fixed | str = DEFAULT_OUT_TYPE) -> FixedModel:
    """Put `model` (in place) into fixed-point forward mode: weights/biases, every Conv/Linear input
    (activation type) and the logits (output type) are quantised."""
    wt, at, ot = as_fixed(weight_type), as_fixed(act_type), as_fixed(out_type)
    bt = as_fixed(bias_type) if bias_type is not None else wt
    fm = FixedModel(model, wt, at, bt, ot)
    for layer in weight_layers(model).values():
        parametrize.register_parametrization(layer, "weight", FixedParam(wt))
        if layer.bias is not None:
            parametrize.register_parametrization(layer, "bias", FixedParam(bt))
        fm.handles.append(layer.register_forward_pre_hook(lambda m, args: (fake_quant(args[0], at, clip=True),)))
    fm.handles.append(model.register_forward_hook(lambda m, args, out: fake_quant(out, ot, clip=True)))
    return fm


def fixed_train(model: nn.Module, x: np.ndarray, y: np.ndarray, weight_type: Fixed | str = DEFAULT_TYPE,
                act_type: Fixed | str = DEFAULT_TYPE, config: TrainConfig | None = None, *,
                out_type: Fixed | str = DEFAULT_OUT_TYPE, progress: bool = True) -> FixedModel:
    """Fine-tune (or train) `model` with the fixed-point forward pass; returns it still in fixed mode."""
    fm = to_fixed(model, weight_type, act_type, out_type=out_type)
    fm.clip_shadows()
    train(model, x, y, config or TrainConfig(epochs=15, lr=1e-3), params=fm.shadows(),
          after_step=lambda m: fm.clip_shadows(), progress=progress, label="fixed-point training")
    return fm


def fixed_accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray, weight_type: Fixed | str = DEFAULT_TYPE,
                   act_type: Fixed | str = DEFAULT_TYPE, out_type: Fixed | str = DEFAULT_OUT_TYPE) -> float:
    """Accuracy of `model` run with the fixed-point forward pass, leaving the model untouched."""
    from .train import accuracy

    state = {k: v.clone() for k, v in model.state_dict().items()}
    fm = to_fixed(model, weight_type, act_type, out_type=out_type)
    try:
        return accuracy(model, x, y)
    finally:
        fm.to_float()
        model.load_state_dict(state)
