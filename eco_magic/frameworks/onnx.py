"""ONNX ``ModelProto``: graph initializers by their ``TensorProto`` data type (the data itself is never read).

onnx is never imported here: a ``ModelProto`` can only exist once it is in ``sys.modules``.
"""
from __future__ import annotations

import math
from typing import Any

from .base import Budget, Counted, add_count

NAME = "onnx"
LIBRARY = "onnx"
ORDER = 40

#: ONNX initializer types that hold shapes, indices and masks rather than weights in practice.
NOT_WEIGHTS = frozenset({"INT64", "UINT64", "BOOL", "STRING"})


def claims(cls: type, onnx: Any) -> bool:
    return issubclass(cls, onnx.ModelProto)


def count(model: Any, onnx: Any, budget: Budget) -> Counted | None:
    """Count graph initializers (dense by their dims, sparse by their stored values) by ``TensorProto`` type.

    int64/bool/string initializers are skipped: exporters use them for Reshape targets, Gather indices and masks.
    External-data initializers are counted from their dims; the data itself is not read.
    """
    counts: dict[str, int] = {}
    graph = model.graph
    tensors = []
    for t in graph.initializer:
        budget.tick()
        tensors.append((t.data_type, t.dims))
    for s in graph.sparse_initializer:
        budget.tick()
        tensors.append((s.values.data_type, s.values.dims))
    skipped = 0
    for data_type, dims in tensors:
        name = onnx.TensorProto.DataType.Name(data_type)
        if name in NOT_WEIGHTS or not add_count(counts, name, math.prod(dims)):
            skipped += 1
    note = f"; {skipped} int64/bool/other skipped" if skipped else ""
    return Counted(counts, f"ONNX ModelProto initializers ({len(tensors) - skipped} tensors{note})",
                   "initializer data types")
