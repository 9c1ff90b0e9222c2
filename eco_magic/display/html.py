"""Static HTML card for an EcoResult: self-contained, inline styles only, every user string escaped.

This is what nbconvert, GitHub and JupyterLab show when no widget state is saved; the widget reuses it. Layout,
top to bottom: a heading (label, status, duration, region), five tiles (energy, CO₂e, water, thermal, ESS), one row
per device with a colour chip for how its energy was obtained (counter green, integrated blue, estimated brown),
details (ESS inputs, gross vs net-of-idle energy, per-item and per-minute figures, flags, notes), the what-if rows
and the annual projection when given, the power-trace image when given, and a provenance footer.

Stable CSS classes (tests and end-to-end selectors rely on them): ``eco-card``, ``eco-tile``, ``eco-energy``,
``eco-co2``, ``eco-water``, ``eco-thermal``, ``eco-ess``, ``eco-devices``, ``eco-whatif``, ``eco-projection``,
``eco-plot``, ``eco-provenance``.
"""
from __future__ import annotations

import base64
from html import escape
from typing import TYPE_CHECKING, Sequence

from . import fmt
from .text import carbon_phrase, ess_text, methods_phrase, ratio_phrase

if TYPE_CHECKING:
    from ..result import EcoResult
    from ..whatif import WhatIfRow

STATUS_COLOUR = {"ok": "#2e7d32", "error": "#c62828", "interrupted": "#ef6c00"}
METHOD_COLOUR = {"counter": "#2e7d32", "integrated": "#1565c0", "estimated": "#8d6e63"}
ROLE_LABEL = {"lowest": "lowest-intensity grid", "highest": "highest-intensity grid", "chosen": "your list"}

_CARD = ("font-family:system-ui,-apple-system,'Segoe UI',sans-serif;font-size:13px;line-height:1.45;"
         "border:1px solid #d0d7de;border-radius:8px;padding:10px 14px;max-width:780px;background:#fbfdfb;"
         "color:#1f2328")
_TILE = ("display:inline-block;min-width:108px;margin:4px 8px 4px 0;padding:6px 10px;border-radius:6px;"
         "background:#eef5ee;vertical-align:top")
_SMALL = "font-size:11px;color:#57606a"
_TABLE = "border-collapse:collapse;margin-top:6px;font-size:12px"
_TH = "<tr style='text-align:left;color:#57606a;font-size:11px'>"
_NUM = "style='text-align:right;padding:0 8px 0 0'"
_CELL = "style='padding:0 8px 0 0'"
_SECTION = f"margin-top:8px;{_SMALL}"


def _tile(title: str, value: str, sub: str = "", cls: str = "") -> str:
    sub_html = f'<div style="{_SMALL}">{escape(sub)}</div>' if sub else ""
    return (f'<div class="eco-tile {cls}" style="{_TILE}"><div style="{_SMALL}">{escape(title)}</div>'
            f'<div class="eco-value" style="font-size:17px;font-weight:600">{escape(value)}</div>{sub_html}</div>')


def _badge(text: str, colour: str) -> str:
    return (f'<span style="background:{colour};color:#fff;border-radius:9px;padding:0 7px;font-size:11px;'
            f'margin-left:6px">{escape(text)}</span>')


def method_chip(method: str) -> str:
    """A small coloured pill naming how an energy figure was obtained."""
    colour = METHOD_COLOUR.get(method, "#57606a")
    return (f'<span class="eco-method" style="background:{colour};color:#fff;border-radius:9px;padding:0 7px;'
            f'font-size:11px">{escape(method)}</span>')


def _head(r: "EcoResult") -> str:
    where = r.region_name or r.region
    return (f'<div style="font-weight:600;font-size:14px"><span style="display:inline-block;width:9px;height:9px;border-radius:50%;background:#2e7d32;margin-right:6px"></span>ecolyze'
            f'{" · " + escape(r.label) if r.label else ""}'
            f'{_badge(r.status, STATUS_COLOUR.get(r.status, "#555"))}'
            f'<span style="{_SMALL};margin-left:8px;font-weight:normal">{escape(fmt.duration(r.duration_s))}'
            f'{" · " + escape(where) if where else ""}</span></div>')


