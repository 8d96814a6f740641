"""`fpga-sim` commands on a tiny ONNX model: results equal the library's, bad input exits 2 with one
sentence and no traceback, a failed check exits 1."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from fpga_sim.cli import build_parser, main

TINY_SHAPE = (1, 6, 6)


def tiny_onnx(path: Path, seed: int = 0) -> Path:
    """Conv 3x3 (1->2) + ReLU + MaxPool 2x2 + Flatten + Gemm (18->3): every heavy step, in milliseconds."""
    rng = np.random.default_rng(seed)
    inits = [numpy_helper.from_array(rng.normal(0, 0.5, (2, 1, 3, 3)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.normal(0, 0.1, 2).astype(np.float32), "b"),
             numpy_helper.from_array(rng.normal(0, 0.5, (3, 18)).astype(np.float32), "fw"),
             numpy_helper.from_array(rng.normal(0, 0.1, 3).astype(np.float32), "fb")]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Flatten", ["p"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], name="fc", transB=1)]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, *TINY_SHAPE])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 3])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return tiny_onnx(tmp_path_factory.mktemp("model") / "tiny.onnx")


@pytest.fixture(scope="module")
def x_npy(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "x.npy"
    np.save(path, np.random.default_rng(1).uniform(0, 1, (5, *TINY_SHAPE)))
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def run_json(capsys, *argv: str):
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


# ------------------------------------------------------------------------------ help and usage
def _subcommands() -> list[str]:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return sorted(sub.choices)


def test_every_command_is_registered():
    assert {"flow", "simulate", "compare", "codegen", "csim", "seed-analysis", "train", "compress",
            "parts"} <= set(_subcommands())


@pytest.mark.parametrize("command", _subcommands())
def test_help_of_every_command(capsys, command):
    code, out, _ = run(capsys, command, "--help")
    assert code == 0
    assert out.startswith(f"usage: fpga-sim {command}")
    assert "--json" in out and "--quiet" in out


def test_usage_errors_exit_2(capsys):
    assert run(capsys)[0] == 2                                   # no command
    code, _, err = run(capsys, "simulate", "--no-such-flag", "m.onnx")
    assert code == 2 and "unrecognized arguments" in err


# ------------------------------------------------------------------------------ commands
def test_parts_table_and_json(capsys):
    from fpga_sim.parts import PARTS

    data = run_json(capsys, "parts")
    assert {p["name"]: p["dsp_slices"] for p in data} == {n: p.dsp_slices for n, p in PARTS.items()}
    code, out, _ = run(capsys, "parts")
    assert code == 0 and all(name in out for name in PARTS)


def _library_run(tiny: Path, x: np.ndarray, precision: str | None = None):
    """The same steps through the library, for the CLI to be compared with (default: the CLI's precision)."""
    from fpga_sim.cli.inputs import DEFAULT_PRECISION

    precision = precision or DEFAULT_PRECISION
    from fpga_sim.hardware import Hardware
    from fpga_sim.onnx_import import load_onnx
    from fpga_sim.quantization import quantize
    from fpga_sim.simulation import simulate

    qg = quantize(load_onnx(str(tiny)), calibration=x, precision=precision)
    return qg, simulate(qg, x, hardware=Hardware())


def test_simulate_json_equals_the_library(capsys, tiny, x_npy):
    data = run_json(capsys, "simulate", tiny, "--input", x_npy)
    _, sim = _library_run(tiny, np.load(x_npy))
    assert data["samples"] == 5
    got = data["simulation"]
    assert [(r["name"], r["cycles"], r["dram_writes"], r["bound"]) for r in got["layers"]] == \
        [(r.name, r.cycles, r.dram_writes, r.bound) for r in sim.layers]
    np.testing.assert_array_equal(np.array(got["outputs"]["y"]), sim.outputs["y"])
    assert got["totals"]["cycles"] == sim.totals["cycles"]


def test_simulate_table(capsys, tiny, x_npy):
    code, out, _ = run(capsys, "simulate", tiny, "--input", x_npy, "--precision", "ap_fixed<8,3>")
    assert code == 0
    for word in ("conv", "fc", "cycles", "bound", "DRAM", "energy", "overflows", "total"):
        assert word in out


def test_quiet_prints_only_the_result_line(capsys, tiny, x_npy):
    # a precision under which nothing overflows: overflow warnings are shown even with --quiet
    wide = ["--precision", "ap_fixed<16,6>"]
    data = run_json(capsys, "simulate", tiny, "--input", x_npy, *wide)["simulation"]["totals"]
    code, out, err = run(capsys, "simulate", tiny, "--input", x_npy, "--quiet", *wide)
    assert (code, err, out.count("\n")) == (0, "", 1)
    assert out.startswith(f"{data['cycles']:,} cycles, ") and "over 5 samples" in out
    for cmd in (["parts"], ["seed-analysis"], ["compare", tiny, "--input", x_npy, *wide]):
        code, out, err = run(capsys, *cmd, "--quiet")
        assert (code, err, out.count("\n")) == (0, "", 1), cmd
    assert run(capsys, "seed-analysis", "-q")[1].startswith("5x5: 405 cycles, balanced; 9x9: 500 cycles, compute")


def test_compare_json_equals_the_library(capsys, tiny, x_npy, tmp_path):
    from fpga_sim.comparison import compare

    labels = tmp_path / "y.npy"
    np.save(labels, np.array([0, 1, 2, 0, 1]))
    data = run_json(capsys, "compare", tiny, "--input", x_npy, "--labels", labels, "--precision", "ap_fixed<8,3>")
    x = np.load(x_npy)
    qg, _ = _library_run(tiny, x, "ap_fixed<8,3>")
    ref = compare(str(tiny), qg, x, labels=np.load(labels))
    assert data["agreement"] == ref.top1_agreement
    assert data["accuracy_fixed"] == ref.accuracy_fixed and data["accuracy_float"] == ref.accuracy_float
    assert [(r["name"], r["sqnr_db"]) for r in data["layers"]] == \
        [(e.name, None if not np.isfinite(e.sqnr_db) else e.sqnr_db) for e in ref.layers]


# ------------------------------------------------------------------------------ bad input
def _bad(capsys, *argv) -> str:
    code, out, err = run(capsys, *argv)
    assert code == 2, (out, err)
    assert "Traceback" not in err and "Traceback" not in out
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    text = lines[-1]                         # progress ticks may come first; the error is one line, last
    assert text.startswith("fpga-sim ") and ": error: " in text and text.endswith(".")
    assert sum("error" in ln for ln in lines) == 1
    return text


def test_missing_model_file(capsys, tmp_path):
    msg = _bad(capsys, "simulate", tmp_path / "nope.onnx")
    assert "nope.onnx" in msg and "does not exist" in msg
    assert ".onnx file or a bundled model name" in msg          # and what is accepted instead


def test_malformed_onnx(capsys, tmp_path):
    bad = tmp_path / "garbage.onnx"
    bad.write_bytes(b"this is not a protobuf \x00\xff\x13")
    msg = _bad(capsys, "simulate", bad)
    assert "garbage.onnx" in msg and "ModelProto" in msg        # what it is not, and what is expected


@pytest.mark.parametrize("precision", ["ap_fixed<abc>", "float16", "ap_fixed<8,3,AP_NOPE>"])
def test_bad_precision(capsys, tiny, precision):
    msg = _bad(capsys, "simulate", tiny, "--precision", precision)
    assert "--precision" in msg and repr(precision) in msg and "accepted: " in msg
    assert ("AP_RND_CONV" if "AP_NOPE" in precision else "ap_fixed<W,I>") in msg


@pytest.mark.parametrize("line, field, accepted", [
    ("n_dsp = 0", "n_dsp", "must be a positive integer"),
    ("dram_write_words_per_cycle = -1.0", "dram_write_words_per_cycle", "must be a positive number"),
    ("n_dsps = 4", "'n_dsps'", "accepted: part, n_dsp,"),
    ("part = \"xc9nope\"", "'xc9nope'", "known parts: xc7a35t, xc7z020")])
def test_bad_hardware_toml(capsys, tiny, tmp_path, line, field, accepted):
    hw = tmp_path / "hw.toml"
    hw.write_text(line + "\n")
    msg = _bad(capsys, "simulate", tiny, "--hw", hw)
    assert field in msg and "hw.toml" in msg and accepted in msg


def test_bad_target_part(capsys, tiny):
    from fpga_sim.parts import PARTS

    msg = _bad(capsys, "simulate", tiny, "--target", "xc0bogus")
    assert "'xc0bogus'" in msg and "known parts: " in msg and all(name in msg for name in PARTS)


def test_input_of_the_wrong_shape(capsys, tiny, tmp_path):
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((2, 3, 3)))
    msg = _bad(capsys, "simulate", tiny, "--input", x)
    assert "(2, 3, 3)" in msg and "--input" in msg
    assert "(1, 6, 6) per sample" in msg and "(N, 1, 6, 6)" in msg      # the shapes it would take


