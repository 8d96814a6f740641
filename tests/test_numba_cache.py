"""The Numba cache directory follows every kernel source, so no caller keeps stale inlined code."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from fpga_sim import _numba_cache


def _tree(tmp_path: Path, body: str) -> Path:
    (tmp_path / "ops").mkdir(exist_ok=True)
    (tmp_path / "kernels.py").write_text("from numba import njit\n@njit\ndef f(x):\n    return x\n")
    (tmp_path / "ops" / "mac.py").write_text(body)
    (tmp_path / "cli.py").write_text("print('no kernels here')\n")
    return tmp_path


def test_hash_changes_with_any_kernel_source_and_only_those(tmp_path):
    root = _tree(tmp_path, "from numba import njit\nX = 1\n")
    srcs = _numba_cache.kernel_sources(root)
    assert [p.name for p in srcs] == ["kernels.py", "mac.py"]
    before = _numba_cache.source_hash(srcs, root)
    (root / "cli.py").write_text("print('edited')\n")
    assert _numba_cache.source_hash(_numba_cache.kernel_sources(root), root) == before
    (root / "ops" / "mac.py").write_text("from numba import njit\nX = 2\n")
    after = _numba_cache.source_hash(_numba_cache.kernel_sources(root), root)
    assert after != before and len(after) == 16


def test_kernels_cache_under_the_hash_directory():
    from fpga_sim.fixed_kernels import requant

    import numba

    want = os.environ[_numba_cache.ENV]
    assert Path(want).name == _numba_cache.source_hash(_numba_cache.kernel_sources())
    assert numba.config.CACHE_DIR == want
    requant(np.int64(5), 1, 8, True, 0, 0)
    assert requant._cache._cache_path.startswith(want)


def test_a_child_process_inherits_the_directory_without_nesting():
    code = "import os, fpga_sim; print(os.environ['NUMBA_CACHE_DIR'])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ))
    assert out.stdout.strip() == os.environ[_numba_cache.ENV]


def test_a_directory_without_compiled_kernels_is_cold(tmp_path, monkeypatch):
    monkeypatch.setenv(_numba_cache.ENV, str(tmp_path / "empty"))
    assert _numba_cache.is_cold()
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "sub" / "k.nbi").write_bytes(b"")
    assert not _numba_cache.is_cold()


def test_the_cache_root_follows_fpga_sim_cache_then_xdg(tmp_path, monkeypatch):
    from fpga_sim.cache import cache_root

    monkeypatch.delenv("FPGA_SIM_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "fpga-sim"
    monkeypatch.setenv("FPGA_SIM_CACHE", str(tmp_path / "own"))
    assert cache_root() == tmp_path / "own"
