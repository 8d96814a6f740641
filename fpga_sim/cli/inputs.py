"""What commands read: a model (bundled name or ONNX file), hardware, arrays, data to run on.

Every failure here is bad input: an `FpgaSimError` naming the file or flag and what is accepted.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FpgaSimError

DEFAULT_MODEL = "lenet"
# The one default of every command that quantises a model (flow, simulate, compare, codegen, compress;
# benchmarks/compression.py imports it too): 16 bits, integer bits from the calibration ranges,
# AP_RND/AP_SAT.  With the whole digits training split as calibration it overflows on none of the
# bundled models; a fixed ap_fixed<16,6> wraps the logits of lenet_wide_shared (they reach -44.9).
DEFAULT_PRECISION = "auto<16>"


@dataclass
class ModelSource:
    """An ONNX file to run and what is known about it."""

    name: str
    onnx_path: Path
    bundled: bool = False                 # one of models/' trained architectures (digits data)
    accuracy: float | None = None         # test accuracy recorded when it was trained
    info: dict[str, Any] = field(default_factory=dict)


def is_onnx_path(spec: str) -> bool:
    return spec.lower().endswith(".onnx") or "/" in spec or Path(spec).exists()


def resolve_model(spec: str | None, *, cache_dir: str | None = None, progress: bool = True) -> ModelSource:
    """A path to an .onnx file, or a bundled model name: the shipped ONNX when it ships (lenet, mlp:
    `fpga_sim.bundled`), else trained by its recipe (or taken from the checkpoint cache)."""
    spec = spec or DEFAULT_MODEL
    if is_onnx_path(spec):
        path = Path(spec)
        if not path.is_file():
            raise FpgaSimError(f"model file {spec!r} does not exist (give a path to an .onnx file or a bundled model name)")
        return ModelSource(name=path.stem, onnx_path=path)
    from ..bundled import bundled_names, get_bundled

    if spec in bundled_names():          # shipped inside the package: no torch, no training
        shipped = get_bundled(spec)
        return ModelSource(name=spec, onnx_path=shipped.onnx_path, bundled=True, accuracy=shipped.accuracy,
                           info={"shipped": True, "made_by": shipped.metadata.get("made_by", "")})
    try:
        from models import get_trained  # torch: only when a model that does not ship is asked for
    except ImportError as exc:
        raise FpgaSimError(f"model {spec!r} does not ship trained and training it needs the models extra ({exc}); "
                           f"install it with pip install -e '.[models]', use a shipped model "
                           f"({', '.join(bundled_names())}), or pass a path to an .onnx file") from None
    trained = get_trained(name=spec, cache_dir=cache_dir, progress=progress)
    info = {k: v for k, v in vars(trained).items() if isinstance(v, (str, int, float, bool))} if hasattr(
        trained, "__dict__") else {}
    return ModelSource(name=spec, onnx_path=Path(trained.onnx_path), bundled=True,
                       accuracy=getattr(trained, "accuracy", None), info=info)


def load_graph(path: Path):
    """The float graph of an ONNX file (the importer raises clear errors for bad files)."""
    from ..onnx_import import load_onnx

    return load_onnx(str(path))


def load_hardware(hw_file: str | None, target: str | None = None, **overrides: Any):
    """`Hardware` from a TOML file (or the defaults, fitted to a small target part), with the target
    part and overrides applied."""
    from ..hardware import Hardware

    hw = Hardware.from_toml(hw_file) if hw_file else Hardware()
    changes = {k: v for k, v in overrides.items() if v is not None}
    if target:
        changes["part"] = target
        if not hw_file:     # the default machine, shrunk where a small part cannot hold it
            from ..parts import get_part

            part = get_part(target)
            changes.setdefault("n_dsp", min(hw.n_dsp, part.dsp_slices))
            changes.setdefault("sram_bytes", min(hw.sram_bytes, part.onchip_bytes))
    return hw.replace(**changes) if changes else hw


def checked_options(args: argparse.Namespace) -> tuple[str, Any]:
    """(precision, hardware) from the options every model command shares, checked (with the
    --config file) before any slow work starts."""
    precision = check_precision(args.precision)
    hw = load_hardware(args.hw, args.target)
    check_config(args.config)
    return precision, hw


def load_model(args: argparse.Namespace, out: Any) -> tuple[ModelSource, Any]:
    """The model named by args.model (trained or reused if bundled) and its float graph."""
    with out.step("load model"):
        model = resolve_model(args.model, cache_dir=args.cache_dir, progress=not out.quiet)
        return model, load_graph(model.onnx_path)


def precision_given(args: argparse.Namespace) -> bool:
    """Whether --precision was on the command line (not its default)."""
    return any(a == "--precision" or a.startswith("--precision=") for a in getattr(args, "argv", []) or [])


def check_precision(precision: str) -> str:
    """Fail early, naming the flag, on a precision the quantiser cannot parse (ap_fixed<...>, auto<W>)."""
    from ..quantization import parse_type

    parse_type(precision, "--precision")
    return precision


def load_array(path: str, flag: str = "--input") -> np.ndarray:
    """A NumPy array from an .npy file, or an FpgaSimError naming the flag and the file."""
    p = Path(path)
    if not p.is_file():
        raise FpgaSimError(f"{flag} file {path!r} does not exist")
    try:
        arr = np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise FpgaSimError(f"{flag} file {path!r} is not a readable .npy array ({exc})") from None
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "biuf":
        raise FpgaSimError(f"{flag} file {path!r} must hold a numeric array")
    return arr


def as_batch(x: np.ndarray, shape: tuple[int, ...], flag: str = "--input") -> np.ndarray:
    """One sample of the graph's per-sample shape, or a batch of them, as a float batch."""
    x = np.asarray(x, dtype=np.float64)
    if tuple(x.shape) == tuple(shape):
        return x[None]
    if tuple(x.shape[1:]) == tuple(shape):
        return x
    raise FpgaSimError(f"{flag} array has shape {tuple(x.shape)}; the model's input takes {tuple(shape)} "
                       f"per sample, or (N, {', '.join(map(str, shape))}) for a batch")