def _tiles(r: "EcoResult") -> str:
    if r.energy_net_j is not None:
        energy_sub = f"net of idle {fmt.energy(r.energy_net_j)}"
    else:
        energy_sub = f"gross ({methods_phrase(r)})"
    thermal_sub = f"{len(r.thermal_flags)} flag(s)" if r.thermal_flags else "no flags"
    throttled = [d.key for d in r.devices if d.throttle_events]
    if throttled:
        thermal_sub += f"; throttled: {', '.join(throttled)}"
    return "".join([
        _tile("Energy", fmt.energy(r.energy_j), energy_sub, "eco-energy"),
        _tile("CO₂e", fmt.mass_g(r.co2_g), f"{r.carbon_intensity_g_per_kwh:.4g} g/kWh × PUE {r.pue:g}", "eco-co2"),
        _tile("Water", fmt.volume_l(r.water_l),
              f"on-site {fmt.volume_l(r.water_onsite_l)} · off-site {fmt.volume_l(r.water_offsite_l)}", "eco-water"),
        _tile("Thermal", "peak " + fmt.temp(r.peak_temp_c) if r.peak_temp_c is not None else "n/a",
              thermal_sub, "eco-thermal"),
        _tile("ESS", "n/a" if r.ess is None else f"{r.ess:.3g}",
              "M params / g CO₂e" if r.ess is not None else (r.ess_note or "no model"), "eco-ess"),
    ])


def _devices(r: "EcoResult") -> str:
    if not r.devices:
        return f'<div class="eco-devices" style="{_SMALL}">no device channel was measured</div>'
    rows = []
    for d in r.devices:
        throttle = ""
        if d.throttle_events:
            reasons = ", ".join(t.replace("_", " ") for t in d.throttle_events)
            throttle = f' <span style="color:#c62828">throttled: {escape(reasons)}</span>'
        rows.append(
            "<tr>"
            f"<td {_CELL}>{escape(d.kind)}</td><td {_CELL}>{escape(d.name)}</td>"
            f"<td {_NUM}>{escape(fmt.energy(d.energy_j))}</td>"
            f"<td {_NUM}>{escape(fmt.power(d.mean_power_w))}</td>"
            f"<td {_NUM}>{escape(fmt.power(d.idle_power_w)) if d.idle_power_w is not None else '–'}</td>"
            f"<td {_NUM}>{escape(fmt.temp(d.peak_temp_c))}</td>"
            f"<td {_CELL}>{method_chip(d.method)} <span style='{_SMALL}'>{escape(d.source)} · "
            f"{escape(d.scope)} scope</span>{throttle}</td>"
            "</tr>")
    head = "".join(f"<th {_NUM if n else _CELL}>{h}</th>" for h, n in (
        ("kind", 0), ("device", 0), ("energy", 1), ("mean power", 1), ("idle", 1), ("peak temp", 1),
        ("method · source", 0)))
    return f"<table class='eco-devices' style='{_TABLE}'>{_TH}{head}</tr>{''.join(rows)}</table>"


def _details(r: "EcoResult") -> str:
    details = []
    if r.effective_params_m is not None:
        var = f" from <code>{escape(r.model_variable)}</code>" if r.model_variable else ""
        details.append(f"ESS {escape(ess_text(r))}: N = {escape(fmt.count(r.n_params))}, "
                       f"{escape(str(r.precision))}, QF {r.qf:g} → {escape(fmt.params_m(r.effective_params_m))} "
                       f"effective{var}")
    else:
        details.append(f"ESS {escape(ess_text(r))}")
    if r.energy_net_j is not None:
        details.append(f"energy gross {escape(fmt.energy(r.energy_j))}, net of idle "
                       f"{escape(fmt.energy(r.energy_net_j))} (idle baseline {escape(fmt.power(r.idle_power_w))})")
    else:
        details.append(f"energy gross {escape(fmt.energy(r.energy_j))}; net of idle n/a (no idle baseline yet)")
    if r.items:
        details.append(f"per item: {escape(fmt.energy(r.energy_per_item_j))}, "
                       f"{escape(fmt.mass_g(r.co2_per_item_g))} CO₂e ({r.items} items)")
    if r.energy_per_min_j is not None:
        details.append(f"per minute: {escape(fmt.energy(r.energy_per_min_j))}, "
                       f"{escape(fmt.mass_g(r.co2_per_min_g))} CO₂e")
    for flag in r.thermal_flags:
        details.append(f'<span style="color:#c62828">⚠ {escape(flag)}</span>')
    if r.error:
        details.append(f"cell {escape(r.status)}: {escape(r.error)}")
    for note in r.notes:
        details.append(f'<span style="{_SMALL}">note: {escape(note)}</span>')
    return '<div style="margin-top:6px">' + "".join(f"<div>{d}</div>" for d in details) + "</div>"


