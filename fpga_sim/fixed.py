"""`Fixed`: a fixed-point type that means exactly what ap_fixed<W,I,Q,O> means in HLS C++."""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from . import fixed_kernels as K
from .errors import FpgaSimError
from .fixed_kernels import OVERFLOW, ROUNDING

_SPELLING = re.compile(r"^\s*(ap_fixed|ap_ufixed|ap_int|ap_uint|fixed|ufixed|int|uint)\s*<([^<>]*)>\s*$")
_ACCEPTED = ("accepted: ap_fixed<W,I>, ap_fixed<W,I,Q>, ap_fixed<W,I,Q,O>, ap_fixed<W,I,Q,O,0>, "
             "ap_ufixed<...> likewise, ap_int<W>, ap_uint<W> (hls4ml's fixed<...>, ufixed<...>, "
             "int<W>, uint<W> too), with W >= 1")
MAX_INT_BITS = 4096  # |int_bits| bound: far beyond any real design, keeps shifts in range
MAX_WIDTH = 128      # the widest type: accumulators of 64 x 64-bit products (wider than int64: mac_wide.py)


def _mode(name: str, table: tuple[str, ...], what: str, text: object) -> str:
    """Canonical mode name; 'RND' is accepted for 'AP_RND' (hls4ml's spelling)."""
    m = str(name).strip().upper()
    if not m.startswith("AP_"):
        m = "AP_" + m
    if m not in table:
        extra = " (AP_WRAP_SM is not supported)" if m == "AP_WRAP_SM" else ""
        raise FpgaSimError(
            f"unknown {what} mode {name!r} in {text!r}{extra}; accepted: {', '.join(table)}")
    return m


