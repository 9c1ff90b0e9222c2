"""The comparison's charts as inline SVG strings: pure string building, no matplotlib.

* :func:`interval_chart` — one row per group: its mean with the confidence interval (left panel, linear from 0),
  and its ratio to the baseline with that interval (right panel, log scale, a line at 1 and a band for the
  threshold inside which nothing counts as a difference). The baseline sits at 1; a group with too few runs shows
  a hollow point and no whisker.
* :func:`pareto_chart` — cost (the metric) against quality (a ``--record``-ed variable), each with its interval;
  the Pareto front (no other group is better on both) filled and joined, the others hollow.

Theme-aware: text and axes use ``currentColor``, the SVG's colour and the marks' colours come from JupyterLab's CSS
variables with light fallbacks (so the dark theme works); every user string is escaped.
"""
from __future__ import annotations

import math
from html import escape
from typing import TYPE_CHECKING, Sequence


if TYPE_CHECKING:
    from ..comparison import Comparison, Group

FG = "var(--jp-ui-font-color0, #1f2328)"
MUTED = "var(--jp-ui-font-color2, #57606a)"
GRID = "var(--jp-border-color2, #d0d7de)"
BAND = "var(--jp-layout-color3, #e6e9ed)"
BETTER = "var(--jp-success-color1, #2e7d32)"
WORSE = "var(--jp-error-color1, #c62828)"
BASE = "var(--jp-brand-color1, #1565c0)"
FONT = "system-ui,-apple-system,Segoe UI,sans-serif"  # no quotes: it goes inside quoted style attributes

ROW_H = 24
MAX_GROUPS = 30


def colour(g: "Group", higher_is_better: bool) -> str:
    """The mark colour of a group: baseline blue, better green, worse red, anything else muted."""
    if g.is_baseline:
        return BASE
    if g.verdict not in ("higher", "lower"):
        return MUTED
    better = (g.verdict == "higher") == higher_is_better
    return BETTER if better else WORSE


