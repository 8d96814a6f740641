"""Running a sweep: the points not yet in the store, in batches, on Dask (or a serial loop).

The client plans the points, looks their keys up in the store, and submits only the missing ones,
grouped by (model, precision) into batches big enough that scheduling stays a small share of the
run.  Each model's data goes to the cluster once, as a task of its own (so the scheduler can
recompute it if the worker holding it dies); a batch whose worker dies is rerun by Dask on
another worker.  The client writes each finished batch to the store in one transaction.
dask is imported only here, and only when a cluster is asked for (the `sweep` extra).
"""
from __future__ import annotations

import contextlib
import math
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import FpgaSimError
from .evaluate import evaluate_batch
from .points import Point, make_points
from .sources import ModelInput, precision_id
from .spec import SweepSpec
from .store import Store

CONNECT_TIMEOUT_S = 10.0            # an unreachable scheduler is reported within this (and < 15 s)
BATCH_TARGET = {"cost": 256, "simulate": 16}   # points per task when there are plenty
BATCHES_PER_WORKER = 4              # at least this many tasks per worker, for balance and progress
IN_FLIGHT_PER_WORKER = 3            # tasks submitted ahead per worker (one running, the next ones queued)

LOST = ("KilledWorker", "CancelledError", "FutureCancelledError")   # a batch lost with its workers
Progress = Callable[[int, int], None]


@dataclass
class RunResult:
    points: list[Point]                    # every point of the sweep, in grid order
    rows: list[dict[str, Any]]             # their stored rows, in the same order
    computed: int                          # points this run computed (and stored)
    found: int                             # points already in the store
    failed: list[str] = field(default_factory=list)   # batches lost (their points stay missing)
    seconds: float = 0.0                   # wall time of the computing part
    busy_seconds: float = 0.0              # summed time the workers spent in batches
    workers: int = 1
    batches: int = 0


def plan(spec: SweepSpec, models: list[ModelInput]) -> list[Point]:
    model_ids = [{"label": m.label, "digest": m.digest} for m in models]
    return make_points(spec, model_ids, [precision_id(p) for p in spec.precisions])


def batch_size(mode: str, todo: int, workers: int) -> int:
    return max(1, min(BATCH_TARGET[mode], math.ceil(todo / max(1, BATCHES_PER_WORKER * workers))))


def batches(points: list[Point], size: int) -> list[tuple[int, int, list[Point]]]:
    """(model, precision, points) chunks, each of one (model, precision), in grid order."""
    groups: dict[tuple[int, int], list[Point]] = {}
    for pt in points:
        groups.setdefault((pt.model, pt.precision), []).append(pt)
    return [(m, p, pts[i:i + size]) for (m, p), pts in groups.items() for i in range(0, len(pts), size)]


def _timed_batch(model: ModelInput, precision: Any, mode: str, points: list[Point]) -> tuple[list[dict[str, Any]], float]:
    start = time.perf_counter()
    rows = evaluate_batch(model, precision, mode, points)
    return rows, time.perf_counter() - start


def _identity(x: Any) -> Any:
    return x


def run(spec: SweepSpec, models: list[ModelInput], store: Store, client: Any = None, *,
        size: int | None = None, on_progress: Progress | None = None,
        points: list[Point] | None = None) -> RunResult:
    """Compute the sweep's missing points (on `client`, a dask.distributed Client, or serially
    in this process when None) and return every point with its stored row.  `points`: the
    sweep's plan when the caller has made it already."""
    points = plan(spec, models) if points is None else points
    present = store.present(pt.key for pt in points)
    todo = [pt for pt in points if pt.key not in present]
    workers = max(1, len(client.scheduler_info().get("workers", {}))) if client is not None else 1
    chunks = batches(todo, size or batch_size(spec.mode, len(todo), workers))
    run_id = store.start_run(spec.path, len(points), len(present), str(workers))
    result = RunResult(points, [], 0, len(present), workers=workers, batches=len(chunks))
    total, done = len(points), len(present)
    if on_progress:
        on_progress(done, total)
    start = time.perf_counter()
    try:
        with contextlib.closing(_results(spec, models, chunks, client, result)) as finished:
            for rows, busy in finished:
                result.computed += store.put(rows, run_id)
                result.busy_seconds += busy
                done += len(rows)
                if on_progress:
                    on_progress(done, total)
    finally:
        result.seconds = time.perf_counter() - start
        store.finish_run(run_id, result.computed, len(result.failed))
    by_key = {r["key"]: r for r in store.rows(pt.key for pt in points)}
    result.rows = [by_key[pt.key] for pt in points if pt.key in by_key]
    return result


