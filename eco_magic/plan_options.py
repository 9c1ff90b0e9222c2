"""Validation of ``%ecoplan`` option values and of its ``--compare`` specification. Pure: no IPython here.

Every function raises ``ValueError`` with one sentence; the magic turns it into ``UsageError``.
"""
from __future__ import annotations

import math
import re

_SUFFIX = {"": 1.0, "k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}

#: ``--compare`` names → the option they vary (its ``dest`` in the magic's parser).
COMPARABLE = {
    "params": "params", "tokens": "tokens", "flops": "flops", "phase": "phase", "devices": "devices",
    "device": "device", "achieved-tflops": "achieved_tflops", "efficiency": "efficiency",
    "precision": "precision", "power": "power", "days": "days", "pue": "pue", "region": "region", "ci": "ci",
    "lifetime": "lifetime", "water-model": "water_model",
}
COMPARE_USAGE = ("--compare takes NAME=V1,V2[,…] terms, e.g. --compare params=30B,100B days=30,60 "
                 f"(names: {', '.join(COMPARABLE)})")


def amount(what: str, text: str, upper: float = 1e30) -> float:
    """A positive count with an optional k/M/B/T suffix: ``30B``, ``600B``, ``1.4T``, ``3.14e23``, ``7_000``."""
    t = str(text).strip().replace("_", "").replace(",", "")
    m = re.fullmatch(r"([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([kKmMbBgGtT]?)", t)
    if not m:
        raise ValueError(f"{what} is a positive number such as 30B, 600B, 1.4T or 3.14e23, got {text!r}")
    value = float(m.group(1)) * _SUFFIX[m.group(2).lower()]
    if not math.isfinite(value) or value <= 0 or value > upper:
        raise ValueError(f"{what} must be greater than 0 and at most {upper:g}, got {text!r}")
    return value


def whole(what: str, text: str, upper: float = 1e9) -> int:
    """A whole number ≥ 1 (``256``, ``10k``)."""
    value = amount(what, text, upper)
    if value != int(value):
        raise ValueError(f"{what} is a whole number ≥ 1, got {text!r}")
    return int(value)


def fraction(what: str, text: str) -> float:
    """A share in (0, 1]: ``0.4`` or ``40%``."""
    t = str(text).strip()
    pct = t.endswith("%")
    try:
        value = float(t[:-1] if pct else t) / (100.0 if pct else 1.0)
    except ValueError:
        raise ValueError(f"{what} is a fraction such as 0.4 or 40%, got {text!r}") from None
    if not math.isfinite(value) or not 0 < value <= 1:
        raise ValueError(f"{what} must be above 0 and at most 1 (100%), got {text!r}")
    return value


def number(what: str, text: str, low: float, high: float) -> float:
    """A number in ``[low, high]``."""
    try:
        value = float(str(text).strip())
    except ValueError:
        raise ValueError(f"{what} must be a number, got {text!r}") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise ValueError(f"{what} must be between {low:g} and {high:g}, got {text!r}")
    return value


def parse_compare(terms: list[str]) -> list[dict[str, str]]:
    """``["params=30B,100B", "days=30,60"]`` → ``[{"params": "30B", "days": "30"}, {"params": "100B",
    "days": "60"}]``: plan *i* takes the *i*-th value of every term; a term with one value applies to all. At
    least two plans; every term with several values must have the same number of them."""
    columns: dict[str, list[str]] = {}
    for term in terms:
        name, sep, values = str(term).partition("=")
        name = name.strip().lstrip("-").lower().replace("_", "-")
        if not sep or not values.strip():
            raise ValueError(f"{term!r} is not NAME=V1,V2; {COMPARE_USAGE}")
        if name not in COMPARABLE:
            raise ValueError(f"--compare cannot vary {name!r}; {COMPARE_USAGE}")
        if COMPARABLE[name] in columns:
            raise ValueError(f"--compare names {name!r} twice; {COMPARE_USAGE}")
        items = [v.strip() for v in values.split(",")]
        if any(not v for v in items):
            raise ValueError(f"empty value in {term!r}; {COMPARE_USAGE}")
        columns[COMPARABLE[name]] = items
    lengths = {len(v) for v in columns.values() if len(v) > 1}
    if not columns or not lengths:
        raise ValueError(f"--compare needs at least two values to set side by side; {COMPARE_USAGE}")
    if len(lengths) > 1:
        raise ValueError(f"--compare terms have different numbers of values ({sorted(lengths)}); "
                         f"{COMPARE_USAGE}")
    n = lengths.pop()
    return [{dest: (values[i] if len(values) > 1 else values[0]) for dest, values in columns.items()}
            for i in range(n)]
