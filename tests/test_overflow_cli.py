"""The overflow warnings where a user meets them: the CLI's lines (simulate, compare, codegen,
flow) and the report's per-layer table and summary cards."""
from __future__ import annotations

import json

import numpy as np
import onnx

from fpga_sim.cli import main
from fpga_sim.onnx_import import load_onnx
from fpga_sim.overflow_report import overflow_warnings
from fpga_sim.quantization import quantize
from fpga_sim.simulation import simulate
from tests.test_overflow_report import X, sum_diff_model

NARROW = '[LayerName.fc.Precision]\nresult = "ap_fixed<8,3>"\n'


def _files(tmp_path):
    model, x, cfg = tmp_path / "sum_diff.onnx", tmp_path / "x.npy", tmp_path / "narrow.toml"
    onnx.save(sum_diff_model(), str(model))
    np.save(x, X)
    cfg.write_text(NARROW)
    return model, x, cfg


def _overflow_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("overflow:")]


def test_simulate_and_compare_print_one_line_per_overflowing_layer(tmp_path, capsys):
    model, x, cfg = _files(tmp_path)
    for cmd in ("simulate", "compare", "codegen"):
        extra = ["--out", str(tmp_path / "prj")] if cmd == "codegen" else ["--input", str(x)]
        if cmd == "codegen":                     # codegen simulates its check samples: its calibration file
            extra += ["--calibration", str(x)]
        assert main([cmd, str(model), *extra, "--precision", "ap_fixed<16,6>", "--config", str(cfg), "--quiet"]) == 0
        (line,) = _overflow_lines(capsys.readouterr().err)     # shown even with --quiet
        assert line == ("overflow: fc (Dense): 3 values wrapped over 4 samples in result type ap_fixed<8,3>; "
                        "float range seen [-5, 5.5]; ap_fixed<9,4> would hold it")
    assert main(["simulate", str(model), "--input", str(x), "--precision", "ap_fixed<16,6>", "--config", str(cfg),
                 "--json"]) == 0
    cap = capsys.readouterr()
    assert not _overflow_lines(cap.err)                         # --json: in the document instead
    (w,) = json.loads(cap.out)["overflow_warnings"]
    assert (w["layer"], w["count"], w["fix"]) == ("fc", 3, "ap_fixed<9,4>")
    assert main(["simulate", str(model), "--input", str(x), "--precision", "ap_fixed<16,6>", "--quiet"]) == 0
    assert not _overflow_lines(capsys.readouterr().err)        # nothing overflows: nothing said


def test_flow_report_shows_the_warning_in_the_table_and_the_cards(tmp_path, capsys):
    model, _, _ = _files(tmp_path)
    cfg = tmp_path / "tiny.toml"
    cfg.write_text('[LayerName.fc.Precision]\nresult = "ap_fixed<4,1>"\n')
    out = tmp_path / "run"
    assert main(["flow", "--model", str(model), "--precision", "ap_fixed<16,6>", "--config", str(cfg),
                 "--samples", "32", "--no-csim", "--out", str(out)]) == 0
    lines = _overflow_lines(capsys.readouterr().err)
    rec = json.loads((out / "report.json").read_text())
    # the same run through the library (the flow's seeded uniform inputs)
    rng = np.random.default_rng(0)
    cal, x = rng.random((256, 2)), rng.random((32, 2))
    qg = quantize(load_onnx(str(model)), calibration=cal, precision="ap_fixed<16,6>", config=str(cfg))
    (want,) = overflow_warnings(qg, simulate(qg, x), x)
    assert lines == [want.line()] and rec["overflow_warnings"] == [want.to_dict()]
    assert want.count == rec["simulation"]["layers"][0]["overflows"] > 0
    html = (out / "report.html").read_text()
    assert html.count('class="card warn"') == 1 and f"{want.count} wrapped" in html
    assert html.count("use <code>ap_fixed&lt;5,2&gt;</code>") == 1            # the per-layer table's fix