def test_unreadable_input_array(capsys, tiny, tmp_path):
    x = tmp_path / "x.npy"
    x.write_text("not numpy")
    msg = _bad(capsys, "simulate", tiny, "--input", x)
    assert "x.npy" in msg and "--input" in msg and "not a readable .npy array" in msg


def test_csim_of_a_missing_project(capsys, tmp_path):
    msg = _bad(capsys, "csim", tmp_path / "none")
    assert repr(str(tmp_path / "none")) in msg and "does not exist" in msg and "fpga-sim codegen" in msg


def test_a_small_target_part_gets_the_default_machine_fitted_to_it(capsys, tiny, x_npy, tmp_path):
    from fpga_sim.hardware import Hardware
    from fpga_sim.parts import get_part

    part, default = get_part("xc7a35t"), Hardware()
    hw = run_json(capsys, "simulate", tiny, "--input", x_npy, "--target", "xc7a35t")["hardware"]
    assert (hw["part"], hw["n_dsp"], hw["sram_bytes"]) == ("xc7a35t", min(default.n_dsp, part.dsp_slices),
                                                           min(default.sram_bytes, part.onchip_bytes))
    toml = tmp_path / "hw.toml"
    toml.write_text(f"[hardware]\nsram_bytes = {default.sram_bytes}\n")      # an explicit machine is not changed
    msg = _bad(capsys, "simulate", tiny, "--input", x_npy, "--target", "xc7a35t", "--hw", toml)
    assert f"set sram_bytes <= {part.onchip_bytes}" in msg


