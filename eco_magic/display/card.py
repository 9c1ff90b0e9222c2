"""What the magic shows: ``begin`` when a cell starts, ``present`` when it ends, ``cancel`` when it fails.

In a Jupyter kernel (JupyterLab, Notebook, VS Code, nbclient):

* :func:`begin` starts a daemon thread ``eco_magic-live`` that, from 0.5 s into the cell, shows the live readout
  (:mod:`.live`: elapsed time, power per device, energy so far) as a ``text/plain`` + ``text/html`` output under a
  display id and replaces it in place (``update_display``) every 0.5 s.
* :func:`present` stops that thread and shows the result card — in place of the readout when there is one, else
  as a new output (a cell shorter than 0.5 s sends one message: its card): ``text/html``
  (:func:`~eco_magic.display.html.render_html`, the power trace as inline SVG for cells ≥ 1 s) and ``text/plain``
  (:func:`~eco_magic.display.text.render_text`).

No widget is involved: what stays in the notebook is a plain bundle that renders without a kernel, a widget manager
or a network (reopened notebooks, nbconvert, GitHub, VS Code, terminals), and the kernel keeps no per-cell state
(no comm, no widget model) — memory and file descriptors stay flat however many cells are shown.

Anywhere else (terminal IPython, a shell without a kernel): no live readout, and the result is one ``text/plain`` +
``text/html`` bundle (terminals show the text). Nothing here raises into the cell except a bug in the text/HTML
renderers themselves.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from .live import LIVE_INTERVAL_S


@dataclass
class LiveHandle:
    """A live readout: its display id and the thread that shows and refreshes it."""

    display_id: str
    updater: Any

    def stop(self, join: bool = False) -> None:
        """Stop the refresh thread; no refresh is published after this returns (idempotent). ``join``: also wait
        for the thread to end (it does at once)."""
        self.updater.stop(join=join)

    @property
    def shown(self) -> bool:
        """Is a readout on screen (final once :meth:`stop` returned)?"""
        return bool(getattr(self.updater, "shown", False))


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
    """Start the live readout of a starting cell; returns a handle for :func:`present` (``None``: no readout).

    Only in a kernel; nothing is shown before the first refresh (``interval_s`` in). Never raises.
    """
    updater = None
    try:
        if not in_kernel():
            return None
        import uuid

        from IPython.display import display, update_display

        from .live import LiveUpdater

        display_id = uuid.uuid4().hex

        def publish(data: dict, update: bool) -> None:
            if update:
                update_display(data, raw=True, display_id=display_id)
            else:
                display(data, raw=True, display_id=display_id)

        updater = LiveUpdater(sampler, publish, label, channels, interval_s=interval_s)
        updater.start()
        return LiveHandle(display_id, updater)
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


def bundle(result: Any, *, project_daily: float | None = None, what_if_regions: Sequence[str] = (),
           plot: bool = True) -> dict[str, Any]:
    """The result's output bundle: ``text/plain`` + ``text/html``.

    ``plot`` allows drawing the power trace (inline SVG; drawn only when the cell is long enough to have one).
    """
    from .html import render_html
    from .text import render_text

    rows, unknown = _what_if(result, what_if_regions)
    extra = dict(what_if=rows, project_daily=project_daily, unknown_regions=unknown)
    return {"text/plain": render_text(result, **extra), "text/html": render_html(result, plot=plot, **extra)}


def present(result: Any, handle: LiveHandle | None = None, *, project_daily: float | None = None,
            what_if_regions: Sequence[str] = ()) -> None:
    """Show the final result, replacing the live readout of ``handle`` if one is on screen."""
    if handle is not None:
        handle.stop()
    if not _ipython_running():
        if handle is not None:
            handle.stop(join=True)
        return
    data = bundle(result, project_daily=project_daily, what_if_regions=what_if_regions, plot=in_kernel())
    from IPython.display import display, update_display

    if handle is not None and handle.shown:
        update_display(data, raw=True, display_id=handle.display_id)
    else:
        display(data, raw=True)
    if handle is not None:
        handle.stop(join=True)  # ended while the card was drawn: no thread outlives the cell


def cancel(handle: Any) -> None:
    """Stop a live readout without a result (used when the magic itself fails). Never raises.

    The readout's output is emptied so that no stale "measuring…" stays on screen.
    """
    if handle is None:
        return
    try:
        handle.stop(join=True)
        if not handle.shown:
            return
        from IPython.display import update_display

        update_display({"text/plain": ""}, raw=True, display_id=handle.display_id)
    except Exception:  # noqa: BLE001
        pass
