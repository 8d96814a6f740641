"""The model zoo: small networks for 8x8 digits, each exporting to plain ONNX ops.

Every network uses only Conv, Gemm (Linear), Relu, MaxPool, AveragePool, Concat, Add and
Flatten, the ops the fpga_sim importer lowers.  Layers carry names (conv1, pool1, fc1, ...) so
compression code can address them and FitNets can hook a hint layer by name.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn

from fpga_sim.errors import FpgaSimError

N_CLASSES = 10


def mlp(in_size: int = 8, hidden: tuple[int, ...] = (256, 256)) -> nn.Sequential:
    """Fully connected net: Flatten -> (Linear -> ReLU)* -> Linear."""
    layers: list[tuple[str, nn.Module]] = [("flatten", nn.Flatten())]
    width = in_size * in_size
    for i, h in enumerate(hidden, start=1):
        layers += [(f"fc{i}", nn.Linear(width, h)), (f"relu{i}", nn.ReLU())]
        width = h
    layers.append((f"fc{len(hidden) + 1}", nn.Linear(width, N_CLASSES)))
    return nn.Sequential(OrderedDict(layers))


def lenet(in_size: int = 8, c1: int = 16, c2: int = 32, fc: int = 64, kernel: int = 5) -> nn.Sequential:
    """LeNet-style CNN: two (conv -> ReLU -> 2x2 max-pool) blocks, then two dense layers."""
    pad = kernel // 2
    spatial = in_size // 4
    layers: list[tuple[str, nn.Module]] = [
        ("conv1", nn.Conv2d(1, c1, kernel, padding=pad)), ("relu1", nn.ReLU()), ("pool1", nn.MaxPool2d(2)),
        ("conv2", nn.Conv2d(c1, c2, kernel, padding=pad)), ("relu2", nn.ReLU()), ("pool2", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()),
    ]
    if fc:
        layers += [("fc1", nn.Linear(c2 * spatial * spatial, fc)), ("relu3", nn.ReLU()),
                   ("fc2", nn.Linear(fc, N_CLASSES))]
    else:
        layers.append(("fc1", nn.Linear(c2 * spatial * spatial, N_CLASSES)))
    return nn.Sequential(OrderedDict(layers))


class Fire(nn.Module):
    """SqueezeNet's Fire module: squeeze 1x1 -> ReLU -> [expand 1x1, expand 3x3] -> ReLU -> concat."""

    def __init__(self, cin: int, squeeze: int, expand: int, bypass: bool = False) -> None:
        super().__init__()
        if bypass and cin != 2 * expand:
            raise FpgaSimError(f"Fire bypass needs input channels ({cin}) equal to output channels ({2 * expand})")
        self.squeeze = nn.Conv2d(cin, squeeze, 1)
        self.expand1x1 = nn.Conv2d(squeeze, expand, 1)
        self.expand3x3 = nn.Conv2d(squeeze, expand, 3, padding=1)
        self.relu = nn.ReLU()
        self.bypass = bypass

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.relu(self.squeeze(x))
        y = torch.cat([self.relu(self.expand1x1(s)), self.relu(self.expand3x3(s))], dim=1)
        return y + x if self.bypass else y   # simple bypass (SqueezeNet paper, Fig. 2 middle)


def squeezenet(in_size: int = 8, stem: int = 16, bypass: bool = False) -> nn.Sequential:
    """SqueezeNet-style CNN: 3x3 stem, four Fire modules, late downsampling, 1x1 classifier, avg-pool.

    Unlike SqueezeNet the classifier conv has no ReLU, so logits may be negative.
    """
    s2 = in_size // 2
    layers = OrderedDict([
        ("conv1", nn.Conv2d(1, stem, 3, padding=1)), ("relu1", nn.ReLU()),
        ("fire2", Fire(stem, stem // 4, stem // 2)),
        ("fire3", Fire(stem, stem // 4, stem // 2, bypass=bypass)),
        ("pool1", nn.MaxPool2d(2)),
        ("fire4", Fire(stem, stem // 2, stem)),
        ("fire5", Fire(2 * stem, stem // 2, stem, bypass=bypass)),
        ("conv10", nn.Conv2d(2 * stem, N_CLASSES, 1)),
        ("avgpool", nn.AvgPool2d(s2)),
        ("flatten", nn.Flatten()),
    ])
    return nn.Sequential(layers)


@dataclass(frozen=True)
class Arch:
    """A named architecture: its builder, keyword arguments and input image size."""

    builder: Callable[..., nn.Module]
    kwargs: dict[str, Any] = field(default_factory=dict)
    in_size: int = 8
    hint_layer: str | None = None     # FitNets: module whose output is the hint / guided layer
    doc: str = ""


ARCHS: dict[str, Arch] = {
    "mlp": Arch(mlp, {"hidden": (256, 256)}, doc="MLP 64-256-256-10"),
    "lenet": Arch(lenet, {"c1": 16, "c2": 32, "fc": 64}, hint_layer="pool1",
                  doc="LeNet-style CNN, 5x5 convs 16/32 channels, dense 128-64-10 (the default)"),
    "lenet_wide": Arch(lenet, {"c1": 32, "c2": 64, "fc": 256}, hint_layer="pool1",
                       doc="over-parameterised LeNet (the compression baseline)"),
    "teacher": Arch(lenet, {"c1": 32, "c2": 64, "fc": 128}, hint_layer="pool1",
                    doc="teacher for distillation: a wide LeNet"),
    "student": Arch(lenet, {"c1": 4, "c2": 8, "fc": 0, "kernel": 3}, hint_layer="pool1",
                    doc="student: two 3x3 convs with 4/8 channels and one dense layer"),
    "squeezenet": Arch(squeezenet, {"stem": 24, "bypass": False}, doc="SqueezeNet-style, 4 Fire modules"),
    "squeezenet_bypass": Arch(squeezenet, {"stem": 24, "bypass": True},
                              doc="SqueezeNet-style with simple bypass around fire3 and fire5"),
}


def build(name: str, seed: int = 0, **overrides: Any) -> nn.Module:
    """A freshly initialised network of architecture `name` (deterministic for a seed)."""
    if name not in ARCHS:
        raise FpgaSimError(f"unknown architecture {name!r}; accepted: {', '.join(sorted(ARCHS))}")
    arch = ARCHS[name]
    kwargs = {**arch.kwargs, **overrides}
    torch.manual_seed(seed)
    return arch.builder(in_size=kwargs.pop("in_size", arch.in_size), **kwargs)


def weight_layers(model: nn.Module) -> dict[str, nn.Module]:
    """Named Conv2d and Linear layers, in definition order (the layers compression touches)."""
    return {n: m for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}


def count_params(model: nn.Module, nonzero: bool = False) -> int:
    """Number of parameters (or of non-zero parameters)."""
    if nonzero:
        return int(sum(int((p != 0).sum()) for p in model.parameters()))
    return int(sum(p.numel() for p in model.parameters()))
