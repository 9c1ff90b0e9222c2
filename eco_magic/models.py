"""Parameter count and precision of the model a cell uses, for the Environmental Sustainability Score.

A thin façade over :mod:`eco_magic.frameworks` (one adapter per framework: torch, transformers, scikit-learn, ONNX,
numpy) so that callers keep one import. See that package for the rules; nothing here imports an ML library.
"""
from __future__ import annotations

from .frameworks import describe
from .frameworks.base import PRECISIONS, QF, ModelInfo, from_user_args, normalise_precision
from .frameworks.detect import Detection, detect, find_in_namespace

__all__ = ["QF", "PRECISIONS", "ModelInfo", "Detection", "normalise_precision", "describe", "from_user_args",
           "find_in_namespace", "detect"]
