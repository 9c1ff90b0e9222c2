"""What the magic shows: ``begin`` when a cell starts, ``present`` when it ends, ``cancel`` when it fails.

In a kernel with ipywidgets (JupyterLab, Notebook, VS Code, nbclient):

* :func:`begin` displays a live readout (elapsed time, power per device, energy so far) under a display id, with
  ``text/plain`` "ecolyze: measuring <label>…" beside the widget view, and starts a daemon thread
  ``eco_magic-live`` that refreshes it from ``sampler.live()`` every 0.5 s (widget updates only, no printing).
* :func:`present` stops that thread and replaces the readout, in place, with the result card: one bundle holding
  the widget view (``VBox.eco-card-root``: card HTML + power-trace ``Image``), ``text/html`` (the same card with
  the plot as an inline base64 PNG) and ``text/plain`` (:func:`~eco_magic.display.text.render_text`). Exports,
  untrusted notebooks and GitHub show the HTML; terminals and logs the text (DESIGN.md convention 8).

Anywhere else (terminal IPython, a shell without a kernel, ipywidgets not installed): no live readout, and the
result is one ``text/plain`` + ``text/html`` bundle. No plot is drawn there (nothing could show it), nor for cells
shorter than :data:`eco_magic.display.plot.MIN_DURATION_S` — matplotlib is then not even imported.

Every part that could fail (widgets, plot, what-if lookups) degrades to the static card; nothing here raises into
the cell except a bug in the text/HTML renderers themselves.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from .widget import LIVE_INTERVAL_S

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


@dataclass
class LiveHandle:
    """A displayed live readout: its display id, the HTML widget and the thread that refreshes it."""

    display_id: str
    widget: Any
    updater: Any
    root: Any = None  # the displayed VBox: it *becomes* the card (same model), so no displayed view is closed

    def stop(self) -> None:
        """Stop and join the refresh thread (idempotent)."""
        self.updater.stop()


def _ipywidgets():
    """The ipywidgets module, or ``None`` when it cannot be imported."""
    try:
        import ipywidgets
    except Exception:  # noqa: BLE001 - ImportError, or a broken install: degrade to the static card
        return None
    return ipywidgets


def in_kernel() -> bool:
    """True inside a Jupyter kernel (the IPython instance has a ``kernel``), False in a terminal or no IPython."""
    try:
        from IPython.core.getipython import get_ipython
    except Exception:  # noqa: BLE001
        return False
    ip = get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


def _ipython_running() -> bool:
    try:
        from IPython.core.interactiveshell import InteractiveShell
    except Exception:  # noqa: BLE001
        return False
    return InteractiveShell.initialized()


def begin(label: str, sampler: Any, channels: Sequence[Any], *,
          interval_s: float = LIVE_INTERVAL_S) -> LiveHandle | None:
    """Show a live readout for a starting cell; returns a handle for :func:`present` (``None``: nothing shown).

    Only in a kernel with ipywidgets; never raises.
    """
    updater = None
    try:
        if not in_kernel() or _ipywidgets() is None:
            return None
        from IPython.display import display

        from .widget import LiveUpdater, build_live

        import ipywidgets as W

        live = build_live(label, sampler.live(), channels)
        root = W.VBox([live])
        root.add_class("eco-live-root")
        view = root._repr_mimebundle_()[WIDGET_MIME]
        title = f"measuring {label}…" if label else "measuring…"
        shown = display({WIDGET_MIME: view, "text/plain": f"ecolyze: {title}"}, raw=True, display_id=True)
        updater = LiveUpdater(sampler, live, label, channels, interval_s=interval_s)
        updater.start()
        return LiveHandle(shown.display_id, live, updater, root)
    except Exception:  # noqa: BLE001 - the readout must never break the cell
        if updater is not None:
            updater.stop()
        return None


def _what_if(result: Any, what_if_regions: Sequence[str]) -> tuple[list, list]:
    try:
        from .. import whatif

        rows = whatif.what_if(result.energy_j, result.pue, result.region, tuple(what_if_regions),
                              current_ci_g_per_kwh=result.carbon_intensity_g_per_kwh)
        return rows, whatif.unknown_codes(tuple(what_if_regions))
    except Exception:  # noqa: BLE001 - a broken table must not hide the result
        return [], []


def _png(result: Any) -> bytes | None:
    from . import plot

    if not plot.should_plot(result):  # short cells: no matplotlib import at all
        return None
    try:
        return plot.render_png(result)
    except Exception:  # noqa: BLE001 - matplotlib missing or failing: the card without a plot
        return None


def bundle(result: Any, *, project_daily: float | None = None, what_if_regions: Sequence[str] = (),
           widget: bool = False, plot: bool = True, root: Any = None) -> dict[str, Any]:
    """The result's output bundle: ``text/plain`` + ``text/html`` (+ the widget view when ``widget``).

    ``plot`` allows drawing the power trace (it is drawn only when the cell is long enough to have one). The
    widget part is left out when ipywidgets cannot be imported or fails.
    """
    from .html import render_html
    from .text import render_text

    rows, unknown = _what_if(result, what_if_regions)
    png = _png(result) if plot else None
    extra = dict(what_if=rows, project_daily=project_daily, unknown_regions=unknown)
    data: dict[str, Any] = {"text/plain": render_text(result, **extra),
                            "text/html": render_html(result, png=png, **extra)}
    if widget and _ipywidgets() is not None:
        try:
            from .widget import build_card

            card = build_card(result, png, html=render_html(result, **extra))
            if root is not None:
                # JupyterLab hides an output whose model is closed, even after update_display gave it another
                # model: so the displayed live root takes the card's children and classes instead
                old = list(root.children)
                root.children = tuple(card.children)
                root.remove_class("eco-live-root")
                root.add_class("eco-card-root")
                card.close()  # the unused container only, never displayed; its children live on in root
                from .widget import close_quietly

                for child in old:
                    close_quietly(child)
                card = root
            data[WIDGET_MIME] = card._repr_mimebundle_()[WIDGET_MIME]
        except Exception:  # noqa: BLE001 - the static card still carries everything
            pass
    return data


def present(result: Any, handle: LiveHandle | None = None, *, project_daily: float | None = None,
            what_if_regions: Sequence[str] = ()) -> None:
    """Show the final result (replacing the live readout of ``handle`` if there is one)."""
    if handle is not None:
        handle.stop()
    if not _ipython_running():
        return
    kernel = in_kernel()
    data = bundle(result, project_daily=project_daily, what_if_regions=what_if_regions, widget=kernel,
                  plot=kernel, root=getattr(handle, "root", None))
    _publish(data, handle)


def _publish(data: dict[str, Any], handle: LiveHandle | None) -> None:
    from IPython.display import display, update_display

    if handle is not None:
        update_display(data, raw=True, display_id=handle.display_id)
        return
    display(data, raw=True)


def cancel(handle: Any) -> None:
    """Stop a live readout without a result (used when the magic itself fails). Never raises.

    The readout's output is emptied so that no stale "measuring…" stays on screen.
    """
    if handle is None:
        return
    try:
        handle.stop()
        from IPython.display import update_display

        update_display({"text/plain": ""}, raw=True, display_id=handle.display_id)
    except Exception:  # noqa: BLE001
        pass
    finally:
        from .widget import close_quietly

        close_quietly(getattr(handle, "widget", None))
