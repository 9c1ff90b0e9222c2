"""Plain-text renderings of an EcoResult: one summary line and a compact multi-line card."""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from . import fmt

if TYPE_CHECKING:
    from ..result import EcoResult
    from ..whatif import WhatIfRow

STATUS_MARK = {"ok": "ok", "error": "error", "interrupted": "interrupted"}


def methods_phrase(result: "EcoResult") -> str:
    """'counter' / 'estimated' / 'counter + estimated' — how the energy figure was obtained."""
    seen: list[str] = []
    for d in result.devices:
        if d.energy_j is not None and d.method not in seen:
            seen.append(d.method)
    return " + ".join(seen) if seen else "no sensor"


def ess_text(result: "EcoResult") -> str:
    return fmt.ess(result.ess, result.ess_note)


def summary_line(result: "EcoResult") -> str:
    """One line: label, status, duration and the five figures."""
    label = f" {result.label}" if result.label else ""
    return (f"ecolyze:{label} · {STATUS_MARK[result.status]} · {fmt.duration(result.duration_s)} · "
            f"{fmt.energy(result.energy_j)} ({methods_phrase(result)}) · {fmt.mass_g(result.co2_g)} CO₂e · "
            f"{fmt.volume_l(result.water_l)} water · ESS {ess_text(result)}")


def carbon_phrase(result: "EcoResult") -> str:
    year = f" {result.carbon_year}" if result.carbon_year else ""
    parts = [result.region_name or result.region, f"{result.carbon_source}{year}".strip(), result.region_resolved_by]
    kept = "; ".join(p for p in parts if p)
    return f"{result.carbon_intensity_g_per_kwh:.4g} g/kWh" + (f" ({kept})" if kept else "")


def device_line(d) -> str:
    temp = f", peak {fmt.temp(d.peak_temp_c)}" if d.peak_temp_c is not None else ""
    throttle = f", throttled: {', '.join(d.throttle_events)}" if d.throttle_events else ""
    return (f"{d.kind:<4} {d.name}: {fmt.energy(d.energy_j)} {d.method} ({d.source}; {d.scope} scope)"
            f"{temp}{throttle}")


def ratio_phrase(ratio: float | None) -> str:
    """A what-if CO₂e ratio to the measured cell: '0.12× this cell', 'n/a'."""
    if ratio is None:
        return "n/a"
    return f"{ratio:.0f}× this cell" if ratio >= 10 else f"{ratio:.2g}× this cell"


def what_if_lines(result: "EcoResult", rows: Sequence["WhatIfRow"], unknown: Sequence[str] = ()) -> list[str]:
    """The what-if section as text lines (empty when there are no rows)."""
    if not rows and not unknown:
        return []
    roles = {"lowest": "lowest-intensity grid", "highest": "highest-intensity grid", "chosen": "your list"}
    lines = [f"  what-if   the same {fmt.energy(result.energy_j)} at PUE {result.pue:g} on other grids:"]
    for row in rows:
        lines.append(f"    {row.name} ({row.code}): {row.carbon_intensity_g_per_kwh:.4g} g/kWh → "
                     f"{fmt.mass_g(row.co2_g)} CO₂e, {ratio_phrase(row.ratio_to_current)} "
                     f"[{roles.get(row.role, row.role)}]")
    if unknown:
        lines.append(f"    unknown what-if region(s) skipped: {', '.join(unknown)}")
    return lines


def projection_line(result: "EcoResult", runs_per_day: float | None) -> str | None:
    """'  per year  at N runs/day: E, CO₂e, water' or ``None`` without a projection."""
    if not runs_per_day:
        return None
    from ..whatif import annual

    a = annual(result, runs_per_day)
    return (f"  per year  at {runs_per_day:g} run(s)/day × 365: {fmt.energy(a.energy_kwh_per_year * 3.6e6)}, "
            f"{fmt.mass_g(a.co2_kg_per_year * 1000.0)} CO₂e, {fmt.volume_l(a.water_l_per_year)} water")


def render_text(result: "EcoResult", *, what_if: Sequence["WhatIfRow"] | None = None,
                project_daily: float | None = None, unknown_regions: Sequence[str] = ()) -> str:
    """The card as text: every figure with unit and provenance. Used for terminals, logs and exports.

    ``what_if`` rows (:func:`eco_magic.whatif.what_if`) and ``project_daily`` (runs per day) add the what-if and
    annual-projection sections; both are left out by default.
    """
    lines = [summary_line(result)]
    energy = f"{fmt.energy(result.energy_j)} IT energy"
    if result.energy_net_j is not None:
        energy += f", {fmt.energy(result.energy_net_j)} net of idle (idle {fmt.power(result.idle_power_w)})"
    lines.append(f"  energy    {energy}")
    for d in result.devices:
        lines.append(f"    {device_line(d)}")
    from .workers import workers_text

    section = workers_text(result)
    if section:
        lines.append(section)
    lines.append(f"  CO₂e      {fmt.mass_g(result.co2_g)} = energy × {carbon_phrase(result)} × PUE {result.pue:g} "
                 f"({result.pue_source})")
    lines.append(f"  water     {fmt.volume_l(result.water_l)} (on-site {fmt.volume_l(result.water_onsite_l)}, "
                 f"off-site {fmt.volume_l(result.water_offsite_l)}; {result.water_model} model: "
                 f"{result.water_formula}; {result.water_source})")
    thermal = "; ".join(result.thermal_flags) if result.thermal_flags else "no flags"
    if result.peak_temp_c is None:
        thermal += " (no temperature sensor readable)"
    lines.append(f"  thermal   {thermal}")
    ess_line = ess_text(result)
    if result.effective_params_m is not None:
        ess_line += (f"; N = {fmt.count(result.n_params)}, {result.precision}, QF {result.qf:g} → "
                     f"{fmt.params_m(result.effective_params_m)} effective")
        if result.model_variable:
            source = f", {result.model_source}" if result.model_source else ""
            ess_line += f" (from variable {result.model_variable!r}{source})"
    lines.append(f"  ESS       {ess_line}")
    rate = []
    if result.items:
        rate.append(f"per item {fmt.energy(result.energy_per_item_j)}, {fmt.mass_g(result.co2_per_item_g)} CO₂e "
                    f"({result.items} items)")
    if result.energy_per_min_j is not None:
        rate.append(f"per minute {fmt.energy(result.energy_per_min_j)}, {fmt.mass_g(result.co2_per_min_g)} CO₂e")
    if rate:
        lines.append(f"  rates     {'; '.join(rate)}")
    lines.extend(what_if_lines(result, what_if or (), unknown_regions))
    projection = projection_line(result, project_daily)
    if projection:
        lines.append(projection)
    lines.append(f"  sampling  {result.sampling}, {result.n_samples} samples")
    if result.error:
        lines.append(f"  cell      {result.status}: {result.error}")
    for note in result.notes:
        lines.append(f"  note      {note}")
    return "\n".join(lines)
