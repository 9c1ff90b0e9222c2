"""The ledger table, and the number-column helpers the comparison view shares.

:func:`ledger_bundle` builds the ledger's output bundle (``text/plain`` aligned, escaped ``text/html``): one row per
measured cell plus totals. The comparison of groups lives in :mod:`eco_magic.comparison` (the statistics and
verdicts) and :mod:`eco_magic.display.compare_view` (its rendering, with inline SVG charts from
:mod:`eco_magic.display.svg_chart`).
"""
from __future__ import annotations

import math
from html import escape
from typing import Any, Iterable, Mapping, Sequence

from . import fmt

EMPTY_HINT = "no measured cells yet: put %%ecolyze on a cell"

_ENERGY_UNITS = [(3.6e6, "kWh"), (3600.0, "Wh"), (1.0, "J"), (1e-3, "mJ")]
_MASS_UNITS = [(1000.0, "kg"), (1.0, "g"), (1e-3, "mg"), (1e-6, "µg")]
_VOLUME_UNITS = [(1.0, "L"), (1e-3, "mL"), (1e-6, "µL")]


def plural(n: int, word: str) -> str:
    """'1 cell', '2 cells'."""
    return f"{n} {word}{'' if n == 1 else 's'}"


# --- number columns ----------------------------------------------------------------------------------------------
def pick_unit(values: Iterable[float | None], ladder: Sequence[tuple[float, str]]) -> tuple[float, str]:
    """The unit of ``ladder`` that suits the largest of ``values`` (the factor-1 unit when there are none)."""
    finite = [abs(v) for v in values if v is not None and math.isfinite(v)]
    if not finite or max(finite) == 0:
        return next(((f, u) for f, u in ladder if f == 1.0), ladder[0])
    top = max(finite)
    for factor, unit in ladder:
        if top >= factor:
            return factor, unit
    return ladder[-1]


def _cell(value: float | None, factor: float) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return fmt._sig(value / factor, 3)  # noqa: SLF001 - the shared significant-figure formatter


# --- the ledger table --------------------------------------------------------------------------------------------
# JupyterLab's theme variables with light fallbacks: readable in the dark theme too
_BORDER = "var(--jp-border-color2, #d0d7de)"
_MUTED = "var(--jp-ui-font-color2, #57606a)"
_BOX = ("font-family:system-ui,-apple-system,Segoe UI,sans-serif;font-size:13px;line-height:1.4;"
        f"border:1px solid {_BORDER};border-radius:8px;padding:8px 12px;max-width:980px;"
        "color:var(--jp-ui-font-color0, #1f2328);background:var(--jp-layout-color1, #fbfdfb)")
_TABLE = "border-collapse:collapse;font-size:12px;margin-top:4px"
_TH = f"text-align:left;color:{_MUTED};font-weight:600;padding:2px 8px;border-bottom:1px solid {_BORDER}"
_RIGHT = "text-align:right;font-variant-numeric:tabular-nums"
_SMALL = f"font-size:11px;color:{_MUTED};margin-top:4px"


