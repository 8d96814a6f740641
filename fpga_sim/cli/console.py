"""Terminal output shared by every command: rich tables and progress, --json and --quiet."""
from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Iterator
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..report.jsonsafe import json_safe
from ..report.numbers import fmt
from ..results import BOUND_TEXT


class Output:
    """Where a command writes: tables for people, one JSON document for machines, or nothing.

    With --json the JSON goes to stdout and progress/tables are suppressed; with --quiet only
    errors (stderr) and the final result path(s) remain.
    """

    def __init__(self, json_mode: bool = False, quiet: bool = False) -> None:
        self.json_mode = json_mode
        self.quiet = quiet or json_mode
        # Piped or captured output gets a wide console so per-layer tables are not squeezed to 80 columns.
        width = None if sys.stdout.isatty() else 200
        self.console = Console(file=sys.stdout, highlight=False, soft_wrap=False, width=width)
        self.err = Console(file=sys.stderr, highlight=False, width=None if sys.stderr.isatty() else 200)

    def print(self, *objects: Any, **kw: Any) -> None:
        if not self.quiet:
            self.console.print(*objects, **kw)

    def note(self, text: str) -> None:
        """A progress remark (stderr, like the tick lines), silent under --quiet/--json."""
        if not self.quiet:
            self.err.print(text, markup=False, highlight=False)

    def warn(self, text: str) -> None:
        """A warning the user must see (stderr, one unwrapped line), kept under --quiet; with --json it
        is in the JSON document instead."""
        if not self.json_mode:
            sys.stderr.write(text + "\n")
            sys.stderr.flush()

    def result(self, text: str) -> None:
        """A line that survives --quiet (e.g. the path of what was written); not shown with --json."""
        if not self.json_mode:
            self.console.print(text)

    def json(self, obj: Any) -> None:
        if self.json_mode:
            sys.stdout.write(json.dumps(json_safe(obj), indent=2, allow_nan=False) + "\n")
            sys.stdout.flush()

    def progress(self, transient: bool = True) -> Progress:
        """A progress display; disabled (still usable) under --quiet or --json."""
        return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=self.err, transient=transient,
                        disable=self.quiet or not self.err.is_terminal)    # a log gets the tick lines only

    @contextlib.contextmanager
    def step(self, description: str, timings: list[dict[str, Any]] | None = None) -> Iterator[None]:
        """One named step of a longer job: a spinner while it runs, a tick and its time after."""
        start = time.perf_counter()
        if self.quiet:
            yield
        else:
            with self.err.status(escape(description) + " ..."):
                yield
        seconds = time.perf_counter() - start
        if timings is not None:
            timings.append({"name": description, "seconds": round(seconds, 3)})
        self.done(description, seconds)

    def done(self, description: str, seconds: float) -> None:
        """The tick line a finished step leaves behind."""
        if not self.quiet:
            self.err.print(f"[green]✓[/green] {escape(description)} [dim]({seconds:.1f} s)[/dim]", highlight=False)


def layer_table(layers: list[dict[str, Any]], samples: int, title: str = "per layer (one inference)") -> Table:
    """Per-layer cycles, bound, utilisation, DRAM words, energy (one inference) and overflow counts
    (over all `samples` simulated)."""
    table = Table(title=title, title_justify="left")
    for col in ("layer", "op"):
        table.add_column(col, no_wrap=True)
    for col in ("MACs", "cycles", "stall", "bound", "mult util", "DRAM rd", "DRAM wr", "energy nJ",
                f"overflows ({samples} samples)"):
        table.add_column(col, justify="left" if col == "bound" else "right")
    tot = {"macs": 0, "cycles": 0, "stall_cycles": 0, "dram_reads": 0, "dram_writes": 0, "energy": 0.0,
           "overflows": 0}
    for layer in layers:
        energy = float(sum(layer.get("energy_pj", {}).values()))
        on_acc = layer.get("on_accelerator", True)
        table.add_row(escape(layer["name"]), layer["op"], fmt(layer.get("macs", 0)), fmt(layer.get("cycles", 0)),
                      fmt(layer.get("stall_cycles", 0)), BOUND_TEXT.get(layer.get("bound", ""), layer.get("bound", "")) if on_acc else "host",
                      f"{100 * layer.get('mult_utilisation', 0.0):.0f}%", fmt(layer.get("dram_reads", 0)),
                      fmt(layer.get("dram_writes", 0)), fmt(energy / 1e3), fmt(layer.get("overflows", 0)))
        for key in ("macs", "cycles", "stall_cycles", "dram_reads", "dram_writes", "overflows"):
            tot[key] += layer.get(key, 0) if (on_acc or key not in ("cycles", "stall_cycles")) else 0
        tot["energy"] += energy
    table.add_section()
    table.add_row("total", "", fmt(tot["macs"]), fmt(tot["cycles"]), fmt(tot["stall_cycles"]), "", "",
                  fmt(tot["dram_reads"]), fmt(tot["dram_writes"]), fmt(tot["energy"] / 1e3), fmt(tot["overflows"]))
    return table


def kv_table(rows: dict[str, Any], title: str | None = None) -> Table:
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("", style="bold")
    table.add_column("", justify="right")
    for key, value in rows.items():
        table.add_row(escape(key), escape(fmt(value)))
    return table
