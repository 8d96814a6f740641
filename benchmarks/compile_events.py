"""Where first-run time goes: Numba's own compile events, recorded around a piece of work.

`numba:compile` events bracket every compilation of a dispatcher for one signature (a cache
load is not a compile event).  A kernel compiling the kernels it calls nests their events in
its own, so the total counts only the outermost ones; each function is listed with its own
outermost time, the signatures it was compiled for, and how often.
"""
from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from typing import Any, Iterator


def _recorder() -> Any:
    """A Numba listener keeping (wall, process CPU, event) of every compile event."""
    from numba.core import event

    class Recorder(event.Listener):
        def __init__(self) -> None:
            self.buffer: list[tuple[float, float, Any]] = []

        def on_start(self, ev: Any) -> None:
            self.buffer.append((time.perf_counter(), time.process_time(), ev))

        on_end = on_start

    return Recorder()


@contextlib.contextmanager
def compile_events() -> Iterator[dict[str, Any]]:
    """Record the compilations inside the block; the yielded dict is filled on exit with
    {"compile_s": outermost total (wall), "compile_cpu_s": the same in process CPU time (what a
    loaded machine does not inflate: compiles are single-threaded), "compiles": count,
    "functions": [{name, s, cpu_s, signatures}], "cpu_s": the block's process CPU time}."""
    from numba.core import event

    out: dict[str, Any] = {}
    cpu0 = time.process_time()
    rec = _recorder()
    with event.install_listener("numba:compile", rec):
        yield out
    out["cpu_s"] = time.process_time() - cpu0
    stack: list[tuple[float, float, str, str]] = []
    per: dict[str, dict[str, Any]] = defaultdict(lambda: {"s": 0.0, "cpu_s": 0.0, "signatures": []})
    total, total_cpu, count = 0.0, 0.0, 0
    for ts, cpu, ev in rec.buffer:
        data = ev.data or {}
        disp = data.get("dispatcher")
        name = getattr(getattr(disp, "py_func", None), "__qualname__", str(disp))
        module = getattr(getattr(disp, "py_func", None), "__module__", "")
        full = f"{module}.{name}" if module else name
        if ev.is_start:
            stack.append((ts, cpu, full, str(data.get("args", ""))))
        elif stack:
            t0, c0, fname, args = stack.pop()
            count += 1
            if not stack:
                total += ts - t0
                total_cpu += cpu - c0
                per[fname]["s"] += ts - t0
                per[fname]["cpu_s"] += cpu - c0
                per[fname]["signatures"].append(args)
    out["compile_s"] = total
    out["compile_cpu_s"] = total_cpu
    out["compiles"] = count
    out["functions"] = sorted(({"name": k, **v} for k, v in per.items()), key=lambda r: -r["cpu_s"])
