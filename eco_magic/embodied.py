"""Embodied carbon: the manufacturing footprint of the hardware a cell used, amortised over its lifetime.

For every device a cell ran on, its share of the device's embodied carbon is

    embodied (kg CO₂e) × cell duration (s) / device lifetime (s)

summed over the devices. It is a separate, labelled estimate: it is never added to the operational ``co2_g``.

The figures come from the packaged table ``data/embodied.csv`` (see ``data/README.md``): GPU cards by name, CPU
sockets by name (else a generic socket, said so), DRAM per GB installed and a server chassis. Each row carries its
source, year and lifetime (default 5 years, LLMCarbon's). A GPU the table does not know is *not counted* and a
note says so — never a zero, never a guess.

Pure apart from reading the packaged table once (cached); no network.
"""
from __future__ import annotations

import csv
import functools
import io
import os
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

__all__ = ["EmbodiedRow", "DEFAULT_LIFETIME_YEARS", "S_PER_YEAR", "table", "match", "share_g", "for_devices"]

S_PER_YEAR = 365.0 * 86_400.0
#: LLMCarbon's hardware lifetime (``embodied.py``: ``lifespan = 5 * 365`` days), the table's default.
DEFAULT_LIFETIME_YEARS = 5.0


@dataclass(frozen=True)
class EmbodiedRow:
    """One row of the embodied table.

    name              what the row describes ("H100 SXM 80GB", "DRAM per GB", "Server chassis")
    kind              ``gpu``, ``cpu``, ``ram`` or ``chassis``
    match             words that must all appear in a device's name (lower case, split on non-alphanumerics);
                      empty for the generic rows (CPU socket, DRAM per GB, chassis)
    unit              what ``embodied_kg_co2e`` is per: ``device``, ``socket``, ``GB`` or ``server``
    embodied_kg_co2e  kg CO₂e per unit, manufacture to end of life without the use phase
    lifetime_years    years the unit is used (the amortisation period)
    source, year      where the figure comes from; ``basis`` what it includes
    """

    name: str
    kind: str
    match: tuple[str, ...]
    unit: str
    embodied_kg_co2e: float
    lifetime_years: float
    source: str
    year: int
    basis: str = ""

    def label(self) -> str:
        return f"{self.name} ({self.source}, {self.year})"


def _words(name: str) -> set[str]:
    return set(re.split(r"[^a-z0-9]+", str(name).lower())) - {""}


def read_table(text: str) -> list[EmbodiedRow]:
    """Rows from CSV text with the columns of ``data/embodied.csv``."""
    rows = []
    for r in csv.DictReader(io.StringIO(text)):
        rows.append(EmbodiedRow(
            name=r["name"], kind=r["kind"].strip().lower(), match=tuple(r["match"].split()), unit=r["unit"],
            embodied_kg_co2e=float(r["embodied_kg_co2e"]),
            lifetime_years=float(r["lifetime_years"] or DEFAULT_LIFETIME_YEARS), source=r["source"],
            year=int(r["year"]), basis=r.get("basis", "")))
    return rows


@functools.lru_cache(maxsize=1)
def _packaged() -> tuple[EmbodiedRow, ...]:
    from importlib import resources

    return tuple(read_table((resources.files("eco_magic") / "data" / "embodied.csv").read_text(encoding="utf-8")))


def table(path: str | os.PathLike | None = None) -> tuple[EmbodiedRow, ...]:
    """The packaged table, or the CSV file at ``path`` (same columns) instead."""
    if path is None:
        return _packaged()
    with open(path, encoding="utf-8") as f:
        return tuple(read_table(f.read()))


def match(kind: str, name: str, rows: Sequence[EmbodiedRow] | None = None) -> EmbodiedRow | None:
    """The first row of ``kind`` whose words all appear in ``name``; for cpu/ram/chassis the generic row
    (empty ``match``) when no named row fits; ``None`` for a GPU no row names."""
    rows = _packaged() if rows is None else rows
    words = _words(name)
    generic = None
    for row in rows:
        if row.kind != kind:
            continue
        if not row.match:
            generic = generic or row
        elif set(row.match) <= words:
            return row
    return generic if kind != "gpu" else None


def share_g(embodied_kg: float, duration_s: float, lifetime_years: float) -> float:
    """Grams of CO₂e: ``embodied_kg`` × 1000 × duration / lifetime."""
    if lifetime_years <= 0:
        raise ValueError(f"lifetime must be positive, got {lifetime_years!r} years")
    return embodied_kg * 1000.0 * max(0.0, duration_s) / (lifetime_years * S_PER_YEAR)


def _get(device: Any, name: str, default: Any = None) -> Any:
    if isinstance(device, Mapping):
        return device.get(name, default)
    return getattr(device, name, default)


def _cpu_sockets(details: Mapping[str, Any]) -> tuple[float, str]:
    """Sockets of the CPU channel and a remark: whole sockets (``details["sockets"]``, else the RAPL package
    zones, else 1), or the visible share of one socket in a VM slice."""
    threads, logical = details.get("threads_per_socket"), details.get("logical_cpus")
    if details.get("vm_slice") and threads and logical:
        return float(logical) / float(threads), f"{logical} of its {threads} threads visible"
    zones = [z for z in details.get("zones") or () if isinstance(z, Mapping)]
    packages = [z for z in zones if str(z.get("name", "")).startswith("package")]
    return float(details.get("sockets") or len(packages) or 1), ""


