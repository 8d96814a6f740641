"""MatMul by a constant matrix followed by Add of a constant vector -> one Gemm (a dense layer)."""
from __future__ import annotations

from onnx import NodeProto, helper

from .base import NodePass
from .state import OnnxState


class MatMulAddToGemm(NodePass):
    """Add(MatMul(x, W), b) with W (in, out) and b (out,) constant and x 2-D -> Gemm(x, W, b)."""

    name = "matmul_add_to_gemm"

    def _parts(self, st: OnnxState, add: NodeProto):
        if add.op_type != "Add" or len(add.input) != 2:
            return None
        for k in (0, 1):
            mm = st.producer(add.input[k])
            b = add.input[1 - k]
            if mm is None or mm.op_type != "MatMul" or b not in st.consts:
                continue
            x, w = mm.input
            if w not in st.consts or st.consts[w].ndim != 2 or len(st.shapes.get(x, ())) != 2:
                continue
            if st.consts[b].size != st.consts[w].shape[1] or st.only_consumer(mm.output[0]) is not add:
                continue
            return mm, x, w, b
        return None

    def match(self, st: OnnxState, n: NodeProto) -> bool:
        return self._parts(st, n) is not None

    def rewrite(self, st: OnnxState, add: NodeProto) -> None:
        mm, x, w, b = self._parts(st, add)
        bias = st.new_const(f"{b}__vec", st.consts[b].reshape(-1))
        gemm = helper.make_node("Gemm", [x, w, bias], [add.output[0]], name=mm.name or add.name)
        i = next(k for k, n in enumerate(st.nodes) if n is mm)
        st.nodes[i] = gemm
        st.remove(add)
        st.log.append(f"fused MatMul {mm.name or mm.output[0]!r} and Add {add.name or add.output[0]!r} into Gemm")
