"""End-to-end refusal check: `fpga-sim simulate` on a model with a bad node says what is wrong
in one sentence naming the node and its op, and exits 2 without a traceback."""
from __future__ import annotations

import onnx

from fpga_sim.cli import main


def check_cli_refusal(tmp_path, capsys, model: onnx.ModelProto, says: str) -> None:
    path = tmp_path / "bad.onnx"
    onnx.save(model, str(path))
    code = main(["simulate", str(path)])
    err = capsys.readouterr().err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    node = model.graph.node[0]
    assert code == 2 and "Traceback" not in err
    assert says in lines[-1] and f"node {node.name!r} ({node.op_type})" in lines[-1], lines[-1]
    assert lines[-1].startswith("fpga-sim ") and lines[-1].endswith(".") and len(lines) == 1
