"""Small PyTorch models, one per modern family (issue 19), for tests/test_model_families.py:
few channels and 8x8 or 16x16 inputs so each exports, imports and simulates in a second."""
from __future__ import annotations

import io
import warnings

import onnx
import torch
from torch import nn
from torch.nn import functional as F


def conv_bn(cin: int, cout: int, k: int = 1, stride: int = 1, groups: int = 1, act: nn.Module | None = None):
    layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, *([act] if act is not None else []))


class InvertedResidual(nn.Module):
    """MobileNetV2: 1x1 expand + ReLU6, 3x3 depthwise + ReLU6, 1x1 project, residual add."""

    def __init__(self, c: int = 8, expand: int = 3):
        super().__init__()
        h = c * expand
        self.body = nn.Sequential(conv_bn(c, h, act=nn.ReLU6()), conv_bn(h, h, 3, groups=h, act=nn.ReLU6()), conv_bn(h, c))

    def forward(self, x):
        return x + self.body(x)


class MobileNetV2(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = conv_bn(3, 8, 3, act=nn.ReLU6())
        self.block = InvertedResidual(8)
        self.head = nn.Linear(8, 10)

    def forward(self, x):
        return self.head(self.block(self.stem(x)).mean((2, 3)))


class SqueezeExcite(nn.Module):
    def __init__(self, c: int, r: int, act: nn.Module, gate: nn.Module):
        super().__init__()
        self.fc1, self.fc2, self.act, self.gate = nn.Conv2d(c, r, 1), nn.Conv2d(r, c, 1), act, gate

    def forward(self, x):
        return x * self.gate(self.fc2(self.act(self.fc1(F.adaptive_avg_pool2d(x, 1)))))


class MobileNetV3(nn.Module):
    """HardSwish, depthwise, squeeze-excite with a HardSigmoid gate."""

    def __init__(self):
        super().__init__()
        self.stem = conv_bn(3, 8, 3, act=nn.Hardswish())
        self.dw = conv_bn(16, 16, 3, groups=16, act=nn.Hardswish())
        self.expand = conv_bn(8, 16, act=nn.Hardswish())
        self.se = SqueezeExcite(16, 4, nn.ReLU(), nn.Hardsigmoid())
        self.project = conv_bn(16, 8)
        self.head = nn.Linear(8, 10)

    def forward(self, x):
        x = self.stem(x)
        x = x + self.project(self.se(self.dw(self.expand(x))))
        return self.head(x.mean((2, 3)))


class EfficientNet(nn.Module):
    """MBConv with SiLU everywhere and a sigmoid-gated squeeze-excite."""

    def __init__(self):
        super().__init__()
        self.stem = conv_bn(3, 8, 3, 2, act=nn.SiLU())
        self.expand = conv_bn(8, 24, act=nn.SiLU())
        self.dw = conv_bn(24, 24, 3, groups=24, act=nn.SiLU())
        self.se = SqueezeExcite(24, 4, nn.SiLU(), nn.Sigmoid())
        self.project = conv_bn(24, 8)
        self.head = nn.Linear(8, 10)

    def forward(self, x):
        x = self.stem(x)
        x = x + self.project(self.se(self.dw(self.expand(x))))
        return self.head(x.mean((2, 3)))


class YoloHead(nn.Module):
    """Two scales: a downsampled branch upsampled (nearest) and concatenated, SiLU and LeakyReLU."""

    def __init__(self):
        super().__init__()
        self.c1 = conv_bn(3, 8, 3, act=nn.SiLU())
        self.c2 = conv_bn(8, 16, 3, 2, act=nn.LeakyReLU(0.1))
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.c3 = conv_bn(24, 8, 1, act=nn.SiLU())
        self.det = nn.Conv2d(8, 3 * 6, 1)

    def forward(self, x):
        a = self.c1(x)
        b = self.c2(a)
        return self.det(self.c3(torch.cat([a, self.up(b)], 1)))


class ShuffleUnit(nn.Module):
    """ShuffleNetV2 unit: channel split, one branch, concat, channel shuffle (groups 2)."""

    def __init__(self):
        super().__init__()
        self.stem = conv_bn(3, 8, 3, act=nn.ReLU())
        self.branch = nn.Sequential(conv_bn(4, 4, act=nn.ReLU()), conv_bn(4, 4, 3, groups=4), conv_bn(4, 4, act=nn.ReLU()))
        self.head = nn.Linear(8, 10)

    def forward(self, x):
        x = self.stem(x)
        a, b = x.chunk(2, dim=1)
        x = torch.cat([a, self.branch(b)], 1)
        n, c, h, w = x.shape
        x = x.view(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)
        return self.head(x.mean((2, 3)))


class UNet(nn.Module):
    """One level down and up: ConvTranspose up-sampling, skip concat, a bilinear Resize."""

    def __init__(self):
        super().__init__()
        self.enc = conv_bn(3, 8, 3, act=nn.ReLU())
        self.down = nn.Sequential(nn.MaxPool2d(2), conv_bn(8, 16, 3, act=nn.ReLU()))
        self.up = nn.ConvTranspose2d(16, 8, 2, stride=2)
        self.dec = conv_bn(16, 8, 3, act=nn.ReLU())
        self.out = nn.Conv2d(8, 2, 1)

    def forward(self, x):
        e = self.enc(x)
        d = self.dec(torch.cat([e, self.up(self.down(e))], 1))
        y = self.out(d)
        return y + F.interpolate(self.out(e)[:, :, ::2, ::2], scale_factor=2, mode="bilinear", align_corners=False)


class Attention(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.h, self.dh = heads, d // heads
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)

    def forward(self, x):
        b, t, d = x.shape
        # split q, k, v before the heads (timm's reshape(b, t, 3, h, dh).permute(2, 0, ...) moves the
        # batch axis, which the engine's per-sample layout refuses)
        q, k, v = (u.reshape(b, t, self.h, self.dh).transpose(1, 2) for u in self.qkv(x).chunk(3, dim=-1))
        a = torch.softmax(q @ k.transpose(-2, -1) * self.dh ** -0.5, dim=-1)
        return self.proj((a @ v).transpose(1, 2).reshape(b, t, d))


class EncoderBlock(nn.Module):
    """Pre-norm transformer block: LayerNorm, multi-head attention, LayerNorm, GELU MLP."""

    def __init__(self, d: int = 16, heads: int = 2):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = Attention(d, heads)
        self.mlp = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class ViT(nn.Module):
    """Patch conv (4x4 patches of 16x16), class token, position embedding, one encoder block."""

    def __init__(self, d: int = 16):
        super().__init__()
        self.patch = nn.Conv2d(3, d, 4, 4)
        self.cls = nn.Parameter(torch.randn(1, 1, d) * 0.5)
        self.pos = nn.Parameter(torch.randn(1, 17, d) * 0.1)
        self.block = EncoderBlock(d)
        self.ln, self.head = nn.LayerNorm(d), nn.Linear(d, 10)

    def forward(self, x):
        t = self.patch(x).flatten(2).transpose(1, 2)
        t = torch.cat([self.cls.expand(x.shape[0], -1, -1), t], 1) + self.pos
        return self.head(self.ln(self.block(t))[:, 0])


class Mixer(nn.Module):
    """MLP-Mixer: patch conv, token mixing (transpose, MLP over tokens, transpose back), channel MLP."""

    def __init__(self, d: int = 16, tokens: int = 16):
        super().__init__()
        self.patch = nn.Conv2d(3, d, 4, 4)
        self.ln1, self.ln2, self.ln = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.tok = nn.Sequential(nn.Linear(tokens, 2 * tokens), nn.GELU(), nn.Linear(2 * tokens, tokens))
        self.chan = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))
        self.head = nn.Linear(d, 10)

    def forward(self, x):
        t = self.patch(x).flatten(2).transpose(1, 2)
        t = t + self.tok(self.ln1(t).transpose(1, 2)).transpose(1, 2)
        t = t + self.chan(self.ln2(t))
        return self.head(self.ln(t).mean(1))


