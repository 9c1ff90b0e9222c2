"""What if the same cell ran elsewhere, or every day for a year? Pure arithmetic over the region tables.

Two views, both shown on the result card:

* :func:`what_if` — the measured IT energy (J) with the same PUE on other grids: the lowest- and highest-intensity
  countries of the packaged table (:func:`eco_magic.regions.extremes`) plus any regions the user listed
  (``%config EcoMagics.what_if_regions = ['PL', 'aws:eu-north-1']``). CO₂e = E (kWh) × CI (g/kWh) × PUE, exactly
  as for the measured cell (:func:`eco_magic.accounting.co2_g`).
* :func:`annual` — the cell repeated ``runs_per_day`` times a day for 365 days (``--project-daily N``), the
  inference-time view of ML-EcoLyzer: energy in kWh, CO₂e in kg, water in L per year.

Nothing here touches IPython or the display; the carbon intensities come from :mod:`eco_magic.regions`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple, Sequence

from . import accounting as acc

if TYPE_CHECKING:
    from .result import EcoResult

__all__ = ["WhatIfRow", "Annual", "what_if", "annual", "unknown_codes"]


@dataclass(frozen=True)
class WhatIfRow:
    """The cell's energy on another grid.

    code                        canonical region code (``"IS"``, ``"US-CA"``, ``"aws:eu-north-1"``)
    name                        human name of the region
    carbon_intensity_g_per_kwh  that grid's intensity, g CO₂e per kWh (its table's basis and year)
    co2_g                       the cell's CO₂e there, grams, same energy and PUE
    ratio_to_current            ``co2_g`` divided by the CO₂e where the cell ran (``None`` if that was zero)
    role                        why the row is shown: ``"lowest"``, ``"highest"`` or ``"chosen"`` (user list)
    """

    code: str
    name: str
    carbon_intensity_g_per_kwh: float
    co2_g: float
    ratio_to_current: float | None
    role: str = "chosen"


class Annual(NamedTuple):
    """A cell projected to ``runs_per_day`` runs a day for a year (365 days)."""

    energy_kwh_per_year: float
    co2_kg_per_year: float
    water_l_per_year: float


def what_if(energy_j: float, pue: float, current_region_code: str, extra_codes: Sequence[str] = (), *,
            current_ci_g_per_kwh: float | None = None) -> list[WhatIfRow]:
    """The same IT energy (J) and PUE on the lowest- and highest-intensity grids, then on ``extra_codes``.

    ``current_ci_g_per_kwh`` is the intensity the measured cell used (pass it when the user overrode it with
    ``--ci``); by default it is the table value of ``current_region_code``. Ratios are relative to it. Extra codes
    may be any form :func:`eco_magic.regions.lookup` accepts; unknown ones are skipped (see :func:`unknown_codes`),
    and neither a region already listed nor the cell's own region is repeated. The two extremes are always shown.
    """
    from . import regions

    try:
        current = regions.lookup(current_region_code)
    except regions.UnknownRegionError:
        current = None
    if current_ci_g_per_kwh is None and current is not None:
        current_ci_g_per_kwh = current.carbon_intensity_g_per_kwh
    current_co2_g = (acc.co2_g(energy_j, current_ci_g_per_kwh, pue)
                     if current_ci_g_per_kwh is not None else None)

    lowest, highest = regions.extremes()
    picked = [(lowest, "lowest"), (highest, "highest")]
    for code in extra_codes:
        try:
            picked.append((regions.lookup(code), "chosen"))
        except regions.UnknownRegionError:
            continue

    own = current.code if current is not None else None
    rows: list[WhatIfRow] = []
    for region, role in picked:
        if any(row.code == region.code for row in rows) or (role == "chosen" and region.code == own):
            continue
        co2 = acc.co2_g(energy_j, region.carbon_intensity_g_per_kwh, pue)
        ratio = co2 / current_co2_g if current_co2_g else None
        rows.append(WhatIfRow(region.code, region.name, region.carbon_intensity_g_per_kwh, co2, ratio, role))
    return rows


def unknown_codes(codes: Sequence[str]) -> list[str]:
    """The entries of ``codes`` that :func:`eco_magic.regions.lookup` does not know (for a note on the card)."""
    from . import regions

    out = []
    for code in codes:
        try:
            regions.lookup(code)
        except regions.UnknownRegionError:
            out.append(code)
    return out


def annual(result: "EcoResult", runs_per_day: float) -> Annual:
    """Energy (kWh), CO₂e (kg) and water (L) per year if the cell ran ``runs_per_day`` times a day, 365 days."""
    if not runs_per_day > 0:
        raise ValueError(f"runs_per_day must be positive, not {runs_per_day!r}")
    energy_kwh = acc.annual_projection(acc.kwh_from_j(result.energy_j), runs_per_day)
    co2_kg = acc.annual_projection(result.co2_g / 1000.0, runs_per_day)
    water_l = acc.annual_projection(result.water_l, runs_per_day)
    return Annual(energy_kwh, co2_kg, water_l)
