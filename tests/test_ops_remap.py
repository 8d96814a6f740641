"""The index-map base of the data-movement ops (fpga_sim/ops/remap.py), and the new ops' bad
attributes end to end: `fpga-sim simulate` says what is wrong in one sentence and exits 2."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from fpga_sim.cli import main
from fpga_sim.ops.remap import FILL, IndexMap, axis_table, flat_indices, identity_map, strides


def test_tables_sum_to_flat_indices_and_fill_stays_negative():
    m = IndexMap((2, 3), (axis_table(3, [1, -1]), axis_table(1, [2, 0, 1])))
    src, dst = flat_indices(m)
    assert src.tolist() == [5, 3, 4, -1, -1, -1] and dst is None
    assert FILL * 1 + 10 ** 8 < 0                       # any sum with a FILL entry stays negative
    ident, _ = flat_indices(identity_map((2, 3, 4)))
    assert ident.tolist() == list(range(24)) and strides((2, 3, 4)) == (12, 4, 1)
    with pytest.raises(ValueError, match="do not match the loop"):
        IndexMap((2, 3), ((0, 1), (0, 1)))


def _model(path, node, consts=None, n_out=1, opset=13, shape=("N", 4, 4, 4)):
    inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in (consts or {}).items()]
    g = helper.make_graph([node], "bad", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
                          [helper.make_tensor_value_info(f"y{i}", TensorProto.FLOAT, None) for i in range(n_out)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    onnx.save(m, path)
    return path


I64 = lambda *v: np.array(v, np.int64)  # noqa: E731
BAD = {
    "perm": (helper.make_node("Transpose", ["x"], ["y0"], name="t", perm=[0, 2, 2, 1]), None, 1,
             "perm [0, 2, 2, 1] is not a permutation"),
    "step0": (helper.make_node("Slice", ["x", "s", "e", "a", "st"], ["y0"], name="s"),
              {"s": I64(0), "e": I64(3), "a": I64(2), "st": I64(0)}, 1, "step 0 on axis 2; non-zero steps are accepted"),
    "cubic": (helper.make_node("Resize", ["x", "", "sc"], ["y0"], name="r", mode="cubic"),
              {"sc": np.array([1, 1, 2, 2], np.float32)}, 1, "mode 'cubic' is not supported; 'nearest' and 'linear' are"),
    "split": (helper.make_node("Split", ["x", "sp"], ["y0", "y1"], name="sp", axis=1), {"sp": I64(1, 2)}, 2,
              r"split sizes [1, 2] sum to 3 but the axis has 4 elements"),
    "split_count": (helper.make_node("Split", ["x"], ["y0", "y1"], name="sp", axis=1, num_outputs=3), None, 2,
                    "num_outputs 3 differs from the node's 2 outputs; equal counts are accepted"),
    "coord": (helper.make_node("Resize", ["x", "", "sc"], ["y0"], name="r", coordinate_transformation_mode="tf_crop_and_resize"),
              {"sc": np.array([1, 1, 2, 2], np.float32)}, 1, "coordinate_transformation_mode 'tf_crop_and_resize' is not supported"),
    "nearest": (helper.make_node("Resize", ["x", "", "sc"], ["y0"], name="r", nearest_mode="nearest"),
                {"sc": np.array([1, 1, 2, 2], np.float32)}, 1, "nearest_mode 'nearest' is not supported"),
    "batch_front": (helper.make_node("Transpose", ["x"], ["y0"], name="t", perm=[1, 0, 2, 3]), None, 1,
                    "perm [1, 0, 2, 3] brings axis 1 (size 4) to the front, where fpga-sim keeps the batch axis"),
    # accepted at import; calibrating on 256 samples of a symbolic batch is refused at simulate time
    "batch_moved": (helper.make_node("Transpose", ["x"], ["y0"], name="t", perm=[1, 3, 0, 2]), None, 1,
                    "moves the batch axis 0 to axis 2, which is a per-sample transpose only for a batch of 1, "
                    "but the batch is 256"),
}
SHAPES = {"batch_moved": ("N", 1, 4, 4)}
OPSETS = {"split_count": 18}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_attributes_exit_2_with_one_sentence(case, tmp_path, capsys):
    node, consts, n_out, says = BAD[case]
    path = _model(tmp_path / f"{case}.onnx", node, consts, n_out, OPSETS.get(case, 13), SHAPES.get(case, ("N", 4, 4, 4)))
    code = main(["simulate", str(path)])
    err = capsys.readouterr().err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert code == 2 and "Traceback" not in err
    assert says in lines[-1] and f"node {node.name!r} ({node.op_type})" in lines[-1]
    assert lines[-1].startswith("fpga-sim ") and lines[-1].endswith(".") and sum("error" in ln for ln in lines) == 1


def _torch_patterns():
    """The data movement PyTorch writes for post-2016 nets, as modules (built lazily: torch is a
    test dependency only): ShuffleNet's chunk + channel shuffle, a UNet's ConvTranspose2d and
    bilinear interpolate, a YOLO neck's nearest Upsample, a ViT's class token and x[:, 0],
    PixelShuffle/PixelUnshuffle."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Shuffle(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(4, 4, 1)

        def forward(self, x):
            a, b = x.chunk(2, dim=1)
            y = torch.cat([a, torch.relu(self.c(b))], 1)
            n, c, h, w = y.shape
            return y.view(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.d, self.u = nn.Conv2d(8, 8, 3, 2, 1), nn.ConvTranspose2d(8, 4, 3, 2, 1, output_padding=1, groups=4)

        def forward(self, x):
            d = torch.relu(self.d(x))
            return torch.cat([x, self.u(d), F.interpolate(d, scale_factor=2, mode="bilinear", align_corners=False)], 1)

    class Yolo(nn.Module):
        def __init__(self):
            super().__init__()
            self.up, self.c = nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(8, 4, 1)

        def forward(self, x):
            return torch.cat([self.up(self.c(x)), F.interpolate(x, size=(16, 16), mode="nearest")], 1)

    class Tokens(nn.Module):
        def __init__(self):
            super().__init__()
            self.p, self.cls, self.fc = nn.Conv2d(8, 6, 2, 2), nn.Parameter(torch.randn(1, 1, 6)), nn.Linear(6, 3)

        def forward(self, x):
            t = torch.cat([self.cls.expand(x.shape[0], -1, -1), self.p(x).flatten(2).transpose(1, 2)], 1)
            return self.fc(t[:, 0]), t.transpose(1, 2)[:, :, 1::2]

    class Pixels(nn.Module):
        def forward(self, x):
            return nn.functional.pixel_shuffle(x, 2), nn.functional.pixel_unshuffle(x, 2)

    return {"shuffle": Shuffle, "unet": UNet, "yolo": Yolo, "tokens": Tokens, "pixels": Pixels}


@pytest.mark.parametrize("name", ["shuffle", "unet", "yolo", "tokens", "pixels"])
def test_pytorch_exports_with_a_dynamic_batch(name):
    """Exported by torch.onnx (batch dynamic), imported, and within 100 dB of onnxruntime at auto<24>."""
    torch = pytest.importorskip("torch")
    import io

    import fpga_sim

    torch.manual_seed(0)
    net = _torch_patterns()[name]().eval()
    x = torch.randn(2, 8, 8, 8)
    f = io.BytesIO()
    torch.onnx.export(net, (x,), f, opset_version=17, dynamo=False, input_names=["x"], dynamic_axes={"x": {0: "N"}})
    model = onnx.load_from_string(f.getvalue())
    g = fpga_sim.load_onnx(model)
    want = {"shuffle": {"Slice", "Transpose"}, "unet": {"ZeroInsert", "Resize", "Concat"}, "yolo": {"Resize", "Concat"},
            "tokens": {"Gather", "Concat", "Transpose", "Slice"}, "pixels": {"DepthToSpace", "Transpose"}}[name]
    assert want <= {n.op for n in g.nodes}
    xs = x.numpy().astype(np.float64)
    c = fpga_sim.compare(model, fpga_sim.quantize(g, calibration=xs, precision="auto<24>"), xs)
    assert c.outputs and all(o.sqnr_db > 100 for o in c.outputs.values()), {k: o.sqnr_db for k, o in c.outputs.items()}