# name -> (model class, input shape)
FAMILIES: dict[str, tuple[type[nn.Module], tuple[int, ...]]] = {
    "mobilenet_v2": (MobileNetV2, (1, 3, 8, 8)),
    "mobilenet_v3": (MobileNetV3, (1, 3, 8, 8)),
    "efficientnet": (EfficientNet, (1, 3, 16, 16)),
    "yolo_head": (YoloHead, (1, 3, 8, 8)),
    "shufflenet_v2": (ShuffleUnit, (1, 3, 8, 8)),
    "unet": (UNet, (1, 3, 8, 8)),
    "vit": (ViT, (1, 3, 16, 16)),
    "mlp_mixer": (Mixer, (1, 3, 16, 16)),
}


def export(name: str, opset: int = 17, seed: int = 0) -> onnx.ModelProto:
    """The family's model with seeded random weights (BatchNorm statistics made non-trivial),
    exported by torch.onnx (TorchScript exporter) with a symbolic batch axis."""
    cls, shape = FAMILIES[name]
    torch.manual_seed(seed)
    model = cls().eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.6, 1.4)
                m.bias.uniform_(-0.2, 0.2)
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, torch.randn(*shape), f, opset_version=opset, dynamo=False, input_names=["x"],
                          output_names=["y"], dynamic_axes={"x": {0: "n"}, "y": {0: "n"}})
    return onnx.load_from_string(f.getvalue())