def _results(spec: SweepSpec, models: list[ModelInput], chunks: list[tuple[int, int, list[Point]]],
             client: Any, result: RunResult):
    """(rows, busy seconds) of each batch as it finishes."""
    if client is None:
        for m, p, pts in chunks:
            yield _timed_batch(models[m], spec.precisions[p], spec.mode, pts)
        return
    from distributed import as_completed

    used = sorted({m for m, _, _ in chunks})
    data = {m: client.submit(_identity, models[m], key=f"sweep-model-{models[m].digest[:20]}") for m in used}
    token = uuid.uuid4().hex[:12]
    queue = iter(enumerate(chunks))

    def submit() -> Any:
        nxt = next(queue, None)
        if nxt is None:
            return None
        i, (m, p, pts) = nxt
        return client.submit(_timed_batch, data[m], spec.precisions[p], spec.mode, pts, pure=False,
                             key=f"sweep-batch-{token}-{i}")

    # A window of tasks in flight (not the whole sweep), so the scheduler never holds 100,000s of points.
    workers = max(1, result.workers)
    outstanding = {f for f in (submit() for _ in range(IN_FLIGHT_PER_WORKER * workers)) if f is not None}
    finished = as_completed(list(outstanding))
    try:
        for fut in finished:
            outstanding.discard(fut)
            try:
                rows = fut.result()
            except Exception as e:
                if type(e).__name__ not in LOST:
                    raise
                result.failed.append(f"{type(e).__name__}: {e}")   # its points stay missing; a rerun retries them
            else:
                yield rows
            fut.release()
            more = submit()
            if more is not None:
                outstanding.add(more)
                finished.add(more)
    finally:
        client.cancel(list(outstanding))


# ------------------------------------------------------------------------------ clusters
def _dask() -> Any:
    try:
        import distributed
    except ImportError:
        raise FpgaSimError("fpga-sim sweep runs on Dask, which is not installed; install the sweep extra "
                           "with pip install -e '.[sweep]' (dask[distributed])") from None
    return distributed


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:        # not on Linux
        return os.cpu_count() or 1


def local_cluster(workers: int | None = None) -> tuple[Any, Any]:
    """(cluster, client): worker processes on 127.0.0.1, one thread each, sized to the machine by
    default.  The scheduler's HTTP server (the dashboard, with bokeh) takes a free loopback port."""
    import logging

    distributed = _dask()
    cluster = distributed.LocalCluster(
        n_workers=workers or default_workers(), threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR,
        env={"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
    return cluster, distributed.Client(cluster)


def connect(address: str, timeout: float | None = None) -> Any:
    """A Client of a running scheduler, or bad input naming the address within the timeout."""
    distributed = _dask()
    timeout = CONNECT_TIMEOUT_S if timeout is None else timeout
    try:
        return distributed.Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as e:
        raise FpgaSimError(f"cannot reach the Dask scheduler at {address!r} within {timeout:g} s ({e}); "
                           "start one with `dask scheduler` (and workers with `dask worker ADDRESS`) "
                           "or check the address") from None


def dashboard_link(client: Any, local: bool = True) -> str | None:
    """The dashboard's address, when the scheduler serves one (its pages need bokeh, which a local
    cluster has when this process has it)."""
    import importlib.util

    if "dashboard" not in client.scheduler_info().get("services", {}):
        return None
    if local and importlib.util.find_spec("bokeh") is None:
        return None
    return client.dashboard_link
