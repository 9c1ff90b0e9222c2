"""Which model a cell used, found after it ran — bounded by the cell, never by the namespace.

Auto-detection looks only at the names the cell's code mentions, and for each decides from its *type* whether a
model adapter claims it (``isinstance`` is not used: it can call a proxy's ``__class__``). Data — arrays, dicts,
lists, lazy archives (``np.load``'s ``NpzFile``, h5py, zarr, dask) — is never opened or iterated, and no property
runs: a wrapper's ``.model`` (a Hugging Face pipeline) is read from the instance ``__dict__``. Counting a model
walks only that model, under a time budget (:data:`AUTO_BUDGET_S`), and a Ctrl-C during detection keeps what was
found so far: :func:`detect` returns it with a note instead of losing the cell's record.
"""
from __future__ import annotations

import ast
import keyword
import re
from dataclasses import dataclass
from typing import Any, Mapping

from . import claim, inspect
from .base import Budget, DetectionTimeout, ModelInfo, build_info

__all__ = ["Detection", "detect", "find_in_namespace", "referenced_names", "AUTO_BUDGET_S", "EXPLICIT_BUDGET_S"]

#: Seconds auto-detection may spend after a cell (all names together).
AUTO_BUDGET_S = 2.0
#: Seconds counting an object named with ``--model`` may take (a container of many arrays, say).
EXPLICIT_BUDGET_S = 10.0

_IPYTHON_NAMES = re.compile(r"^(_+|_i+\d*|_\d+|_oh|_ih|_dh|In|Out|get_ipython|exit|quit)$")
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


@dataclass(frozen=True)
class Detection:
    """The outcome of :func:`detect`: the model (or None) and, when detection was cut short, why."""

    info: ModelInfo | None
    note: str | None = None
    interrupted: bool = False


def referenced_names(cell_source: str) -> list[str]:
    """Identifiers the cell mentions, in order of first appearance.

    Parsed with ``ast`` so that strings and comments do not count; cells with IPython syntax (``!ls``,
    ``%time``) fall back to identifier-shaped tokens.
    """
    try:
        tree = ast.parse(cell_source)
    except (SyntaxError, ValueError):
        names = [t for t in _TOKEN.findall(cell_source) if not keyword.iskeyword(t)]
    else:
        nodes = sorted((n for n in ast.walk(tree) if isinstance(n, ast.Name)), key=lambda n: (n.lineno, n.col_offset))
        names = [n.id for n in nodes]
    return [n for n in dict.fromkeys(names) if not _IPYTHON_NAMES.match(n)]


def _resolve(path: str, user_ns: Mapping[str, object]) -> Any:
    """The object a dotted ``--model`` path names (attributes the user named are read as Python reads them)."""
    head, *rest = path.split(".")
    if head not in user_ns:
        raise ValueError(f"--model {path}: there is no variable named {head!r} in the notebook")
    obj = user_ns[head]
    for i, attr in enumerate(rest, 1):
        try:
            obj = getattr(obj, attr)
        except AttributeError:
            raise ValueError(f"--model {path}: {'.'.join([head, *rest[:i - 1]])} has no attribute {attr!r}") from None
    return obj


def _instance_dict(obj: Any) -> dict | None:
    """``obj.__dict__`` when it is the ordinary instance dict (no property, no ``__getattribute__`` runs)."""
    for klass in type(obj).__mro__:
        descriptor = klass.__dict__.get("__dict__")
        if descriptor is not None:
            if type(descriptor).__name__ not in ("getset_descriptor", "member_descriptor"):  # C slots: no code runs
                return None
            try:
                d = descriptor.__get__(obj, type(obj))
            except Exception:  # noqa: BLE001
                return None
            return d if type(d) is dict else None
    return None


def _wrapped_model(obj: Any) -> Any:
    """The ``model`` instance attribute of a wrapper (a Hugging Face pipeline, ...), read without properties."""
    if issubclass(type(obj), type):  # not isinstance: that reads a proxy's __class__
        return None
    d = _instance_dict(obj)
    return d.get("model") if d is not None else None


