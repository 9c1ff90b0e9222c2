"""The live readout while a cell runs: HTML + text, refreshed in place by a daemon thread (no widget, no comm).

* :func:`live_html` / :func:`live_text` — pure: the readout from a :class:`~eco_magic.sampler.LiveStatus` (elapsed
  time, power now and energy so far per device, totals). Every label and device name is escaped in HTML.
* :class:`LiveUpdater` — a daemon thread named ``eco_magic-live`` that renders ``sampler.live()`` every
  ``interval_s`` (0.5 s) and hands the bundle to ``publish(bundle, update)`` (in a kernel: ``display`` the first
  time, ``update_display`` of the same display id after). It waits one interval first, so a cell shorter than that
  shows no readout at all and costs one output message, its card. :meth:`LiveUpdater.stop` returns only when no
  refresh can follow: the card that replaces the readout is never overwritten by a late one, and
  :attr:`LiveUpdater.shown` then says for sure whether a readout is on screen.

The thread runs in a copy of the starting thread's ``contextvars`` context, so its updates carry the parent
header of the cell that started it (ipykernel keeps that header in a context variable) and land in that cell's
output in every frontend.
"""
from __future__ import annotations

import contextvars
import threading
from html import escape
from typing import TYPE_CHECKING, Any, Callable, Sequence

from . import fmt, theme

if TYPE_CHECKING:
    from ..sampler import LiveStatus

LIVE_INTERVAL_S = 0.5
LIVE_THREAD_NAME = "eco_magic-live"

_L = ".eco.eco-live"
LIVE_CSS = (f"{_L}{{font:12px/1.4 var(--jp-ui-font-family,system-ui,-apple-system,'Segoe UI',sans-serif);"
            "border:1px solid var(--eco-line);border-radius:8px;padding:6px 12px;max-width:860px;"
            "box-sizing:border-box;text-align:left}"
            f"{_L} table{{border-collapse:collapse;margin:2px 0 0;border:none;font-size:12px;width:auto}}"
            f"{_L} tr,{_L} tbody tr:nth-child(odd),{_L} tbody tr:nth-child(even),{_L} tbody tr:hover{{background:none}}"
            f"{_L} th,{_L} td{{padding:0 12px 0 0;text-align:left;border:none;color:inherit;font-weight:normal}}"
            f"{_L} th{{color:var(--eco-muted);font-size:11px}}"
            f"{_L} .eco-n{{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}}"
            f"{_L} .eco-small{{color:var(--eco-muted);font-size:11px;font-weight:normal}}"
            f"{_L} tr.eco-total td{{border-top:1px solid var(--eco-line);font-weight:600}}"
            f"{_L} .eco-dot::before{{content:'';display:inline-block;width:8px;height:8px;border-radius:50%;"
            "margin-right:5px;background:var(--eco-good)}")
_STYLE = theme.style(LIVE_CSS)


def _channel_names(channels: Sequence[Any]) -> dict[str, str]:
    names = {}
    for ch in channels:
        key = getattr(ch, "key", None)
        if key is not None:
            names[key] = getattr(ch, "name", "") or key
    return names


def _rows(status: "LiveStatus", channels: Sequence[Any]) -> tuple[list[tuple[str, str, str, str]], str, str]:
    """(key, name, power now, energy so far) per device, and the total power and energy texts."""
    names = _channel_names(channels)
    keys = list(dict.fromkeys([*names, *status.power_w, *status.energy_j]))
    rows = []
    for key in keys:
        power = status.power_w.get(key)
        energy = status.energy_j.get(key)
        rows.append((key, names.get(key, ""), fmt.power(power) if power is not None else "n/a (not read yet)",
                     fmt.energy(energy) if energy is not None else "…"))
    powers = [p for p in status.power_w.values() if p is not None]
    total_power = fmt.power(sum(powers)) if powers else "n/a (not read yet)"
    total_energy = fmt.energy(sum(status.energy_j.values())) if status.energy_j else "…"
    return rows, total_power, total_energy


