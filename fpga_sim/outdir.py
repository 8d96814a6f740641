"""Writing output directories atomically: build in a temporary sibling, then rename into place."""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import FpgaSimError

# A directory holding one of these is ours to replace.
OWN_MARKERS = ("report.json", ".fpga-sim-out")


def _replaceable(path: Path) -> bool:
    return not path.exists() or (path.is_dir() and (not any(path.iterdir())
                                                     or any((path / m).exists() for m in OWN_MARKERS)))


def check_replaceable(path: str | Path) -> None:
    """Fail early (before any work) when `path` exists and is not ours to replace."""
    if not _replaceable(Path(path).resolve()):
        raise FpgaSimError(f"output directory {str(path)!r} exists and is not an fpga-sim output; "
                           "choose another output directory (--out) or remove it")


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a fresh temporary directory beside `path`; on success it replaces `path`, on failure it
    is removed, so `path` holds either the previous complete output or the new complete one.

    An existing `path` is replaced only when it is empty or an earlier fpga-sim output.
    """
    final = Path(path).resolve()
    check_replaceable(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)        # mkdtemp makes it private; the output is an ordinary directory
    try:
        (tmp / ".fpga-sim-out").write_text("written by fpga-sim; the whole directory is replaced on the next run\n")
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if final.exists():
        old = final.parent / f".{final.name}.old-{os.getpid()}"
        os.rename(final, old)
    os.rename(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