def short(text: str, limit: int = 18) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """About ``count`` round tick values covering [low, high] (1, 2, 2.5, 5 × 10^k steps)."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low]
    raw = (high - low) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(s * mag for s in (1, 2, 2.5, 5, 10) if s * mag >= raw)
    first = math.ceil(low / step - 1e-9) * step
    ticks = []
    v = first
    while v <= high + 1e-9 * step:
        ticks.append(round(v, 12))
        v += step
    return ticks


def log_ticks(low: float, high: float, px_per_log: float = 100.0, min_gap_px: float = 34.0) -> list[float]:
    """Ratio ticks between ``low`` and ``high`` from a readable ladder (…0.5, 0.8, 1, 1.25, 2…), at least
    ``min_gap_px`` apart when one unit of natural log spans ``px_per_log`` pixels; 1 is always kept."""
    ladder = [0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 0.8, 0.9, 0.95, 1.0, 1.05, 1.1, 1.25, 1.5, 2, 3, 4, 5, 10, 20,
              50, 100]
    inside = [t for t in ladder if low <= t <= high]
    chosen = [1.0] if low <= 1.0 <= high else []
    # walk outwards from 1 so the ticks nearest the line at 1 win
    for t in sorted(inside, key=lambda v: abs(math.log(v))):
        if all(abs(math.log(t) - math.log(c)) * px_per_log >= min_gap_px for c in chosen):
            chosen.append(t)
    return sorted(chosen) or [1.0]


def _tick_label(v: float) -> str:
    """The shortest exact-looking label: 2.5, 10, 0.85, 1.2e+04."""
    return f"{v:.6g}"


def _svg_open(width: int, height: int, label: str) -> str:
    return (f"<svg class='eco-chart' xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
            f"viewBox='0 0 {width} {height}' role='img' aria-label='{escape(label, quote=True)}' "
            f"style='color:{FG};font-family:{FONT};font-size:11px;max-width:100%;height:auto;overflow:visible'>"
            f"<title>{escape(label)}</title>")


def _text(x: float, y: float, text: str, anchor: str = "start", colour: str = "currentColor", size: int = 11,
          weight: str = "normal") -> str:
    return (f"<text x='{x:.1f}' y='{y:.1f}' text-anchor='{anchor}' style='fill:{colour};font-size:{size}px;"
            f"font-weight:{weight}'>{escape(text)}</text>")


def _line(x1, y1, x2, y2, colour: str = GRID, width: float = 1, dash: str = "") -> str:
    extra = f";stroke-dasharray:{dash}" if dash else ""
    return (f"<line x1='{x1:.1f}' y1='{y1:.1f}' x2='{x2:.1f}' y2='{y2:.1f}' "
            f"style='stroke:{colour};stroke-width:{width}{extra}'/>")


def _point(x: float, y: float, colour: str, filled: bool = True, r: float = 4.5) -> str:
    fill = colour if filled else "none"
    return (f"<circle cx='{x:.1f}' cy='{y:.1f}' r='{r}' style='fill:{fill};stroke:{colour};"
            "stroke-width:1.6'/>")


def _unit(c: "Comparison", values: Sequence[float]) -> tuple[float, str]:
    from .compare import pick_unit

    return pick_unit(values, c.metric.units)


def interval_chart(c: "Comparison") -> str:
    """Means with intervals (left) and ratios to the baseline with intervals (right), one row per group."""
    groups = [g for g in c.groups if g.summary is not None][:MAX_GROUPS]
    if not groups:
        return ""
    m = c.metric
    highs = [g.summary.ci_high if g.summary.ci_high is not None else g.summary.mean for g in groups]
    factor, unit = _unit(c, highs)
    left_x, mid_w, gap, right_w, label_w = 0, 250, 40, 210, 128
    width = label_w + mid_w + gap + right_w + 20
    top, bottom = 34, 26
    height = top + ROW_H * len(groups) + bottom
    parts = [_svg_open(width, height, f"{m.title} by {c.by}: mean with {100 * c.confidence:g} % interval per "
                                      f"group, and ratio to {c.baseline}")]
    # left panel: linear from 0
    x0 = left_x + label_w
    hi = max(max(highs), 0.0) / factor or 1.0
    ticks = nice_ticks(0.0, hi * 1.05)
    if len(ticks) > 1 and ticks[-1] < hi * 1.05:
        ticks.append(round(ticks[-1] + (ticks[1] - ticks[0]), 12))
    scale_max = ticks[-1] if ticks and ticks[-1] > 0 else hi * 1.05

    def sx(v: float) -> float:
        return x0 + mid_w * max(0.0, v / factor) / scale_max

    parts.append(_text(x0, 13, f"{m.title} ({unit}), mean ± {100 * c.confidence:g} % CI", weight="600"))
    for t in ticks:
        x = x0 + mid_w * t / scale_max
        parts.append(_line(x, top - 6, x, height - bottom + 4))
        parts.append(_text(x, height - bottom + 16, _tick_label(t), "middle", MUTED, 10))
    # right panel: ratio, log scale
    r0 = x0 + mid_w + gap
    ratios = [g.ratio for g in groups if g.ratio is not None]
    thresholds = [g.threshold for g in groups if g.threshold is not None] or [c.noise]
    band = max(thresholds)
    lo_vals = [r.low if r.low is not None else r.ratio for r in ratios] + [1 - band]
    hi_vals = [r.high if r.high is not None else r.ratio for r in ratios] + [1 + band]
    # the axis spans at most 1e-6 … 1e6: a ratio beyond is drawn at the edge (its number is in the table)
    lo, hi_r = math.log(min(max(min(lo_vals), 1e-6), 1.0)), math.log(min(max(max(hi_vals), 1.0), 1e6))
    pad = max((hi_r - lo) * 0.08, 0.02)
    lo, hi_r = lo - pad, hi_r + pad

    def rx(v: float) -> float:
        return r0 + right_w * (min(max(math.log(max(v, 1e-300)), lo), hi_r) - lo) / (hi_r - lo)

    parts.append(_text(r0, 13, f"ratio to {short(c.baseline or '', 24)} (log scale)", weight="600"))
    band_lo, band_hi = rx(max(1 - band, 1e-6)), rx(1 + band)
    parts.append(f"<rect x='{band_lo:.1f}' y='{top - 6}' width='{max(band_hi - band_lo, 1):.1f}' "
                 f"height='{ROW_H * len(groups) + 10}' style='fill:{BAND};opacity:0.7'><title>"
                 f"{escape(f'within ±{100 * band:.1f} %: not called a difference')}</title></rect>")
    for t in log_ticks(math.exp(lo), math.exp(hi_r), right_w / (hi_r - lo)):
        x = rx(t)
        parts.append(_line(x, top - 6, x, height - bottom + 4, MUTED if t == 1.0 else GRID))
        parts.append(_text(x, height - bottom + 16, f"{t:g}×", "middle", MUTED, 10))
    for i, g in enumerate(groups):
        y = top + ROW_H * i + ROW_H / 2
        col = colour(g, m.higher_is_better)
        weight = "600" if g.is_baseline else "normal"
        parts.append(_text(x0 - 8, y + 4, short(g.group), "end", weight=weight))
        s = g.summary
        if s.ci_low is not None:
            parts.append(_line(sx(s.ci_low), y, sx(s.ci_high), y, col, 2))
        parts.append(_point(sx(s.mean), y, col, filled=s.n >= 2))
        if g.is_baseline:
            parts.append(_point(rx(1.0), y, col))
            parts.append(_text(rx(1.0) + 8, y + 4, "baseline", colour=MUTED, size=10))
        elif g.ratio is not None:
            r = g.ratio
            if r.low is not None:
                parts.append(_line(rx(r.low), y, rx(r.high), y, col, 2))
            parts.append(_point(rx(r.ratio), y, col, filled=r.low is not None))
    parts.append("</svg>")
    return "".join(parts)


def pareto_chart(c: "Comparison") -> str:
    """Cost (x, the metric) against quality (y), with intervals; the Pareto front filled and joined."""
    groups = [g for g in c.groups if g.summary is not None and g.quality is not None][:MAX_GROUPS]
    if not groups or c.quality is None:
        return ""
    m = c.metric
    xs_lo = [g.summary.ci_low if g.summary.ci_low is not None else g.summary.mean for g in groups]
    xs_hi = [g.summary.ci_high if g.summary.ci_high is not None else g.summary.mean for g in groups]
    ys_lo = [g.quality.ci_low if g.quality.ci_low is not None else g.quality.mean for g in groups]
    ys_hi = [g.quality.ci_high if g.quality.ci_high is not None else g.quality.mean for g in groups]
    factor, unit = _unit(c, xs_hi)
    width, height, left, right, top, bottom = 460, 300, 62, 24, 38, 36
    pw, ph = width - left - right, height - top - bottom

    def padded(lo: float, hi: float) -> tuple[float, float]:
        span = hi - lo or abs(hi) * 0.1 or 1.0
        return lo - 0.1 * span, hi + 0.1 * span

    x_lo, x_hi = padded(min(xs_lo) / factor, max(xs_hi) / factor)
    y_lo, y_hi = padded(min(ys_lo), max(ys_hi))

    def px(v: float) -> float:
        return left + pw * (v / factor - x_lo) / (x_hi - x_lo)

    def py(v: float) -> float:
        return top + ph * (1 - (v - y_lo) / (y_hi - y_lo))

    cost_dir = "higher" if m.higher_is_better else "lower"
    q_dir = "higher" if c.quality_higher_is_better else "lower"
    parts = [_svg_open(width, height, f"{c.quality} against {m.title} per group, Pareto front marked")]
    parts.append(_text(left, 14, f"{c.quality} ({q_dir} is better) against {m.title} ({cost_dir} is better)",
                       weight="600"))
    for t in nice_ticks(x_lo, x_hi):
        x = left + pw * (t - x_lo) / (x_hi - x_lo)
        parts.append(_line(x, top, x, top + ph))
        parts.append(_text(x, top + ph + 14, _tick_label(t), "middle", MUTED, 10))
    for t in nice_ticks(y_lo, y_hi):
        y = top + ph * (1 - (t - y_lo) / (y_hi - y_lo))
        parts.append(_line(left, y, left + pw, y))
        parts.append(_text(left - 6, y + 3, _tick_label(t), "end", MUTED, 10))
    parts.append(_text(left + pw / 2, height - 6, f"{m.title} ({unit}), mean ± {100 * c.confidence:g} % CI",
                       "middle", MUTED, 10))
    front = sorted((g for g in groups if g.pareto), key=lambda g: g.summary.mean)
    if len(front) > 1:
        pts = " ".join(f"{px(g.summary.mean):.1f},{py(g.quality.mean):.1f}" for g in front)
        parts.append(f"<polyline points='{pts}' style='fill:none;stroke:{BETTER};stroke-width:1.5;"
                     "stroke-dasharray:4 3'><title>Pareto front</title></polyline>")
    for g in groups:
        x, y = px(g.summary.mean), py(g.quality.mean)
        col = BASE if g.is_baseline else (BETTER if g.pareto else MUTED)
        if g.summary.ci_low is not None:
            parts.append(_line(px(g.summary.ci_low), y, px(g.summary.ci_high), y, col, 1.5))
        if g.quality.ci_low is not None and g.quality.ci_high > g.quality.ci_low:
            parts.append(_line(x, py(g.quality.ci_low), x, py(g.quality.ci_high), col, 1.5))
        parts.append(_point(x, y, col, filled=bool(g.pareto)))
        parts.append(_text(x + 7, y - 6, short(g.group, 16), colour=col, size=10))
    parts.append(_text(width - right, 28, "● Pareto front   ○ beaten on both", "end", MUTED, 10))
    parts.append("</svg>")
    return "".join(parts)
