"""The card's "Dask workers" section: per-worker energy, how it was obtained, and what was counted where.

Both renderers return ``""`` when the result has no workers, so a card can always append them. The text section
sits under the device lines of :func:`eco_magic.display.text.render_text`; the HTML section (CSS class
``eco-workers``) under the device table of :func:`eco_magic.display.html.render_html`. Every user-supplied string
is escaped in HTML.
"""
from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from . import fmt

if TYPE_CHECKING:
    from ..result import EcoResult, WorkerReading

#: Worker status → CSS class of its word (the card's palette: good, bad, warning).
STATUS_CLASS = {"measured": "eco-good", "left": "eco-bad", "joined": "eco-warn", "failed": "eco-bad"}


def _energy(energy_j: float | None) -> str:
    """Like :func:`fmt.energy`, but an exact zero reads "0 J" (a worker that adds nothing is common)."""
    return "0 J" if energy_j == 0 else fmt.energy(energy_j)


def _device_note(w: "WorkerReading", key: str) -> str:
    """The attribution note for one channel (``"<key>: why"`` in the worker's notes), without the key."""
    prefix = f"{key}: "
    return next((n[len(prefix):] for n in w.notes if n.startswith(prefix)), "")


def _other_notes(w: "WorkerReading") -> list[str]:
    keys = tuple(f"{d.key}: " for d in w.devices)
    return [n for n in w.notes if not n.startswith(keys)] if keys else list(w.notes)


def _headline(result: "EcoResult") -> str:
    workers = result.workers
    measured = [w for w in workers if w.status == "measured"]
    hosts = {w.host_id or w.host for w in measured}
    added = result.cluster_energy_j or 0.0
    read = sum(w.read_j for w in measured if w.read_j is not None)
    others = len(workers) - len(measured)
    tail = f"; {others} not measured" if others else ""
    return (f"+{_energy(added)} from {len(measured)} Dask worker(s) on {len(hosts)} host(s), counted once per "
            f"host for machine-level counters ({_energy(read)} read){tail}")


def _factors(w: "WorkerReading") -> str:
    if w.co2_g is None:
        return ""
    ci = f"{w.carbon_intensity_g_per_kwh:.4g} g/kWh" if w.carbon_intensity_g_per_kwh is not None else "n/a"
    return (f"{w.region} {ci} ({w.region_source}) × PUE {w.pue:g} ({w.pue_source}) → {fmt.mass_g(w.co2_g)} CO₂e, "
            f"{fmt.volume_l(w.water_l)} water")


def workers_text(result: "EcoResult") -> str:
    """The workers section as text lines joined by newlines (``""`` without workers)."""
    if not result.workers:
        return ""
    lines = [f"  cluster   {_headline(result)}"]
    for w in result.workers:
        pid = f", pid {w.pid}" if w.pid is not None else ""
        if w.status != "measured":
            why = "; ".join(w.notes) or w.status
            lines.append(f"    {w.address} on {w.host}{pid}: {w.status} — {why}")
            continue
        lines.append(f"    {w.address} on {w.host}{pid}: +{_energy(w.energy_j)} counted of "
                     f"{_energy(w.read_j)} read over {fmt.duration(w.duration_s)}; {_factors(w)}")
        for d in w.devices:
            temp = f", peak {fmt.temp(d.peak_temp_c)}" if d.peak_temp_c is not None else ""
            note = _device_note(w, d.key)
            lines.append(f"      {d.kind:<4} {d.name}: {_energy(d.energy_j)} {d.method} ({d.source}; "
                         f"{d.scope} scope){temp}" + (f" — {note}" if note else ""))
        for note in _other_notes(w):
            lines.append(f"      note {note}")
    return "\n".join(lines)


def _chip(text: str, cls: str) -> str:
    return f'<span class="{cls}">{escape(text)}</span>'


def _channels_html(w: "WorkerReading") -> str:
    from .html import method_chip

    parts = []
    for d in w.devices:
        note = _device_note(w, d.key)
        temp = f" · peak {escape(fmt.temp(d.peak_temp_c))}" if d.peak_temp_c is not None else ""
        note_html = f' <span class="eco-small">({escape(note)})</span>' if note else ""
        parts.append(f"<div>{escape(d.kind)} {escape(_energy(d.energy_j))} {method_chip(d.method)} "
                     f'<span class="eco-small">{escape(d.source)} · {escape(d.scope)} scope{temp}</span>'
                     f"{note_html}</div>")
    for note in _other_notes(w):
        parts.append(f'<div class="eco-small">note: {escape(note)}</div>')
    return "".join(parts)


def workers_html(result: "EcoResult") -> str:
    """The workers section as an HTML fragment (``<div class="eco-workers">``; ``""`` without workers).

    Styled by the card's ``<style>`` (classes ``eco-small``, ``eco-n``, ``eco-bad``); reads as a plain table
    without it."""
    if not result.workers:
        return ""
    rows = []
    for w in result.workers:
        pid = f" · pid {w.pid}" if w.pid is not None else ""
        who = (f'<td class="eco-nw"><code>{escape(w.address)}</code><div class="eco-small">{escape(w.host)}'
               f"{escape(pid)}</div></td>")
        status = f"<td>{_chip(w.status, STATUS_CLASS.get(w.status, 'eco-small'))}</td>"
        if w.status != "measured":
            why = escape("; ".join(w.notes) or w.status)
            rows.append(f'<tr>{who}{status}<td colspan="3" class="eco-small">{why}</td></tr>')
            continue
        rows.append(
            f"<tr>{who}{status}"
            f'<td class="eco-n">+{escape(_energy(w.energy_j))}<div class="eco-small">of '
            f"{escape(_energy(w.read_j))} read</div></td>"
            f"<td>{_channels_html(w)}</td>"
            f'<td class="eco-small">{escape(_factors(w))}</td></tr>')
    return (f'<div class="eco-workers"><div class="eco-small">Dask workers: '
            f"{escape(_headline(result))}</div><table>"
            "<thead><tr><th>worker</th><th>status</th><th class=eco-n>counted</th>"
            "<th>channels · method · source</th><th>CO₂e on its host</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table></div>")
