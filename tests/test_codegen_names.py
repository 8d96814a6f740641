"""codegen.names and codegen.targets: every ONNX name becomes a valid, unique C++ identifier."""
from __future__ import annotations

import re

import pytest

from codegen.names import CPP_KEYWORDS, Namer, sanitize
from codegen.targets import vitis_part
from fpga_sim.errors import ConfigError

IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*$")   # no leading, trailing or double "_"

HOSTILE = ["a b", "a_b", "a-b", "int", "class", "*/", "/*", '"q"', "'", "1abc", "__x", "_X", "", " ",
           "conv1", "Conv1", "CONV1", "Ünïcode", "x\n#define y", "a" * 200, "main", "fsim", "ap_fixed",
           "x__y", "x_2", "x"]


def test_sanitize_gives_identifiers():
    for text in HOSTILE:
        s = sanitize(text)
        assert IDENT.match(s), (text, s)


def test_namer_unique_valid_stable():
    n = Namer(reserved={"out"})
    names = [n.name(t) for t in HOSTILE]
    assert len(set(names)) == len(names)
    assert len({s.lower() for s in names}) == len(names)        # file names differ on case-blind disks too
    for s in names:
        assert IDENT.match(s) and s not in CPP_KEYWORDS and s != "out" and len(s) <= 60, s
    assert [n.name(t) for t in HOSTILE] == names                 # the same key gives the same name
    # derived names (types, buffers) are unique against everything else as well
    derived = [n.name(t, suffix="t") for t in HOSTILE] + [n.name(t, prefix="buf") for t in HOSTILE]
    assert len(set(derived + names)) == len(derived) + len(names)


def test_collisions_after_sanitising_get_suffixes():
    n = Namer()
    assert (n.name("a b"), n.name("a_b"), n.name("a-b")) == ("a_b", "a_b_2", "a_b_3")
    assert n.name("int") == "int_2" and n.name("x_2") != n.name("x")


@pytest.mark.parametrize("short, full", [("xc7z020", "xc7z020clg400-1"), ("XCZU9EG", "xczu9eg-ffvb1156-2-e"),
                                         ("xcu250", "xcu250-figd2104-2L-e")])
def test_short_parts_are_completed(short, full):
    assert vitis_part(short) == full


def test_full_part_passes_and_bad_text_is_refused():
    assert vitis_part("xczu7ev-ffvc1156-2-e") == "xczu7ev-ffvc1156-2-e"
    for bad in ("xc7z020; exec rm", "a b", "[exit]", ""):
        with pytest.raises(ConfigError, match=re.escape(f"target part {bad!r} is not a part name; accepted: letters")):
            vitis_part(bad)
