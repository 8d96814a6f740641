"""The README's examples stay true: its config parses and applies, its Python compiles, and its
Quickstart holds exactly the two lines CI runs."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import onnx
from onnx import TensorProto, helper

from fpga_sim import load_onnx, quantize
from tests.helpers_onnx import rng_weights

README = (Path(__file__).parent.parent / "README.md").read_text()


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def _conv_named_like_torch() -> onnx.ModelProto:
    w = helper.make_tensor("w", TensorProto.FLOAT, [4, 1, 3, 3], rng_weights(0, 4, 1, 3, 3).ravel())
    node = helper.make_node("Conv", ["x", "w"], ["/conv1/Conv_output_0"], name="/conv1/Conv", pads=[1, 1, 1, 1])
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])],
                          [helper.make_tensor_value_info("/conv1/Conv_output_0", TensorProto.FLOAT, [1, 4, 8, 8])], [w])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def test_readme_config_applies_to_a_torch_named_layer():
    import numpy as np

    (toml,) = _blocks("toml")
    qg = quantize(load_onnx(_conv_named_like_torch()), config=tomllib.loads(toml),
                  calibration=np.random.default_rng(0).random((4, 1, 8, 8)))
    lt = qg.layer_types["/conv1/Conv"]
    assert (str(lt.weight), str(lt.accum), lt.result.width) == ("ap_fixed<8,3>", "ap_fixed<24,10>", 12)


def test_readme_python_compiles():
    for src in _blocks("python"):
        compile(src, "README.md", "exec")


def test_quickstart_has_the_two_lines_ci_runs():
    lines = re.findall(r"<!-- (main|test)-line -->\n```\n(.*?)\n```", README)
    assert [k for k, _ in lines] == ["main", "test"]
    ci = (Path(__file__).parent.parent / ".ci" / "run").read_text()
    assert f"TEST_LINE='{lines[1][1]}'" in ci and lines[0][1].endswith("fpga-sim flow")
