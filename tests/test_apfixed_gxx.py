"""Bit-for-bit cross-check of `Fixed` against Xilinx's ap_fixed.h compiled with g++.

One C++ program (tests/cpp/apfixed_check.cpp) is generated over a random grid of types --
signed and unsigned, W 1..32, I -2..W+2, every rounding and overflow mode -- compiled once,
fed values through a binary file, and its raw results are compared with `Fixed`:
conversions from double (random values, exact ties at every rounding position, values just
beside ties, far out of range, +-0, infinities, NaN, denormals), casts between two fixed
types, and products cast into an accumulator plus running sums of those products.
"""
from __future__ import annotations

import time

import numpy as np
import pytest

from fpga_sim.fixed import Fixed, product_type
from fpga_sim.fixed_kernels import OVERFLOW, ROUNDING

from .gxx_support import compile_driver, run_driver
from .ops_support import ref_quantize

SEED = 20261125
# Each type is one template instantiation (~0.15 s of g++ time), so few types, many values each.
N_CONV_TYPES, N_CONV_VALUES = 112, 1024  # 114,688 conversions from double
N_CAST_PAIRS, N_CAST_VALUES = 28, 512  # 14,336 casts
N_PROD_TRIPLES, N_PROD_VALUES = 28, 512  # 14,336 products and as many running sums
N_WIDE_TYPES = 8  # and W 33..64: 8 more conversion types, 8 more casts pairs
SPECIALS = [0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 5e-324, -5e-324, 2.2250738585072014e-308,
            -2.2250738585072014e-308, 1.7976931348623157e308, -1.7976931348623157e308,
            2.0**63, -(2.0**63), 2.0**64, -(2.0**64), 1e300, -1e300, 1e-300, -1e-300]


