"""The ML-EcoLyzer equations as pure functions: floats in, floats out, SI units and explicit names.

Sources: ML-EcoLyzer (arXiv 2511.06694) for CO₂, PUE tiers, the water model, QF and ESS; Li et al., "Making AI
Less Thirsty" (arXiv 2304.03271, CACM 2025) for the on-site/off-site water model. See DESIGN.md.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

J_PER_KWH = 3.6e6
S_PER_DAY = 86_400.0
DAYS_PER_YEAR = 365.0

# --- PUE ------------------------------------------------------------------------------------------------------
#: ML-EcoLyzer hardware tiers. For a laptop or desktop there is no facility: the factor then stands for cooling and
#: infrastructure overhead, not a Green-Grid PUE.
PUE_TIERS = {"cpu_only": 1.1, "consumer_gpu": 1.2, "datacenter_gpu": 1.4}
PUE_TIER_LABELS = {
    "cpu_only": "CPU-only tier (ML-EcoLyzer)",
    "consumer_gpu": "consumer-GPU tier (ML-EcoLyzer)",
    "datacenter_gpu": "datacenter-GPU tier (ML-EcoLyzer)",
}

# --- water, paper model ---------------------------------------------------------------------------------------
#: Overhead multipliers of the paper model per tier: cooling × infrastructure, from the ML-EcoLyzer reference code's
#: device water profiles (desktop_cpu 1.05×1.0, desktop_gpu 1.1×1.0, datacenter 1.4×1.2).
WATER_OVERHEAD = {"cpu_only": 1.05, "consumer_gpu": 1.1, "datacenter_gpu": 1.4 * 1.2}
WATER_MODELS = ("paper", "li")

# --- thermal ----------------------------------------------------------------------------------------------------
GPU_TEMP_MAX_C = 80.0  # paper threshold
CPU_TEMP_MAX_C = 85.0  # paper threshold

#: ESS is defined only when the energy is at least this many times the measurement resolution.
RESOLUTION_FACTOR = 2.0


def kwh_from_j(energy_j: float) -> float:
    """Joules to kilowatt-hours."""
    return energy_j / J_PER_KWH


def co2_g(energy_j: float, carbon_intensity_g_per_kwh: float, pue: float) -> float:
    """CO₂-equivalent in grams: E (kWh) × CI (g/kWh) × PUE."""
    return kwh_from_j(energy_j) * carbon_intensity_g_per_kwh * pue


def pue_tier(gpu_datacenter: Sequence[bool]) -> str:
    """Tier name from the GPUs present: none → cpu_only; any datacenter GPU → datacenter_gpu; else consumer_gpu."""
    if not gpu_datacenter:
        return "cpu_only"
    return "datacenter_gpu" if any(gpu_datacenter) else "consumer_gpu"


@dataclass(frozen=True)
class Water:
    """Water consumption in litres, split into on-site (cooling) and off-site (electricity generation)."""

    onsite_l: float
    offsite_l: float
    model: str
    formula: str

    @property
    def total_l(self) -> float:
        return self.onsite_l + self.offsite_l


def water_paper(energy_j: float, water_intensity_l_per_kwh: float, overhead: float) -> Water:
    """Paper model: W = E × WI × overhead.

    The regional intensity WI is read as the off-site (generation) part, E × WI; the overhead's excess,
    E × WI × (overhead − 1), as the on-site cooling part. Their sum is exactly the paper's figure.
    """
    offsite = kwh_from_j(energy_j) * water_intensity_l_per_kwh
    return Water(offsite * (overhead - 1.0), offsite, "paper", f"E × WI × overhead ({overhead:g})")


def water_li(energy_j: float, wue_site_l_per_kwh: float, pue: float, ewif_l_per_kwh: float) -> Water:
    """Li et al.: W = E_IT × (WUE_site + PUE × EWIF); on-site E_IT × WUE_site, off-site E_IT × PUE × EWIF."""
    e_kwh = kwh_from_j(energy_j)
    return Water(e_kwh * wue_site_l_per_kwh, e_kwh * pue * ewif_l_per_kwh, "li", "E_IT × (WUE_site + PUE × EWIF)")


def effective_params_m(n_params: float, qf: float) -> float:
    """Effective parameters in millions: N × QF / 10⁶."""
    return n_params * qf / 1e6


def ess(effective_params_m_: float | None, co2_g_: float | None, co2_resolution_g: float) -> float | None:
    """Environmental Sustainability Score: effective parameters (M) per gram of CO₂.

    ``None`` (shown as "n/a, below resolution") when there is no model, or when the CO₂ is not at least
    :data:`RESOLUTION_FACTOR` times what the sensors can resolve — never infinity.
    """
    if effective_params_m_ is None or co2_g_ is None or not math.isfinite(co2_g_):
        return None
    if co2_g_ <= 0 or co2_g_ < RESOLUTION_FACTOR * co2_resolution_g:
        return None
    return effective_params_m_ / co2_g_


def energy_resolution_j(method: str, mean_power_w: float | None, duration_s: float, n_samples: int,
                        counter_update_s: float | None = None, quantum_j: float | None = None) -> float:
    """Energy uncertainty of one channel from how it was measured, in joules.

    counter    one counter update period of energy at each end: 2 × P × update period (NVML ≈ 0.1 s, RAPL ≈ 1 ms)
    integrated one sampling interval of energy: P × duration / (samples − 1)
    estimated  the model's own quantum when it states one, else one 10 ms CPU-time tick of power
    """
    p = mean_power_w or 0.0
    if method == "counter":
        return max(2.0 * p * (counter_update_s if counter_update_s is not None else 0.1), quantum_j or 0.0)
    if method == "integrated":
        return p * duration_s / max(n_samples - 1, 1)
    return quantum_j if quantum_j is not None else p * 0.01


def net_of_idle_j(gross_j: float, idle_power_w: float | None, duration_s: float) -> float | None:
    """Energy above the idle baseline, clamped at 0; ``None`` when no baseline is known."""
    if idle_power_w is None:
        return None
    return max(0.0, gross_j - idle_power_w * duration_s)


def per_item(value: float | None, items: int | None) -> float | None:
    """``value / items`` (per inference, per sample, …)."""
    if value is None or not items:
        return None
    return value / items


def per_minute(value: float | None, duration_s: float) -> float | None:
    """Rate over the cell: ``value`` per 60 s of cell time."""
    if value is None or duration_s <= 0:
        return None
    return value * 60.0 / duration_s


def per_token(value: float | None, tokens: int | None) -> float | None:
    """``value / tokens``: joules or grams per generated token (``None`` without tokens)."""
    if value is None or not tokens:
        return None
    return value / tokens


def tokens_per_s(tokens: int | None, duration_s: float) -> float | None:
    """Generated tokens per second of the cell (the whole cell, prompt processing and all)."""
    if not tokens or duration_s <= 0:
        return None
    return tokens / duration_s


def per_1k_responses_wh(energy_j: float | None, responses: int | None) -> float | None:
    """Energy per 1,000 responses in Wh, the AI Energy Score unit: E / responses × 1000 / 3600."""
    if energy_j is None or not responses:
        return None
    return energy_j / responses * 1000.0 / 3600.0


def annual_projection(value_per_run: float, runs_per_day: float) -> float:
    """``value_per_run`` × runs per day × 365: the inference-time, preemptive view."""
    return value_per_run * runs_per_day * DAYS_PER_YEAR


@dataclass(frozen=True)
class ThermalFlag:
    """A thermal finding for one device, as one line of text plus the facts behind it."""

    device_key: str
    kind: str  # "over_threshold" | "near_slowdown" | "throttled"
    message: str


def thermal_flags(devices: Iterable[tuple[str, str, float | None, float | None, Sequence[str]]],
                  gpu_temp_max_c: float = GPU_TEMP_MAX_C, cpu_temp_max_c: float = CPU_TEMP_MAX_C,
                  slowdown_margin_warn_c: float = 5.0) -> list[ThermalFlag]:
    """Thermal flags from ``(key, kind, peak_temp_c, slowdown_temp_c, throttle_events)`` tuples.

    Paper thresholds: GPU above 80 °C, CPU above 85 °C (configurable); plus the device's own slowdown threshold
    (flag when the peak comes within ``slowdown_margin_warn_c``) and any throttle reason the hardware reported.
    """
    flags: list[ThermalFlag] = []
    for key, kind, peak_c, slowdown_c, throttle in devices:
        limit = gpu_temp_max_c if kind == "gpu" else cpu_temp_max_c if kind == "cpu" else None
        if peak_c is not None and limit is not None and peak_c > limit:
            flags.append(ThermalFlag(key, "over_threshold", f"{key} peaked at {peak_c:.0f} °C (> {limit:g} °C)"))
        if peak_c is not None and slowdown_c is not None and slowdown_c - peak_c <= slowdown_margin_warn_c:
            flags.append(ThermalFlag(key, "near_slowdown",
                                     f"{key} within {slowdown_c - peak_c:.0f} °C of its slowdown threshold "
                                     f"({slowdown_c:.0f} °C)"))
        for reason in throttle:
            flags.append(ThermalFlag(key, "throttled", f"{key} throttled: {reason.replace('_', ' ')}"))
    return flags
