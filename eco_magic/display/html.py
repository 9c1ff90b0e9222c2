"""The result card as self-contained HTML: one ``<style>`` scoped to ``.eco-card``, every user string escaped.

This is what stays in the notebook after a cell (JupyterLab, Notebook 7, VS Code, nbconvert, GitHub): no script,
no widget state, no network. Colours follow the notebook's light or dark theme (:mod:`.theme`); where ``<style>``
is stripped (untrusted notebooks, GitHub) the markup still reads as plain tables.

Top to bottom: a heading (label, status, duration, region, start time); one row of five figures (energy, CO₂e,
water, thermal, ESS), each with its unit, how it was obtained and a note ("n/a" always with its reason); the
repeat line; one row per device (numbers never wrap; the method and source column takes the remaining width);
the Dask workers; the power trace (inline SVG, cells ≥ 1 s); details (net of idle, ESS inputs, rates, recorded
values, LLM tokens, embodied carbon, flags, notes); what-if rows and the annual projection when asked for; the
sources, each once.

Stable CSS classes (tests and end-to-end selectors rely on them): ``eco-card``, ``eco-tile``, ``eco-energy``,
``eco-co2``, ``eco-water``, ``eco-thermal``, ``eco-ess``, ``eco-value``, ``eco-devices``, ``eco-workers``,
``eco-plot``, ``eco-details``, ``eco-whatif``, ``eco-projection``, ``eco-provenance``.
"""
from __future__ import annotations

import functools
import re
from html import escape
from typing import TYPE_CHECKING, Sequence

from . import fmt, phrases, theme
from .text import ROLE_LABEL, ratio_phrase

if TYPE_CHECKING:
    from ..result import EcoResult
    from ..whatif import WhatIfRow

_C = ".eco.eco-card"  # two classes: beats JupyterLab's (0,2,1) table rules where it must
#: The card's rules, scoped under ``.eco.eco-card`` (JupyterLab's own table rules are overridden: no zebra rows,
#: no right-aligned text cells, no fixed layout).
CARD_CSS = "".join((
    f"{_C}{{font:13px/1.45 var(--jp-ui-font-family,system-ui,sans-serif);border:1px solid var(--eco-line);"
    "border-radius:8px;padding:10px 14px;max-width:860px;box-sizing:border-box;text-align:left}",
    f"{_C} table{{border-collapse:collapse;margin:0;border:0;font-size:12px;table-layout:auto;width:100%;"
    "color:inherit}",
    f"{_C} table.eco-w{{width:auto}}",
    f"{_C} tr,{_C} tbody tr:nth-child(odd),{_C} tbody tr:nth-child(even),{_C} tbody tr:hover{{background:none}}",
    f"{_C} th,{_C} td{{padding:1px 10px 1px 0;text-align:left;vertical-align:top;border:0;color:inherit;"
    "font-weight:400;line-height:1.45}",
    f"{_C} th,{_C} .eco-small,{_C} .eco-k{{color:var(--eco-muted);font-size:11px;font-weight:400}}",
    f"{_C} th,{_C} .eco-nw{{white-space:nowrap}}",
    f"{_C} .eco-n{{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}}",
    f"{_C} .eco-head{{font-weight:600;font-size:14px;color:var(--eco-strong)}}",
    f"{_C} .eco-head .eco-small{{margin-left:6px}}",
    f"{_C} .eco-dot:before,{_C} .eco-m:before{{content:'';display:inline-block;width:8px;height:8px;"
    "border-radius:50%;margin-right:5px;background:var(--eco-good)}",
    f"{_C} .eco-bad{{color:var(--eco-bad)}}{_C} .eco-warn{{color:var(--eco-warn)}}{_C} .eco-good{{color:var(--eco-good)}}",
    f"{_C}.eco-error .eco-dot:before{{background:var(--eco-bad)}}",
    f"{_C}.eco-interrupted .eco-dot:before{{background:var(--eco-warn)}}",
    f"{_C}>table.eco-figs{{table-layout:fixed;border-collapse:separate;border-spacing:6px 0;margin:8px -6px 0;"
    "width:calc(100% + 12px)}",
    f"{_C} td.eco-tile{{border:1px solid var(--eco-line);border-radius:6px;padding:6px 9px;"
    "background:var(--eco-panel);overflow-wrap:anywhere}",
    f"{_C} .eco-k{{text-transform:uppercase;letter-spacing:.04em}}",
    f"{_C} .eco-value{{font-size:18px;font-weight:600;white-space:nowrap;color:var(--eco-strong);"
    "font-variant-numeric:tabular-nums;overflow:hidden;text-overflow:ellipsis}",
    f"{_C}>table,{_C}>div{{margin:10px 0 0}}{_C}>.eco-head{{margin:0}}{_C}>.eco-rep{{margin-top:4px}}",
    f"{_C} .eco-devices thead th{{border-bottom:1px solid var(--eco-line)}}",
    f"{_C} td.eco-src{{width:100%;color:var(--eco-muted);font-size:11px}}{_C} .eco-dl th{{width:1%;padding-right:12px}}",
    f"{_C} .eco-m{{white-space:nowrap}}{_C} .eco-m:before{{width:7px;height:7px;margin-right:4px;"
    "background:var(--eco-muted)}",
    *(f"{_C} .eco-m-{m}:before{{background:{c}}}" for m, c in theme.METHOD_COLOURS.items()),
    f"{_C} .eco-provenance{{margin-top:10px;border-top:1px solid var(--eco-line)}}",
    f"{_C} .eco-provenance td{{color:var(--eco-muted);font-size:11px;padding-top:2px}}",
    f"{_C} .eco-provenance td:first-child{{width:1%;padding-right:12px}}",
    f"{_C} code{{font-size:11px;background:none;padding:0;color:inherit}}",
))


