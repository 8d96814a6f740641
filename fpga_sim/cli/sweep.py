"""`fpga-sim sweep SWEEP.toml`: a design-space sweep on Dask, into a durable, resumable store.

Everything that can be bad input (the sweep file, its size, the models and precisions, the
output directory, dask itself, the scheduler) is checked before any point runs.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from ..errors import CheckFailed
from ..sweep.points import DEFAULT_MAX_POINTS
from . import inputs
from .console import Output, fmt

DEFAULT_OUT = "sweep_out"
LOG_EVERY_S = 5.0         # progress lines when stderr is not a terminal


class _Progress:
    """Points done / total, rate and ETA: a bar on a terminal, a line every few seconds in a log."""

    def __init__(self, out: Output) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.out = out
        self.bar = Progress(TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
                            TextColumn("ETA"), TimeRemainingColumn(), console=out.err, transient=True,
                            disable=out.quiet or not out.err.is_terminal)
        self.task = None
        self.start = time.perf_counter()
        self.first = 0
        self.last_line = 0.0

    def __enter__(self) -> "_Progress":
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bar.__exit__(*exc)

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if self.task is None:
            self.first, self.start = done, now
            self.task = self.bar.add_task("sweep", total=total, completed=done, rate="")
            return
        rate = (done - self.first) / (now - self.start) if now > self.start else 0.0
        self.bar.update(self.task, completed=done, rate=f"{rate:,.1f} points/s")
        if self.bar.disable and not self.out.quiet and (now - self.last_line >= LOG_EVERY_S or done == total):
            self.last_line = now
            eta = (total - done) / rate if rate > 0 else float("nan")
            self.out.note(f"sweep: {done:,}/{total:,} points, {rate:,.1f} points/s, ETA {eta:,.0f} s")


def _cluster(args: argparse.Namespace, out: Output) -> tuple[Any, Any]:
    from ..sweep import runner

    if args.scheduler:
        with out.step(f"connect to the Dask scheduler at {args.scheduler}"):
            return None, runner.connect(args.scheduler)
    n = args.workers or runner.default_workers()
    with out.step(f"start a local Dask cluster of {n} worker processes"):
        return runner.local_cluster(n)


def _front_table(record: dict[str, Any], front: list[dict[str, Any]]) -> Any:
    from rich.markup import escape
    from rich.table import Table

    axes = list(record["axes"])
    metrics = list(dict.fromkeys(record["objectives"] + ["cycles", "energy_total_pj"]))
    table = Table(title=f"Pareto front over {', '.join(record['objectives'])} ({len(front)} of {record['stored']} points)",
                  title_justify="left")
    for col in ["model", "precision"] + axes + metrics:
        table.add_column(col, justify="left" if col in ("model", "precision") else "right", no_wrap=True)
    for r in front:
        table.add_row(escape(r["model"]), escape(r["precision"]), *[fmt(r["hardware"][a]) for a in axes],
                      *[fmt(r["metrics"].get(m)) for m in metrics])
    return table


def cmd_sweep(args: argparse.Namespace, out: Output) -> int:
    from ..sweep import pareto, points, report, runner, sources, spec, store

    sweep = spec.load_spec(args.sweep)
    points.check_size(sweep, args.max_points)
    store.check_directory(args.out)
    runner._dask()                                   # a missing dask is bad input, before the slow part
    with out.step(f"load {len(sweep.models)} model(s) and their data"):
        models = sources.load_models(sweep, cache_dir=args.cache_dir, progress=not out.quiet)
    with out.step(f"check {len(models) * len(sweep.precisions)} (model, precision) pairs quantise"):
        sources.check_quantise(models, sweep.precisions)
    planned = runner.plan(sweep, models)
    with store.Store(args.out) as db:
        missing = len(planned) - len(db.present(pt.key for pt in planned))
        cluster, client = _cluster(args, out) if missing else (None, None)    # a finished sweep needs no cluster
        try:
            link = runner.dashboard_link(client, local=cluster is not None) if client is not None else None
            if link:
                out.note(f"Dask dashboard: {link}")
            with _Progress(out) as progress:
                result = runner.run(sweep, models, db, client, size=args.batch, on_progress=progress, points=planned)
        finally:
            if client is not None:
                client.close()
            if cluster is not None:
                cluster.close()
        store_path = db.path
    out.done(f"{result.computed:,} points computed, {result.found:,} found in the store", result.seconds)
    front = pareto.pareto_front(result.rows, sweep.objectives)
    record = report.sweep_record(sweep, result, front, store_path)
    if not args.no_report:
        with out.step("write the plots and the sweep report"):
            report.write_report(record, args.out)
    if out.json_mode:
        out.json(record)
    else:
        out.print(_front_table(record, front))
        for e in record["errors"]:
            out.note(f"{e['points']} point(s) invalid: {e['error']}")
        out.result(f"{record['stored']:,} of {record['total']:,} points ({result.computed:,} computed, "
                   f"{result.found:,} found in the store), {len(front)} on the Pareto front")
        out.result(f"store: {store_path}")
        if record.get("report"):
            out.result(f"report: {record['report']}")
    if record["missing"]:
        raise CheckFailed(f"{record['missing']} points were lost with their workers ({'; '.join(result.failed[:1])}); "
                          f"run the same command again to compute only them")
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("sweep", parents=[common], help="a design-space sweep (hardware x precision x model) on Dask",
                       description="Run every point of a sweep file (models x precisions x hardware axes, or a "
                                   "random/Latin-hypercube sample) on a Dask cluster, store each point as it finishes "
                                   "in DIR/sweep.sqlite (a rerun computes only what is missing), and write the Pareto "
                                   "front, plots and DIR/sweep.html.")
    p.add_argument("sweep", metavar="SWEEP.toml", help="the sweep file (see the README's 'Design-space sweeps')")
    p.add_argument("--out", default=DEFAULT_OUT, metavar="DIR", help=f"store and report directory (default {DEFAULT_OUT})")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=inputs.positive_int, metavar="N",
                       help="worker processes of the embedded local cluster (default: one per CPU core)")
    where.add_argument("--scheduler", metavar="ADDRESS", help="an existing Dask scheduler, e.g. tcp://host:8786")
    p.add_argument("--max-points", type=inputs.positive_int, default=DEFAULT_MAX_POINTS, metavar="N",
                   help=f"refuse a sweep of more points than this (default {DEFAULT_MAX_POINTS:,})")
    p.add_argument("--batch", type=inputs.positive_int, metavar="N", help="points per Dask task (default: sized to the run)")
    p.add_argument("--no-report", action="store_true", help="store the points but draw no plots or HTML")
    p.add_argument("--cache-dir", metavar="DIR", help="where bundled models' checkpoints are cached")
    p.set_defaults(run=cmd_sweep)
