"""Text and HTML for a :class:`~eco_magic.planner.Plan` and for plans side by side.

Self-contained HTML with inline styles, every user string escaped; colours are JupyterLab's CSS variables with
light fallbacks, so the dark theme works. The styles live in the one constant :data:`STYLE` (to be switched to the
shared ``display/theme.py`` once it exists). Stable CSS classes: ``eco-plan``, ``eco-plan-compare``,
``eco-tile``, ``eco-plan-inputs``, ``eco-provenance``.
"""
from __future__ import annotations

import math
from html import escape
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from .planner import Plan

STYLE = {
    "card": ("font-family:var(--jp-ui-font-family, system-ui, -apple-system, 'Segoe UI', sans-serif);"
             "font-size:13px;line-height:1.45;border:1px solid var(--jp-border-color1, #d0d7de);border-radius:8px;"
             "padding:10px 14px;max-width:820px;background:var(--jp-layout-color1, #fbfdfb);"
             "color:var(--jp-ui-font-color0, #1f2328)"),
    "tile": ("display:inline-block;min-width:108px;margin:4px 8px 4px 0;padding:6px 10px;border-radius:6px;"
             "background:var(--jp-layout-color2, #eef5ee);vertical-align:top"),
    "small": "font-size:11px;color:var(--jp-ui-font-color2, #57606a)",
    "value": "font-size:17px;font-weight:600",
    "badge": ("background:var(--jp-brand-color1, #1565c0);color:var(--jp-ui-inverse-font-color0, #fff);"
              "border-radius:9px;padding:0 7px;font-size:11px;margin-left:6px"),
    "table": "border-collapse:collapse;margin-top:6px;font-size:12px;color:inherit",
    "th": "text-align:left;color:var(--jp-ui-font-color2, #57606a);font-size:11px;padding:0 10px 0 0",
    "cell": "padding:0 10px 0 0;vertical-align:top",
    "num": "padding:0 10px 0 0;text-align:right;white-space:nowrap",
}


# ------------------------------------------------------------------------------------------------- numbers
def _sig(x: float, digits: int = 3) -> str:
    if x == 0 or not math.isfinite(x):
        return "0" if x == 0 else str(x)
    if not 1e-6 <= abs(x) < 1e15:  # beyond the units' range (an infeasible input): 4.86e+305, not 306 digits
        return f"{x:.{digits - 1}e}"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(x))))
    return f"{x:,.{decimals}f}"


def _scaled(value: float | None, steps: list[tuple[float, str]]) -> str:
    if value is None:
        return "n/a"
    for factor, unit in steps:
        if abs(value) >= factor:
            return f"{_sig(value / factor)} {unit}"
    factor, unit = steps[-1]
    return f"{_sig(value / factor)} {unit}"


def energy_kwh(v: float | None) -> str:
    return _scaled(v, [(1e6, "GWh"), (1e3, "MWh"), (1.0, "kWh"), (1e-3, "Wh"), (1e-6, "mWh")])


def mass_kg(v: float | None) -> str:
    return _scaled(v, [(1e6, "kt"), (1e3, "t"), (1.0, "kg"), (1e-3, "g"), (1e-6, "mg")])


def volume_l(v: float | None) -> str:
    return _scaled(v, [(1e3, "m³"), (1.0, "L"), (1e-3, "mL"), (1e-6, "µL")])


def duration(s: float | None) -> str:
    if s is None:
        return "n/a"
    for threshold, factor, unit in ((365 * 86400.0, 365 * 86400.0, "years"), (2 * 86400.0, 86400.0, "days"),
                                    (3600.0, 3600.0, "h"), (60.0, 60.0, "min")):
        if s >= threshold:
            return f"{_sig(s / factor)} {unit}"
    return f"{_sig(s)} s"


def flops(v: float | None) -> str:
    if v is None:
        return "n/a"
    return _scaled(v, [(1e24, "YFLOP"), (1e21, "ZFLOP"), (1e18, "EFLOP"), (1e15, "PFLOP"), (1e12, "TFLOP"),
                       (1.0, "FLOP")])


