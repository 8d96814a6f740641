"""ONNX names -> valid, unique C++ identifiers; nothing from a model file reaches C++ raw.

ONNX node and tensor names may hold anything (spaces, quotes, `*/`, non-ASCII, C++ keywords,
names that differ only in punctuation).  `Namer.name(key)` maps each key to an identifier of
letters, digits and single underscores that is not a keyword, not reserved (no leading
underscore, no double underscore) and not already used, so the same text is also safe inside
comments and string literals.
"""
from __future__ import annotations

import re

# C++20 keywords and alternative tokens, names from the C/C++ headers and ap_types headers the
# generated code includes (a tensor "size" must not typedef size_t), and names it defines itself.
CPP_KEYWORDS = frozenset("""
alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t char16_t
char32_t class compl concept const consteval constexpr constinit const_cast continue co_await
co_return co_yield decltype default delete do double dynamic_cast else enum explicit export
extern false float for friend goto if inline int long mutable namespace new noexcept not not_eq
nullptr operator or or_eq private protected public register reinterpret_cast requires return
short signed sizeof static static_assert static_cast struct switch template this thread_local
throw true try typedef typeid typename union unsigned using virtual void volatile wchar_t while
xor xor_eq final override import module main std fsim ap_fixed ap_ufixed ap_int ap_uint NULL
assert printf
int8_t int16_t int32_t int64_t uint8_t uint16_t uint32_t uint64_t intptr_t uintptr_t intmax_t
uintmax_t size_t ssize_t ptrdiff_t FILE EOF stdin stdout stderr fopen fclose fprintf fscanf
sprintf snprintf exit abort atoi atol strcmp strlen memcpy memset malloc free
ap_fixed_base ap_int_base ap_private ap_range_ref ap_bit_ref ap_concat_ref ssdm_int ssdm_int_sim
AP_TRN AP_TRN_ZERO AP_RND AP_RND_ZERO AP_RND_MIN_INF AP_RND_INF AP_RND_CONV AP_WRAP AP_SAT
AP_SAT_ZERO AP_SAT_SYM AP_WRAP_SM AP_MAX AP_MIN AP_ABS AP_INT_MAX_W
""".split())

_BAD = re.compile(r"[^A-Za-z0-9]+")


def sanitize(text: str, default: str = "x") -> str:
    """Letters, digits and single underscores; never empty, never starting with a digit."""
    s = _BAD.sub("_", str(text)).strip("_")
    s = re.sub(r"_+", "_", s)
    if not s:
        s = default
    if s[0].isdigit():
        s = f"{default}_{s}"
    return s


class Namer:
    """Hands out unique identifiers: `name(key)` is stable for a key, distinct across keys."""

    def __init__(self, reserved: set[str] | None = None, max_len: int = 48) -> None:
        self._by_key: dict[str, str] = {}
        self._used: set[str] = set(CPP_KEYWORDS) | set(reserved or ())
        self._used_lower: set[str] = {u.lower() for u in self._used}
        self.max_len = max_len

    def name(self, key: str, prefix: str = "", suffix: str = "", default: str = "x") -> str:
        """A fresh identifier `<prefix>_<sanitised key>_<suffix>` (the same one for a repeated call)."""
        full_key = f"{prefix}\x00{suffix}\x00{key}"
        if full_key in self._by_key:
            return self._by_key[full_key]
        base = sanitize(key, default)[: self.max_len].rstrip("_") or default
        if prefix:
            base = f"{prefix}_{base}"
        if suffix:
            base = f"{base}_{suffix}"
        cand, i = base, 2
        # case-insensitive uniqueness: generated file names must not clash on macOS/Windows
        while cand.lower() in self._used_lower:
            cand = f"{base}_{i}"
            i += 1
        self._used.add(cand)
        self._used_lower.add(cand.lower())
        self._by_key[full_key] = cand
        return cand
