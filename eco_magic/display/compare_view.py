"""The comparison as ``text/plain`` and ``text/html``: a table of groups, the verdict sentences, the charts.

Pure: a :class:`~eco_magic.comparison.Comparison` in, strings out. The HTML is self-contained (inline styles and
inline SVG, no script, every user string escaped) and theme-aware: colours come from JupyterLab's CSS variables
with light fallbacks, so it reads in the dark theme and renders where no kernel or widget manager is present
(reopened notebooks, nbconvert exports).

Stable CSS classes: ``eco-compare-view`` (the box), ``eco-compare-table``, ``eco-verdicts`` (the sentences, one
``li`` per compared group with ``data-verdict``), ``eco-notes``, ``eco-chart`` (each SVG), ``eco-pareto``.
"""
from __future__ import annotations

import math
from html import escape
from typing import TYPE_CHECKING, Any

from . import svg_chart as svg
from .compare import EMPTY_HINT, _aligned, pick_unit, plural

if TYPE_CHECKING:
    from ..comparison import Comparison, Group

MAX_TABLE_GROUPS = 200

_BOX = (f"font-family:{svg.FONT};font-size:13px;line-height:1.4;border:1px solid {svg.GRID};border-radius:8px;"
        f"padding:8px 12px;display:inline-block;max-width:100%;box-sizing:border-box;color:{svg.FG};"
        "background:var(--jp-layout-color1, #fbfdfb)")
_TABLE = "border-collapse:collapse;font-size:12px;margin-top:6px"
_TH = (f"text-align:left;color:{svg.MUTED};font-weight:600;padding:2px 8px;border-bottom:1px solid {svg.GRID};"
       "white-space:nowrap")
_TD = "padding:1px 8px;white-space:nowrap"
_RIGHT = "text-align:right;font-variant-numeric:tabular-nums"
_SMALL = f"font-size:11px;color:{svg.MUTED};margin-top:4px"


def _num(value: float | None, factor: float = 1.0) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    from . import fmt

    return fmt._sig(value / factor, 3)  # noqa: SLF001 - the shared significant-figure formatter


def _times(value: float | None) -> str:
    from ..comparison import times_text

    return "" if value is None else times_text(value)


def title(c: "Comparison") -> str:
    m = c.metric
    better = "higher is better" if m.higher_is_better else "lower is better"
    runs = sum(g.n_rows for g in c.groups)
    base = f" · baseline {c.baseline}" if c.baseline else ""
    return f"{m.title} by {c.by} · {plural(len(c.groups), 'group')} · {plural(runs, 'run')}{base} · {better}"


def _columns(c: "Comparison") -> tuple[list[str], list[list[str]], set[int]]:
    m = c.metric
    highs = [g.summary.ci_high if g.summary.ci_high is not None else g.summary.mean for g in c.groups if g.summary]
    factor, unit = pick_unit(highs, m.units)
    conf = f"{100 * c.confidence:g} % CI"
    header = [c.by, "runs", f"mean ({unit})", conf, f"ratio to {c.baseline}", conf, "verdict"]
    if c.quality is not None:
        header += [f"{c.quality} (mean)", conf, "retention", conf, "Pareto"]
    body = []
    for g in c.groups[:MAX_TABLE_GROUPS]:
        s, r = g.summary, g.ratio
        ci = f"{_num(s.ci_low, factor)} … {_num(s.ci_high, factor)}" if s and s.ci_low is not None else ""
        ratio = "1×" if g.is_baseline and s else _times(r.ratio if r else None)
        ratio_ci = f"{_times(r.low)} … {_times(r.high)}" if r and r.low is not None else ""
        row = [g.group, str(g.n) if g.n == g.n_rows else f"{g.n} of {g.n_rows}",
               _num(s.mean if s else None, factor), ci, ratio, ratio_ci, g.verdict]
        if c.quality is not None:
            q, t = g.quality, g.retention
            row += [_num(q.mean if q else None),
                    _spread(q.ci_low, q.ci_high, lambda v: f"{v:.4g}") if q else "",
                    _pct_ratio(1.0 if g.is_baseline and q else (t.ratio if t else None)),
                    _spread(t.low, t.high, _pct_ratio) if t else "",
                    "" if g.pareto is None else ("yes" if g.pareto else "no")]
        body.append(row)
    numeric = {1, 2, 3, 4, 5} | ({7, 8, 9, 10} if c.quality is not None else set())
    return header, body, numeric


def _flat(low: float, high: float) -> bool:
    """An interval of zero width (every run gave the same value), up to rounding."""
    return abs(high - low) <= 1e-9 * max(abs(low), abs(high), 1e-300)


def _spread(low: float | None, high: float | None, show) -> str:
    """'low … high'; 'no spread' when every run gave the same value; '' with no interval (one run)."""
    if low is None or high is None:
        return ""
    return "no spread" if _flat(low, high) else f"{show(low)} … {show(high)}"


