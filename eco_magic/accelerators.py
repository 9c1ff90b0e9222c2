"""Accelerators the planner knows: peak TFLOP/s by precision, TDP, typical average power, memory, embodied carbon and
lifetime, each with its source (``data/accelerators.csv``, described in ``data/README.md``).

Peak figures are *dense* (the datasheets' structured-sparsity figures halved). ``typical_power_w`` is a published
average power per device when one exists (for V100 and TPU v3 it includes the device's share of its host); where
none is published it is empty and the planner uses the TDP as an upper bound, and says so.
Pure apart from reading the packaged table once; no network.
"""
from __future__ import annotations

import csv
import functools
import io
import os
import re
from dataclasses import dataclass, field

__all__ = ["Accelerator", "PRECISIONS", "table", "lookup", "UnknownAcceleratorError"]

#: Precision names → table column (int8 in TOP/s).
PRECISIONS = {"fp64": "fp64_tflops", "fp32": "fp32_tflops", "tf32": "tf32_tflops", "fp16": "fp16_tflops",
              "bf16": "bf16_tflops", "fp8": "fp8_tflops", "int8": "int8_tops"}


@dataclass(frozen=True)
class Accelerator:
    """One accelerator model. ``peak_tflops`` maps a precision to dense peak TFLOP/s (TOP/s for int8)."""

    key: str
    aliases: tuple[str, ...]
    vendor: str
    datacenter: bool
    memory_gb: float | None
    peak_tflops: dict[str, float] = field(default_factory=dict)
    tdp_w: float | None = None
    typical_power_w: float | None = None
    typical_power_source: str = ""
    embodied_kg_co2e: float | None = None
    embodied_source: str = ""
    lifetime_years: float | None = None
    lifetime_source: str = ""
    spec_source: str = ""
    year: int | None = None

    def peak(self, precision: str | None = None) -> tuple[float, str] | None:
        """``(dense peak TFLOP/s, precision)``; by default the half-precision tensor figure (bf16, else fp16, else
        fp32). ``None`` when the table has no figure at ``precision`` (a V100 has no bf16)."""
        for p in [precision] if precision else ["bf16", "fp16", "fp32"]:
            if self.peak_tflops.get(p):
                return self.peak_tflops[p], p
        return None


class UnknownAcceleratorError(ValueError):
    """A device name matched no row; the message lists the known keys."""

    def __init__(self, name: str, known: list[str]):
        super().__init__(f"unknown device {name!r}; the accelerator table knows {', '.join(known)} "
                         "(or give --achieved-tflops and --power instead of --device)")


def _num(text: str | None) -> float | None:
    text = (text or "").strip()
    return float(text) if text else None


def read_table(text: str) -> tuple[Accelerator, ...]:
    out = []
    for r in csv.DictReader(io.StringIO(text)):
        peaks = {p: v for p, col in PRECISIONS.items() if (v := _num(r.get(col))) is not None}
        year = _num(r.get("year"))
        out.append(Accelerator(
            key=r["key"], aliases=tuple(a.strip() for a in r["aliases"].split(";") if a.strip()),
            vendor=r["vendor"], datacenter=r["datacenter"].strip() == "1", memory_gb=_num(r["memory_gb"]),
            peak_tflops=peaks, tdp_w=_num(r["tdp_w"]), typical_power_w=_num(r["typical_power_w"]),
            typical_power_source=r["typical_power_source"], embodied_kg_co2e=_num(r["embodied_kg_co2e"]),
            embodied_source=r["embodied_source"], lifetime_years=_num(r["lifetime_years"]),
            lifetime_source=r["lifetime_source"], spec_source=r["spec_source"],
            year=int(year) if year is not None else None))
    return tuple(out)


@functools.lru_cache(maxsize=1)
def _packaged() -> tuple[Accelerator, ...]:
    from importlib import resources

    return read_table((resources.files("eco_magic") / "data" / "accelerators.csv").read_text(encoding="utf-8"))


def table(path: str | os.PathLike | None = None) -> tuple[Accelerator, ...]:
    """The packaged accelerator table, or the CSV at ``path`` (same columns)."""
    if path is None:
        return _packaged()
    with open(path, encoding="utf-8") as f:
        return read_table(f.read())


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", str(text).lower())


def lookup(name: str, rows: tuple[Accelerator, ...] | None = None) -> Accelerator:
    """The row whose key or one of whose aliases equals ``name`` (case, spaces and dashes ignored):
    ``"A100"``, ``"a100-sxm4-80gb"``, ``"H100 PCIe"``, ``"tpu v3"``. Raises :class:`UnknownAcceleratorError`."""
    rows = _packaged() if rows is None else rows
    want = _norm(name)
    for row in rows:
        if want and (want == _norm(row.key) or any(want == _norm(a) for a in row.aliases)):
            return row
    raise UnknownAcceleratorError(str(name), [r.key for r in rows])
