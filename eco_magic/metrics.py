"""The figures a comparison can be made on: record field, unit, display ladder, direction, verdict sentences,
and what the sensors resolve for each (the energy resolution, converted)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class Metric:
    """A figure groups can be compared on.

    ``field`` is the record key (SI unit ``unit``); ``units`` the display ladder (factor, name). ``scales_with_energy``:
    the sensors' energy resolution applies proportionally (energy, CO₂e, water, per-token/item figures, ESS).
    ``more`` / ``less`` / ``times`` are the verdict sentences ({g} group, {b} baseline, {p} percent, {r} ratio).
    """

    name: str
    field: str
    title: str
    unit: str
    units: tuple[tuple[float, str], ...]
    more: str
    less: str
    times: str
    noun: str
    higher_is_better: bool = False
    scales_with_energy: bool = True


_ENERGY_UNITS = ((3.6e6, "kWh"), (3600.0, "Wh"), (1.0, "J"), (1e-3, "mJ"), (1e-6, "µJ"))
_MASS_UNITS = ((1000.0, "kg"), (1.0, "g"), (1e-3, "mg"), (1e-6, "µg"))

METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("energy", "energy_j", "Energy", "J", _ENERGY_UNITS, "{g} uses {p} more energy than {b}",
           "{g} uses {p} less energy than {b}", "{g} uses {r} the energy of {b}", "energy"),
    Metric("co2", "co2_g", "CO₂e", "g", _MASS_UNITS, "{g} emits {p} more CO₂e than {b}",
           "{g} emits {p} less CO₂e than {b}", "{g} emits {r} the CO₂e of {b}", "CO₂e"),
    Metric("water", "water_l", "Water", "L", ((1.0, "L"), (1e-3, "mL"), (1e-6, "µL"), (1e-9, "nL")),
           "{g} uses {p} more water than {b}", "{g} uses {p} less water than {b}", "{g} uses {r} the water of {b}",
           "water"),
    Metric("ess", "ess", "ESS", "M params/g CO₂e", ((1.0, "M params/g CO₂e"),),
           "{g} scores {p} higher on ESS than {b}", "{g} scores {p} lower on ESS than {b}",
           "{g} scores {r} the ESS of {b}", "ESS", higher_is_better=True),
    Metric("duration", "duration_s", "Duration", "s", ((3600.0, "h"), (60.0, "min"), (1.0, "s"), (1e-3, "ms")),
           "{g} takes {p} longer than {b}", "{g} takes {p} less time than {b}", "{g} takes {r} as long as {b}",
           "duration", scales_with_energy=False),
    Metric("energy_per_token", "energy_per_token_j", "Energy per token", "J", _ENERGY_UNITS,
           "{g} uses {p} more energy per token than {b}", "{g} uses {p} less energy per token than {b}",
           "{g} uses {r} the energy per token of {b}", "energy per token"),
    Metric("energy_per_item", "energy_per_item_j", "Energy per item", "J", _ENERGY_UNITS,
           "{g} uses {p} more energy per item than {b}", "{g} uses {p} less energy per item than {b}",
           "{g} uses {r} the energy per item of {b}", "energy per item"),
    Metric("embodied", "embodied_co2_g", "Embodied CO₂e", "g", _MASS_UNITS,
           "{g} carries {p} more embodied CO₂e than {b}", "{g} carries {p} less embodied CO₂e than {b}",
           "{g} carries {r} the embodied CO₂e of {b}", "embodied CO₂e", scales_with_energy=False),
)}


def get_metric(name: str) -> Metric:
    """The :class:`Metric` called ``name``; ``ValueError`` naming the choices otherwise."""
    try:
        return METRICS[name]
    except KeyError:
        raise ValueError(f"unknown metric {name!r}: use one of {', '.join(METRICS)}") from None


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def resolution_of(record: Mapping[str, Any], m: Metric) -> float:
    """What the sensors resolve for this row's value of ``m`` (its unit): the energy resolution, converted."""
    if not m.scales_with_energy:
        return 0.0
    value, energy, res = _num(record.get(m.field)), _num(record.get("energy_j")), _num(
        record.get("energy_resolution_j"))
    if value is None or energy is None or res is None or energy <= 0 or res <= 0:
        return 0.0
    return abs(value) * res / energy  # every energy-derived figure is proportional to the energy