@dataclass(frozen=True)
class Fixed:
    """ap_fixed<width, int_bits, rounding, overflow> (or ap_ufixed when signed is False).

    width counts every bit including the sign; int_bits counts the integer bits including the
    sign and may be negative or larger than width, as in ap_fixed; the remaining
    width - int_bits bits are fractional.  Raw values are integers equal to value * 2**frac.
    Widths 1..128 are accepted; tensors, weights and biases are held in int64 arrays, so
    `quantize`/`cast`/`to_float` take only types whose raw values fit int64 (`fits_int64`:
    widths 1..64 signed, 1..63 unsigned).  Wider types are accumulators (the MAC engine's
    wide route computes them with Python integers).

    The int64 facts the engine's routes rely on are stated here once: `fits_int64`,
    `sum_fits_int64` (one add of two values cannot leave int64) and `min_exact_raw` (the
    lowest code a cast leaves unflagged: AP_SAT_SYM gives up the most negative one).
    """

    width: int
    int_bits: int
    signed: bool = True
    rounding: str = "AP_TRN"
    overflow: str = "AP_WRAP"

    def __post_init__(self) -> None:
        me = f"Fixed({self.width!r}, {self.int_bits!r}, signed={self.signed!r})"
        for field in ("width", "int_bits"):
            v = getattr(self, field)
            if not isinstance(v, (int, np.integer)) or isinstance(v, (bool, np.bool_)):
                raise FpgaSimError(f"{me}: {field} {v!r} must be an integer")
        if not isinstance(self.signed, (bool, np.bool_)):
            raise FpgaSimError(f"{me}: signed {self.signed!r} must be True or False")
        object.__setattr__(self, "width", int(self.width))
        object.__setattr__(self, "int_bits", int(self.int_bits))
        object.__setattr__(self, "signed", bool(self.signed))
        if not 1 <= self.width <= MAX_WIDTH:
            kind = "ap_fixed" if self.signed else "ap_ufixed"
            raise FpgaSimError(f"{me}: width {self.width} is not supported for {kind}; widths 1..{MAX_WIDTH} are "
                               f"accepted (1..{64 if self.signed else 63} for tensors, weights and biases, held in int64)")
        if abs(self.int_bits) > MAX_INT_BITS:
            raise FpgaSimError(f"{me}: int_bits {self.int_bits} is outside -{MAX_INT_BITS}..{MAX_INT_BITS}")
        object.__setattr__(self, "rounding", _mode(self.rounding, ROUNDING, "rounding", me))
        object.__setattr__(self, "overflow", _mode(self.overflow, OVERFLOW, "overflow", me))

    # ----------------------------------------------------------------- spelling
    @classmethod
    def parse(cls, text: "str | Fixed") -> "Fixed":
        """Parse a C++ spelling: ap_fixed<W,I>, ap_fixed<W,I,Q,O>, ap_ufixed<...>, ap_int<W>, ap_uint<W>."""
        if isinstance(text, Fixed):
            return text
        m = _SPELLING.match(str(text))
        if not m:
            raise FpgaSimError(f"cannot parse fixed-point type {text!r}; {_ACCEPTED}")
        kind, args = m.group(1).removeprefix("ap_"), [a.strip() for a in m.group(2).split(",")]
        signed = kind in ("fixed", "int")
        n_args = (1, 1) if kind in ("int", "uint") else (2, 5)
        if not n_args[0] <= len(args) <= n_args[1] or not all(re.fullmatch(r"[+-]?\d+", a) for a in args[:2]):
            raise FpgaSimError(f"cannot parse fixed-point type {text!r}; {_ACCEPTED}")
        width = int(args[0])
        int_bits = width if kind in ("int", "uint") else int(args[1])
        if width < 1:
            raise FpgaSimError(f"fixed-point type {text!r} has width {width}; {_ACCEPTED}")
        if len(args) == 5 and args[4] != "0":
            raise FpgaSimError(f"fixed-point type {text!r}: saturation bits N other than 0 are not supported")
        rounding = _mode(args[2], ROUNDING, "rounding", text) if len(args) > 2 else "AP_TRN"
        overflow = _mode(args[3], OVERFLOW, "overflow", text) if len(args) > 3 else "AP_WRAP"
        try:
            return cls(width, int_bits, signed, rounding, overflow)
        except FpgaSimError as e:
            raise FpgaSimError(f"fixed-point type {text!r} is not supported: {e}") from None

    def __str__(self) -> str:
        """Canonical C++ spelling, trailing default modes left out: ap_fixed<8,3,AP_RND>."""
        args = [str(self.width), str(self.int_bits), self.rounding, self.overflow]
        while len(args) > 2 and args[-1] == ("AP_WRAP" if len(args) == 4 else "AP_TRN"):
            args.pop()
        return f"{'ap_fixed' if self.signed else 'ap_ufixed'}<{','.join(args)}>"

    # --------------------------------------------------------------- properties
    @property
    def frac(self) -> int:
        """Fractional bits (may be negative, as ap_fixed allows I > W)."""
        return self.width - self.int_bits

    @property
    def min_raw(self) -> int:
        """Lowest raw value (two's complement for signed types)."""
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max_raw(self) -> int:
        """Highest raw value."""
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    @property
    def fits_int64(self) -> bool:
        """Whether every raw value fits an int64 (widths <= 64 signed, <= 63 unsigned)."""
        return self.width <= (64 if self.signed else 63)

    @property
    def sum_fits_int64(self) -> bool:
        """Whether the sum of any two raw values fits an int64 (<= 63 bits signed, <= 62
        unsigned): the condition for adding accumulator values in int64 without a wide route."""
        return self.width <= (63 if self.signed else 62)

    @property
    def min_exact_raw(self) -> int:
        """The lowest raw value a cast into this type yields without an overflow event:
        min_raw, except AP_SAT_SYM on a signed type wider than 1 bit, which turns the most
        negative code into min_raw + 1 and flags it (ap_fixed's symmetric saturation)."""
        sym = self.overflow == "AP_SAT_SYM" and self.signed and self.width > 1
        return self.min_raw + 1 if sym else self.min_raw

    def require_int64(self, what: str) -> None:
        """Raise a clear error when raw values of this type do not fit int64 arrays."""
        if not self.fits_int64:
            raise FpgaSimError(f"{what} {self}: raw values of {self.width}-bit "
                               f"{'ap_fixed' if self.signed else 'ap_ufixed'} do not fit int64; tensors, weights and "
                               f"biases accept widths 1..{64 if self.signed else 63} (wider types are accumulators only)")

    @property
    def resolution(self) -> float:
        """Value of one LSB, 2**-frac."""
        return float(np.ldexp(1.0, -self.frac))

    @property
    def min(self) -> float:
        """Lowest representable value."""
        return float(np.ldexp(float(self.min_raw), -self.frac))

    @property
    def max(self) -> float:
        """Highest representable value."""
        return float(np.ldexp(float(self.max_raw), -self.frac))

    @property
    def codes(self) -> tuple[int, bool, int, int]:
        """(width, signed, rounding code, overflow code) as the Numba kernels take them."""
        return self.width, self.signed, ROUNDING.index(self.rounding), OVERFLOW.index(self.overflow)

    def with_modes(self, rounding: str | None = None, overflow: str | None = None) -> "Fixed":
        """The same width and integer bits with other rounding and/or overflow modes."""
        return Fixed(self.width, self.int_bits, self.signed, rounding or self.rounding, overflow or self.overflow)

    # --------------------------------------------------------------- conversion
    def quantize_counted(self, x) -> tuple[np.ndarray, int]:
        """float array -> (raw int64 array, number of values that overflowed)."""
        self.require_int64("quantize into")
        xa = np.asarray(x, dtype=np.float64)
        flat = np.ascontiguousarray(xa).reshape(-1)
        out = np.empty(flat.shape, dtype=np.int64)
        w, s, r, o = self.codes
        p = K.cast_params(2, w, s, r, o)
        if -1000 < self.frac < 1000 and p[0]:
            n, rare = K.quantize_array(flat, 2.0 ** self.frac, p, out)
            if rare:                # huge, tiny, denormal or non-finite values: the exact path redoes them
                n += K.quantize_exact(flat, self.frac, w, s, r, o, True, out)
        else:                       # beyond a double's scale
            n = K.quantize_exact(flat, self.frac, w, s, r, o, False, out)
        return out.reshape(xa.shape), int(n)

    def quantize(self, x) -> np.ndarray:
        """float array -> raw int64 array, as ap_fixed's constructor from double."""
        return self.quantize_counted(x)[0]

    def cast_counted(self, raw, src: "Fixed") -> tuple[np.ndarray, int]:
        """raw values of type src -> (raw values of this type, number that overflowed)."""
        if not isinstance(src, Fixed):
            raise FpgaSimError(f"cast into {self}: the source type must be a Fixed, got {src!r}")
        self.require_int64("cast into")
        src.require_int64("cast from")
        ra = np.asarray(raw, dtype=np.int64)
        flat = np.ascontiguousarray(ra).reshape(-1)
        out = np.empty(flat.shape, dtype=np.int64)
        w, s, r, o = self.codes
        p = K.cast_params(src.frac - self.frac, w, s, r, o)
        if p[0]:                    # the fast formulas take the type
            n = K.cast_array(flat, p, out)
        else:                       # a shift beyond 62 bits: compiled when first needed
            n = K.requant_array(flat, src.frac - self.frac, w, s, r, o, out)
        return out.reshape(ra.shape), int(n)

    def cast(self, raw, src: "Fixed") -> np.ndarray:
        """Requantise raw values of type src into this type (this type's rounding and overflow)."""
        return self.cast_counted(raw, src)[0]

    def to_float(self, raw) -> np.ndarray:
        """raw int64 -> float64 values (exact while |raw| < 2**53): one pass scaling by the
        power of two 2**-frac (exact; np.ldexp where that scale under/overflows)."""
        ra = np.asarray(raw, dtype=np.int64)
        if -1000 < self.frac < 1000:
            out = np.empty(ra.shape, np.float64)
            K.scale_to_float(np.ascontiguousarray(ra).reshape(-1), 2.0 ** -self.frac, out.reshape(-1))
            return out
        return np.ldexp(ra.astype(np.float64), -self.frac)


def product_type(a: Fixed, b: Fixed) -> Fixed:
    """The exact (full-width) type of a*b, as ap_fixed's operator* returns it
    (ap_fixed<Wa+Wb, Ia+Ib>, signed if either is; modes are the defaults).  Products of
    types wider than 64 bits together do not fit int64 (`fits_int64` is then False)."""
    signed = a.signed or b.signed
    width = a.width + b.width
    if width > MAX_WIDTH:
        raise FpgaSimError(f"the product of {a} and {b} needs {width} bits; at most {MAX_WIDTH} are supported")
    return Fixed(width, a.int_bits + b.int_bits, signed)