@functools.lru_cache(maxsize=2)
def _css(plot: bool) -> str:
    """The card's one ``<style>`` element: palette, card rules, and the trace's rules when there is a trace."""
    from .svg import CSS as PLOT_CSS

    return theme.style(CARD_CSS + (PLOT_CSS if plot else ""))


def method_chip(method: str) -> str:
    """How an energy figure was obtained, as text with a coloured dot (counter, integrated, estimated)."""
    m = escape(method)
    return f'<span class="eco-m eco-m-{m}">{m}</span>'


def _small(text: str, cls: str = "eco-small") -> str:
    return f'<div class="{cls}">{escape(text)}</div>' if text else ""


def _tile(cls: str, title: str, value: str, method: str = "", note: str = "", bar: str = "",
          method_html: str = "") -> str:
    return (f'<td class="eco-tile {cls}"><div class="eco-k">{escape(title)}</div>'
            f'<div class="eco-value">{escape(value)}</div>'
            f"{_small(bar)}{method_html or _small(method)}{_small(note)}</td>")


def _head(r: "EcoResult") -> str:
    meta = [fmt.duration(r.duration_s), r.region_name or r.region, phrases.started(r)]
    status_cls = {"error": " eco-bad", "interrupted": " eco-warn"}.get(r.status, "")
    return (f'<div class="eco-head"><span class="eco-dot"></span>ecolyze'
            f'{" · " + escape(r.label) if r.label else ""} '
            f'<span class="eco-small{status_cls}">{escape(r.status)} · {escape(" · ".join(m for m in meta if m))}'
            "</span></div>")


