"""Graph passes: each matches a node, rewrites around it and says whether anything changed.

The same protocol serves both levels of the importer: ONNX-level passes work on an
`OnnxState` (NodeProtos and constants, before lowering), graph-level passes on a `Graph`
(lowered `Node`s).  `run_passes` repeats a list of passes until none of them changes anything.
"""
from __future__ import annotations

from typing import Any, Sequence


class Pass:
    """A rewrite of the whole IR; `apply` returns True when it changed something."""

    name: str = "pass"

    def apply(self, ir: Any) -> bool:
        raise NotImplementedError


class NodePass(Pass):
    """A pass written as `match(ir, node)` then `rewrite(ir, node)`, tried on every node once."""

    def match(self, ir: Any, node: Any) -> bool:
        raise NotImplementedError

    def rewrite(self, ir: Any, node: Any) -> None:
        raise NotImplementedError

    def apply(self, ir: Any) -> bool:
        changed = False
        for node in list(ir.nodes):
            if _present(ir.nodes, node) and self.match(ir, node):
                self.rewrite(ir, node)
                changed = True
        return changed


def _present(nodes: list, node: Any) -> bool:
    return any(n is node for n in nodes)


def run_passes(ir: Any, passes: Sequence[Pass], max_rounds: int = 1000) -> dict[str, int]:
    """Apply `passes` in order, again and again, until a full round changes nothing.

    Returns how many rounds each pass changed something (for reports and tests).
    """
    counts = {p.name: 0 for p in passes}
    for _ in range(max_rounds):
        changed = False
        for p in passes:
            if p.apply(ir):
                counts[p.name] += 1
                changed = True
        if not changed:
            return counts
    raise RuntimeError(f"graph passes did not settle after {max_rounds} rounds: {counts}")
