"""ipywidgets pieces of the card: the live readout while a cell runs, and the final card.

* :func:`live_html` — pure: the readout's HTML from a :class:`~eco_magic.sampler.LiveStatus` (elapsed time, current
  power per device, energy so far, totals). Every label and device name is escaped.
* :func:`build_live` — an ``ipywidgets.HTML`` with class ``eco-live`` showing that readout.
* :class:`LiveUpdater` — a daemon thread named ``eco_magic-live`` that copies ``sampler.live()`` into the readout
  every ``interval_s`` (0.5 s by default) with ``Event.wait``; it only sets the widget's ``value`` (a comm
  message), never prints or displays. ``stop()`` joins it.
* :func:`build_card` — the final card: a ``VBox`` with class ``eco-card-root`` holding an ``HTML`` with the card
  (class ``eco-card-html``) and, when a PNG is given, an ``Image`` of the power trace (class ``eco-plot``).

ipywidgets is imported inside the functions that need it (``import eco_magic`` stays light); callers check that it
is importable first (see :mod:`eco_magic.display.card`). Widgets build fine without a kernel (``comm`` falls back
to a dummy comm), which is how the tests exercise them.
"""
from __future__ import annotations

import threading
from html import escape
from typing import TYPE_CHECKING, Any, Callable, Sequence

from . import fmt

if TYPE_CHECKING:
    from ..result import EcoResult
    from ..sampler import LiveStatus

LIVE_INTERVAL_S = 0.5
LIVE_THREAD_NAME = "eco_magic-live"

_LIVE = ("font-family:system-ui,-apple-system,'Segoe UI',sans-serif;font-size:12px;line-height:1.4;"
         "border:1px solid #d0d7de;border-radius:8px;padding:6px 12px;max-width:780px;background:#fbfdfb;"
         "color:#1f2328")
_SMALL = "font-size:11px;color:#57606a"
_NUM = "style='text-align:right;padding:0 10px 0 0;font-variant-numeric:tabular-nums'"


def _channel_names(channels: Sequence[Any]) -> dict[str, str]:
    names = {}
    for ch in channels:
        key = getattr(ch, "key", None)
        if key is not None:
            names[key] = getattr(ch, "name", "") or key
    return names


def live_html(label: str, status: "LiveStatus", channels: Sequence[Any] = ()) -> str:
    """The live readout: elapsed time, then one row per device (power now, energy so far), then totals.

    ``channels`` are the sensors' :class:`~eco_magic.sensors.base.DeviceInfo` (for names and order); keys the
    status reports beyond them are shown too. Energy not known yet shows as "…", never as a made-up zero.
    """
    names = _channel_names(channels)
    keys = list(names) + [k for k in (*status.power_w, *status.energy_j) if k not in names]
    keys = list(dict.fromkeys(keys))
    rows = []
    for key in keys:
        power = status.power_w.get(key)
        energy = status.energy_j.get(key)
        rows.append(f"<tr><td style='padding:0 10px 0 0'>{escape(key)} "
                    f"<span style='{_SMALL}'>{escape(names.get(key, ''))}</span></td>"
                    f"<td {_NUM}>{escape(fmt.power(power))}</td>"
                    f"<td {_NUM}>{escape(fmt.energy(energy)) if energy is not None else '…'}</td></tr>")
    powers = [p for p in status.power_w.values() if p is not None]
    total = ""
    if rows:
        total_energy = sum(status.energy_j.values())
        total = (f"<tr style='border-top:1px solid #e5e7eb;font-weight:600'><td>total</td>"
                 f"<td {_NUM}>{escape(fmt.power(sum(powers))) if powers else 'n/a'}</td>"
                 f"<td {_NUM}>{escape(fmt.energy(total_energy)) if status.energy_j else '…'}</td></tr>")
    head = (f"<tr style='{_SMALL};text-align:left'><th style='padding:0 10px 0 0'>device</th>"
            f"<th {_NUM}>power now</th><th {_NUM}>energy so far</th></tr>")
    table = (f"<table style='border-collapse:collapse;margin-top:2px'>{head}{''.join(rows)}{total}</table>"
             if rows else f"<div style='{_SMALL}'>no device channel to read</div>")
    title = f" · {escape(label)}" if label else ""
    return (f'<div class="eco-live" style="{_LIVE}"><div><b><span style="display:inline-block;width:9px;height:9px;border-radius:50%;background:#2e7d32;margin-right:6px"></span>ecolyze{title}</b> '
            f'<span style="{_SMALL}">measuring · {escape(fmt.duration(status.elapsed_s))}</span></div>'
            f"{table}</div>")


def build_live(label: str, status: "LiveStatus", channels: Sequence[Any] = ()):
    """An ``ipywidgets.HTML`` (class ``eco-live``) showing :func:`live_html` for ``status``."""
    import ipywidgets as W

    w = W.HTML(value=live_html(label, status, channels))
    w.add_class("eco-live")
    return w


class LiveUpdater:
    """Refresh a live readout from ``sampler.live()`` in a named daemon thread until :meth:`stop`.

    ``interval_s`` is the refresh period (0.5 s: the readout changes at least once a second). Every exception
    from the sampler or the widget is swallowed: a readout must never break the cell it describes.
    """

    def __init__(self, sampler: Any, widget: Any, label: str, channels: Sequence[Any] = (), *,
                 interval_s: float = LIVE_INTERVAL_S, render: Callable[..., str] = live_html,
                 thread_name: str = LIVE_THREAD_NAME) -> None:
        self.sampler = sampler
        self.widget = widget
        self.label = label
        self.channels = tuple(channels)
        self.interval_s = float(interval_s)
        self.render = render
        self.n_updates = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=thread_name, daemon=True)

    def refresh(self) -> bool:
        """One update of the widget from the sampler now; ``False`` if it failed."""
        try:
            value = self.render(self.label, self.sampler.live(), self.channels)
            self.widget.value = value
        except Exception:  # noqa: BLE001 - see class docstring
            return False
        self.n_updates += 1
        return True

    def _run(self) -> None:
        self.refresh()
        while not self._stop.wait(self.interval_s):
            self.refresh()

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Signal the thread and join it (by default for up to one interval + 2 s). Idempotent."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(self.interval_s + 2.0 if timeout is None else timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()


def build_card(result: "EcoResult", png: bytes | None = None, *, html: str | None = None):
    """The final card widget: ``VBox`` (class ``eco-card-root``) of the card ``HTML`` and the plot ``Image``.

    ``html`` is the card markup (default :func:`eco_magic.display.html.render_html` of ``result``); it should not
    embed the plot, which the ``Image`` child shows from ``png``.
    """
    import ipywidgets as W

    if html is None:
        from .html import render_html

        html = render_html(result)
    card = W.HTML(value=html)
    card.add_class("eco-card-html")
    children = [card]
    if png:
        img = W.Image(value=png, format="png", layout=W.Layout(width="640px", max_width="100%",
                                                               margin="4px 0 0 0"))
        img.add_class("eco-plot")
        children.append(img)
    root = W.VBox(children)
    root.add_class("eco-card-root")
    return root


def close_quietly(widget: Any) -> None:
    """Close a widget (and its children) to free its comm; never raises."""
    try:
        for child in getattr(widget, "children", ()):
            close_quietly(child)
        widget.close()
    except Exception:  # noqa: BLE001
        pass

