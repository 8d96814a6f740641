import numpy as np
import onnx
import pytest
import torch

from models.data import load_digits_split
from models.export import PLAIN_OPS, export_onnx, onnx_predict, verify_onnx
from models.zoo import build


@pytest.mark.parametrize("name", ["mlp", "lenet", "student", "squeezenet", "squeezenet_bypass"])
def test_export_round_trip_against_onnxruntime(tmp_path, name):
    x = load_digits_split()[2][:16]
    m = build(name, seed=1)
    path = export_onnx(m, tmp_path / f"{name}.onnx")
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert ops <= PLAIN_OPS
    if name == "squeezenet_bypass":
        assert {"Concat", "Add", "AveragePool"} <= ops
    with torch.no_grad():
        ref = m(torch.as_tensor(x)).numpy()
    got = onnx_predict(path, x)             # batch of 16 through a model exported with batch 1
    assert got.shape == (16, 10)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5)
    assert verify_onnx(m, path, x) < 1e-4
    assert not list(tmp_path.glob("*.tmp"))


def test_verify_detects_a_different_model(tmp_path):
    from fpga_sim.errors import FpgaSimError

    x = load_digits_split()[2][:8]
    path = export_onnx(build("student", seed=1), tmp_path / "s.onnx")
    with pytest.raises(FpgaSimError, match="differs"):
        verify_onnx(build("student", seed=2), path, x)