def count(v: float | None) -> str:
    """Parameter and token counts: ``30B``, ``1.3T``, ``350M``."""
    if v is None:
        return "n/a"
    for factor, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if v >= factor:
            return f"{v / factor:.4g}{suffix}"
    return f"{v:.4g}"


def _ci(ci, unit_fmt) -> str:
    return f" (95 % CI {unit_fmt(ci[0])} – {unit_fmt(ci[1])})" if ci else ""


# ------------------------------------------------------------------------------------------------- rows
def _compute_line(p: "Plan") -> str:
    if p.calibrated_from:
        return f"calibrated from {p.calibrated_from}"
    parts = [flops(p.flops) if p.flops is not None else "FLOPs not given"]
    if p.flops_source and p.flops is not None:
        nd = f"N {count(p.params)}, D {count(p.tokens)}" if p.params and p.tokens else ""
        parts[0] += f" ({p.flops_source}{'; ' + nd if nd else ''})"
    if p.devices:
        on = f"{p.devices:,} × {p.device or 'device'}"
        if p.achieved_tflops:
            on += f" at {_sig(p.achieved_tflops)} TFLOP/s each"
        parts.append(f"on {on}")
    return " ".join(parts)


def _rows(p: "Plan") -> list[tuple[str, str, str]]:
    """(figure, value, provenance) for the text card and the HTML inputs table."""
    rows = [("compute", _compute_line(p), p.throughput_source)]
    rows.append(("time", duration(p.duration_s), p.duration_source))
    if p.power_w is not None:
        rows.append(("power", f"{_sig(p.power_w)} W per device", p.power_source))
    rows.append(("energy", f"{energy_kwh(p.energy_kwh)} IT{_ci(p.energy_kwh_ci, energy_kwh)} · "
                           f"{energy_kwh(p.facility_energy_kwh)} at the meter", f"PUE {p.pue:.3g}: {p.pue_source}"))
    year = f" {p.carbon_year}" if p.carbon_year else ""
    where = f"{p.region}, " if p.region else ""
    rows.append(("CO₂e", f"{mass_kg(p.co2_kg)} operational{_ci(p.co2_kg_ci, mass_kg)}",
                 f"{_sig(p.carbon_intensity_g_per_kwh)} g/kWh ({where}{p.carbon_source}{year})"))
    if p.embodied_co2_kg is not None:
        total = p.total_co2_kg
        rows.append(("embodied", f"{mass_kg(p.embodied_co2_kg)} (separate; with operational {mass_kg(total)})",
                     p.embodied_source))
    else:
        rows.append(("embodied", "not known", "see notes"))
    rows.append(("water", f"{volume_l(p.water_l)}{_ci(p.water_l_ci, volume_l)}", p.water_source))
    return rows


def summary_line(p: "Plan") -> str:
    emb = f" (+{mass_kg(p.embodied_co2_kg)} embodied)" if p.embodied_co2_kg is not None else ""
    on = f" on {p.devices:,} × {p.device}" if p.devices and p.device else ""
    return (f"ecoplan: {p.label}{on} · {duration(p.duration_s)} · {energy_kwh(p.facility_energy_kwh)} at the "
            f"meter · {mass_kg(p.co2_kg)} CO₂e{emb} · {volume_l(p.water_l)} water")


def render_text(p: "Plan") -> str:
    kind = "calibrated by measurement" if p.calibrated_from else "estimate before running"
    lines = [f"ecoplan: {p.label} — {kind}"]
    for name, value, source in _rows(p):
        lines.append(f"  {name:<9} {value}" + (f"  ({source})" if source else ""))
    lines.extend(f"  note: {n}" for n in p.notes)
    lines.append(f"  method: {p.method}")
    return "\n".join(lines)