def _what_if(r: "EcoResult", rows: Sequence["WhatIfRow"], unknown: Sequence[str]) -> str:
    if not rows and not unknown:
        return ""
    body = "".join(
        "<tr>"
        f"<td {_CELL}>{escape(row.name)} <span style='{_SMALL}'>({escape(row.code)})</span></td>"
        f"<td {_NUM}>{row.carbon_intensity_g_per_kwh:.4g} g/kWh</td>"
        f"<td {_NUM}>{escape(fmt.mass_g(row.co2_g))} CO₂e</td>"
        f"<td {_NUM}>{escape(ratio_phrase(row.ratio_to_current))}</td>"
        f"<td style='{_SMALL}'>{escape(ROLE_LABEL.get(row.role, row.role))}</td>"
        "</tr>" for row in rows)
    skipped = (f'<div style="{_SMALL}">unknown what-if region(s) skipped: {escape(", ".join(unknown))}</div>'
               if unknown else "")
    return (f'<div class="eco-whatif" style="margin-top:8px"><div style="{_SMALL}">What if: the same energy '
            f'({escape(fmt.energy(r.energy_j))}, PUE {r.pue:g}) on other grids</div>'
            f"<table style='{_TABLE}'>{body}</table>{skipped}</div>")


def _projection(r: "EcoResult", runs_per_day: float | None) -> str:
    if not runs_per_day:
        return ""
    from ..whatif import annual

    a = annual(r, runs_per_day)
    return (f'<div class="eco-projection" style="margin-top:6px">Projected at {runs_per_day:g} run(s)/day for a '
            f'year: <b>{escape(fmt.energy(a.energy_kwh_per_year * 3.6e6))}</b>, '
            f'<b>{escape(fmt.mass_g(a.co2_kg_per_year * 1000.0))}</b> CO₂e, '
            f'<b>{escape(fmt.volume_l(a.water_l_per_year))}</b> water '
            f'<span style="{_SMALL}">(this cell × {runs_per_day:g} × 365)</span></div>')


def _footer(r: "EcoResult") -> str:
    per_device = "; ".join(f"{d.key} {d.method}" for d in r.devices) or "no sensor"
    tier = f" tier {r.pue_tier}" if r.pue_tier else ""
    return (f'<div class="eco-provenance" style="{_SMALL};margin-top:6px;border-top:1px solid #e5e7eb;'
            f'padding-top:4px">energy: {escape(per_device)} · carbon intensity {escape(carbon_phrase(r))} · '
            f'PUE {r.pue:g}{escape(tier)}{escape(_paren(r.pue_source))} · water: {escape(r.water_model)} model'
            f'{escape(_paren(r.water_formula, r.water_source))} · sampling {escape(r.sampling)}, '
            f'{r.n_samples} samples</div>')


def _paren(*parts: str | None) -> str:
    """' (a; b)' from the non-empty parts, '' when there are none."""
    kept = [p for p in parts if p]
    return f" ({'; '.join(kept)})" if kept else ""


def plot_img(png: bytes | None = None, plot_png_b64: str | None = None) -> str:
    """The ``<img class="eco-plot">`` tag for a PNG (bytes or already base64), or ``""``."""
    if png is not None:
        plot_png_b64 = base64.b64encode(png).decode("ascii")
    if not plot_png_b64:
        return ""
    return (f'<img class="eco-plot" alt="power trace: watts per device over the cell" '
            f'style="max-width:100%;margin-top:6px" src="data:image/png;base64,{escape(plot_png_b64)}"/>')


def render_html(result: "EcoResult", plot_png_b64: str | None = None, *, png: bytes | None = None,
                what_if: Sequence["WhatIfRow"] | None = None, project_daily: float | None = None,
                unknown_regions: Sequence[str] = ()) -> str:
    """The result card as HTML.

    plot_png_b64 / png  an inline power-trace image (base64 text or PNG bytes)
    what_if             rows from :func:`eco_magic.whatif.what_if` (the section is left out when ``None``)
    project_daily       runs per day for the annual projection (left out when ``None``)
    unknown_regions     what-if regions the user configured that no table knows (named, not hidden)
    """
    from .workers import workers_html

    r = result
    return (f'<div class="eco-card" style="{_CARD}">{_head(r)}<div>{_tiles(r)}</div>{_devices(r)}'
            f'{workers_html(r)}'
            f'{_details(r)}{_what_if(r, what_if or (), unknown_regions)}{_projection(r, project_daily)}'
            f'{plot_img(png, plot_png_b64)}{_footer(r)}</div>')
