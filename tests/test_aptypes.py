"""find_ap_types: explicit path, environment, Vitis install, hls4ml's copy, and a clear failure."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from fpga_sim import aptypes
from fpga_sim.aptypes import find_ap_types
from fpga_sim.errors import FpgaSimError


def _fake_headers(d: Path) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / "ap_fixed.h").write_text("// fake\n")
    return d


@pytest.fixture
def clean_env(monkeypatch):
    monkeypatch.delenv("FPGA_SIM_AP_TYPES", raising=False)
    monkeypatch.delenv("XILINX_HLS", raising=False)
    return monkeypatch


def test_explicit_wins_over_environment(tmp_path, clean_env):
    a = _fake_headers(tmp_path / "a")
    clean_env.setenv("FPGA_SIM_AP_TYPES", str(_fake_headers(tmp_path / "b")))
    assert find_ap_types(a) == a.resolve()
    assert find_ap_types(str(a)) == a.resolve()


def test_explicit_without_header_is_an_error(tmp_path, clean_env):
    with pytest.raises(FpgaSimError, match="given explicitly does not contain ap_fixed.h; pass the directory that holds ap_fixed.h"):
        find_ap_types(tmp_path)


def test_env_var_then_xilinx_hls(tmp_path, clean_env):
    x = _fake_headers(tmp_path / "vitis" / "include")
    clean_env.setenv("XILINX_HLS", str(tmp_path / "vitis"))
    assert find_ap_types() == x.resolve()
    e = _fake_headers(tmp_path / "env")
    clean_env.setenv("FPGA_SIM_AP_TYPES", str(e))
    assert find_ap_types() == e.resolve()
    clean_env.setenv("FPGA_SIM_AP_TYPES", str(tmp_path / "missing"))
    with pytest.raises(FpgaSimError, match=r"\$FPGA_SIM_AP_TYPES='.*missing' does not contain ap_fixed.h; set it to the directory"):
        find_ap_types()


def test_hls4ml_copy_found_without_importing_hls4ml(clean_env):
    if importlib.util.find_spec("hls4ml") is None:
        pytest.skip("hls4ml is not installed, so its ap_types copy cannot be located")
    clean_env.delitem(sys.modules, "hls4ml", raising=False)
    d = find_ap_types()
    assert (d / "ap_fixed.h").is_file()
    assert d.parts[-3:] == ("templates", "vivado", "ap_types")
    assert "hls4ml" not in sys.modules


def test_nothing_found_names_every_place(tmp_path, clean_env):
    clean_env.setenv("XILINX_HLS", str(tmp_path / "nothing"))
    clean_env.setattr(aptypes, "_hls4ml_copy", lambda: None)
    with pytest.raises(FpgaSimError) as info:
        find_ap_types()
    msg = str(info.value)
    for place in ("FPGA_SIM_AP_TYPES", "XILINX_HLS", "hls4ml", "pip install hls4ml"):
        assert place in msg
