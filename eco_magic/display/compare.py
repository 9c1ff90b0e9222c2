"""Ledger views: the table of measured cells, and the comparison of groups of cells (e.g. quantization variants).

Pure up to the drawing: :func:`compare_table` turns ledger records (the dicts of ``Ledger.records``) into
:class:`CompareRow` s; :func:`draw_chart` draws them on a ``matplotlib.figure.Figure`` (never pyplot);
:func:`compare_bundle` and :func:`ledger_bundle` build the output bundles (``text/plain``, escaped ``text/html``,
and ``image/png`` for the chart). matplotlib is imported only when a chart is drawn.
"""
from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from html import escape
from typing import Any, Iterable, Mapping, Sequence

from . import fmt

EMPTY_HINT = "no measured cells yet: put %%ecolyze on a cell"
MAX_CHART_GROUPS = 24
MAX_TABLE_GROUPS = 200
NONE_GROUP = "(none)"
MINUS = "\u2212"

_ENERGY_UNITS = [(3.6e6, "kWh"), (3600.0, "Wh"), (1.0, "J"), (1e-3, "mJ")]
_MASS_UNITS = [(1000.0, "kg"), (1.0, "g"), (1e-3, "mg"), (1e-6, "µg")]
_VOLUME_UNITS = [(1.0, "L"), (1e-3, "mL"), (1e-6, "µL")]
_ESS_UNITS = [(1.0, "M params/g CO₂e")]


@dataclass(frozen=True)
class Metric:
    """A figure cells can be compared on: record field, title, unit ladder (SI base first is factor 1)."""

    name: str
    field: str
    title: str
    units: tuple[tuple[float, str], ...]
    higher_is_better: bool = False


METRICS: dict[str, Metric] = {
    "energy": Metric("energy", "energy_j", "Energy", tuple(_ENERGY_UNITS)),
    "co2": Metric("co2", "co2_g", "CO₂e", tuple(_MASS_UNITS)),
    "water": Metric("water", "water_l", "Water", tuple(_VOLUME_UNITS)),
    "ess": Metric("ess", "ess", "ESS", tuple(_ESS_UNITS), higher_is_better=True),
}


@dataclass(frozen=True)
class CompareRow:
    """One group of cells: the mean of the metric over the cells that have it.

    ``value`` is ``None`` when no cell of the group has the metric (ESS "n/a"): shown as a gap, never as 0.
    ``delta_pct`` is ``100 × (value − baseline) / baseline``; ``None`` when either side is missing or the
    baseline is 0.
    """

    group: str
    n: int
    n_valid: int
    value: float | None
    delta_pct: float | None
    is_baseline: bool


@dataclass(frozen=True)
class Comparison:
    """The result of comparing groups of ledger cells; displays as a chart with a table of deltas."""

    rows: tuple[CompareRow, ...]
    by: str
    metric: str
    n_records: int

    @property
    def baseline(self) -> str | None:
        return next((r.group for r in self.rows if r.is_baseline), None)

    def __str__(self) -> str:
        return compare_text(self)

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(compare_text(self))

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, Any]:
        return compare_bundle(self)


# --- aggregation -------------------------------------------------------------------------------------------------
def compare_table(records: Sequence[Mapping[str, Any]], by: str = "label", metric: str = "energy",
                  baseline: str | None = None) -> list[CompareRow]:
    """Group ``records`` by the field ``by`` (first-seen order) and compare the mean ``metric`` to a baseline.

    ``metric`` is one of :data:`METRICS` (energy J, co2 g, water L, ess M params/g). The baseline is the group
    named ``baseline`` (exact, else case-insensitive), else the first group that has a value. Raises
    ``ValueError`` for an unknown metric, a field no record has a value for, or a baseline that is not a group.
    """
    m = _metric(metric)
    if not records:
        return []
    if not any(r.get(by) not in (None, "") for r in records):
        raise ValueError(f"no cell has a value for {by!r} to group by; try label, precision, region, status, "
                         "session_id or notebook")
    groups: dict[str, list[float]] = {}
    counts: dict[str, int] = {}
    for r in records:
        key = group_key(r.get(by))
        counts[key] = counts.get(key, 0) + 1
        values = groups.setdefault(key, [])
        v = r.get(m.field)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            values.append(float(v))
    means = {k: (sum(v) / len(v) if v else None) for k, v in groups.items()}
    base = _pick_baseline(list(groups), means, baseline, by)
    base_value = means[base]
    rows = []
    for key, values in groups.items():
        value = means[key]
        delta = None
        if value is not None and base_value:
            delta = 0.0 if key == base else 100.0 * (value - base_value) / base_value
        rows.append(CompareRow(key, counts[key], len(values), value, delta, key == base))
    return rows


