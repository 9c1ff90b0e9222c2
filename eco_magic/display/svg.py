"""The power trace of a measured cell as inline SVG: one line per device, dashed idle baselines, inside the card.

No matplotlib, no image: a few hundred bytes of ``<path>`` per device, crisp at any zoom, and its ink follows the
notebook's theme (series colours from :mod:`.theme`, axes and labels in ``var(--eco-muted)``). The legend and the
caption are HTML beside the ``<svg>``, so where SVG is stripped (untrusted notebooks, GitHub) nothing but the
legend's words remains. Drawn only when :func:`eco_magic.display.plot.should_plot` says the cell has a trace worth
seeing (≥ 1 s, ≥ 3 points).
"""
from __future__ import annotations

import math
from html import escape
from typing import TYPE_CHECKING

from . import fmt
from .plot import should_plot
from .theme import series_colour

if TYPE_CHECKING:
    from ..result import EcoResult

WIDTH, HEIGHT = 830, 140
_LEFT, _RIGHT, _TOP, _BOTTOM = 48, 10, 8, 20

#: Rules for the trace (added to the card's ``<style>`` only when a trace is drawn).
CSS = (".eco-plot{margin-top:8px}.eco-plot svg{display:block;width:100%;height:auto}"
       ".eco-plot text{fill:var(--eco-muted);font-size:10px}.eco-plot .a{stroke:var(--eco-line)}"
       ".eco-plot .g{stroke:var(--eco-grid)}.eco-plot path{fill:none;stroke-width:1.6;stroke-linejoin:round}"
       ".eco-plot .i{stroke-dasharray:4 3}.eco-lg{margin-right:12px;white-space:nowrap}"
       ".eco-lg svg{display:inline;width:16px;height:8px;margin-right:4px}")


def nice_ticks(top: float, n: int = 4) -> list[float]:
    """0 and multiples of a 1/2/2.5/5 × 10^k step up to the first ≥ ``top`` (``top`` > 0), about ``n`` steps."""
    if not top > 0 or not math.isfinite(top):
        return [0.0, 1.0]
    raw = top / n
    base = 10 ** math.floor(math.log10(raw))
    step = next(m * base for m in (1, 2, 2.5, 5, 10) if m * base >= raw)
    count = max(1, math.ceil(top / step - 1e-9))
    return [i * step for i in range(count + 1)]


def _num(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _time_label(t: float, step: float) -> str:
    if step >= 60:
        return f"{fmt.trim(fmt._sig(t / 60, 3))} min"  # noqa: SLF001 - the shared significant-figure formatter
    return f"{fmt.trim(fmt._sig(t, 3))} s" if t else "0 s"  # noqa: SLF001


def _power_label(w: float, unit: tuple[float, str]) -> str:
    factor, name = unit
    return f"{_num(w / factor)} {name}" if w else "0"


def _segments(ts, ys, x, y) -> list[str]:
    """SVG path data for the runs of known values (a failed read leaves a gap)."""
    parts, run = [], []
    for t, v in zip(ts, ys):
        if v is None or not math.isfinite(v):
            if len(run) > 1:
                parts.append("M" + "L".join(run))
            run = []
            continue
        run.append(f"{x(t):.1f},{y(v):.1f}")
    if len(run) > 1:
        parts.append("M" + "L".join(run))
    return parts


def trace_html(result: "EcoResult") -> str:
    """``<div class="eco-plot">``: legend, the SVG and a caption; ``""`` when there is nothing worth drawing."""
    if not should_plot(result):
        return ""
    trace = result.trace
    devices = {d.key: d for d in result.devices}
    ts = [float(t) for t in trace.t_s]
    span = max(result.duration_s, ts[-1] if ts else 0.0) or 1.0
    top = 0.0
    for values in trace.power_w.values():
        top = max([top, *(v for v in values if v is not None and math.isfinite(v))])
    idles = {k: devices[k].idle_power_w for k in trace.power_w if k in devices and devices[k].idle_power_w}
    top = max([top, *idles.values()])
    yticks = nice_ticks(top)
    ymax = yticks[-1]
    unit = next(((f, u) for f, u in ((1000.0, "kW"), (1.0, "W"), (1e-3, "mW")) if ymax >= f), (1e-3, "mW"))
    xticks = nice_ticks(span, 5)
    xticks = [t for t in xticks if t <= span * 1.0001]
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM

    def x(t: float) -> float:
        return _LEFT + plot_w * t / span

    def y(v: float) -> float:
        return _TOP + plot_h * (1 - v / ymax)

    step_x = xticks[1] - xticks[0] if len(xticks) > 1 else span
    body = []
    for v in yticks:
        cls = "a" if v == 0 else "g"
        body.append(f'<line class="{cls}" x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}"/>'
                    f'<text x="{_LEFT - 6}" y="{y(v) + 3.5:.1f}" text-anchor="end">{_power_label(v, unit)}</text>')
    for t in xticks:
        body.append(f'<text x="{x(t):.1f}" y="{HEIGHT - 5}" text-anchor="middle">{_time_label(t, step_x)}</text>')
    legend = []
    for i, (key, values) in enumerate(trace.power_w.items()):
        colour = series_colour(i)
        body.extend(f'<path stroke="{colour}" d="{d}"/>' for d in _segments(ts, values, x, y))
        if key in idles:
            body.append(f'<line class="i" stroke="{colour}" x1="{_LEFT}" x2="{WIDTH - _RIGHT}" '
                        f'y1="{y(idles[key]):.1f}" y2="{y(idles[key]):.1f}"/>')
        name = devices[key].name if key in devices else ""
        swatch = (f'<svg viewBox="0 0 16 8" aria-hidden="true"><path stroke="{colour}" stroke-width="2" '
                  'd="M1,4H15"/></svg>')
        legend.append(f'<span class="eco-lg">{swatch}{escape(key)}'
                      f'{" · " + escape(name) if name else ""}</span>')
    caption = [f"power per device over the cell ({fmt.duration(result.duration_s)})"]
    if idles:
        caption.append("dashed: idle baseline")
    if trace.decimation > 1:
        caption.append(f"each point averages {trace.decimation} samples")
    label = escape(f"power trace: watts per device over {fmt.duration(result.duration_s)}", quote=True)
    svg = (f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
           f'aria-label="{label}">{"".join(body)}</svg>')
    return (f'<div class="eco-plot"><div class="eco-small">{" ".join(legend)}</div>{svg}'
            f'<div class="eco-small">{escape("; ".join(caption))}</div></div>')
