"""Numba's on-disk cache, keyed on every kernel source of fpga_sim at once.

Numba re-compiles a cached kernel only when the kernel's own file changes, yet a kernel inlines
the kernels it calls from other files (`requant` from fixed_kernels.py sits inside every MAC
loop).  After an edit or an in-place upgrade, a caller's cached machine code would keep the old
arithmetic: wrong numbers with no error.  So the cache lives in a directory named by a hash of
all kernel sources; any change to any of them starts a fresh directory.  A user's own
NUMBA_CACHE_DIR is respected as the parent of that directory.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import sys
import time
from pathlib import Path

from .cache import cache_root

PACKAGE = Path(__file__).resolve().parent
ENV = "NUMBA_CACHE_DIR"
STALE_DAYS = 7          # other hash directories untouched this long are removed


def kernel_sources(root: Path = PACKAGE) -> list[Path]:
    """Every module under `root` that compiles Numba kernels."""
    return sorted(p for p in root.rglob("*.py") if "njit" in p.read_text(encoding="utf-8"))


def source_hash(paths: list[Path], root: Path = PACKAGE) -> str:
    """16 hex digits over the relative paths and contents of `paths`."""
    h = hashlib.sha256()
    for p in paths:
        h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def base_dir() -> Path:
    """Where the hash directories live: the user's NUMBA_CACHE_DIR, else fpga-sim's cache root."""
    user = os.environ.get(ENV)
    if user:
        return Path(user)
    return cache_root() / "numba"


def activate() -> Path:
    """Point Numba's cache at the directory of the current kernel sources, before any kernel
    is compiled; child processes inherit it through the environment."""
    digest = source_hash(kernel_sources())
    base = base_dir()
    path = base if base.name == digest else base / digest      # inherited from a parent process
    os.environ[ENV] = str(path)
    if "numba" in sys.modules:                                  # imported before fpga_sim
        sys.modules["numba"].config.CACHE_DIR = str(path)
    _prune(path.parent, keep=path)
    return path


def is_cold() -> bool:
    """True when no kernel has been compiled into the active directory yet (the first run)."""
    path = Path(os.environ.get(ENV, ""))
    return not (path.is_dir() and any(path.rglob("*.nbi")))


def _prune(parent: Path, keep: Path) -> None:
    """Remove hash directories of older sources that nobody has used for STALE_DAYS."""
    try:
        old = [d for d in parent.iterdir() if d != keep and d.is_dir() and len(d.name) == 16
               and all(c in "0123456789abcdef" for c in d.name)
               and time.time() - d.stat().st_mtime > STALE_DAYS * 86400]
    except OSError:
        return
    for d in old:
        shutil.rmtree(d, ignore_errors=True)