def _figures(r: "EcoResult") -> str:
    p = phrases
    methods = "".join(method_chip(m) + " " for m in p.methods_phrase(r).split(" + ")) if r.devices else ""
    energy_note = ("net of idle " + fmt.energy(r.energy_net_j) if r.energy_net_j is not None
                   else "net of idle n/a (no idle baseline)")
    co2_note = [f"{p.carbon_kind(r)} · {r.region_name or r.region}"]
    if r.embodied_co2_g is not None:
        co2_note.append(f"+ {fmt.mass_g(r.embodied_co2_g)} embodied (separate)")
    if r.ess is not None:
        ess_method, ess_note = "M params / g CO₂e", f"{fmt.params_m(r.effective_params_m)} effective params"
    else:
        ess_method, ess_note = "", re.split(r"[:(;]", p.ess_reason(r), maxsplit=1)[0].strip()
    tiles = [
        _tile("eco-energy", "Energy", fmt.energy(r.energy_j), note=energy_note, bar=p.error_bar(r, "energy_j"),
              method_html=f'<div class="eco-small">{methods or "no sensor"}</div>'),
        _tile("eco-co2", "CO₂e", fmt.mass_g(r.co2_g), f"× {p.ci_text(r)} × PUE {r.pue:g}", "; ".join(co2_note),
              p.error_bar(r, "co2_g")),
        _tile("eco-water", "Water", fmt.volume_l(r.water_l), p.water_model(r), p.water_split(r),
              p.error_bar(r, "water_l")),
        _tile("eco-thermal", "Thermal", p.thermal_value(r), note=p.thermal_note(r)),
        _tile("eco-ess", "ESS", p.ess_value(r), ess_method, ess_note, p.error_bar(r, "ess")),
    ]
    rep = "" if r.runs > 1 else _small(p.repeats_lines(r)[0], "eco-small eco-rep")
    return f'<table class="eco-figs"><tr>{"".join(tiles)}</tr></table>{rep}'


