"""Arrays and containers of them: numpy arrays, torch tensors, and plain dicts, lists and tuples of them (a state
dict, a list of weight matrices). Counted only when named with ``--model``: auto-detection treats them as data.

Containers are walked only when they are plain ``dict``/``list``/``tuple`` (or subclasses, read through the
built-in methods so no overridden ``__getitem__``/``values`` runs): lazy mappings such as ``np.load``'s ``NpzFile``,
h5py files, zarr groups or dask collections are never opened. Reading an array's ``dtype`` and ``size`` never reads
its data (memory maps stay unread).
"""
from __future__ import annotations

import sys
from typing import Any

from .base import Budget, Counted, add_count

NAME = "numpy"
LIBRARY = ("numpy", "torch")  # any of them: torch tensors without numpy count too
ORDER = 90
MODELS = False  # data, unless named with --model: auto-detection never consults this adapter
#: containers are walked this deep at most
MAX_DEPTH = 4


def _is_array_type(cls: type) -> bool:
    np = sys.modules.get("numpy")
    torch = sys.modules.get("torch")
    return bool((np is not None and issubclass(cls, np.ndarray))
                or (torch is not None and issubclass(cls, torch.Tensor)))


def is_array(obj: Any) -> bool:
    return _is_array_type(type(obj))


def claims(cls: type, library: Any) -> bool:
    return issubclass(cls, (dict, list, tuple)) or _is_array_type(cls)


def _children(obj: Any):
    if isinstance(obj, dict):
        return dict.values(obj)
    if isinstance(obj, (list, tuple)):
        return list.__iter__(obj) if isinstance(obj, list) else tuple.__iter__(obj)
    return None


def _leaves(obj: Any, out: list[Any], budget: Budget, depth: int = 0) -> bool:
    """Collect array leaves of nested dicts/lists/tuples; False as soon as a leaf is anything else."""
    budget.tick()
    if is_array(obj):
        out.append(obj)
        return True
    if depth >= MAX_DEPTH:
        return False
    children = _children(obj)
    if children is None:
        return False
    return all(_leaves(child, out, budget, depth + 1) for child in children)


def count(obj: Any, library: Any, budget: Budget) -> Counted | None:
    leaves: list[Any] = []
    if not _leaves(obj, leaves, budget) or not leaves:
        return None
    counts: dict[str, int] = {}
    for a in leaves:
        n = a.numel() if hasattr(a, "numel") and callable(a.numel) else a.size
        if not add_count(counts, a.dtype, n):
            return None  # bool masks, strings, objects: not weights
    if is_array(obj):
        kind = "torch tensor" if type(obj).__module__.startswith("torch") else "numpy array"
        return Counted(counts, f"{kind} {tuple(obj.shape)}", is_model=False)
    noun = "tensors" if any(type(a).__module__.startswith("torch") for a in leaves) else "arrays"
    return Counted(counts, f"{type(obj).__name__} of {len(leaves)} {noun}", is_model=False)