def render_html(p: "Plan") -> str:
    s = STYLE
    kind = "calibrated by measurement" if p.calibrated_from else "estimate before running"

    def tile(title: str, value: str, sub: str = "") -> str:
        sub_html = f'<div style="{s["small"]}">{escape(sub)}</div>' if sub else ""
        return (f'<div class="eco-tile" style="{s["tile"]}"><div style="{s["small"]}">{escape(title)}</div>'
                f'<div style="{s["value"]}">{escape(value)}</div>{sub_html}</div>')

    emb = mass_kg(p.embodied_co2_kg) if p.embodied_co2_kg is not None else "n/a"
    tiles = (tile("time", duration(p.duration_s)) +
             tile("energy at the meter", energy_kwh(p.facility_energy_kwh), f"IT {energy_kwh(p.energy_kwh)}") +
             tile("CO₂e operational", mass_kg(p.co2_kg), _ci(p.co2_kg_ci, mass_kg).strip()) +
             tile("embodied CO₂e", emb, "separate estimate") +
             tile("water", volume_l(p.water_l)))
    rows = "".join(f'<tr><td style="{s["cell"]}">{escape(n)}</td><td style="{s["cell"]}">{escape(v)}</td>'
                   f'<td style="{s["cell"]};{s["small"]}">{escape(src)}</td></tr>' for n, v, src in _rows(p))
    notes = "".join(f'<li>{escape(n)}</li>' for n in p.notes)
    notes_html = f'<ul style="margin:6px 0 0 16px;padding:0;{s["small"]}">{notes}</ul>' if notes else ""
    return (f'<div class="eco-plan" style="{s["card"]}"><div><b>ecoplan: {escape(p.label)}</b>'
            f'<span style="{s["badge"]}">{escape(kind)}</span></div><div>{tiles}</div>'
            f'<table class="eco-plan-inputs" style="{s["table"]}">{rows}</table>{notes_html}'
            f'<div class="eco-provenance" style="margin-top:6px;{s["small"]}">{escape(p.method)}</div></div>')


def bundle(p: "Plan") -> dict[str, str]:
    return {"text/plain": render_text(p), "text/html": render_html(p)}


# ------------------------------------------------------------------------------------------------- side by side
def _compare_rows(plans: Sequence["Plan"]) -> list[tuple[str, list[str]]]:
    def each(fn) -> list[str]:
        return [fn(p) for p in plans]

    return [
        ("params", each(lambda p: count(p.params) if p.params else "–")),
        ("tokens", each(lambda p: count(p.tokens) if p.tokens else "–")),
        ("devices", each(lambda p: f"{p.devices:,} × {p.device or '?'}" if p.devices else p.device or "–")),
        ("FLOPs", each(lambda p: flops(p.flops) if p.flops is not None else "–")),
        ("time", each(lambda p: duration(p.duration_s))),
        ("energy at the meter", each(lambda p: energy_kwh(p.facility_energy_kwh))),
        ("CO₂e operational", each(lambda p: mass_kg(p.co2_kg))),
        ("embodied CO₂e", each(lambda p: mass_kg(p.embodied_co2_kg) if p.embodied_co2_kg is not None else "n/a")),
        ("water", each(lambda p: volume_l(p.water_l))),
        ("grid", each(lambda p: f"{_sig(p.carbon_intensity_g_per_kwh)} g/kWh {p.region}".strip())),
        ("PUE", each(lambda p: f"{p.pue:.3g}")),
    ]


def _ratio_line(plans: Sequence["Plan"]) -> str:
    base = plans[0]
    if len(plans) < 2 or not base.co2_kg:
        return ""
    parts = [f"{p.label}: {p.co2_kg / base.co2_kg:.2f}×" for p in plans[1:]]
    return f"operational CO₂e relative to {base.label}: " + ", ".join(parts)


def _compare_notes(plans: Sequence["Plan"]) -> list[str]:
    """Each distinct note once: plain when every plan has it, else prefixed with the plans' labels."""
    out: dict[str, list[str]] = {}
    for p in plans:
        for n in p.notes:
            out.setdefault(n, []).append(p.label)
    return [n if len(labels) == len(plans) else f"{', '.join(labels)}: {n}" for n, labels in out.items()]