def live_html(label: str, status: "LiveStatus", channels: Sequence[Any] = ()) -> str:
    """The readout: elapsed time, then one row per device (power now, energy so far), then totals.

    ``channels`` are the sensors' :class:`~eco_magic.sensors.base.DeviceInfo` (for names and order); keys the
    status reports beyond them are shown too. Energy not known yet shows as "…", never as a made-up zero.
    """
    rows, total_power, total_energy = _rows(status, channels)
    body = "".join(f'<tr><td>{escape(k)} <span class="eco-small">{escape(n)}</span></td>'
                   f'<td class="eco-n">{escape(p)}</td><td class="eco-n">{escape(e)}</td></tr>'
                   for k, n, p, e in rows)
    if rows:
        body += (f'<tr class="eco-total"><td>total</td><td class="eco-n">{escape(total_power)}</td>'
                 f'<td class="eco-n">{escape(total_energy)}</td></tr>')
        table = ('<table><thead><tr><th>device</th><th class="eco-n">power now</th>'
                 f'<th class="eco-n">energy so far</th></tr></thead><tbody>{body}</tbody></table>')
    else:
        table = '<div class="eco-small">no device channel to read</div>'
    title = f" · {escape(label)}" if label else ""
    return (f'<div class="eco eco-live">{_STYLE}<div><b><span class="eco-dot"></span>ecolyze{title}</b> '
            f'<span class="eco-small">measuring · {escape(fmt.duration(status.elapsed_s))}</span></div>'
            f"{table}</div>")


def live_text(label: str, status: "LiveStatus" | None = None, channels: Sequence[Any] = ()) -> str:
    """'ecolyze: measuring fp32… 1.50 s · 104 W · 12.0 J so far' (without a status: just the first words)."""
    head = f"ecolyze: measuring {label}…" if label else "ecolyze: measuring…"
    if status is None:
        return head
    _, total_power, total_energy = _rows(status, channels)
    return f"{head} {fmt.duration(status.elapsed_s)} · {total_power} · {total_energy} so far"


def live_bundle(label: str, status: "LiveStatus" | None, channels: Sequence[Any] = ()) -> dict[str, str]:
    """``text/plain`` + ``text/html`` of the readout (HTML only once a status is known)."""
    data = {"text/plain": live_text(label, status, channels)}
    if status is not None:
        data["text/html"] = live_html(label, status, channels)
    return data


class LiveUpdater:
    """Publish the readout from ``sampler.live()`` every ``interval_s`` in a named daemon thread until :meth:`stop`.

    ``publish(bundle, update)`` receives :func:`live_bundle` dicts, ``update`` false for the first one (show it)
    and true after (replace it). Every exception from the sampler or ``publish`` is swallowed: a readout must never
    break the cell it describes.
    """

    def __init__(self, sampler: Any, publish: Callable[[dict, bool], Any], label: str, channels: Sequence[Any] = (),
                 *,
                 interval_s: float = LIVE_INTERVAL_S, thread_name: str = LIVE_THREAD_NAME) -> None:
        self.sampler = sampler
        self.publish = publish
        self.label = label
        self.channels = tuple(channels)
        self.interval_s = float(interval_s)
        self.n_updates = 0
        self.shown = False  # a readout was published (and so is on screen)
        self._stop = threading.Event()
        self._lock = threading.Lock()  # held while publishing: stop() waits for a publish in flight
        context = contextvars.copy_context()
        self._thread = threading.Thread(target=context.run, args=(self._run,), name=thread_name, daemon=True)

    def refresh(self) -> bool:
        """One update now; ``False`` if it failed or the updater is stopped."""
        try:
            bundle = live_bundle(self.label, self.sampler.live(), self.channels)
            with self._lock:
                if self._stop.is_set():
                    return False
                self.publish(bundle, self.shown)
                self.shown = True
        except Exception:  # noqa: BLE001 - see class docstring
            return False
        self.n_updates += 1
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.refresh()

    def start(self) -> None:
        self._thread.start()

    def stop(self, join: bool = False, timeout: float | None = None) -> None:
        """Stop refreshing: after this returns nothing more is published (a publish in flight is waited for).

        The thread then ends by itself at once; ``join=True`` also waits for that (by default up to one interval
        + 2 s). Not joining keeps a context switch off the end of every measured cell. Idempotent.
        """
        with self._lock:
            self._stop.set()
        if join and self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(self.interval_s + 2.0 if timeout is None else timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()
