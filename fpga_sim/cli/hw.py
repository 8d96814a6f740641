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
    out.result(f"parts: {', '.join(PARTS)}")
    return 0


def cmd_seed_analysis(args: argparse.Namespace, out: Output) -> int:
    from rich.table import Table

    from ..hardware import Hardware
    from ..seed_analysis import plot_seed_sweep, run_seed_analysis

    hw = Hardware.from_toml(args.hw) if args.hw else Hardware.lecture()
    with out.step("the lecture's three layers and the kernel-size sweep"):
        result = run_seed_analysis(hw)
    if args.plot:
        plot_seed_sweep(result, Path(args.plot))
    if out.json_mode:
        out.json(result)
        return 0
    s = result["setup"]
    cases = Table(title=f"{s['image']} image, {s['kernels']} kernels, {s['n_dsp']} DSPs, "
                        f"{fmt(s['dram_write_words_per_cycle'])} DRAM write(s)/cycle, {s['dtype']}", title_justify="left")
    for col in ("kernel", "outputs", "MACs/output", "cycles", "compute alone", "bound", "mult util", "write util",
                "energy pJ", "float32 pJ", "memory share"):
        cases.add_column(col, justify="left" if col in ("kernel", "bound") else "right")
    for r in result["rows"]:
        cases.add_row(r["kernel"], fmt(r["outputs"]), fmt(r["macs_per_output"]), fmt(r["cycles"]),
                      fmt(r["compute_only_cycles"]), r["bound_text"], f"{100 * r['mult_utilisation']:.0f}%",
                      f"{100 * r['write_utilisation']:.0f}%", fmt(r["energy_pj"]), fmt(r["energy_float32_pj"]),
                      f"{100 * r['memory_energy_share']:.1f}%")
    out.print(cases)
    et = result["energy_table"]
    energy = Table(title=f"energy table {et['name']} ({et['reference_bits']}-bit operands, pJ)", title_justify="left")
    energy.add_column("operation")
    energy.add_column("pJ", justify="right")
    for row in et["rows"]:
        energy.add_row(row["operation"], fmt(row["pj"]))
    out.print(energy)
    sweep = Table(title="kernel-size sweep", title_justify="left")
    for col in ("kernel", "outputs", "cycles", "compute alone", "DRAM writes alone", "bound", "mult util"):
        sweep.add_column(col, justify="left" if col in ("kernel", "bound") else "right")
    for r in result["sweep"]:
        sweep.add_row(r["kernel"], fmt(r["outputs"]), fmt(r["cycles"]), fmt(r["compute_only_cycles"]),
                      fmt(r["write_only_cycles"]), r["bound_text"], f"{100 * r['mult_utilisation']:.0f}%")
    out.print(sweep)
    if result.get("turn_kernel"):
        out.print(f"the layer stops being DRAM-write-bound at a {result['turn_kernel']}x{result['turn_kernel']} kernel")
    out.result("; ".join(f"{r['kernel']}: {fmt(r['cycles'])} cycles, {r['bound_text']}" for r in result["rows"]))
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
    p.add_argument("--hw", metavar="FILE", help="hardware TOML instead of the lecture's (25 DSPs, 1 write/cycle)")
    p.set_defaults(run=cmd_seed_analysis)
