"""Atomic output directories: a failure leaves the previous output (or nothing), never half of one."""
from __future__ import annotations

import re

import pytest

from fpga_sim.outdir import atomic_dir
from fpga_sim.errors import FpgaSimError


def _leftovers(parent):
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def test_success_creates_the_directory(tmp_path):
    with atomic_dir(tmp_path / "out") as d:
        (d / "report.json").write_text("{}")
    assert (tmp_path / "out" / "report.json").read_text() == "{}"
    assert _leftovers(tmp_path) == []


def test_failure_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError, match="boom"):   # the body's own error, passed through
        with atomic_dir(tmp_path / "out") as d:
            (d / "half.txt").write_text("half")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_failure_keeps_the_previous_output(tmp_path):
    with atomic_dir(tmp_path / "out") as d:
        (d / "report.json").write_text("old")
    with pytest.raises(RuntimeError, match="boom"):   # the body's own error, passed through
        with atomic_dir(tmp_path / "out") as d:
            (d / "report.json").write_text("new, half")
            raise RuntimeError("boom")
    assert (tmp_path / "out" / "report.json").read_text() == "old"
    with atomic_dir(tmp_path / "out") as d:
        (d / "report.json").write_text("new")
    assert (tmp_path / "out" / "report.json").read_text() == "new"
    assert _leftovers(tmp_path) == []


def test_refuses_to_replace_a_directory_that_is_not_ours(tmp_path):
    mine = tmp_path / "thesis"
    mine.mkdir()
    (mine / "chapter1.tex").write_text("precious")
    with pytest.raises(FpgaSimError, match=re.escape(f"'{mine}' exists and is not an fpga-sim output; choose another output directory (--out) or remove it")):
        with atomic_dir(mine):
            pass
    assert (mine / "chapter1.tex").read_text() == "precious"
