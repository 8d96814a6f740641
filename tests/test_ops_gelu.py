"""GELU (opset 20), exact and tanh forms: tails, slow reference, onnxruntime, a bad form."""
from __future__ import annotations

import pytest

from fpga_sim.errors import UnsupportedModelError

from .lut_support import check_lut_accuracy, check_lut_fixed
from .ops_support import lower, one_node_model


@pytest.mark.parametrize("form", ["none", "tanh"])
def test_fixed_matches_reference_and_onnxruntime(form):
    op, node = check_lut_fixed("Gelu", {"approximate": form}, opset=20, seed=6)
    assert node.attrs.variant == form and (node.attrs.below, node.attrs.above) == ("zero", "identity")
    assert 0 < check_lut_accuracy("Gelu", {"approximate": form}, opset=20, scale=3.0, atol=0.01)


def test_unknown_form_is_one_sentence():
    with pytest.raises(UnsupportedModelError, match="approximate='fast' is not known; accepted: none, tanh"):
        lower(one_node_model("Gelu", [("x", (1, 4))], attrs={"approximate": "fast"}, opset=20))


def test_cli_refuses_an_unknown_form(tmp_path, capsys):
    from .cli_support import check_cli_refusal

    check_cli_refusal(tmp_path, capsys, one_node_model("Gelu", [("x", (1, 4))], attrs={"approximate": "fast"}, opset=20),
                      "approximate='fast' is not known; accepted: none, tanh")
