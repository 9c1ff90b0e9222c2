"""One adapter per framework behind one small interface: parameters, precision and token accounting.

An adapter is a module of this package that defines

=======================================  ==========================================================================
``NAME``                                 short name, e.g. ``"torch"``
``LIBRARY``                              the ``sys.modules`` key (or a tuple of keys, any one suffices) that must
                                         already be imported: objects of a framework cannot exist before it is, so
                                         adapters never import their library
``ORDER``                                lower is consulted first (transformers before torch: a Hugging Face model
                                         is also an ``nn.Module``)
``MODELS``                               optional, default True; False for data (arrays and containers of them),
                                         which only an explicit ``--model`` counts
``claims(cls, library) -> bool``         decided from the *type* alone: the instance is never touched
``count(obj, library, budget)``          a :class:`~.base.Counted` tally, or None; loops call ``budget.tick()``
``install_token_hook(record, failed)``   optional: wrap the framework's generation while a measurement runs and
                                         return the function that restores it (see :mod:`.tokens`)
=======================================  ==========================================================================

Adding a framework is adding one module here: it is found by :func:`adapters`.
"""
from __future__ import annotations

import importlib
import pkgutil
import sys
from types import ModuleType
from typing import Any

from .base import UNLIMITED, Budget, Counted, ModelInfo, build_info

__all__ = ["adapters", "inspect", "describe"]

_NOT_ADAPTERS = frozenset({"base", "detect", "tokens"})
_ADAPTERS: tuple[ModuleType, ...] | None = None


def adapters() -> tuple[ModuleType, ...]:
    """Every adapter module of this package, by ``ORDER`` (imported once; they import no framework)."""
    global _ADAPTERS
    if _ADAPTERS is None:
        found = []
        for info in pkgutil.iter_modules(__path__):
            if info.name in _NOT_ADAPTERS or info.name.startswith("_"):
                continue
            module = importlib.import_module(f"{__name__}.{info.name}")
            if callable(getattr(module, "claims", None)) and callable(getattr(module, "count", None)):
                found.append(module)
        _ADAPTERS = tuple(sorted(found, key=lambda m: (getattr(m, "ORDER", 50), m.NAME)))
    return _ADAPTERS


def _library(adapter: ModuleType) -> Any:
    names = adapter.LIBRARY if isinstance(adapter.LIBRARY, tuple) else (adapter.LIBRARY,)
    for name in names:
        module = sys.modules.get(name)
        if module is not None:
            return module
    return None


def claim(obj: Any, *, models_only: bool = False) -> tuple[ModuleType, Any] | None:
    """(adapter, its library) for ``obj``, decided from ``type(obj)`` only; None when no adapter claims it."""
    cls = type(obj)
    for adapter in adapters():
        if models_only and not getattr(adapter, "MODELS", True):
            continue
        library = _library(adapter)
        if library is not None and adapter.claims(cls, library):
            return adapter, library
    return None


def inspect(obj: Any, *, models_only: bool = False, budget: Budget = UNLIMITED) -> Counted | None:
    """The claiming adapter's tally of ``obj`` (``models_only``: skip data adapters), or None."""
    found = claim(obj, models_only=models_only)
    if found is None:
        return None
    adapter, library = found
    return adapter.count(obj, library, budget)


def describe(obj: Any, *, variable: str | None = None, budget: Budget = UNLIMITED) -> ModelInfo | None:
    """Parameter count and precision mix of ``obj``, or ``None`` when no adapter knows it or it has no parameters.

    Supported: torch ``nn.Module`` (incl. Hugging Face ``PreTrainedModel``, torch.ao / torchao / bitsandbytes /
    GPTQ-AWQ quantized layers), fitted scikit-learn estimators, ONNX ``ModelProto``, numpy arrays / torch tensors
    and dicts, lists, tuples of them.
    """
    counted = inspect(obj, budget=budget)
    if counted is None:
        return None
    return build_info(counted.counts, counted.source, variable, counted.precision_source)