def for_devices(devices: Iterable[Any], duration_s: float, *, lifetime_years: float | None = None,
                rows: Sequence[EmbodiedRow] | None = None, server: bool | None = None,
                memory_gb: float | None = None) -> tuple[float | None, str, tuple[str, ...]]:
    """Amortised embodied carbon of the devices a cell used: ``(co2_g or None, source, notes)``.

    devices         objects or mappings with ``kind`` (gpu/cpu/ram), ``name`` and optional ``details`` (the
                    sensors' :class:`~eco_magic.sensors.base.DeviceInfo` works as is): GPUs by name, CPU
                    sockets from ``details["sockets"]`` (or the RAPL package zones; the visible share of one
                    socket in a VM slice), DRAM from ``details["total_gb"]`` (else ``memory_gb``)
    duration_s      the cell's wall time
    lifetime_years  overrides every row's lifetime
    rows            another table (see :func:`table`); default the packaged one
    server          count one server chassis: ``None`` = when a datacenter GPU is present
                    (``details["datacenter"]``), else say it was not counted
    memory_gb       installed DRAM when no RAM channel states its size

    ``co2_g`` is ``None`` when nothing could be counted; unknown GPUs are named in ``notes``, never zero.
    """
    if lifetime_years is not None and not lifetime_years > 0:
        raise ValueError(f"lifetime_years must be positive, got {lifetime_years!r}")
    rows = _packaged() if rows is None else tuple(rows)
    total, parts, notes, used = 0.0, [], [], []
    counted = False
    seen_kinds: set[str] = set()
    datacenter = False

    def add(row: EmbodiedRow, units: float, key: str, extra: str = "") -> None:
        nonlocal total, counted
        life = lifetime_years if lifetime_years is not None else row.lifetime_years
        total += share_g(row.embodied_kg_co2e * units, duration_s, life)
        counted = True
        unit = row.unit if units == 1 or row.unit == "GB" else f"{row.unit}s"
        parts.append((f"{row.name}{extra}: {units:.3g} {unit} × {row.embodied_kg_co2e:g} kg", life))
        if row not in used:
            used.append(row)

    for dev in devices:
        kind, name = str(_get(dev, "kind", "")), str(_get(dev, "name", "") or "")
        details = _get(dev, "details") or {}
        key = str(_get(dev, "key", "") or kind)
        if kind == "gpu":
            datacenter = datacenter or bool(details.get("datacenter"))
            row = match("gpu", name, rows)
            if row is None:
                notes.append(f"embodied carbon: no figure for {key} {name!r} in the embodied table, so it is not "
                             "counted (give a table with a row for it)")
            else:
                add(row, 1.0, key)
        elif kind == "cpu" and "cpu" not in seen_kinds:
            seen_kinds.add("cpu")
            row = match("cpu", details.get("brand") or name, rows)
            if row is None:
                notes.append(f"embodied carbon: no CPU row in the embodied table, {key} not counted")
                continue
            units, how = _cpu_sockets(details)
            add(row, units, key, (f", {how}" if how else "") + (", this CPU not in the table" if not row.match
                                                                else ""))
        elif kind == "ram" and "ram" not in seen_kinds:
            seen_kinds.add("ram")
            gb = details.get("total_gb") or memory_gb
            row = match("ram", name, rows)
            if row is None or not gb:
                notes.append(f"embodied carbon: DRAM size of {key} unknown, DRAM not counted" if row is not None
                             else f"embodied carbon: no DRAM row in the embodied table, {key} not counted")
                continue
            add(row, float(gb), key)
    count_chassis = datacenter if server is None else bool(server)
    if count_chassis:
        row = match("chassis", "", rows)
        if row is None:
            notes.append("embodied carbon: no chassis row in the embodied table, chassis not counted")
        else:
            add(row, 1.0, "chassis")
    if not counted:
        return None, "", tuple(notes)
    return total, _source(parts, used, count_chassis, partial=bool(notes)), tuple(notes)


@functools.lru_cache(maxsize=64)
def _source_text(parts: tuple, sources: tuple, chassis: bool, partial: bool) -> str:
    lives = {life for _, life in parts}
    each = " + ".join(text if len(lives) == 1 else f"{text} over {life:g} y" for text, life in parts)
    over = f", amortised over {next(iter(lives)):g} y of use" if len(lives) == 1 else ", amortised over each lifetime"
    scope = "; whole devices the kernel saw" + ("" if chassis else ", no server chassis counted (no datacenter GPU)")
    return f"{'partial (see notes): ' if partial else ''}{each}{over}{scope} — {'; '.join(sources)}"


def _source(parts: list, used: list, chassis: bool, partial: bool) -> str:
    """One short line: what was counted, the lifetime, and the table's sources (the same text is shared, not
    rebuilt, for the same hardware: it is kept on every ledger row)."""
    sources = tuple(dict.fromkeys(f"{' '.join(r.source.split()[:3])}, {r.year}" for r in used))
    return _source_text(tuple(parts), sources, chassis, partial)


def installed_memory_gb() -> float | None:
    """Installed DRAM in GB (GiB, psutil), for a RAM channel that does not state its size; ``None`` if unknown."""
    try:
        import psutil

        return psutil.virtual_memory().total / 1024**3  # GiB, as the RAM model states sizes
    except Exception:  # noqa: BLE001 - optional figure
        return None
