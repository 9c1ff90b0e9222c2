"""Plain-text renderings of an EcoResult: one summary line, and the card as text — as complete as the HTML card
(same words, from :mod:`.phrases`), for terminals, logs, ``text/plain`` in saved notebooks and exports."""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from . import fmt, phrases
from .phrases import carbon_phrase, ess_text, methods_phrase  # noqa: F401 - re-exported for callers

if TYPE_CHECKING:
    from ..result import EcoResult
    from ..whatif import WhatIfRow

STATUS_MARK = {"ok": "ok", "error": "error", "interrupted": "interrupted"}
ROLE_LABEL = {"lowest": "lowest-intensity grid", "highest": "highest-intensity grid", "chosen": "your list"}
_INDENT = " " * 12


def summary_line(result: "EcoResult") -> str:
    """One line: label, status, duration and the five figures."""
    label = f" {result.label}" if result.label else ""
    return (f"ecolyze:{label} · {STATUS_MARK[result.status]} · {fmt.duration(result.duration_s)} · "
            f"{fmt.energy(result.energy_j)} ({methods_phrase(result)}) · {fmt.mass_g(result.co2_g)} CO₂e · "
            f"{fmt.volume_l(result.water_l)} water · ESS {ess_text(result)}")


def device_line(d) -> str:
    power = f", mean {fmt.power(d.mean_power_w)}" if d.mean_power_w is not None else ""
    idle = f", idle {fmt.power(d.idle_power_w)}" if d.idle_power_w is not None else ""
    temp = f", peak {fmt.temp(d.peak_temp_c)}" if d.peak_temp_c is not None else ""
    throttle = f", throttled: {', '.join(d.throttle_events)}" if d.throttle_events else ""
    return (f"{d.kind:<4} {d.name}: {fmt.energy(d.energy_j)} {d.method}{power}{idle}{temp}{throttle} "
            f"({d.source}; {d.scope} scope)")


def ratio_phrase(ratio: float | None) -> str:
    """A what-if CO₂e ratio to the measured cell: '0.12× this cell', 'n/a (no CO₂e measured to compare)'."""
    if ratio is None:
        return "n/a (this cell's CO₂e is zero)"
    return f"{ratio:.0f}× this cell" if ratio >= 10 else f"{ratio:.2g}× this cell"


def what_if_lines(result: "EcoResult", rows: Sequence["WhatIfRow"], unknown: Sequence[str] = ()) -> list[str]:
    """The what-if section as text lines (empty when there are no rows)."""
    if not rows and not unknown:
        return []
    lines = [f"  what-if   the same {fmt.energy(result.energy_j)} at PUE {result.pue:g} on other grids:"]
    for row in rows:
        lines.append(f"    {row.name} ({row.code}): {fmt.trim(fmt.number(row.carbon_intensity_g_per_kwh, 4))} g/kWh → "
                     f"{fmt.mass_g(row.co2_g)} CO₂e, {ratio_phrase(row.ratio_to_current)} "
                     f"[{ROLE_LABEL.get(row.role, row.role)}]")
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


def _row(label: str, text: str) -> str:
    return f"  {label:<9} {text}"


def _rows(label: str, texts: Sequence[str]) -> list[str]:
    return [(f"  {label:<9} " if i == 0 else _INDENT) + t for i, t in enumerate(texts)]


def render_text(result: "EcoResult", *, what_if: Sequence["WhatIfRow"] | None = None,
                project_daily: float | None = None, unknown_regions: Sequence[str] = ()) -> str:
    """The card as text: every figure with unit, method and source. Used for terminals, logs and exports.

    ``what_if`` rows (:func:`eco_magic.whatif.what_if`) and ``project_daily`` (runs per day) add the what-if and
    annual-projection sections; both are left out by default.
    """
    r = result
    p = phrases
    lines = [summary_line(r)]
    energy = f"{fmt.energy(r.energy_j)} IT energy, {methods_phrase(r)}"
    bar = p.error_bar(r, "energy_j")
    lines.append(_row("energy", energy + (f" {bar}" if bar else "") + f"; net of idle {p.net_of_idle(r)}"))
    for d in r.devices:
        lines.append(f"    {device_line(d)}")
    from .workers import workers_text

    section = workers_text(r)
    if section:
        lines.append(section)
    co2 = f"{fmt.mass_g(r.co2_g)} = energy × {p.ci_text(r)} ({p.carbon_kind(r)}) × PUE {r.pue:g}"
    bar = p.error_bar(r, "co2_g")
    lines.append(_row("CO₂e", co2 + (f" {bar}" if bar else "")))
    if p.embodied(r):
        lines.append(_row("embodied", p.embodied(r)))
    bar = p.error_bar(r, "water_l")
    lines.append(_row("water", f"{fmt.volume_l(r.water_l)}" + (f" {bar}" if bar else "") +
                      f" ({p.water_split(r)}), {p.water_model(r)}"))
    thermal = p.thermal_value(r)
    lines.append(_row("thermal", f"{thermal}: {p.thermal_note(r)}" if thermal == "n/a"
                      else f"{thermal} ({p.thermal_note(r)})"))
    for flag in r.thermal_flags:
        lines.append(f"{_INDENT}⚠ {flag}")
    if r.ess is None:
        lines.append(_row("ESS", f"n/a: {p.ess_reason(r)}"))
    else:
        bar = p.error_bar(r, "ess")
        ess = f"{p.ess_value(r)} M params/g CO₂e" + (f" {bar}" if bar else "")
        lines.append(_row("ESS", ess + (f" = {p.ess_inputs(r)}" if p.ess_inputs(r) else "")))
    if r.ess is None and p.ess_inputs(r):
        lines.append(f"{_INDENT}model: {p.ess_inputs(r)}")
    lines.extend(_rows("repeats", p.repeats_lines(r)))
    rates = [f"per item {p.per_item(r)}" if p.per_item(r) else "",
             f"per minute {p.per_minute(r)}" if p.per_minute(r) else ""]
    rates = [x for x in rates if x]
    if rates:
        lines.append(_row("rates", "; ".join(rates)))
    if p.recorded(r):
        lines.append(_row("recorded", p.recorded(r)))
    llm = p.llm_lines(r)
    if llm:
        lines.extend(_rows("LLM", [f"{label}: {text}" for label, text in llm]))
    lines.extend(what_if_lines(r, what_if or (), unknown_regions))
    projection = projection_line(r, project_daily)
    if projection:
        lines.append(projection)
    if r.error:
        lines.append(_row("cell", f"{r.status}: {r.error}"))
    lines.extend(_rows("sources", [f"{label} {text}" for label, text in p.sources(r)]))
    for note in r.notes:
        lines.append(_row("note", note))
    return "\n".join(lines)
