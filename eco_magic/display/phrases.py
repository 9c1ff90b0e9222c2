"""The card's words, shared by the text and the HTML card so that both say the same thing: pure functions of an
:class:`~eco_magic.result.EcoResult` returning plain (unescaped) strings.

Rules they keep: every "n/a" carries its reason; each source is named once (:func:`sources`); per-minute figures
only for cells of a second or more; optional parts (repeats, recorded values, LLM tokens, embodied carbon) return
nothing when the result does not have them.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from . import fmt
from ..idle import FIRM_S

if TYPE_CHECKING:
    from ..result import EcoResult

#: Per-minute figures are shown only for cells at least this long: on a 21-ms cell a "per minute" is fiction.
PER_MINUTE_MIN_S = 1.0
NO_IDLE_HINT = "no idle baseline yet; run %ecolyze_idle 3 with hands off the machine"
WATER_MODELS = {"paper": "paper model (ML-EcoLyzer)", "li": "Li et al. model"}


def methods_phrase(r: "EcoResult") -> str:
    """'counter' / 'estimated' / 'counter + estimated': how the energy figure was obtained."""
    seen: list[str] = []
    for d in r.devices:
        if d.energy_j is not None and d.method not in seen:
            seen.append(d.method)
    return " + ".join(seen) if seen else "no sensor"


def ess_text(r: "EcoResult") -> str:
    return fmt.ess(r.ess, r.ess_note)


def ci_text(r: "EcoResult") -> str:
    return f"{fmt.trim(fmt.number(r.carbon_intensity_g_per_kwh, 4))} g/kWh"


def carbon_kind(r: "EcoResult") -> str:
    """'annual average', 'hourly at 2026-12-02 14:00', … (what kind of carbon intensity was applied)."""
    kind = r.carbon_kind or "annual average"
    return f"{kind} at {r.carbon_time}" if r.carbon_time else kind


def carbon_phrase(r: "EcoResult") -> str:
    """'661.9 g/kWh (Poland; <source>, 2023; --region)': the factor with where it came from (kept for callers)."""
    parts = [r.region_name or r.region, carbon_source(r), r.region_resolved_by]
    kept = "; ".join(p for p in parts if p)
    return ci_text(r) + (f" ({kept})" if kept else "")


def carbon_source(r: "EcoResult") -> str:
    """The carbon-intensity source with its data year, the year added only when the source does not say it."""
    source = r.carbon_source or ""
    if r.carbon_year and str(r.carbon_year) not in source:
        source = f"{source}, {r.carbon_year} data" if source else f"{r.carbon_year} data"
    return source


def region_phrase(r: "EcoResult") -> str:
    """'Poland (PL), set by --region' / 'World average (WORLD), default: world average (…)'."""
    name = r.region_name or r.region
    code = f" ({r.region})" if r.region and r.region_name and r.region != r.region_name else ""
    how = r.region_resolved_by or ""
    if how.startswith(("-", "%", "$")):
        how = f"set by {how}"
    return f"{name}{code}" + (f", {how}" if how else "")


def pue_phrase(r: "EcoResult") -> str:
    return f"PUE {r.pue:g}" + (f": {r.pue_source}" if r.pue_source else "")


def water_model(r: "EcoResult") -> str:
    return WATER_MODELS.get(r.water_model, f"{r.water_model} model")


def water_source(r: "EcoResult") -> str:
    """The source of the water figures the model used: the paper's table or Li et al.'s WUE/EWIF, not both."""
    text = r.water_source or ""
    m = re.search(r"water: (.*?); WUE/EWIF: (.*)$", text)
    if not m:
        return text
    return m.group(1) if r.water_model == "paper" else f"WUE/EWIF: {m.group(2)}"


def water_split(r: "EcoResult") -> str:
    return f"on-site {fmt.volume_l(r.water_onsite_l)} · off-site {fmt.volume_l(r.water_offsite_l)}"


def thermal_value(r: "EcoResult") -> str:
    return "n/a" if r.peak_temp_c is None else f"peak {fmt.temp(r.peak_temp_c)}"


def thermal_note(r: "EcoResult") -> str:
    """Why thermal is n/a, or which device peaked; flags and throttling after it."""
    if r.peak_temp_c is None:
        parts = ["no temperature sensor readable"]
    else:
        hot = max((d for d in r.devices if d.peak_temp_c is not None), key=lambda d: d.peak_temp_c)
        parts = [f"{hot.key}"]
    throttled = [d.key for d in r.devices if d.throttle_events]
    if r.thermal_flags:
        parts.append(f"{len(r.thermal_flags)} flag(s)")
    elif r.peak_temp_c is not None:
        parts.append("no flags")
    if throttled:
        parts.append(f"throttled: {', '.join(throttled)}")
    return "; ".join(parts)


def ess_value(r: "EcoResult") -> str:
    return "n/a" if r.ess is None else fmt.number(r.ess)


def ess_reason(r: "EcoResult") -> str:
    return r.ess_note or "no model"


def ess_inputs(r: "EcoResult") -> str:
    """'1.05 M effective params (N = 1.05 M, fp32 from dtype census, QF 1; variable layer_fp32) ÷ 883 µg CO₂e'."""
    if r.effective_params_m is None:
        return ""
    precision = str(r.precision) if r.precision else "precision unknown"
    if r.precision_source:
        precision += f" from {r.precision_source}"
    qf = f", QF {r.qf:g}" if r.qf is not None else ""
    origin = []
    if r.model_variable:
        origin.append(f"variable {r.model_variable}")
    if r.model_source:
        origin.append(r.model_source)
    where = f"; {', '.join(origin)}" if origin else ""
    return (f"{fmt.params_m(r.effective_params_m)} effective params (N = {fmt.count(r.n_params)}, {precision}{qf}"
            f"{where}) ÷ {fmt.mass_g(r.co2_g)} CO₂e")


def net_of_idle(r: "EcoResult") -> str:
    """'4.10 J (baseline 2.30 W over 12.0 s of idle time between cells)' or 'n/a (why; how to get it)'."""
    if r.energy_net_j is None:
        return f"n/a ({r.idle_source or NO_IDLE_HINT})"
    text = f"baseline {fmt.power(r.idle_power_w)}"
    source = r.idle_source or ""
    if r.idle_baseline_s:
        if source.startswith("idle"):              # "idle time between cells"
            text += f" over {fmt.duration(r.idle_baseline_s)} of {source}"
            source = ""
        else:
            text += f" over {fmt.duration(r.idle_baseline_s)} of idle"
        if r.idle_baseline_s < FIRM_S:  # a few ms per gap under Run All: say it is provisional, and the cure
            source = (source + "; " if source else "") + "provisional: %ecolyze_idle 3 measures a firmer one"
    return f"{fmt.energy(r.energy_net_j)} ({text}{'; ' + source if source else ''})"


# --- repeats ---------------------------------------------------------------------------------------------------
_REPEATED = (("energy", "energy_j", fmt.energy), ("CO₂e", "co2_g", fmt.mass_g), ("water", "water_l", fmt.volume_l),
             ("duration", "duration_s", fmt.duration), ("ESS", "ess", fmt.number))


def error_bar(r: "EcoResult", field: str) -> str:
    """'± 0.21 J (95 % CI, 7 runs)' for a repeated figure, '' without repeats or without a CI."""
    if r.runs <= 1:
        return ""
    ci = getattr(r, f"{field}_ci", None)
    if not ci or ci[0] is None or ci[1] is None:
        return ""
    fmt_ = dict((f, f_) for _, f, f_ in _REPEATED)[field]
    return f"± {fmt_((ci[1] - ci[0]) / 2)} (95 % CI, {r.runs} runs)"


def repeats_lines(r: "EcoResult") -> list[str]:
    """One line per repeated figure: 'energy 5.99 J ± 0.21 J (95 % CI half-width; sd 0.23 J)'; one hint line for a
    single run."""
    if r.runs <= 1:
        return ["1 run: no error bar (use --repeat N)"]
    lines = []
    for name, field, f in _REPEATED:
        mean = getattr(r, field)
        if mean is None:
            continue
        ci = getattr(r, f"{field}_ci", None)
        sd = getattr(r, f"{field}_std", None)
        text = f"{name} {f(mean)}"
        if ci and ci[0] is not None and ci[1] is not None:
            text += f" ± {f((ci[1] - ci[0]) / 2)} (95 % CI half-width)"
        if sd is not None:
            text += f", sd {f(sd)}"
        lines.append(text)
    return [f"mean of {r.runs} runs" + (f" (group {r.group})" if r.group else ""), *lines]


# --- rates, recorded values, tokens, embodied --------------------------------------------------------------------
def per_item(r: "EcoResult") -> str:
    if not r.items or r.energy_per_item_j is None:
        return ""
    return (f"{fmt.energy(r.energy_per_item_j)}, {fmt.mass_g(r.co2_per_item_g)} CO₂e "
            f"({fmt.integer(r.items)} items)")


def per_minute(r: "EcoResult") -> str:
    if r.energy_per_min_j is None or r.duration_s < PER_MINUTE_MIN_S:
        return ""
    return f"{fmt.energy(r.energy_per_min_j)}, {fmt.mass_g(r.co2_per_min_g)} CO₂e"


def recorded(r: "EcoResult") -> str:
    """'accuracy 0.934 · loss 0.121' from ``--record``; '' when nothing was recorded."""
    return " · ".join(f"{name} {fmt.number(value)}" for name, value in r.recorded)


def llm_lines(r: "EcoResult") -> list[tuple[str, str]]:
    """(label, text) rows of the LLM section; none unless tokens were counted (``tokens_out`` set)."""
    if r.tokens_out is None:
        return []
    counts = [f"{fmt.integer(r.tokens_in)} in" if r.tokens_in is not None else "",
              f"{fmt.integer(r.tokens_out)} out",
              f"{fmt.integer(r.responses)} responses" if r.responses is not None else ""]
    first = ", ".join(c for c in counts if c)
    if r.tokens_per_s is not None:
        first += f" · {fmt.number(r.tokens_per_s)} tokens/s"
    rows = [("tokens", first)]
    if r.energy_per_token_j is not None:
        text = fmt.energy(r.energy_per_token_j)
        if r.energy_net_per_token_j is not None:
            text += f" (net of idle {fmt.energy(r.energy_net_per_token_j)})"
        if r.co2_per_token_g is not None:
            text += f" · {fmt.mass_g(r.co2_per_token_g)} CO₂e"
        rows.append(("per token", text))
    if r.energy_per_response_j is not None or r.energy_per_1k_responses_wh is not None:
        parts = []
        if r.energy_per_response_j is not None:
            parts.append(fmt.energy(r.energy_per_response_j))
        if r.energy_per_1k_responses_wh is not None:
            k = f"{fmt.number(r.energy_per_1k_responses_wh)} Wh per 1,000 responses (AI Energy Score unit"
            if r.energy_net_per_1k_responses_wh is not None:
                k += f"; net of idle {fmt.number(r.energy_net_per_1k_responses_wh)} Wh"
            parts.append(k + ")")
        rows.append(("per response", " · ".join(parts)))
    if r.token_source:
        rows.append(("counted by", r.token_source))
    return rows


def embodied(r: "EcoResult") -> str:
    """The embodied-carbon estimate, said to be separate from the operational CO₂e (never added to it)."""
    if r.embodied_co2_g is None:
        return ""
    source = f" ({r.embodied_source})" if r.embodied_source else ""
    return (f"{fmt.mass_g(r.embodied_co2_g)} CO₂e{source}: the hardware's manufacturing share for this cell, a "
            f"separate estimate, not included in the {fmt.mass_g(r.co2_g)} operational CO₂e")


# --- footer ------------------------------------------------------------------------------------------------------
def sources(r: "EcoResult") -> list[tuple[str, str]]:
    """(label, text) of every factor with its source, each named once: 'PUE', '1.1 — CPU-only tier (ML-EcoLyzer)'."""
    def said(value: str, source: str) -> str:
        return f"{value} — {source}" if source else value

    water = water_model(r) + (f", {r.water_formula}" if r.water_formula else "")
    sampling = f"{r.sampling}, {fmt.integer(r.n_samples)} samples" if r.sampling else f"{r.n_samples} samples"
    if r.energy_resolution_j:
        sampling += f"; energy resolution {fmt.energy(r.energy_resolution_j)}"
    return [("carbon intensity", said(f"{ci_text(r)}, {carbon_kind(r)}", carbon_source(r))),
            ("region", region_phrase(r)),
            ("PUE", said(f"{r.pue:g}", r.pue_source)),
            ("water", said(water, water_source(r))),
            ("sampling", sampling)]


def started(r: "EcoResult") -> str:
    """'2026-12-02 06:36 UTC' from the ISO start time ('' when unknown)."""
    m = re.match(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d)(?::\d\d)?(\+00:00|Z)?", r.started_at or "")
    if not m:
        return r.started_at or ""
    return f"{m.group(1)} {m.group(2)}" + (" UTC" if m.group(3) else "")
