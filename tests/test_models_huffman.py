import itertools
import math

from models.huffman import code_lengths, encoded_bits, table_bits


def test_textbook_example():
    # CLRS 16.3: frequencies a45 b13 c12 d16 e9 f5 (thousands) -> 224 thousand bits
    counts = {"a": 45, "b": 13, "c": 12, "d": 16, "e": 9, "f": 5}
    lengths = code_lengths(counts)
    assert sum(counts[s] * n for s, n in lengths.items()) == 224
    assert lengths["a"] == 1 and lengths["f"] == 4


def _brute_force_optimum(counts):
    """Smallest total over all length assignments satisfying Kraft (tiny alphabets only)."""
    best = None
    syms = list(counts)
    for ls in itertools.product(range(1, len(syms)), repeat=len(syms)):
        if sum(2.0 ** -l for l in ls) <= 1.0:
            total = sum(counts[s] * l for s, l in zip(syms, ls))
            best = total if best is None else min(best, total)
    return best


def test_optimal_and_complete_on_small_alphabets():
    for counts in ({0: 1, 1: 1, 2: 2, 3: 7}, {0: 3, 1: 3, 2: 3}, {5: 10, 6: 1, 7: 1, 8: 1, 9: 1}):
        lengths = code_lengths(counts)
        assert math.isclose(sum(2.0 ** -l for l in lengths.values()), 1.0)   # a full prefix code
        assert sum(counts[s] * l for s, l in lengths.items()) == _brute_force_optimum(counts)


def test_degenerate_and_table():
    assert code_lengths({7: 5}) == {7: 1}
    assert code_lengths({}) == {}
    assert encoded_bits([3, 3, 3]) == 3
    lengths = {0: 1, 1: 2, 2: 2}
    # 2-bit code lengths; 3 present symbols of 5-bit alphabet: min(32*2, 3*(5+2)) = 21
    assert table_bits(lengths, 5) == 21
    assert encoded_bits([0, 0, 1, 2], alphabet_bits=5) == 2 + 2 + 2 + 21
