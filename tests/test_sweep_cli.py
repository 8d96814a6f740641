"""`fpga-sim sweep`: bad input exits 2 with one sentence before any point runs; a run on a local
cluster prints one JSON document with every point; a rerun finds every point in the store."""
from __future__ import annotations

import json
import sys

import pytest

from fpga_sim.cli import main
from fpga_sim.sweep import runner
from tests.sweep_support import write_sweep


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def _bad(capsys, *argv, ticks: bool = False) -> str:
    """The error line (after the tick lines of finished steps when ticks)."""
    code, out, err = _run(capsys, "sweep", *argv)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert "Traceback" not in err and (ticks or len(lines) == 1), err
    assert lines[-1].startswith("fpga-sim sweep: error: ") and all(t.startswith("✓") for t in lines[:-1]), err
    return lines[-1]


def test_bad_input_exits_2_before_anything_runs(capsys, tmp_path):
    good = write_sweep(tmp_path)
    err = _bad(capsys, write_sweep(tmp_path, hardware="[hardware]\ndsp = [1]", name="bad.toml"), "--out", tmp_path / "o")
    assert "unknown hardware key 'hardware.dsp'; accepted: file, part, n_dsp" in err
    err = _bad(capsys, good, "--max-points", "100", "--out", tmp_path / "o")
    assert "asks for 144 points (grid 1 x 2 x 6 x 3 x 4 = 144), more than --max-points 100" in err
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("mine")
    assert "holds no sweep store" in _bad(capsys, good, "--out", tmp_path / "notes")
    (tmp_path / "x.npy").write_bytes(b"not numpy")
    assert "models[0].input file" in _bad(capsys, good, "--out", tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_missing_dask_names_the_extra(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    assert "install the sweep extra" in _bad(capsys, write_sweep(tmp_path), "--out", tmp_path / "o")


def test_unreachable_scheduler_is_bad_input_naming_it(capsys, tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr(runner, "CONNECT_TIMEOUT_S", 1.0)
    err = _bad(capsys, write_sweep(tmp_path), "--scheduler", "tcp://127.0.0.1:9", "--out", tmp_path / "o",
               ticks=True)
    assert "cannot reach the Dask scheduler at 'tcp://127.0.0.1:9' within 1 s" in err


@pytest.mark.slow
def test_json_document_then_a_rerun_from_the_store(capsys, tmp_path):
    pytest.importorskip("distributed")
    sweep = write_sweep(tmp_path, hardware='[hardware]\npart = "xc7z020"\nweights = "dram"\nn_dsp = [16, 256]\nsram_bytes = [4, 65536]')
    code, out, err = _run(capsys, "sweep", sweep, "--out", tmp_path / "o", "--workers", "1", "--json", "--no-report")
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["total"], doc["computed"], doc["found"], doc["stored"]) == (8, 8, 0, 8)
    for p in doc["points"]:
        assert p["model"] == "tiny" and p["precision"] in ("ap_fixed<16,6>", "ap_fixed<8,3,AP_RND,AP_SAT>")
        assert {"part", "n_dsp", "sram_bytes", "clock_mhz", "dram_read_words_per_cycle"} <= set(p["hardware"])
        if p["hardware"]["sram_bytes"] == 4:
            assert p["status"] == "error" and "SRAM too small" in p["error"]
        else:
            assert p["status"] == "ok" and p["metrics"]["cycles"] > 0 and p["metrics"]["energy_total_pj"] > 0
            assert p["fits"] == (p["hardware"]["n_dsp"] == 16)       # xc7z020 has 220 DSP slices
    assert doc["pareto"] and all(k in {p["key"] for p in doc["points"]} for k in doc["pareto"])
    assert not (tmp_path / "o" / "sweep.html").exists()
    code, out, err = _run(capsys, "sweep", sweep, "--out", tmp_path / "o", "--workers", "1", "--quiet")
    assert code == 0, err
    assert out.strip().splitlines() == [
        f"8 of 8 points (0 computed, 8 found in the store), {len(doc['pareto'])} on the Pareto front",
        f"store: {tmp_path / 'o' / 'sweep.sqlite'}", f"report: {tmp_path / 'o' / 'sweep.html'}"]
    assert err == ""
    for name in ("pareto.png", "cycles_vs_dsp.png", "energy_vs_bits.png", "sweep.html", "sweep.sqlite"):
        assert (tmp_path / "o" / name).is_file()
