"""The `fpga-sim` command: one entry point, one module per command group.

Each module in COMMAND_MODULES has `register(subparsers, common)` that adds its commands with
`set_defaults(run=function)`; a command is `run(args, out) -> int`.  Heavy packages (torch,
`models`, `codegen`) are imported inside the commands that need them, so `fpga-sim --help`
stays fast.  Exit codes: 0 success, 1 a check failed, 2 bad input or usage, 3 a bug in fpga-sim
(printed with its traceback, so it can be reported).
"""
from __future__ import annotations

import argparse
import importlib
import sys
import traceback

from .. import __version__, _numba_cache
from ..errors import CheckFailed, FpgaSimError
from .console import Output

# One line per command group.
COMMAND_MODULES: tuple[str, ...] = (
    "flow", "sim", "hls", "hw", "zoo",
    "sweep",
    "advise",
    "robustness",
)

# Commands that run the simulator, and so compile its Numba kernels on a machine's first run.
COMPILING = frozenset({"flow", "simulate", "compare", "codegen", "seed-analysis", "compress", "sweep", "advise", "robustness"})

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT, EXIT_BUG = 0, 1, 2, 3


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print one machine-readable JSON document on stdout")
    common.add_argument("-q", "--quiet", action="store_true", help="print only errors and the final result")
    parser = argparse.ArgumentParser(
        prog="fpga-sim",
        description="Take a trained network to an FPGA on paper first: ONNX -> fixed point -> "
                    "cycle-level, bit-accurate simulation -> HLS C++, compared with float at every step.")
    parser.add_argument("--version", action="version", version=f"fpga-sim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(sub, common)
    return parser


def _one_sentence(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if text.endswith((".", "!", "?")) else text + "."


def _say(line: str) -> None:
    """One unwrapped line on stderr (a terminal wraps it; a log keeps it whole)."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def main(argv: list[str] | None = None) -> int:
    """Run `fpga-sim` with `argv` (default sys.argv[1:]) and return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:       # argparse: --help/--version (0) or usage error (2)
        return int(exc.code or 0)
    args.argv = list(sys.argv[1:] if argv is None else argv)     # reports record how they were made
    out = Output(json_mode=args.json, quiet=args.quiet)
    if args.command in COMPILING and _numba_cache.is_cold():
        out.note("first run: the simulator's kernels are compiled once (a minute or two of CPU), then cached")
    try:
        return int(args.run(args, out) or 0)
    except CheckFailed as exc:
        _say(f"fpga-sim {args.command}: check failed: {_one_sentence(exc)}")
        return EXIT_CHECK_FAILED
    except (FpgaSimError, ValueError, OSError) as exc:
        # FpgaSimError is a ValueError; OSError covers unreadable/unwritable paths.
        if isinstance(exc, OSError) and exc.filename:
            msg = f"{exc.strerror or exc}: {exc.filename}"
        else:
            msg = str(exc)
        _say(f"fpga-sim {args.command}: error: {_one_sentence(Exception(msg))}")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        _say("fpga-sim: interrupted")
        return 130
    except Exception:  # a bug, not bad input: keep the traceback for the report
        traceback.print_exc()
        _say(f"fpga-sim {args.command}: internal error (a bug in fpga-sim; please report it with the traceback above)")
        return EXIT_BUG


if __name__ == "__main__":  # python -m fpga_sim.cli
    sys.exit(main())