def comparison(records: Sequence[Mapping[str, Any]], by: str = "label", metric: str = "energy",
               baseline: str | None = None) -> Comparison:
    """:func:`compare_table` wrapped in a displayable :class:`Comparison`."""
    return Comparison(tuple(compare_table(records, by, metric, baseline)), by, _metric(metric).name, len(records))


def plural(n: int, word: str) -> str:
    """'1 cell', '2 cells'."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def group_key(value: Any) -> str:
    """The text a field value groups under: ``None``/empty → "(none)", 16.0 → "16"."""
    if value is None or value == "":
        return NONE_GROUP
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _metric(name: str) -> Metric:
    try:
        return METRICS[name]
    except KeyError:
        raise ValueError(f"unknown metric {name!r}: use one of {', '.join(METRICS)}") from None


def _pick_baseline(keys: list[str], means: dict[str, float | None], wanted: str | None, by: str) -> str:
    if wanted is None:
        return next((k for k in keys if means[k] is not None), keys[0])
    if wanted in means:
        return wanted
    folded = [k for k in keys if k.casefold() == wanted.casefold()]
    if len(folded) == 1:
        return folded[0]
    shown = ", ".join(keys[:8]) + (", …" if len(keys) > 8 else "")
    raise ValueError(f"no group {wanted!r} when grouping by {by}; groups: {shown}")


def delta_text(pct: float | None) -> str:
    """'−38 %', '+5.2 %', '0 %' (typographic minus); 'n/a' when there is no delta."""
    if pct is None:
        return "n/a"
    if abs(pct) < 0.05:
        return "0 %"
    digits = 0 if abs(pct) >= 9.95 else 1
    while digits < 3 and abs(pct) != 100 and float(f"{abs(pct):.{digits}f}") == 100:  # −99.6 % is not −100 %
        digits += 1
    sign = MINUS if pct < 0 else "+"
    return f"{sign}{abs(pct):.{digits}f} %"


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


# --- comparison output -------------------------------------------------------------------------------------------
def _compare_columns(c: Comparison) -> tuple[list[str], list[list[str]], Metric]:
    m = METRICS[c.metric]
    factor, unit = pick_unit([r.value for r in c.rows], m.units)
    base = c.baseline or "baseline"
    header = [c.by, "cells", f"{m.title} ({unit}, mean)", f"Δ vs {base}"]
    body = []
    for r in c.rows[:MAX_TABLE_GROUPS]:
        cells = str(r.n) if r.n_valid == r.n else f"{r.n} ({r.n - r.n_valid} n/a)"
        body.append([r.group, cells, _cell(r.value, factor), "baseline" if r.is_baseline else delta_text(r.delta_pct)])
    return header, body, m


def _title(c: Comparison) -> str:
    m = METRICS[c.metric]
    better = "higher is better" if m.higher_is_better else "lower is better"
    return f"{m.title} by {c.by} · {plural(c.n_records, 'cell')} in {plural(len(c.rows), 'group')} · {better}"


def _overflow(c: Comparison) -> str:
    if len(c.rows) > MAX_TABLE_GROUPS:
        return f"first {MAX_TABLE_GROUPS} of {len(c.rows)} groups listed"
    return ""


def compare_text(c: Comparison) -> str:
    """The comparison as an aligned plain-text table."""
    if not c.rows:
        return EMPTY_HINT
    header, body, _ = _compare_columns(c)
    lines = [_title(c), *_aligned([header, *body], right={1, 2, 3})]
    if _overflow(c):
        lines.append(_overflow(c))
    return "\n".join(lines)


def compare_bundle(c: Comparison, png: bool = True) -> dict[str, Any]:
    """``text/plain``, ``text/html`` (escaped table + inline chart) and ``image/png`` for ``c``."""
    text = compare_text(c)
    if not c.rows:
        return {"text/plain": text, "text/html": f"<div class='eco-ledger-empty'>{escape(text)}</div>"}
    header, body, m = _compare_columns(c)
    image = chart_png(c) if png else None
    rows_html = []
    for r, cells in zip(c.rows, body):
        style = "font-weight:600" if r.is_baseline else ""
        colour = _delta_colour(r.delta_pct, m) if not r.is_baseline else "#57606a"
        rows_html.append(
            f"<tr style='{style}'><td>{escape(cells[0])}</td><td style='{_RIGHT}'>{escape(cells[1])}</td>"
            f"<td style='{_RIGHT}'>{escape(cells[2])}</td>"
            f"<td style='{_RIGHT};color:{colour}'>{escape(cells[3])}</td></tr>")
    head = "".join(f"<th style='{_TH}'>{escape(h)}</th>" for h in header)
    img = ""
    if image is not None:
        alt = escape(f"bar chart of {m.title} by {c.by}", quote=True)
        img = (f"<img class='eco-compare' alt='{alt}' style='max-width:100%;display:block;margin-bottom:6px' "
               f"src='data:image/png;base64,{base64.b64encode(image).decode('ascii')}'/>")
    more = f"<div style='{_SMALL}'>{escape(_overflow(c))}</div>" if _overflow(c) else ""
    html = (f"<div class='eco-compare-view' style='{_BOX}'><div style='font-weight:600'>{escape(_title(c))}</div>"
            f"{img}<table class='eco-compare-table' style='{_TABLE}'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(rows_html)}</tbody></table>{more}</div>")
    bundle: dict[str, Any] = {"text/plain": text, "text/html": html}
    if image is not None:
        bundle["image/png"] = image
    return bundle


def _delta_colour(pct: float | None, m: Metric) -> str:
    if pct is None or abs(pct) < 0.05:
        return "#57606a"
    better = pct > 0 if m.higher_is_better else pct < 0
    return "#2e7d32" if better else "#c62828"


def draw_chart(c: Comparison):
    """A ``matplotlib.figure.Figure`` of grouped bars with each group's delta against the baseline.

    Groups without a value get no bar and an "n/a" mark at the axis (a gap, never a zero bar). At most
    :data:`MAX_CHART_GROUPS` groups are drawn: the baseline and the first others.
    """
    from matplotlib.figure import Figure

    m = METRICS[c.metric]
    rows = list(c.rows)
    if len(rows) > MAX_CHART_GROUPS:
        base = [r for r in rows if r.is_baseline]
        rows = base + [r for r in rows if not r.is_baseline][: MAX_CHART_GROUPS - len(base)]
    factor, unit = pick_unit([r.value for r in rows], m.units)
    fig = Figure(figsize=(min(11.0, 1.6 + 0.8 * len(rows)), 3.2), dpi=100)
    ax = fig.add_subplot()
    xs = range(len(rows))
    top = max([r.value / factor for r in rows if r.value is not None] or [1.0])
    for x, r in zip(xs, rows):
        if r.value is None:
            ax.text(x, 0, "n/a", ha="center", va="bottom", fontsize=9, color="#8c959f", style="italic")
            continue
        height = r.value / factor
        colour = "#8c959f" if r.is_baseline else _delta_colour(r.delta_pct, m)
        ax.bar(x, height, width=0.65, color=colour, edgecolor="none")
        ax.text(x, height + 0.02 * top, "baseline" if r.is_baseline else delta_text(r.delta_pct),
                ha="center", va="bottom", fontsize=9, color="#1f2328")
    ax.set_xticks(list(xs), [_short(r.group) for r in rows], rotation=30 if len(rows) > 6 else 0,
                  ha="right" if len(rows) > 6 else "center", fontsize=9)
    ax.set_xlim(-0.6, len(rows) - 0.4)
    ax.set_ylim(0, top * 1.18)
    ax.set_ylabel(f"{m.title} ({unit})", fontsize=9)
    shown = "" if len(rows) == len(c.rows) else f" (first {len(rows)} of {len(c.rows)} groups)"
    ax.set_title(f"{m.title} by {_short(c.by, 40)}, mean per cell{shown}", fontsize=10, loc="left")
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    return fig


def chart_png(c: Comparison) -> bytes | None:
    """PNG bytes of :func:`draw_chart` (Agg canvas); ``None`` when there is nothing to draw."""
    if not c.rows:
        return None
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = draw_chart(c)
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _short(text: str, limit: int = 18) -> str:
    """A tick label: shortened, and with ``$`` escaped so matplotlib never reads a label as mathtext."""
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text.replace("$", r"\$")


# --- the ledger table --------------------------------------------------------------------------------------------
_BOX = ("font-family:system-ui,-apple-system,'Segoe UI',sans-serif;font-size:13px;line-height:1.4;"
        "border:1px solid #d0d7de;border-radius:8px;padding:8px 12px;max-width:980px;color:#1f2328;"
        "background:#fbfdfb")
_TABLE = "border-collapse:collapse;font-size:12px;margin-top:4px"
_TH = "text-align:left;color:#57606a;padding:2px 8px;border-bottom:1px solid #d0d7de"
_RIGHT = "text-align:right;font-variant-numeric:tabular-nums"
_SMALL = "font-size:11px;color:#57606a;margin-top:4px"


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

    foot = tr(total_row, " class='eco-total' style='font-weight:600;border-top:1px solid #d0d7de'")
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
