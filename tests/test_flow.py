"""`fpga-sim flow` end to end on a tiny ONNX model: every step runs, the report holds what the
library computes, the C-simulation is checked, and a failure leaves no half-written output."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from fpga_sim.cli import main

from .test_cli import TINY_SHAPE, tiny_onnx


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_onnx(tmp_path_factory.mktemp("model") / "tiny.onnx")


@pytest.fixture(scope="module")
def flow_out(tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("flow") / "out"
    code = main(["flow", "--model", str(tiny), "--out", str(out), "--samples", "16", "--csim-samples", "4",
                 "--precision", "ap_fixed<10,4,AP_RND,AP_SAT>", "--target", "xczu9eg", "--quiet"])
    return code, out


@pytest.mark.slow
@pytest.mark.gxx
def test_flow_writes_the_report_and_checks_the_csim(flow_out, tiny):
    from fpga_sim import Hardware
    from fpga_sim.comparison import compare
    from fpga_sim.onnx_import import load_onnx
    from fpga_sim.quantization import quantize
    from fpga_sim.simulation import simulate

    code, out = flow_out
    assert code == 0
    names = sorted(p.name for p in out.iterdir())
    assert {"report.html", "report.json", "roofline.png", "cycles.png", "energy.png", "sqnr.png", "hls"} <= set(names)
    assert not any(p.name.startswith(".out.") for p in out.parent.iterdir())        # no temp dirs left
    rec = json.loads((out / "report.json").read_text())

    # The same steps through the library: the flow's numbers must be these.
    rng = np.random.default_rng(0)
    cal, x = rng.random((256, *TINY_SHAPE)), rng.random((16, *TINY_SHAPE))
    hw = Hardware().replace(part="xczu9eg")
    qg = quantize(load_onnx(str(tiny)), calibration=cal, precision="ap_fixed<10,4,AP_RND,AP_SAT>")
    sim = simulate(qg, x, hardware=hw, trace=True)
    cmp = compare(str(tiny), qg, x, sim=sim)
    assert [(r["name"], r["cycles"], r["overflows"]) for r in rec["simulation"]["layers"]] == \
        [(r.name, r.cycles, r.overflows) for r in sim.layers]
    assert rec["summary"]["cycles"] == sim.totals["cycles"]
    assert rec["summary"]["energy_total_pj"] == pytest.approx(sim.totals["energy_total_pj"])
    assert rec["comparison"]["agreement"] == cmp.top1_agreement
    assert rec["comparison"]["accuracy_float"] is None                   # random inputs have no labels
    assert rec["target"]["name"] == "xczu9eg" and rec["hardware"]["part"] == "xczu9eg"
    assert rec["csim"]["status"] == "pass" and rec["csim"]["mismatches"] == 0
    assert rec["csim"]["values"] == 4 * 3                                 # 4 samples x 3 outputs
    assert rec["hls_project"] == str(out / "hls")
    assert (out / "hls" / "build_prj.tcl").is_file()

    html = (out / "report.html").read_text()
    assert len(re.findall(r'src="data:image/png;base64,', html)) == 4
    assert "PASS" in html and "xczu9eg" in html and str(out / "hls") in html


@pytest.mark.slow
@pytest.mark.gxx
def test_csim_command_rechecks_the_flows_project(flow_out, capsys):
    code, out = flow_out
    assert code == 0
    capsys.readouterr()
    assert main(["csim", str(out / "hls"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "pass" and data["values"] > 0


def test_bad_input_stops_before_anything_is_written(tiny, tmp_path, capsys):
    hw = tmp_path / "hw.toml"
    hw.write_text("n_dsp = 0\n")
    out = tmp_path / "out"
    assert main(["flow", "--model", str(tiny), "--out", str(out), "--hw", str(hw)]) == 2
    err = capsys.readouterr().err
    assert "hw.toml" in err and "n_dsp must be a positive integer, got 0" in err
    assert list(tmp_path.iterdir()) == [hw]


def test_a_failing_step_leaves_the_previous_output_intact(tiny, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.json").write_text('{"previous": true}')
    import fpga_sim.report

    def disk_full(record, out_dir):
        (out_dir / "report.html").write_text("<html>half")
        raise OSError(28, "No space left on device", str(out_dir / "report.html"))

    monkeypatch.setattr(fpga_sim.report, "write_report", disk_full)
    code = main(["flow", "--model", str(tiny), "--out", str(out), "--samples", "4", "--no-csim", "--quiet"])
    assert code == 2
    assert "No space left on device" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]          # no temp or backup dirs
    assert sorted(p.name for p in out.iterdir()) == ["report.json"]
    assert json.loads((out / "report.json").read_text()) == {"previous": True}


def test_a_model_codegen_cannot_take_still_gets_a_report(tiny, tmp_path, monkeypatch, capsys):
    import codegen

    from fpga_sim.errors import UnsupportedModelError

    def no_template(*args, **kwargs):
        raise UnsupportedModelError("node 'fc' (Dense) has no HLS template")

    monkeypatch.setattr(codegen, "write_hls", no_template)
    out = tmp_path / "out"
    code = main(["flow", "--model", str(tiny), "--out", str(out), "--samples", "4", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "has no HLS template" in err and str(out / "report.html") in err
    rec = json.loads((out / "report.json").read_text())
    assert rec["hls_project"] is None and rec["csim"]["status"] == "skipped"
    assert "No HLS project was generated" in (out / "report.html").read_text()
    assert not (out / "hls").exists()


def test_flow_json_is_the_report_record(tiny, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["flow", "--model", str(tiny), "--out", str(out), "--samples", "4", "--no-csim", "--json"]) == 0
    cap = capsys.readouterr()
    assert cap.err == ""                                       # --json: no progress, no tables
    printed = json.loads(cap.out)
    saved = json.loads((out / "report.json").read_text())
    assert printed["report"] == str(out / "report.html")
    assert printed["command"].startswith("fpga-sim flow --model ") and printed["command"].endswith(" --json")
    assert printed["simulation"] == saved["simulation"] and printed["comparison"] == saved["comparison"]
    assert printed["csim"]["status"] == "skipped" and "--no-csim" in printed["csim"]["reason"]


def _flow_with_csim(monkeypatch, tiny, out, fake_csim):
    import codegen

    monkeypatch.setattr(codegen, "csim", fake_csim)
    return main(["flow", "--model", str(tiny), "--out", str(out), "--samples", "4", "--csim-samples", "2", "--quiet"])


@pytest.mark.slow
@pytest.mark.gxx
def test_a_csim_mismatch_exits_1_with_the_report_written(tiny, tmp_path, monkeypatch, capsys):
    import codegen

    real = codegen.csim

    def off_by_one(project, x, **kwargs):
        got = real(project, x, **kwargs)
        first = next(iter(got))
        got[first] = got[first].copy()
        got[first].flat[1] += 1
        return got

    out = tmp_path / "out"
    assert _flow_with_csim(monkeypatch, tiny, out, off_by_one) == 1
    err = capsys.readouterr().err
    assert "check failed" in err and "1 of 6 output values" in err and "flat index 1" in err
    rec = json.loads((out / "report.json").read_text())
    assert (rec["csim"]["status"], rec["csim"]["mismatches"], rec["csim"]["values"]) == ("fail", 1, 6)
    assert "1 of 6 output values differ" in (out / "report.html").read_text()


@pytest.mark.slow
@pytest.mark.gxx
def test_counted_cycles_that_differ_from_the_simulator_fail_the_flow(tiny, tmp_path, monkeypatch, capsys):
    """The generated HLS must be the machine the simulator costs: a counted loop off by one fails."""
    import codegen

    real = codegen.count_csim

    def one_cycle_more(project, x, **kwargs):
        got, counts = real(project, x, **kwargs)
        counts[0] = {**counts[0], "cycles": counts[0]["cycles"] + 1}
        return got, counts

    monkeypatch.setattr(codegen, "count_csim", one_cycle_more)
    out = tmp_path / "out"
    assert main(["flow", "--model", str(tiny), "--out", str(out), "--samples", "4", "--csim-samples", "2",
                 "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "counting C-simulation (-DFPGA_SIM_COUNT) differs from the simulator on" in err, err
    assert not json.loads((out / "report.json").read_text())["csim"]["counts"]["equal"]


def test_a_csim_that_does_not_compile_keeps_the_project_for_debugging(tiny, tmp_path, monkeypatch, capsys):
    from fpga_sim.errors import CheckFailed

    def compile_error(project, x, **kwargs):
        raise CheckFailed(f"g++ failed to compile the C-simulation in {str(project)!r}: firmware/top.cpp:3: error")

    out = tmp_path / "out"
    assert _flow_with_csim(monkeypatch, tiny, out, compile_error) == 1
    err = capsys.readouterr().err
    assert "firmware/top.cpp:3" in err and str(out / "hls") in err and ".tmp-" not in err
    assert (out / "hls" / "build_prj.tcl").is_file()
    assert json.loads((out / "report.json").read_text())["csim"]["status"] == "fail"


def test_no_ap_types_headers_still_gives_the_report_and_says_how_to_go_on(tiny, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FPGA_SIM_AP_TYPES", str(tmp_path / "no_headers_here"))   # the real search, made to fail
    out = tmp_path / "out"
    code = main(["flow", "--model", str(tiny), "--out", str(out), "--samples", "4", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "does not contain ap_fixed.h" in err and "--no-csim" in err and str(out / "report.html") in err
    rec = json.loads((out / "report.json").read_text())
    assert rec["csim"]["status"] == "unavailable" and "ap_fixed.h" in rec["csim"]["reason"]
    assert (out / "hls" / "build_prj.tcl").is_file() and "UNAVAILABLE" in (out / "report.html").read_text()
