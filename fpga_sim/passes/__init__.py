"""Graph passes of the importer: one small module per rewrite (see `base` for the protocol).

`ONNX_PASSES` run on the ONNX graph before lowering (the first four always, the
rest when fusing), `GRAPH_PASSES` on the lowered graph.
"""
from __future__ import annotations

from .absorb_qdq import AbsorbQdq
from .absorb_quant import FoldConstQuant
from .base import NodePass, Pass, run_passes
from .fold_affine import FoldScaleShift
from .fold_batchnorm import FoldBatchNorm
from .fold_constants import FoldConstants
from .fuse_patterns import FoldNormAffine, FuseGelu, FuseLayerNorm, FuseSilu
from .fuse_relu import FuseRelu
from .matmul_add import MatMulAddToGemm
from .remove_identity import RemoveIdentity
from .softmax_placement import PlaceSoftmax
from .state import OnnxState

ONNX_PASSES: tuple[Pass, ...] = (
    AbsorbQdq(), FoldConstants(), RemoveIdentity(), FoldConstQuant(), FoldBatchNorm(), MatMulAddToGemm(), FoldScaleShift(),
    FuseSilu(), FuseGelu(), FuseLayerNorm(), FoldNormAffine(),
)
GRAPH_PASSES: tuple[Pass, ...] = (FuseRelu(), PlaceSoftmax())

__all__ = [
    "Pass", "NodePass", "run_passes", "OnnxState", "FoldConstants", "RemoveIdentity",
    "FoldBatchNorm", "FoldScaleShift", "MatMulAddToGemm", "FuseRelu", "FuseSilu", "FuseGelu",
    "FuseLayerNorm", "FoldNormAffine", "PlaceSoftmax", "ONNX_PASSES", "GRAPH_PASSES",
]