def _pct_ratio(value: float | None) -> str:
    """A retention as a percentage: 0.942 → '94.2 %'."""
    return "" if value is None else f"{100 * value:.1f} %"


def _overflow(c: "Comparison") -> str:
    if len(c.groups) > MAX_TABLE_GROUPS:
        return f"first {MAX_TABLE_GROUPS} of {len(c.groups)} groups listed"
    return ""


def _sentences(c: "Comparison") -> list["Group"]:
    return [g for g in c.groups[:MAX_TABLE_GROUPS] if not g.is_baseline]


def compare_text(c: "Comparison") -> str:
    """The comparison as aligned text: title, table, one sentence per group, notes and the method."""
    if not c.groups:
        return EMPTY_HINT + ("; " + "; ".join(c.notes) if c.notes else "")
    header, body, numeric = _columns(c)
    lines = [title(c), *_aligned([header, *body], right=numeric)]
    if _overflow(c):
        lines.append(_overflow(c))
    sentences = _sentences(c)
    if sentences:
        lines.append("")
        lines.extend(g.statement for g in sentences)
    if c.quality is not None:
        lines.extend(_retention_sentences(c))
    lines.extend(f"note: {n}" for n in c.notes)
    lines.append(f"method: {c.method}")
    return "\n".join(lines)


def _retention_sentences(c: "Comparison") -> list[str]:
    out = []
    for g in c.groups:
        t = g.retention
        if g.is_baseline or t is None:
            continue
        if t.low is None:
            interval = ""
        elif _flat(t.low, t.high):
            interval = " (the same in every run)"
        else:
            interval = f" ({100 * c.confidence:g} % CI {_pct_ratio(t.low)} … {_pct_ratio(t.high)})"
        front = " — on the Pareto front" if g.pareto else ""
        out.append(f"{g.group} keeps {_pct_ratio(t.ratio)} of {c.baseline}'s {c.quality}{interval}{front}")
    return out


def compare_html(c: "Comparison") -> str:
    """The comparison as self-contained, escaped, theme-aware HTML with inline SVG charts."""
    if not c.groups:
        return f"<div class='eco-ledger-empty' style='{_BOX}'>{escape(compare_text(c))}</div>"
    header, body, numeric = _columns(c)
    head = "".join(f"<th style='{_TH}{';' + _RIGHT if i in numeric else ''}'>{escape(h)}</th>"
                   for i, h in enumerate(header))
    rows = []
    for g, cells in zip(c.groups, body):
        col = svg.colour(g, c.metric.higher_is_better)
        tds = []
        for i, v in enumerate(cells):
            style = _TD + (";" + _RIGHT if i in numeric else "")
            if i == 6:
                style += f";color:{col}"
            tds.append(f"<td style='{style}'>{escape(v)}</td>")
        weight = " style='font-weight:600'" if g.is_baseline else ""
        rows.append(f"<tr data-group='{escape(g.group, quote=True)}'{weight}>{''.join(tds)}</tr>")
    charts = svg.interval_chart(c)
    if c.quality is not None:
        pareto = svg.pareto_chart(c)
        if pareto:
            charts = f"<div class='eco-pareto' style='display:inline-block;vertical-align:top'>{pareto}</div>" \
                     + charts
    items = "".join(
        f"<li data-verdict='{escape(g.verdict, quote=True)}' style='color:{svg.colour(g, c.metric.higher_is_better)}'>"
        f"<span style='color:{svg.FG}'>{escape(g.statement)}</span></li>" for g in _sentences(c))
    if c.quality is not None:
        items += "".join(f"<li class='eco-retention'>{escape(s)}</li>" for s in _retention_sentences(c))
    verdicts = f"<ul class='eco-verdicts' style='margin:6px 0 0 0;padding-left:18px'>{items}</ul>" if items else ""
    notes = "".join(f"<div>{escape(n)}</div>" for n in c.notes)
    more = f"<div style='{_SMALL}'>{escape(_overflow(c))}</div>" if _overflow(c) else ""
    return (f"<div class='eco-compare-view' style='{_BOX}'><div style='font-weight:600'>{escape(title(c))}</div>"
            f"<div style='margin-top:6px'>{charts}</div>"
            f"<div style='overflow-x:auto'><table class='eco-compare-table' style='{_TABLE}'><thead><tr>{head}"
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>{more}{verdicts}"
            f"<div class='eco-notes' style='{_SMALL}'>{notes}<div>method: {escape(c.method)}</div></div></div>")


def compare_bundle(c: "Comparison") -> dict[str, Any]:
    """``text/plain`` + ``text/html`` for ``c`` (what stays in the notebook)."""
    return {"text/plain": compare_text(c), "text/html": compare_html(c)}