def random_type(rng: np.random.Generator, i: int | None = None, wide: bool = False) -> Fixed:
    """A random type; with i, modes and signedness cycle so every combination is covered.
    wide: W 33..64 (63 unsigned), beyond the grid, where a double's 53 bits no longer fill W."""
    if i is None:
        i = int(rng.integers(56))
    w = 1 if rng.random() < 0.06 else int(rng.integers(1, 33))
    if wide:
        w = int(rng.integers(33, 65 if (i // 28) % 2 == 0 else 64))
    return Fixed(w, int(rng.integers(-2, w + 3)), (i // 28) % 2 == 0, ROUNDING[i % 7],
                 OVERFLOW[(i // 7) % 4])


def conversion_values(rng: np.random.Generator, t: Fixed, n: int) -> np.ndarray:
    """Values aimed at t's rounding and range edges, plus random and special ones."""
    lsb, f = t.resolution, t.frac
    span = t.max - t.min + lsb
    lo_raw, hi_raw = t.min_raw - 8, t.max_raw + 8
    k = rng.integers(lo_raw, hi_raw + 1, size=n).astype(np.float64)
    below = rng.integers(0, 4, size=n)  # ties at half an LSB and at 1..3 bits further down
    ties = np.ldexp(np.ldexp(k, 1 + below) + 1.0, -(f + 1 + below))
    parts = [
        np.array(SPECIALS),
        np.array([t.min, t.max, t.min - lsb / 2, t.max + lsb / 2, t.min - lsb, t.max + lsb,
                  -t.max, -t.max - lsb / 2, t.min / 2, -t.min, -lsb / 2, lsb / 2, -lsb, lsb]),
        ties,
        np.nextafter(ties, np.inf),
        np.nextafter(ties, -np.inf),
        np.ldexp(k, -f),  # exactly representable (or just out of range)
        rng.uniform(t.min - span, t.max + span, size=n),
        rng.choice([-1.0, 1.0], size=n) * np.exp2(rng.uniform(-f - 12, t.int_bits + 12, size=n)),
    ]
    pool = np.concatenate(parts)
    head = np.concatenate(parts[:2])
    rest = rng.choice(pool[len(head):], size=n - len(head), replace=False)
    return np.concatenate([head, rest])


def random_raw(rng: np.random.Generator, t: Fixed, n: int) -> np.ndarray:
    edges = np.array([t.min_raw, t.max_raw, 0, min(1, t.max_raw), max(-1, t.min_raw),
                      t.min_raw + (t.max_raw > t.min_raw), t.max_raw - (t.max_raw > t.min_raw)])
    body = rng.integers(t.min_raw, t.max_raw + 1, size=n - len(edges))
    return np.concatenate([edges, body]).astype(np.int64)


def cpp_type(t: Fixed) -> str:
    base = "ap_fixed" if t.signed else "ap_ufixed"
    return f"{base}<{t.width},{t.int_bits},{t.rounding},{t.overflow}>"


def build_cases(rng: np.random.Generator):
    """(C++ case lines, input words, expected-result builders) in program order."""
    lines, words, checks = [], [], []
    for i in range(N_CONV_TYPES + N_WIDE_TYPES):
        t = random_type(rng, i, wide=i >= N_CONV_TYPES)
        x = conversion_values(rng, t, N_CONV_VALUES)
        lines.append(f"conv<{cpp_type(t)} >({len(x)});")
        words.append(x.view(np.uint64))
        checks.append(("conv", t, x))
    for i in range(N_CAST_PAIRS + N_WIDE_TYPES):
        s, d = random_type(rng, wide=i >= N_CAST_PAIRS), random_type(rng, i, wide=i % 2 == 1)
        r = random_raw(rng, s, N_CAST_VALUES)
        lines.append(f"cast<{cpp_type(s)}, {cpp_type(d)} >({len(r)});")
        words.append(r.view(np.uint64))
        checks.append(("cast", (s, d), r))
    for i in range(N_PROD_TRIPLES):
        a, b, acc = random_type(rng), random_type(rng), random_type(rng, 2 * i)
        if not (a.signed or b.signed) and a.width + b.width > 63:
            a = Fixed(a.width, a.int_bits, True, a.rounding, a.overflow)  # product must fit int64
        group = int(rng.integers(1, 17))
        ra, rb = random_raw(rng, a, N_PROD_VALUES), random_raw(rng, b, N_PROD_VALUES)
        rng.shuffle(ra), rng.shuffle(rb)
        lines.append(f"prod<{cpp_type(a)}, {cpp_type(b)}, {cpp_type(acc)} >({len(ra)}, {group});")
        words.append(np.stack([ra, rb], axis=1).reshape(-1).view(np.uint64))
        checks.append(("prod", (a, b, acc, group), (ra, rb)))
    return lines, np.concatenate(words), checks


def signed_bits(bits: np.ndarray, t: Fixed) -> np.ndarray:
    """Raw results from the program's bit patterns (W bits, sign-extended for signed types)."""
    v = np.ascontiguousarray(bits, dtype=np.uint64)
    if t.width < 64:
        v = v & np.uint64((1 << t.width) - 1)
    v = v.view(np.int64)
    if t.signed and t.width < 64:
        v = (v << (64 - t.width)) >> (64 - t.width)  # arithmetic shift: sign extension
    return v


def fixed_results(kind, spec, data):
    """What `Fixed` says, in the program's output order."""
    if kind == "conv":
        return [(spec, spec.quantize(data))]
    if kind == "cast":
        s, d = spec
        return [(d, d.cast(data, s))]
    a, b, acc, group = spec
    p = acc.cast(data[0] * data[1], product_type(a, b))
    sums = np.empty_like(p)
    run = 0
    for i, v in enumerate(p):
        run = int(acc.cast([(0 if i % group == 0 else run) + int(v)], acc_plus(acc))[0])
        sums[i] = run
    return [(acc, np.stack([p, sums], axis=1).reshape(-1))]


def acc_plus(acc: Fixed) -> Fixed:
    """The exact type of acc + acc (one more integer bit), as ap_fixed's operator+ returns it."""
    return Fixed(acc.width + 1, acc.int_bits + 1, acc.signed)


def _describe(kind, spec, data, i: int) -> str:
    if kind == "conv":
        return f"{spec}({data[i]!r})"
    if kind == "cast":
        return f"{spec[1]} <- {spec[0]} raw {data[i]}"
    a, b, acc, group = spec
    what = "running sum" if i % 2 else "product"
    return f"{what} into {acc} of {a} raw {data[0][i // 2]} * {b} raw {data[1][i // 2]}"


@pytest.mark.gxx
@pytest.mark.slow
def test_fixed_matches_ap_fixed_h_bit_for_bit(tmp_path):
    t0 = time.perf_counter()
    rng = np.random.default_rng(SEED)
    lines, words, checks = build_cases(rng)
    exe = compile_driver("apfixed_check", tmp_path, lines)
    t1 = time.perf_counter()
    out = run_driver(exe, tmp_path, words)
    pos, mismatches, counts = 0, [], {"conv": 0, "cast": 0, "prod": 0}
    ref_checked = 0
    for kind, spec, data in checks:
        for t, mine in fixed_results(kind, spec, data):
            theirs = signed_bits(out[pos:pos + mine.size], t)
            pos += mine.size
            counts[kind] += mine.size
            mismatches += [f"{_describe(kind, spec, data, i)}: ap_fixed.h {theirs[i]}, Fixed {mine[i]}"
                           for i in np.flatnonzero(theirs != mine)[:3]]
            if kind == "conv" and ref_checked < 4000:  # the slow reference agrees too
                ref = [ref_quantize(v, spec)[0] for v in data[:100]]
                mismatches += [f"{spec}({v!r}): ap_fixed.h {a}, reference {r}"
                               for v, a, r in zip(data, theirs.tolist(), ref) if a != r][:3]
                ref_checked += len(ref)
    assert pos == out.size
    t2 = time.perf_counter()
    print(f"\nap_fixed.h cross-check: {counts['conv']} conversions from double "
          f"({ref_checked} also against the reference), {counts['cast']} casts, "
          f"{counts['prod'] // 2} products + {counts['prod'] // 2} running sums; "
          f"generate+compile {t1 - t0:.1f} s, run+compare {t2 - t1:.1f} s")
    assert counts["conv"] >= 100_000 and counts["cast"] >= 10_000 and counts["prod"] >= 20_000
    assert not mismatches, f"{len(mismatches)} mismatches, e.g.:\n" + "\n".join(mismatches[:30])
