"""Where first-run time goes: Numba's own compile events, recorded around a piece of work.

`numba:compile` events bracket every compilation of a dispatcher for one signature (a cache
load is not a compile event).  A kernel compiling the kernels it calls nests their events in
its own, so the total counts only the outermost ones; each function is listed with its own
outermost time, the signatures it was compiled for, and how often.
"""
from __future__ import annotations

import contextlib
from collections import defaultdict
from typing import Any, Iterator


@contextlib.contextmanager
def compile_events() -> Iterator[dict[str, Any]]:
    """Record the compilations inside the block; the yielded dict is filled on exit with
    {"compile_s": outermost total (wall), "compiles": count, "functions": [{name, s, signatures}],
    "cpu_s": the block's process CPU time (on a loaded machine wall time overstates the work)}."""
    from numba.core import event

    import time

    out: dict[str, Any] = {}
    cpu0 = time.process_time()
    with event.install_recorder("numba:compile") as rec:
        yield out
    out["cpu_s"] = time.process_time() - cpu0     # the block's CPU time (compiles are single-threaded)
    stack: list[tuple[float, str, str]] = []
    per: dict[str, dict[str, Any]] = defaultdict(lambda: {"s": 0.0, "signatures": []})
    total, count = 0.0, 0
    for ts, ev in rec.buffer:
        data = ev.data or {}
        disp = data.get("dispatcher")
        name = getattr(getattr(disp, "py_func", None), "__qualname__", str(disp))
        module = getattr(getattr(disp, "py_func", None), "__module__", "")
        full = f"{module}.{name}" if module else name
        if ev.is_start:
            stack.append((ts, full, str(data.get("args", ""))))
        elif stack:
            t0, fname, args = stack.pop()
            count += 1
            if not stack:
                total += ts - t0
                per[fname]["s"] += ts - t0
                per[fname]["signatures"].append(args)
    out["compile_s"] = total
    out["compiles"] = count
    out["functions"] = sorted(({"name": k, **v} for k, v in per.items()), key=lambda r: -r["s"])