def test_codegen_never_replaces_what_is_not_an_fpga_sim_output(capsys, tiny, tmp_path):
    mine = tmp_path / "mydata"
    mine.mkdir()
    (mine / "notes.txt").write_text("precious")
    msg = _bad(capsys, "codegen", tiny, "--out", mine)
    assert repr(str(mine)) in msg and "is not an fpga-sim output" in msg
    assert (mine / "notes.txt").read_text() == "precious"
    a_file = tmp_path / "README.md"
    a_file.write_text("mine")
    _bad(capsys, "codegen", tiny, "--out", a_file)
    assert a_file.read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == ["README.md", "mydata"]


# ------------------------------------------------------------------------------ codegen + csim (g++)
@pytest.mark.slow
@pytest.mark.gxx
def test_codegen_then_csim_passes_and_a_corrupted_expectation_fails(capsys, tiny, tmp_path):
    from fpga_sim.cli.hls import CHECK_FILE

    prj = tmp_path / "prj"
    code, out, err = run(capsys, "codegen", tiny, "--out", prj, "--target", "xc7z020", "--precision", "ap_fixed<8,3>")
    assert code == 0, err
    assert "xc7z020" in (prj / "build_prj.tcl").read_text()
    data = run_json(capsys, "csim", prj)
    assert data["status"] == "pass" and data["mismatches"] == 0 and data["values"] > 0
    # Change one expected value: the same command must now report the mismatch and exit 1.
    with np.load(prj / CHECK_FILE) as f:
        saved = {k: f[k] for k in f.files}
    key = next(k for k in saved if k.startswith("raw:"))
    saved[key] = saved[key].copy()
    saved[key].flat[0] += 1
    np.savez(prj / CHECK_FILE, **saved)
    code, out, err = run(capsys, "csim", prj)
    assert code == 1
    assert "check failed" in err and "1 of" in err and "Traceback" not in err


def test_seed_analysis_json_and_plot(capsys, tmp_path):
    from fpga_sim.seed_analysis import run_seed_analysis

    plot = tmp_path / "sweep.png"
    data = run_json(capsys, "seed-analysis", "--plot", plot)
    assert data == json.loads(json.dumps(run_seed_analysis()))            # the library's result, whole
    assert [(r["kernel"], r["cycles"], r["bound"]) for r in data["rows"]] == \
        [("5x5", 405, "balanced"), ("9x9", 500, "compute"), ("1x1", 845, "bandwidth")]
    assert plot.read_bytes().startswith(b"\x89PNG")
    code, out, _ = run(capsys, "seed-analysis")
    assert code == 0 and "DRAM write bandwidth" in out and "kernel-size sweep" in out


def test_config_overrides_reach_the_simulation(capsys, tiny, x_npy, tmp_path):
    from fpga_sim.hardware import Hardware
    from fpga_sim.onnx_import import load_onnx
    from fpga_sim.quantization import quantize
    from fpga_sim.simulation import simulate

    cfg = tmp_path / "q.toml"
    cfg.write_text('[LayerName.conv.Precision]\naccum = "ap_fixed<6,2>"\nresult = "ap_fixed<6,2>"\n')
    data = run_json(capsys, "simulate", tiny, "--input", x_npy, "--config", cfg)
    x = np.load(x_npy)
    sim = simulate(quantize(load_onnx(str(tiny)), calibration=x, config=str(cfg)), x, hardware=Hardware())
    got = {r["name"]: r["overflows"] for r in data["simulation"]["layers"]}
    assert got == {r.name: r.overflows for r in sim.layers}
    assert got["conv"] > 0                     # a 6-bit accumulator overflows: the count shows it


def test_bad_config_value(capsys, tiny, tmp_path):
    cfg = tmp_path / "q.toml"
    cfg.write_text('[LayerName.conv.Precision]\naccum = "ap_fixed<6>"\n')
    msg = _bad(capsys, "simulate", tiny, "--config", cfg)
    assert "q.toml" in msg and "LayerName.conv" in msg and "'ap_fixed<6>'" in msg
    assert "accepted: ap_fixed<W,I>" in msg


def test_a_first_run_says_the_kernels_are_being_compiled(capsys, monkeypatch):
    from fpga_sim import _numba_cache

    monkeypatch.setattr(_numba_cache, "is_cold", lambda: True)
    assert "first run: the simulator's kernels are compiled once" in run(capsys, "seed-analysis")[2]
    assert "first run" not in run(capsys, "parts")[2]             # nothing to compile there
    monkeypatch.setattr(_numba_cache, "is_cold", lambda: False)
    assert "first run" not in run(capsys, "seed-analysis")[2]
