"""`Fixed`: a fixed-point type that means exactly what ap_fixed<W,I,Q,O> means in HLS C++."""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from . import fixed_kernels as K
from .fixed_kernels import OVERFLOW, ROUNDING

_SPELLING = re.compile(
    r"^\s*(ap_fixed|ap_ufixed|ap_int|ap_uint)\s*<\s*([^<>]*?)\s*>\s*$"
)


@dataclass(frozen=True)
class Fixed:
    """ap_fixed<width, int_bits, rounding, overflow> (or ap_ufixed when signed is False).

    width counts every bit including the sign; int_bits counts the integer bits including the
    sign; the remaining width - int_bits bits are fractional.  Raw values are int64 integers
    equal to value * 2**frac.
    """

    width: int
    int_bits: int
    signed: bool = True
    rounding: str = "AP_TRN"
    overflow: str = "AP_WRAP"

    def __post_init__(self) -> None:
        if not isinstance(self.width, (int, np.integer)) or isinstance(self.width, bool):
            raise ValueError(f"Fixed width {self.width!r} must be an integer from 1 to 64")
        if not isinstance(self.int_bits, (int, np.integer)) or isinstance(self.int_bits, bool):
            raise ValueError(f"Fixed int_bits {self.int_bits!r} must be an integer")
        max_width = 64 if self.signed else 63
        if not 1 <= self.width <= max_width:
            kind = "signed" if self.signed else "unsigned"
            raise ValueError(
                f"Fixed width {self.width} is not supported for {kind} types: raw values are "
                f"held in int64, so widths 1..{max_width} are accepted"
            )
        if self.rounding not in ROUNDING:
            raise ValueError(f"unknown rounding mode {self.rounding!r}; accepted: {', '.join(ROUNDING)}")
        if self.overflow not in OVERFLOW:
            raise ValueError(f"unknown overflow mode {self.overflow!r}; accepted: {', '.join(OVERFLOW)}")
        object.__setattr__(self, "width", int(self.width))
        object.__setattr__(self, "int_bits", int(self.int_bits))

    # ----------------------------------------------------------------- spelling
    @classmethod
    def parse(cls, text: str) -> "Fixed":
        """Parse a C++ spelling: ap_fixed<W,I>, ap_fixed<W,I,Q,O>, ap_ufixed<...>, ap_int<W>, ap_uint<W>."""
        if isinstance(text, Fixed):
            return text
        accepted = "accepted: ap_fixed<W,I>, ap_fixed<W,I,Q,O>, ap_ufixed<W,I[,Q,O]>, ap_int<W>, ap_uint<W>"
        m = _SPELLING.match(str(text))
        if not m:
            raise ValueError(f"cannot parse fixed-point type {text!r}; {accepted}")
        kind, args = m.group(1), [a.strip() for a in m.group(2).split(",")]
        signed = kind in ("ap_fixed", "ap_int")
        try:
            if kind in ("ap_int", "ap_uint"):
                if len(args) != 1:
                    raise ValueError
                width = int(args[0])
                int_bits = width
                rounding, overflow = "AP_TRN", "AP_WRAP"
            else:
                if len(args) not in (2, 3, 4, 5):
                    raise ValueError
                width, int_bits = int(args[0]), int(args[1])
                rounding = args[2] if len(args) > 2 else "AP_TRN"
                overflow = args[3] if len(args) > 3 else "AP_WRAP"
                if len(args) == 5 and int(args[4]) != 0:
                    raise ValueError(f"{text!r}: saturation bits N other than 0 are not supported")
        except ValueError as e:
            if str(e):
                raise
            raise ValueError(f"cannot parse fixed-point type {text!r}; {accepted}") from None
        try:
            return cls(width, int_bits, signed, rounding, overflow)
        except ValueError as e:
            raise ValueError(f"invalid fixed-point type {text!r}: {e}") from None

    def __str__(self) -> str:
        base = "ap_fixed" if self.signed else "ap_ufixed"
        if self.rounding == "AP_TRN" and self.overflow == "AP_WRAP":
            return f"{base}<{self.width},{self.int_bits}>"
        return f"{base}<{self.width},{self.int_bits},{self.rounding},{self.overflow}>"

    # --------------------------------------------------------------- properties
    @property
    def frac(self) -> int:
        """Fractional bits (may be negative, as ap_fixed allows I > W)."""
        return self.width - self.int_bits

    @property
    def min_raw(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max_raw(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    @property
    def resolution(self) -> float:
        return float(np.ldexp(1.0, -self.frac))

    @property
    def min(self) -> float:
        return float(np.ldexp(float(self.min_raw), -self.frac))

    @property
    def max(self) -> float:
        return float(np.ldexp(float(self.max_raw), -self.frac))

    @property
    def codes(self) -> tuple[int, bool, int, int]:
        """(width, signed, rounding code, overflow code) as the Numba kernels take them."""
        return self.width, self.signed, ROUNDING.index(self.rounding), OVERFLOW.index(self.overflow)

    def with_modes(self, rounding: str | None = None, overflow: str | None = None) -> "Fixed":
        return Fixed(self.width, self.int_bits, self.signed, rounding or self.rounding, overflow or self.overflow)

    # --------------------------------------------------------------- conversion
    def quantize_counted(self, x) -> tuple[np.ndarray, int]:
        """float array -> (raw int64 array, number of values that overflowed)."""
        xa = np.asarray(x, dtype=np.float64)
        flat = np.ascontiguousarray(xa).reshape(-1)
        out = np.empty(flat.shape, dtype=np.int64)
        w, s, r, o = self.codes
        n = K.quantize_array(flat, self.frac, w, s, r, o, out)
        return out.reshape(xa.shape), int(n)

    def quantize(self, x) -> np.ndarray:
        """float array -> raw int64 array, as ap_fixed's constructor from double."""
        return self.quantize_counted(x)[0]

    def cast_counted(self, raw, src: "Fixed") -> tuple[np.ndarray, int]:
        """raw values of type src -> (raw values of this type, number that overflowed)."""
        ra = np.asarray(raw, dtype=np.int64)
        flat = np.ascontiguousarray(ra).reshape(-1)
        out = np.empty(flat.shape, dtype=np.int64)
        w, s, r, o = self.codes
        n = K.requant_array(flat, src.frac - self.frac, w, s, r, o, out)
        return out.reshape(ra.shape), int(n)

    def cast(self, raw, src: "Fixed") -> np.ndarray:
        """Requantise raw values of type src into this type (this type's rounding and overflow)."""
        return self.cast_counted(raw, src)[0]

    def to_float(self, raw) -> np.ndarray:
        """raw int64 -> float64 values (exact while |raw| < 2**53)."""
        return np.ldexp(np.asarray(raw, dtype=np.int64).astype(np.float64), -self.frac)


def product_type(a: Fixed, b: Fixed) -> Fixed:
    """The exact (full-width) type of a*b, as ap_fixed's operator* returns it."""
    signed = a.signed or b.signed
    return Fixed(a.width + b.width, a.int_bits + b.int_bits, signed)