def is_digits_shape(shape: tuple[int, ...]) -> int | None:
    """The digits image size the input shape takes (8, 16, 32 as 1xHxW or flat H*W), else None."""
    for size in (8, 16, 32):
        if tuple(shape) in ((1, size, size), (size * size,)):
            return size
    return None


@dataclass
class Dataset:
    """Calibration inputs, evaluation inputs and (when known) their labels."""

    name: str
    calibration: np.ndarray
    x: np.ndarray
    y: np.ndarray | None


def default_data(shape: tuple[int, ...], *, samples: int | None = None, calibration: int | None = None,
                 seed: int = 0) -> Dataset:
    """The digits split when the input takes digits images (calibration: the first `calibration`
    training samples, default all of them), else seeded uniform [0, 1) samples (256 to calibrate)."""
    size = is_digits_shape(shape)
    digits = None
    if size == 8:                # the split ships with the package (fpga_sim.bundled)
        from ..bundled import load_digits8

        digits = load_digits8()
    elif size is not None:
        try:
            from models.data import load_digits_split

            digits = load_digits_split(size=size)
        except ImportError:      # no scikit-learn/torch: fall through to seeded random inputs
            digits = None
    if digits is not None:
        x_tr, _y_tr, x_te, y_te = digits
        x_tr, x_te = x_tr.reshape((-1, *shape)), x_te.reshape((-1, *shape))
        n = len(x_te) if samples is None else min(samples, len(x_te))
        return Dataset(f"digits {size}x{size} test split", x_tr[:calibration].astype(np.float64),
                       x_te[:n].astype(np.float64), y_te[:n])
    rng = np.random.default_rng(seed)
    n = 64 if samples is None else samples
    return Dataset("seeded uniform [0, 1) inputs (no labels)", rng.random((calibration or 256, *shape)),
                   rng.random((n, *shape)), None)


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive integer")
    return value


def check_config(config: str | None) -> None:
    """Fail before any work when --config names no file."""
    if config and not Path(config).is_file():
        raise FpgaSimError(f"--config file {config!r} does not exist")


def add_model_options(p: argparse.ArgumentParser) -> None:
    """--precision, --config, --hw, --target: how a model is quantised and what it runs on."""
    p.add_argument("--precision", default=DEFAULT_PRECISION, metavar="T",
                   help=f"default fixed-point type of every tensor (default {DEFAULT_PRECISION!r}; 'auto' picks "
                        "integer bits from calibration ranges)")
    p.add_argument("--config", metavar="FILE", help="TOML of per-layer type overrides (weight/bias/accum/result)")
    p.add_argument("--override-model-types", action="store_true",
                   help="replace the types a quantised model (QONNX, QDQ) carries with --precision/--config")
    p.add_argument("--hw", metavar="FILE", help="hardware TOML (default: fpga_sim's Hardware() defaults)")
    p.add_argument("--target", metavar="PART", help="target FPGA part, e.g. xc7z020, xczu9eg, xcu250 (see `fpga-sim parts`)")
    p.add_argument("--cache-dir", metavar="DIR", help="where bundled models' checkpoints are cached")
