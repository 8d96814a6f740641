"""Remove Identity and inference-mode Dropout: readers of their output read their input."""
from __future__ import annotations

from onnx import NodeProto

from .base import NodePass
from .state import OnnxState


class RemoveIdentity(NodePass):
    """Identity and Dropout (whose mask output nobody reads) pass their input through."""

    name = "remove_identity"

    def match(self, st: OnnxState, n: NodeProto) -> bool:
        if n.op_type not in ("Identity", "Dropout") or not n.input or not n.input[0]:
            return False
        if n.op_type == "Dropout":
            if len(n.output) > 1 and n.output[1] and (st.consumers(n.output[1]) or n.output[1] in st.outputs):
                return False  # someone reads the mask
            if len(n.input) > 2 and n.input[2]:
                training = st.consts.get(n.input[2])
                if training is None or bool(training.reshape(-1)[0]):
                    return False  # training mode (or unknown): not an identity
        src, dst = n.input[0], n.output[0]
        # An output that is also a graph input (x -> Identity -> y, both graph ends) stays.
        return not (dst in st.outputs and (src in st.inputs or src in st.outputs or src in st.consts))

    def rewrite(self, st: OnnxState, n: NodeProto) -> None:
        src, dst = n.input[0], n.output[0]
        st.remove(n)
        if dst in st.outputs:
            # keep the graph output's name: the producer of src writes dst directly
            producer = st.producer(src)
            st.rename_output(producer, src, dst)
        else:
            st.replace_input(dst, src)