def _methods(record: Mapping[str, Any]) -> str:
    seen: list[str] = []
    for d in record.get("devices") or []:
        method = d.get("method")
        if d.get("energy_j") is not None and method and method not in seen:
            seen.append(method)
    return "+".join(seen) if seen else "no sensor"


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def ledger_totals(records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Sums over ``records``: duration_s, energy_j, co2_g, water_l (missing values count as nothing)."""
    out = {}
    for key in ("duration_s", "energy_j", "co2_g", "water_l"):
        out[key] = sum(v for v in (_num(r.get(key)) for r in records) if v is not None)
    return out


def _ledger_columns(records: Sequence[Mapping[str, Any]], shown: Sequence[tuple[int, Mapping[str, Any]]],
                    all_sessions: bool):
    units = {key: pick_unit([_num(r.get(key)) for r in records], ladder)
             for key, ladder in (("energy_j", _ENERGY_UNITS), ("co2_g", _MASS_UNITS), ("water_l", _VOLUME_UNITS))}
    header = ["#", "started (UTC)", "label", "status", "duration (s)", f"energy ({units['energy_j'][1]})",
              f"CO₂e ({units['co2_g'][1]})", f"water ({units['water_l'][1]})", "ESS (M params/g CO₂e)", "method"]
    if all_sessions:
        header.append("session")
    body = []
    for index, r in shown:
        started = str(r.get("started_at") or "")[:16].replace("T", " ")
        row = [str(index), started, str(r.get("label") or ""), str(r.get("status") or ""),
               _cell(_num(r.get("duration_s")), 1.0),
               _cell(_num(r.get("energy_j")), units["energy_j"][0]),
               _cell(_num(r.get("co2_g")), units["co2_g"][0]),
               _cell(_num(r.get("water_l")), units["water_l"][0]),
               _cell(_num(r.get("ess")), 1.0), _methods(r)]
        if all_sessions:
            row.append(str(r.get("session_id") or ""))
        body.append(row)
    totals = ledger_totals(records)
    total_row = ["", "", f"total ({plural(len(records), 'cell')})", "", _cell(totals["duration_s"], 1.0),
                 _cell(totals["energy_j"], units["energy_j"][0]), _cell(totals["co2_g"], units["co2_g"][0]),
                 _cell(totals["water_l"], units["water_l"][0]), "", ""] + ([""] if all_sessions else [])
    return header, body, total_row, totals


def _ledger_summary(records: Sequence[Mapping[str, Any]], totals: Mapping[str, float], all_sessions: bool) -> str:
    sessions = len({r.get("session_id") for r in records})
    scope = f"all sessions ({sessions})" if all_sessions else "this session"
    return (f"ledger, {scope}: {plural(len(records), 'cell')} · {fmt.energy(totals['energy_j'])} · "
            f"{fmt.mass_g(totals['co2_g'])} CO₂e · {fmt.volume_l(totals['water_l'])} water · "
            f"{fmt.duration(totals['duration_s'])} measured")


def ledger_bundle(records: Sequence[Mapping[str, Any]], all_sessions: bool = False, last: int | None = 50,
                  hint: str = EMPTY_HINT, totals_of: Sequence[Mapping[str, Any]] | None = None) -> dict[str, str]:
    """The ledger as ``text/plain`` (aligned) and ``text/html`` (escaped): one row per cell plus totals.

    ``records`` are full ledger records, the last ``last`` of which are listed (``None`` or 0: all).
    ``totals_of`` (default ``records``) are the rows the totals, units and numbering cover — every cell, possibly
    as light rows with only duration_s, energy_j, co2_g, water_l and session_id, of which ``records`` is the
    tail. Each number column has one unit, named in its header. No rows at all: just ``hint``.
    """
    every = records if totals_of is None else totals_of
    if not every:
        return {"text/plain": hint, "text/html": f"<div class='eco-ledger-empty'>{escape(hint)}</div>"}
    tail = list(records[-last:] if last else records)
    shown = list(enumerate(tail, start=len(every) - len(tail) + 1))
    header, body, total_row, totals = _ledger_columns(every, shown, all_sessions)
    summary = _ledger_summary(every, totals, all_sessions)
    more = (f"showing the last {len(shown)} of {len(every)} cells (%ecoledger --last 0 shows all)"
            if len(shown) < len(every) else "")
    numeric = {0, 4, 5, 6, 7, 8}
    lines = [summary, *_aligned([header, *body, total_row], right=numeric, rule_before_last=True)]
    if more:
        lines.append(more)
    # every cell says its alignment: JupyterLab right-aligns table cells that do not (labels under left headers)
    head = "".join(f"<th style='{_TH}{';text-align:right' if i in numeric else ''}'>{escape(h)}</th>"
                   for i, h in enumerate(header))

    def tr(cells: list[str], extra: str = "") -> str:
        tds = "".join(f"<td style='padding:1px 8px;{_RIGHT if i in numeric else 'text-align:left'}'>{escape(v)}</td>"
                      for i, v in enumerate(cells))
        return f"<tr{extra}>{tds}</tr>"

    foot = tr(total_row, f" class='eco-total' style='font-weight:600;border-top:1px solid {_BORDER}'")
    html = (f"<div class='eco-ledger' style='{_BOX}'><div style='font-weight:600'>{escape(summary)}</div>"
            f"<table class='eco-ledger-table' style='{_TABLE}'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(tr(row) for row in body)}</tbody><tfoot>{foot}</tfoot></table>"
            + (f"<div style='{_SMALL}'>{escape(more)}</div>" if more else "") + "</div>")
    return {"text/plain": "\n".join(lines), "text/html": html}


def _aligned(rows: list[list[str]], right: set[int], rule_before_last: bool = False) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]

    def line(row: list[str]) -> str:
        cells = [v.rjust(w) if i in right else v.ljust(w) for i, (v, w) in enumerate(zip(row, widths))]
        return "  ".join(cells).rstrip()

    out = [line(rows[0]), "  ".join("-" * w for w in widths)]
    out.extend(line(r) for r in rows[1:-1])
    if len(rows) > 1:
        if rule_before_last:
            out.append("  ".join("-" * w for w in widths))
        out.append(line(rows[-1]))
    return out
