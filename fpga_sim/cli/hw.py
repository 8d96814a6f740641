"""`fpga-sim parts` (the FPGA table) and `fpga-sim seed-analysis` (the lecture's 25-DSP cases)."""
from __future__ import annotations

import argparse
from pathlib import Path

from .console import Output, fmt


def cmd_parts(args: argparse.Namespace, out: Output) -> int:
    from rich.table import Table

    from ..parts import PARTS

    if out.json_mode:
        out.json([p.to_dict() for p in PARTS.values()])
        return 0
    table = Table(title="FPGA parts (device totals)", title_justify="left")
    for col, just in (("part", "left"), ("family", "left"), ("DSP slices", "right"), ("DSP ports", "right"),
                      ("BRAM36", "right"), ("URAM", "right"), ("on-chip KiB", "right"), ("default MHz", "right")):
        table.add_column(col, justify=just)
    for p in PARTS.values():
        table.add_row(p.name, p.family, fmt(p.dsp_slices), f"{p.dsp_a_bits}x{p.dsp_b_bits}", fmt(p.bram36),
                      fmt(p.uram), fmt(p.onchip_bytes // 1024), fmt(p.default_clock_mhz))
    out.print(table)
    return 0


def cmd_seed_analysis(args: argparse.Namespace, out: Output) -> int:
    from ..seed_analysis import plot_seed_sweep, run_seed_analysis

    with out.step("the lecture's three layers and the kernel-size sweep"):
        result = run_seed_analysis()
    if args.plot:
        plot_seed_sweep(result, Path(args.plot))
    if out.json_mode:
        out.json(result)
        return 0
    if hasattr(result, "print_tables"):
        result.print_tables(out.console)
    else:
        out.console.print(result)
    if args.plot:
        out.result(f"plot: {args.plot}")
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("parts", parents=[common], help="the FPGA parts fpga-sim knows (DSPs, BRAM, clock)",
                       description="List the FPGA parts a hardware configuration can target, with their DSP and "
                                   "on-chip RAM budgets.")
    p.set_defaults(run=cmd_parts)
    p = sub.add_parser("seed-analysis", parents=[common], help="the lecture's 25-DSP analysis through the engine",
                       description="The lecture's 13x13 image, 5 kernels of 5x5, 9x9 and 1x1 on 25 DSPs with one "
                                   "DRAM write per cycle, run through the general engine: cycles, bound, "
                                   "utilisation and energy, plus a sweep of kernel sizes 1..13.")
    p.add_argument("--plot", metavar="PNG", help="write the cycles-vs-kernel-size plot here")
    p.set_defaults(run=cmd_seed_analysis)
