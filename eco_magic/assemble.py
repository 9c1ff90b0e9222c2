"""Turn a sampler :class:`~eco_magic.sampler.Measurement` and the user's settings into an :class:`EcoResult`.

All arithmetic is delegated to :mod:`eco_magic.accounting`; this module only decides which factor applies and
writes down where each one came from.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Sequence

from . import accounting as acc
from .result import DeviceReading, EcoResult

if TYPE_CHECKING:
    from .models import ModelInfo
    from .regions import Region
    from .sampler import Measurement


@dataclass(frozen=True)
class Settings:
    """What the user asked for (flags and config), already validated."""

    label: str = ""
    pue: float | None = None
    pue_origin: str = "--pue"
    carbon_intensity_g_per_kwh: float | None = None
    ci_origin: str = "--ci"
    water_model: str = "paper"
    items: int | None = None
    gpu_temp_max_c: float = acc.GPU_TEMP_MAX_C
    cpu_temp_max_c: float = acc.CPU_TEMP_MAX_C


def device_readings(measurement: "Measurement", idle_power_w: Mapping[str, float] | None) -> list[DeviceReading]:
    out = []
    for ch in measurement.channels:
        info = ch.info
        out.append(DeviceReading(
            key=info.key, kind=info.kind, name=info.name, energy_j=ch.energy_j, method=ch.method,
            source=info.source, scope=info.scope, mean_power_w=ch.mean_power_w, peak_power_w=ch.peak_power_w,
            idle_power_w=(idle_power_w or {}).get(info.key), peak_temp_c=ch.peak_temp_c,
            slowdown_temp_c=info.details.get("slowdown_temp_c"), mean_util_pct=ch.mean_util_pct,
            throttle_events=tuple(ch.throttle_events), notes=tuple(ch.notes)))
    return out


def total_resolution_j(measurement: "Measurement") -> float:
    """Sum of every channel's energy resolution (see :func:`accounting.energy_resolution_j`)."""
    total = 0.0
    for ch in measurement.channels:
        if ch.energy_j is None:
            continue
        d = ch.info.details
        total += acc.energy_resolution_j(ch.method, ch.mean_power_w, measurement.duration_s, ch.n_samples,
                                         counter_update_s=d.get("counter_update_s"), quantum_j=d.get("resolution_j"))
    return total


def build_result(measurement: "Measurement", region: "Region", settings: Settings, *, status: str = "ok",
                 error: str | None = None, model: "ModelInfo | None" = None,
                 idle_power_w: Mapping[str, float] | None = None, notes: Sequence[str] = ()) -> EcoResult:
    devices = device_readings(measurement, idle_power_w)
    duration_s = measurement.duration_s
    measured = [d for d in devices if d.energy_j is not None]
    energy_j = sum(d.energy_j for d in measured)
    all_notes = list(notes) + list(measurement.notes)
    for d in devices:
        all_notes.extend(f"{d.key}: {n}" for n in d.notes)
    if not measured:
        all_notes.append("no energy source produced a reading: energy shown as 0 J is NOT a measurement")

    # net of idle: only when every measured channel has a baseline
    energy_net_j = idle_total_w = None
    if measured and idle_power_w and all(d.key in idle_power_w for d in measured):
        idle_total_w = sum(idle_power_w[d.key] for d in measured)
        energy_net_j = sum(acc.net_of_idle_j(d.energy_j, idle_power_w[d.key], duration_s) for d in measured)

    # PUE: override, else tier from the hardware present
    tier = acc.pue_tier([bool(d.info.details.get("datacenter")) for d in measurement.channels
                         if d.info.kind == "gpu"])
    if settings.pue is not None:
        pue, pue_source = settings.pue, f"user value ({settings.pue_origin}); hardware tier would be {tier}"
    else:
        pue, pue_source = acc.PUE_TIERS[tier], acc.PUE_TIER_LABELS[tier]

    # carbon intensity: override, else region table
    if settings.carbon_intensity_g_per_kwh is not None:
        ci = settings.carbon_intensity_g_per_kwh
        carbon_source, carbon_year = f"user value ({settings.ci_origin})", None
    else:
        ci, carbon_source, carbon_year = region.carbon_intensity_g_per_kwh, region.ci_source, region.ci_year
    co2 = acc.co2_g(energy_j, ci, pue)

    if settings.water_model == "li":
        water = acc.water_li(energy_j, region.wue_site_l_per_kwh, pue, region.ewif_l_per_kwh)
    else:
        water = acc.water_paper(energy_j, region.water_intensity_l_per_kwh, acc.WATER_OVERHEAD[tier])

    resolution_j = total_resolution_j(measurement)
    eff_m = model.effective_params_m if model is not None else None
    ess = acc.ess(eff_m, co2, acc.co2_g(resolution_j, ci, pue))
    if model is None:
        ess_note = "no model: give --params and --precision, or --model VAR"
    elif ess is None:
        ess_note = (f"below resolution: CO₂e needs ≥ {acc.RESOLUTION_FACTOR:g}× the sensors' resolution "
                    f"({acc.co2_g(resolution_j, ci, pue) * 1000:.3g} mg)")
    else:
        ess_note = ""

    flags = acc.thermal_flags(
        [(d.key, d.kind, d.peak_temp_c, d.slowdown_temp_c, d.throttle_events) for d in devices],
        gpu_temp_max_c=settings.gpu_temp_max_c, cpu_temp_max_c=settings.cpu_temp_max_c)

    started = _dt.datetime.fromtimestamp(measurement.started_at, tz=_dt.timezone.utc).isoformat(timespec="seconds")
    return EcoResult(
        label=settings.label, status=status, duration_s=duration_s, energy_j=energy_j, co2_g=co2,
        water_l=water.total_l, ess=ess, effective_params_m=eff_m,
        precision=model.precision if model is not None else None, pue=pue, carbon_intensity_g_per_kwh=ci,
        region=region.code, devices=tuple(devices), energy_net_j=energy_net_j, idle_power_w=idle_total_w,
        energy_resolution_j=resolution_j, region_name=region.name, region_resolved_by=region.resolved_by,
        carbon_source=carbon_source, carbon_year=carbon_year, pue_tier=tier, pue_source=pue_source,
        water_onsite_l=water.onsite_l, water_offsite_l=water.offsite_l, water_model=water.model,
        water_formula=water.formula,
        water_source=(region.water_source if water.model == "paper" else
                      f"WUE/EWIF for {region.name}: {region.water_source}"),
        n_params=model.n_params if model is not None else None, qf=model.qf if model is not None else None,
        model_source=model.source if model is not None else None,
        model_variable=model.variable if model is not None else None,
        precision_mix=tuple(model.precision_mix.items()) if model is not None else (),
        ess_note=ess_note, items=settings.items,
        energy_per_item_j=acc.per_item(energy_j, settings.items), co2_per_item_g=acc.per_item(co2, settings.items),
        energy_per_min_j=acc.per_minute(energy_j, duration_s), co2_per_min_g=acc.per_minute(co2, duration_s),
        thermal_flags=tuple(f.message for f in flags), sampling=measurement.rate,
        n_samples=measurement.n_ticks, started_at=started, error=error, notes=tuple(dict.fromkeys(all_notes)),
        trace=measurement.trace)