def _explicit(explicit: str, user_ns: Mapping[str, object]) -> ModelInfo:
    if not _DOTTED.fullmatch(explicit):
        raise ValueError(f"--model takes a variable name such as model or pipe.model, got {explicit!r}")
    obj = _resolve(explicit, user_ns)
    try:
        counted = inspect(obj, budget=Budget(EXPLICIT_BUDGET_S))
    except DetectionTimeout:
        raise ValueError(f"--model {explicit}: counting the parameters of {type(obj).__name__} took more than "
                         f"{EXPLICIT_BUDGET_S:g} s; pass --params and --precision instead") from None
    except Exception as exc:
        raise ValueError(f"--model {explicit}: counting the parameters of {type(obj).__name__} failed "
                         f"({type(exc).__name__}: {exc}); pass --params and --precision instead") from exc
    info = build_info(counted.counts, counted.source, explicit, counted.precision_source) if counted else None
    if info is None:
        raise ValueError(f"--model {explicit}: a {type(obj).__name__} is not a model eco_magic can count "
                         "(torch/Hugging Face, fitted scikit-learn, ONNX, arrays) or it has no parameters; "
                         "pass --params and --precision instead")
    return info


def find_in_namespace(cell_source: str, user_ns: Mapping[str, object],
                      explicit: str | None = None) -> ModelInfo | None:
    """The model a cell works with, for ESS; call it after the cell ran so that models it created are seen.

    ``explicit`` (``--model VAR``, dotted paths such as ``pipe.model`` allowed) must name a supported model or
    array container, else ``ValueError`` says why. Without it, every name the cell references is looked up in
    ``user_ns``; torch, Hugging Face, scikit-learn and ONNX models count (a Hugging Face pipeline's or any
    wrapper's ``.model`` instance attribute too), bare arrays and containers do not (they are usually data, and
    they are never opened). The largest model by ``n_params`` wins, first mentioned on ties; ``variable`` says
    which. ``None`` when no referenced name holds a model. Auto-detection never raises (a Ctrl-C included: use
    :func:`detect` to learn that it was cut short).
    """
    return detect(cell_source, user_ns, explicit).info


def detect(cell_source: str, user_ns: Mapping[str, object], explicit: str | None = None,
           budget_s: float = AUTO_BUDGET_S) -> Detection:
    """:func:`find_in_namespace` that also says when detection was cut short (time budget, Ctrl-C, errors).

    With ``explicit``, ``ValueError`` is raised as by :func:`find_in_namespace`; a Ctrl-C gives no model and a note.
    """
    if explicit:
        try:
            return Detection(_explicit(explicit, user_ns))
        except KeyboardInterrupt:
            return Detection(None, f"--model {explicit}: counting was interrupted (Ctrl-C); ESS has no model",
                             interrupted=True)
    budget = Budget(budget_s)
    best: ModelInfo | None = None
    note = None
    interrupted = False
    try:
        seen: set[int] = set()
        for name in referenced_names(cell_source):
            if name not in user_ns:
                continue
            obj = user_ns[name]
            candidates = [(name, obj)]
            inner = _wrapped_model(obj)
            if inner is not None:
                candidates.append((f"{name}.model", inner))
            for label, candidate in candidates:
                if id(candidate) in seen or claim(candidate, models_only=True) is None:
                    continue
                seen.add(id(candidate))
                try:
                    counted = inspect(candidate, models_only=True, budget=budget)
                    info = (build_info(counted.counts, counted.source, label, counted.precision_source)
                            if counted is not None else None)
                except DetectionTimeout:
                    raise
                except Exception:  # noqa: BLE001 - auto-detection never raises for one odd object
                    continue
                if info is not None and (best is None or info.n_params > best.n_params):
                    best = info
    except DetectionTimeout:
        note = (f"model detection stopped after its {budget_s:g} s budget"
                + (f"; ESS uses {best.variable}, the largest model counted before that" if best else
                   "; pass --params and --precision (or --model VAR) for ESS"))
    except KeyboardInterrupt:
        interrupted = True
        note = ("model detection was interrupted (Ctrl-C)"
                + (f"; ESS uses {best.variable}, the largest model counted before that" if best else
                   "; ESS has no model"))
    return Detection(best, note, interrupted)