def compare_text(plans: Sequence["Plan"]) -> str:
    rows = _compare_rows(plans)
    width = max(len(n) for n, _ in rows) + 2
    cols = [max(len(p.label), *(len(v[i]) for _, v in rows)) + 2 for i, p in enumerate(plans)]
    lines = ["ecoplan — side by side",
             " " * width + "".join(p.label.rjust(c) for p, c in zip(plans, cols))]
    for name, values in rows:
        lines.append(name.ljust(width) + "".join(v.rjust(c) for v, c in zip(values, cols)))
    ratio = _ratio_line(plans)
    if ratio:
        lines.append(ratio)
    lines.extend(f"note: {n}" for n in _compare_notes(plans))
    return "\n".join(lines)


def compare_html(plans: Sequence["Plan"]) -> str:
    s = STYLE
    head = "".join(f'<th style="{s["th"]};text-align:right">{escape(p.label)}</th>' for p in plans)
    body = "".join(f'<tr><td style="{s["cell"]}">{escape(n)}</td>'
                   + "".join(f'<td style="{s["num"]}">{escape(v)}</td>' for v in values) + "</tr>"
                   for n, values in _compare_rows(plans))
    ratio = _ratio_line(plans)
    notes = "".join(f"<li>{escape(n)}</li>" for n in _compare_notes(plans))
    return (f'<div class="eco-plan-compare" style="{s["card"]}"><b>ecoplan — side by side</b>'
            f'<table style="{s["table"]}"><tr><th style="{s["th"]}"></th>{head}</tr>{body}</table>'
            + (f'<div style="margin-top:6px">{escape(ratio)}</div>' if ratio else "")
            + (f'<ul style="margin:6px 0 0 16px;padding:0;{s["small"]}">{notes}</ul>' if notes else "")
            + f'<div class="eco-provenance" style="margin-top:6px;{s["small"]}">{escape(plans[0].method)}</div></div>')


def compare_bundle(plans: Sequence["Plan"]) -> dict[str, str]:
    return {"text/plain": compare_text(plans), "text/html": compare_html(plans)}


# ------------------------------------------------------------------------------------------------- the table
def accelerators_bundle() -> dict[str, str]:
    """The packaged accelerator table (``%ecoplan --list``): dense peaks, power, memory, embodied carbon."""
    from .accelerators import table

    head = ("device", "aliases", "peak TFLOP/s (dense)", "TDP", "typical power", "memory", "embodied", "source")
    rows = []
    for a in table():
        peaks = ", ".join(f"{p} {_sig(v)}" for p, v in a.peak_tflops.items() if p in ("bf16", "fp16", "fp8", "fp32"))
        rows.append((a.key, ", ".join(a.aliases[:3]), peaks, f"{a.tdp_w:g} W" if a.tdp_w else "–",
                     f"{a.typical_power_w:g} W" if a.typical_power_w else "– (TDP used)",
                     f"{a.memory_gb:g} GB" if a.memory_gb else "–",
                     f"{a.embodied_kg_co2e:g} kg / {a.lifetime_years:g} y" if a.embodied_kg_co2e else "unknown",
                     f"{a.spec_source}, {a.year}"))
    text = "\n".join(["accelerators (eco_magic/data/accelerators.csv):"]
                     + [f"  {r[0]:<16} {r[2]:<40} TDP {r[3]:<7} avg {r[4]:<13} {r[5]:<7} embodied {r[6]}"
                        for r in rows])
    s = STYLE
    th = "".join(f'<th style="{s["th"]}">{escape(h)}</th>' for h in head)
    body = "".join("<tr>" + "".join(f'<td style="{s["cell"]}">{escape(c)}</td>' for c in r) + "</tr>" for r in rows)
    html = (f'<div class="eco-plan" style="{s["card"]}"><b>accelerators</b> '
            f'<span style="{s["small"]}">eco_magic/data/accelerators.csv</span>'
            f'<table style="{s["table"]}"><tr>{th}</tr>{body}</table></div>')
    return {"text/plain": text, "text/html": html}
