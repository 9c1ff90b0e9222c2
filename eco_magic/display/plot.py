"""The power trace of a measured cell: when it is worth drawing, and a matplotlib figure of it for papers.

The card draws the trace itself as inline SVG (:mod:`.svg`: no matplotlib import, ink follows the theme); this
module decides *whether* there is a trace worth drawing (:func:`should_plot`) and offers the same trace as a
``matplotlib.figure.Figure`` (:func:`figure`) or PNG bytes (:func:`render_png`) for reports and papers, on request.

One line per device channel (watts over seconds since the cell started) and, where an idle baseline is known,
a dashed horizontal line at that channel's idle power in the same colour. Drawn with
``matplotlib.figure.Figure`` and the Agg canvas only: no pyplot, no global figure registry, no backend switch in
the user's session. matplotlib is imported inside functions only, and never on the magic's path.
"""
from __future__ import annotations

import io
import math
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..result import EcoResult

#: Cells shorter than this get no plot (seconds); their trace has a handful of points and nothing to see.
MIN_DURATION_S = 1.0
#: A line needs at least this many points.
MIN_POINTS = 3
FIGSIZE_IN = (6.4, 2.2)
DPI = 100
#: Calm, distinguishable line colours (colour-blind-safe Okabe–Ito order).
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")

_lock = threading.Lock()          # one render at a time: matplotlib's caches are shared between threads


def should_plot(result: "EcoResult") -> bool:
    """Is there a trace worth drawing? ≥ :data:`MIN_DURATION_S` long, ≥ :data:`MIN_POINTS` points with power."""
    trace = getattr(result, "trace", None)
    if trace is None or result.duration_s < MIN_DURATION_S or len(trace.t_s) < MIN_POINTS:
        return False
    return any(sum(v is not None for v in values) >= 2 for values in trace.power_w.values())


def render_png(result: "EcoResult", *, dpi: int = DPI) -> bytes | None:
    """The power trace as PNG bytes, or ``None`` when :func:`should_plot` is false."""
    if not should_plot(result):
        return None
    with _lock:
        fig = figure(result, dpi=dpi)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def figure(result: "EcoResult", *, dpi: int = DPI):
    """The power-trace ``matplotlib.figure.Figure`` (Agg canvas attached, no pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    trace = result.trace
    names = {d.key: d for d in result.devices}
    fig = Figure(figsize=FIGSIZE_IN, dpi=dpi)
    # fixed margins (inches → fractions): a layout engine would double the drawing cost of every PNG
    w_in, h_in = FIGSIZE_IN
    fig.subplots_adjust(left=0.6 / w_in, right=1 - 0.1 / w_in, bottom=0.45 / h_in, top=1 - 0.3 / h_in)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    t = list(trace.t_s)
    top = 0.0
    any_idle = False
    for i, (key, values) in enumerate(trace.power_w.items()):
        colour = COLOURS[i % len(COLOURS)]
        ys = [math.nan if v is None else float(v) for v in values]
        device = names.get(key)
        label = (key if device is None else f"{key} · {device.name}").replace("$", r"\$")  # no mathtext
        ax.plot(t, ys, color=colour, linewidth=1.4, label=label)
        finite = [y for y in ys if math.isfinite(y)]
        top = max([top, *finite])
        idle = device.idle_power_w if device is not None else None
        if idle is not None:
            ax.axhline(idle, color=colour, linewidth=1.0, linestyle="--", alpha=0.8)
            top = max(top, idle)
            any_idle = True
    xlabel = "time since cell start (s)"
    if trace.decimation > 1:
        xlabel += f" · each point averages {trace.decimation} samples"
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel("power (W)", fontsize=8)
    ax.set_xlim(0.0, max(result.duration_s, t[-1] if t else 0.0))
    ax.set_ylim(0.0, top * 1.05 if top > 0 else 1.0)
    ax.tick_params(labelsize=7)
    ax.grid(True, linewidth=0.4, alpha=0.5)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    handles, labels = ax.get_legend_handles_labels()
    if any_idle:
        from matplotlib.lines import Line2D

        handles.append(Line2D([], [], color="#57606a", linewidth=1.0, linestyle="--"))
        labels.append("idle baseline")
    ax.legend(handles, labels, fontsize=7, frameon=False, loc="lower left", bbox_to_anchor=(0.0, 1.0),
              ncols=min(3, len(labels)), borderaxespad=0.2)
    return fig


