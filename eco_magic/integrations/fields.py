"""What a tracker receives from one EcoResult: numeric metrics and provenance strings. Pure, no tracker imported.

Metric names are the result's own field names (units in every name) under a prefix, ``eco/`` by default:
``eco/energy_j``, ``eco/co2_g``, ``eco/water_l``, ``eco/ess``, ``eco/duration_s`` … A figure that is unknown
(``None``, NaN) is left out, never sent as 0. Provenance (how each number was obtained: device methods, carbon
source and year, PUE source, region, water model, …) is text, sent as tags, config or a text summary.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..result import EcoResult

DEFAULT_PREFIX = "eco/"

#: Headline figures, sent whenever they are known.
HEADLINE = ("energy_j", "energy_net_j", "co2_g", "water_l", "water_onsite_l", "water_offsite_l", "ess",
            "effective_params_m", "duration_s", "peak_temp_c", "embodied_co2_g")
#: Per-item and per-minute figures (``items`` given).
PER_ITEM = ("items", "energy_per_item_j", "co2_per_item_g", "energy_per_min_j", "co2_per_min_g")
#: Token accounting (LLM inference).
PER_TOKEN = ("tokens_in", "tokens_out", "responses", "tokens_per_s", "energy_per_token_j", "co2_per_token_g",
             "energy_per_response_j", "energy_per_1k_responses_wh", "energy_net_per_token_j",
             "energy_net_per_1k_responses_wh")
#: Figures with a spread over repeats (``runs`` > 1): ``*_std`` and the 95 % interval as ``*_ci_low/_ci_high``.
SPREAD = ("energy_j", "co2_g", "water_l", "duration_s", "ess")
#: Quantities whose text says how a figure was obtained.
PROVENANCE = ("label", "status", "region", "region_name", "region_resolved_by", "carbon_intensity_g_per_kwh",
              "carbon_source", "carbon_year", "carbon_kind", "carbon_time", "pue", "pue_tier", "pue_source",
              "water_model", "water_formula", "water_source", "precision", "precision_source", "qf", "n_params",
              "model_source", "embodied_source", "token_source", "idle_source", "idle_baseline_s", "sampling",
              "runs", "group")

#: MLflow's limit on a tag value (other trackers take more); longer text is cut with an ellipsis.
MAX_TEXT = 5000


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def metrics(result: "EcoResult", prefix: str = DEFAULT_PREFIX) -> dict[str, float]:
    """The result's known numbers as ``{prefix + field: float}``; unknown figures are absent, never 0.

    Energy per device kind (``cpu_energy_j``, ``gpu_energy_j``, ``ram_energy_j``) is added where a device of that
    kind was read; the spread of repeats only when ``runs`` > 1.
    """
    out: dict[str, float] = {}
    for name in HEADLINE + PER_ITEM + PER_TOKEN:
        value = _number(getattr(result, name, None))
        if value is not None:
            out[prefix + name] = value
    for kind in ("cpu", "gpu", "ram"):
        known = [d.energy_j for d in result.devices if d.kind == kind and _number(d.energy_j) is not None]
        if known:
            out[f"{prefix}{kind}_energy_j"] = float(sum(known))
    if (result.runs or 1) > 1:
        out[prefix + "runs"] = float(result.runs)
        for name in SPREAD:
            std = _number(getattr(result, f"{name}_std", None))
            if std is not None:
                out[f"{prefix}{name}_std"] = std
            ci = getattr(result, f"{name}_ci", None)
            if ci is not None and len(ci) == 2:
                low, high = _number(ci[0]), _number(ci[1])
                if low is not None and high is not None:
                    out[f"{prefix}{name}_ci_low"] = low
                    out[f"{prefix}{name}_ci_high"] = high
    return out


def methods_text(result: "EcoResult") -> str:
    """``cpu:model=estimated (CPU time × TDP, process scope); gpu:0=counter (…)`` — how each device was read."""
    parts = []
    for d in result.devices:
        energy = "unknown" if _number(d.energy_j) is None else f"{d.energy_j:.6g} J"
        parts.append(f"{d.key}={d.method} ({d.name}; {d.source}; {d.scope} scope; {energy})")
    return "; ".join(parts) if parts else "no sensor"


def _text(value: Any) -> str:
    if isinstance(value, float):
        text = f"{value:.6g}"
    else:
        text = str(value)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def provenance(result: "EcoResult", prefix: str = DEFAULT_PREFIX) -> dict[str, str]:
    """How the numbers were obtained, as ``{prefix + name: text}``: device methods, carbon intensity with its source
    and year, PUE and its source, region and how it was resolved, water model, precision, eco_magic's version.
    Empty and unknown values are left out."""
    from .. import __version__

    out: dict[str, str] = {}
    for name in PROVENANCE:
        value = getattr(result, name, None)
        if value is None or value == "" or (isinstance(value, float) and not math.isfinite(value)):
            continue
        out[prefix + name] = _text(value)
    out[prefix + "methods"] = _text(methods_text(result))
    if result.thermal_flags:
        out[prefix + "thermal_flags"] = _text("; ".join(result.thermal_flags))
    if result.notes:
        out[prefix + "notes"] = _text("; ".join(result.notes))
    out[prefix + "eco_magic_version"] = __version__
    return out


def provenance_markdown(tags: dict[str, str]) -> str:
    """The provenance as a two-column Markdown table (TensorBoard's text dashboard renders Markdown)."""
    rows = ["| what | value |", "|---|---|"]
    for key, value in tags.items():
        cell = value.replace("|", "\\|").replace("\n", " ")
        rows.append(f"| {key} | {cell} |")
    return "\n".join(rows)