def _devices(r: "EcoResult") -> str:
    """One row per device; the idle and peak-temperature columns only when some device has them."""
    if not r.devices:
        return '<div class="eco-devices eco-small">no device channel was measured</div>'
    has_idle = any(d.idle_power_w is not None for d in r.devices)
    has_temp = any(d.peak_temp_c is not None for d in r.devices)
    rows = []
    for d in r.devices:
        throttle = ""
        if d.throttle_events:
            reasons = ", ".join(t.replace("_", " ") for t in d.throttle_events)
            throttle = f' <span class="eco-bad">throttled: {escape(reasons)}</span>'
        cells = [fmt.energy(d.energy_j) if d.energy_j is not None else "–",
                 fmt.power(d.mean_power_w) if d.mean_power_w is not None else "–"]
        if has_idle:
            cells.append(fmt.power(d.idle_power_w) if d.idle_power_w is not None else "–")
        if has_temp:
            cells.append(fmt.temp(d.peak_temp_c) if d.peak_temp_c is not None else "–")
        rows.append(
            f'<tr><td class="eco-nw">{escape(d.kind)}</td><td class="eco-nw">{escape(d.name)}</td>'
            + "".join(f'<td class="eco-n">{escape(c)}</td>' for c in cells)
            + f'<td class="eco-nw">{method_chip(d.method)}</td>'
            f'<td class="eco-src">{escape(d.source)} · {escape(d.scope)} scope{throttle}</td></tr>')
    heads = [("kind", 0), ("device", 0), ("energy", 1), ("mean power", 1)]
    heads += [("idle", 1)] * has_idle + [("peak temp", 1)] * has_temp + [("method", 0), ("source", 0)]
    head = "".join(f'<th{" class=eco-n" if n else ""}>{h}</th>' for h, n in heads)
    return (f'<table class="eco-devices"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def _dl(cls: str, rows: Sequence[tuple[str, str]], raw: bool = False) -> str:
    """A two-column table of (label, text); ``raw`` texts are already HTML."""
    if not rows:
        return ""
    body = "".join(f"<tr><th>{escape(k)}</th><td>{v if raw else escape(v)}</td></tr>" for k, v in rows)
    return f'<table class="eco-dl {cls}"><tbody>{body}</tbody></table>'


def _details(r: "EcoResult") -> str:
    p = phrases
    rows: list[tuple[str, str]] = [("net of idle", escape(p.net_of_idle(r)))]
    if r.runs > 1:
        head, *figures = p.repeats_lines(r)
        rows.append(("repeats", f"{escape(head)}: " + "<br>".join(escape(x) for x in figures)))
    if r.ess is None:
        rows.append(("ESS", escape(f"n/a: {p.ess_reason(r)}" + (f"; model {p.ess_inputs(r)}" if p.ess_inputs(r)
                                                                  else ""))))
    else:
        rows.append(("ESS", escape(f"{p.ess_text(r)} = {p.ess_inputs(r)}" if p.ess_inputs(r) else p.ess_text(r))))
    if p.per_item(r):
        rows.append(("per item", escape(p.per_item(r))))
    if p.per_minute(r):
        rows.append(("per minute", escape(p.per_minute(r))))
    if p.recorded(r):
        rows.append(("recorded", escape(p.recorded(r))))
    rows.extend((label, escape(text)) for label, text in p.llm_lines(r))
    if p.embodied(r):
        rows.append(("embodied", escape(p.embodied(r))))
    for flag in r.thermal_flags:
        rows.append(("thermal", f'<span class="eco-warn">⚠</span> {escape(flag)}'))
    if r.error:
        rows.append(("cell", f'<span class="eco-bad">{escape(r.status)}</span>: {escape(r.error)}'))
    for note in r.notes:
        rows.append(("note", escape(note)))
    return _dl("eco-details", rows, raw=True)


def _what_if(r: "EcoResult", rows: Sequence["WhatIfRow"], unknown: Sequence[str]) -> str:
    if not rows and not unknown:
        return ""
    body = "".join(
        f'<tr><td class="eco-nw">{escape(row.name)} <span class="eco-small">({escape(row.code)})</span></td>'
        f'<td class="eco-n">{escape(fmt.trim(fmt.number(row.carbon_intensity_g_per_kwh, 4)))} g/kWh</td>'
        f'<td class="eco-n">{escape(fmt.mass_g(row.co2_g))} CO₂e</td>'
        f'<td class="eco-n">{escape(ratio_phrase(row.ratio_to_current))}</td>'
        f'<td class="eco-small">{escape(ROLE_LABEL.get(row.role, row.role))}</td></tr>' for row in rows)
    skipped = _small(f"unknown what-if region(s) skipped: {', '.join(unknown)}") if unknown else ""
    return (f'<div class="eco-whatif"><div class="eco-small">What if: the same energy '
            f'({escape(fmt.energy(r.energy_j))}, PUE {r.pue:g}) on other grids</div>'
            f'<table class="eco-w"><tbody>{body}</tbody></table>{skipped}</div>')


def _projection(r: "EcoResult", runs_per_day: float | None) -> str:
    if not runs_per_day:
        return ""
    from ..whatif import annual

    a = annual(r, runs_per_day)
    return (f'<div class="eco-projection"><span class="eco-small">per year</span> at {runs_per_day:g} run(s)/day '
            f'× 365: <b>{escape(fmt.energy(a.energy_kwh_per_year * 3.6e6))}</b>, '
            f'<b>{escape(fmt.mass_g(a.co2_kg_per_year * 1000.0))}</b> CO₂e, '
            f'<b>{escape(fmt.volume_l(a.water_l_per_year))}</b> water</div>')


def _footer(r: "EcoResult") -> str:
    rows = "".join(f"<tr><td class=eco-nw>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in phrases.sources(r))
    return f'<table class="eco-provenance"><tbody>{rows}</tbody></table>'


def render_html(result: "EcoResult", *, what_if: Sequence["WhatIfRow"] | None = None,
                project_daily: float | None = None, unknown_regions: Sequence[str] = (),
                plot: bool = True) -> str:
    """The result card as HTML.

    what_if             rows from :func:`eco_magic.whatif.what_if` (the section is left out when ``None``)
    project_daily       runs per day for the annual projection (left out when ``None``)
    unknown_regions     what-if regions the user configured that no table knows (named, not hidden)
    plot                draw the power trace (inline SVG) when the cell is long enough to have one
    """
    from .workers import workers_html

    r = result
    trace = ""
    if plot:
        from .svg import trace_html

        trace = trace_html(r)
    status = f" eco-{r.status}" if r.status != "ok" else ""
    return (f'<div class="eco eco-card{status}">{_css(bool(trace))}{_head(r)}{_figures(r)}{_devices(r)}{workers_html(r)}'
            f"{trace}{_details(r)}{_what_if(r, what_if or (), unknown_regions)}{_projection(r, project_daily)}"
            f"{_footer(r)}</div>")
