"""Turn a sampler :class:`~eco_magic.sampler.Measurement` and the user's settings into an :class:`EcoResult`.

All arithmetic is delegated to :mod:`eco_magic.accounting`; this module only decides which factor applies and
writes down where each one came from.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Sequence

from . import accounting as acc
from .result import DeviceReading, EcoResult, WorkerReading

if TYPE_CHECKING:
    from .cluster import ClusterMeasurement
    from .live_carbon import LiveIntensity
    from .frameworks.tokens import TokenCounts
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


def li_pue(region: "Region", explicit_pue: float | None, fallback_pue: float) -> tuple[float, str]:
    """The PUE in Li et al.'s water formula and where it came from.

    A PUE the user gave (``--pue``, a host setting) describes the real facility and wins. Otherwise the PUE Li et
    al. give for the same site as the WUE and EWIF used (``Region.li_pue``), as their formula intends; the
    hardware-tier PUE only when a region carries none.
    """
    if explicit_pue is not None:
        return explicit_pue, "the PUE you set"
    if region.li_pue is not None:
        return region.li_pue, "Li et al.'s PUE for the same site"
    return fallback_pue, "the hardware-tier PUE (no site PUE for this region)"


def build_result(measurement: "Measurement", region: "Region", settings: Settings, *, status: str = "ok",
                 error: str | None = None, model: "ModelInfo | None" = None,
                 idle_power_w: Mapping[str, float] | None = None, notes: Sequence[str] = (),
                 cluster: "ClusterMeasurement | None" = None, live: "LiveIntensity | None" = None,
                 tokens: "TokenCounts | None" = None) -> EcoResult:
    """The cell's :class:`EcoResult`. ``cluster`` (from :func:`eco_magic.cluster.stop_cell`) adds the Dask workers'
    counted energy, with each host's carbon intensity and PUE, to the totals and lists them in ``workers``.
    ``live`` (from :func:`eco_magic.live_carbon.for_cell`) replaces the region's annual carbon intensity when it
    holds a value, and says why in the notes when it does not; a ``--ci`` value wins over both.
    ``tokens`` (from :mod:`eco_magic.frameworks.tokens`) adds the LLM figures (:func:`token_fields`)."""
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

    # carbon intensity: override, else live (when asked for and available), else region table
    carbon_kind, carbon_time = "annual average", None
    if settings.carbon_intensity_g_per_kwh is not None:
        ci = settings.carbon_intensity_g_per_kwh
        carbon_source, carbon_year, carbon_kind = f"user value ({settings.ci_origin})", None, "user value"
        if live is not None:
            all_notes.append(f"live carbon intensity not used: {settings.ci_origin} sets it")
    elif live is not None and live.g_per_kwh is not None:
        ci, carbon_source, carbon_year = live.g_per_kwh, live.source, None
        carbon_kind, carbon_time = live.kind, live.time
    else:
        ci, carbon_source, carbon_year = region.carbon_intensity_g_per_kwh, region.ci_source, region.ci_year
    co2 = acc.co2_g(energy_j, ci, pue)
    cleanest_co2 = cleanest_time = None
    if live is not None and settings.carbon_intensity_g_per_kwh is None:
        all_notes.extend(live.notes)
        if live.g_per_kwh is not None and live.cleanest_g_per_kwh is not None:
            cleanest_co2, cleanest_time = acc.co2_g(energy_j, live.cleanest_g_per_kwh, pue), live.cleanest_time

    if settings.water_model == "li":
        w_pue, w_pue_origin = li_pue(region, settings.pue, pue)
        water = acc.water_li(energy_j, region.wue_site_l_per_kwh, w_pue, region.ewif_l_per_kwh)
        water_source = f"{region.li_source}; PUE {w_pue:g}: {w_pue_origin}"
    else:
        water = acc.water_paper(energy_j, region.water_intensity_l_per_kwh, acc.WATER_OVERHEAD[tier])
        water_source = region.water_source

    resolution_j = total_resolution_j(measurement)
    workers: tuple[WorkerReading, ...] = ()
    thermal_extra: list = []
    if cluster is not None:
        part = cluster_part(cluster, measurement, region, settings, ci=ci, pue=pue, tier=tier)
        workers = part.workers
        all_notes.extend(part.notes)
        if part.energy_j > 0:
            if cleanest_co2 is not None:
                cleanest_co2 = cleanest_time = None
                all_notes.append("no cleanest-hour line: the Dask workers' grids are not covered by it")
            energy_j += part.energy_j
            co2 += part.co2_g
            water = acc.Water(water.onsite_l + part.water_onsite_l, water.offsite_l + part.water_offsite_l,
                              water.model, water.formula)
            resolution_j += part.resolution_j
            if energy_net_j is not None:
                energy_net_j = idle_total_w = None
                all_notes.append("net of idle not shown: the Dask workers have no idle baseline")
        thermal_extra = [(f"{w.address} {d.key}", d.kind, d.peak_temp_c, d.slowdown_temp_c, d.throttle_events)
                         for w in workers for d in w.devices]
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
        [(d.key, d.kind, d.peak_temp_c, d.slowdown_temp_c, d.throttle_events) for d in devices] + thermal_extra,
        gpu_temp_max_c=settings.gpu_temp_max_c, cpu_temp_max_c=settings.cpu_temp_max_c)

    embodied_g, embodied_source, embodied_notes = embodied_part(measurement, cluster)
    all_notes.extend(embodied_notes)
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
        water_source=water_source,
        n_params=model.n_params if model is not None else None, qf=model.qf if model is not None else None,
        model_source=model.source if model is not None else None,
        model_variable=model.variable if model is not None else None,
        precision_mix=tuple(model.precision_mix.items()) if model is not None else (),
        ess_note=ess_note, items=settings.items,
        energy_per_item_j=acc.per_item(energy_j, settings.items), co2_per_item_g=acc.per_item(co2, settings.items),
        energy_per_min_j=acc.per_minute(energy_j, duration_s), co2_per_min_g=acc.per_minute(co2, duration_s),
        thermal_flags=tuple(f.message for f in flags), sampling=measurement.rate,
        n_samples=measurement.n_ticks, started_at=started, error=error, notes=tuple(dict.fromkeys(all_notes)),
        trace=measurement.trace, workers=workers, embodied_co2_g=embodied_g, embodied_source=embodied_source,
        carbon_kind=carbon_kind, carbon_time=carbon_time, cleanest_hour_co2_g=cleanest_co2,
        cleanest_hour_time=cleanest_time,
        precision_source=model.precision_source if model is not None else "",
        **token_fields(tokens, energy_j=energy_j, energy_net_j=energy_net_j, co2_g=co2, duration_s=duration_s))


def token_fields(tokens: "TokenCounts | None", *, energy_j: float, energy_net_j: float | None, co2_g: float,
                 duration_s: float) -> dict:
    """EcoResult's LLM fields from the tokens a cell generated: per generated token, per response, per second.

    Empty (the fields keep their ``None`` defaults) when no token was seen, so a cell without generation shows no
    LLM section. ``energy_per_token_j`` is exactly ``energy_j / tokens_out``.
    """
    if tokens is None:
        return {}
    out = tokens.tokens_out
    return dict(
        tokens_in=tokens.tokens_in, tokens_out=out, responses=tokens.responses, token_source=tokens.source,
        tokens_per_s=acc.tokens_per_s(out, duration_s),
        energy_per_token_j=acc.per_token(energy_j, out), co2_per_token_g=acc.per_token(co2_g, out),
        energy_per_response_j=acc.per_token(energy_j, tokens.responses),
        energy_per_1k_responses_wh=acc.per_1k_responses_wh(energy_j, tokens.responses),
        energy_net_per_token_j=acc.per_token(energy_net_j, out),
        energy_net_per_1k_responses_wh=acc.per_1k_responses_wh(energy_net_j, tokens.responses))


def embodied_part(measurement: "Measurement", cluster: "ClusterMeasurement | None" = None,
                  **options) -> tuple[float | None, str, tuple[str, ...]]:
    """Amortised embodied carbon of the kernel host's devices over the cell (:func:`eco_magic.embodied.
    for_devices`; ``options`` are its keyword arguments). Never raises: a failure becomes a note."""
    from . import embodied

    try:
        infos = [ch.info for ch in measurement.channels]
        memory = None if any((i.details or {}).get("total_gb") for i in infos if i.kind == "ram") else \
            embodied.installed_memory_gb()
        options.setdefault("memory_gb", memory)
        g, source, notes = embodied.for_devices(infos, measurement.duration_s, **options)
    except Exception as exc:  # noqa: BLE001 - an estimate beside the measurement must never break it
        return None, "", (f"embodied carbon not estimated ({type(exc).__name__}: {exc})",)
    if cluster is not None and cluster.workers:
        notes = notes + ("embodied carbon counts the kernel's host only, not the Dask workers' hardware",)
    return g, source, notes


# ------------------------------------------------------------------------------------------- Dask workers
@dataclass(frozen=True)
class ClusterPart:
    """What the Dask workers add to a cell: readings with their factors applied, and the sums (J, g, L)."""

    workers: tuple[WorkerReading, ...]
    energy_j: float
    co2_g: float
    water_onsite_l: float
    water_offsite_l: float
    resolution_j: float
    notes: tuple[str, ...]


def cluster_part(cluster: "ClusterMeasurement", measurement: "Measurement", region: "Region", settings: Settings, *,
                 ci: float, pue: float, tier: str) -> ClusterPart:
    """Attribute the workers' energy (:func:`eco_magic.cluster.attribute`) and apply each host's factors.

    Region: a worker on the kernel's host uses the notebook's region and carbon intensity; elsewhere the
    ``hosts`` setting for its host, else ``ECO_MAGIC_REGION`` in the worker's environment, else the notebook's.
    PUE: ``hosts`` setting, else ``ECO_MAGIC_PUE`` on the worker, else the notebook's PUE on the kernel's host or
    when the user set one, else the hardware tier of the worker's own GPUs. Water follows ``settings.water_model``.
    """
    from .cluster import attribute, channel_dict

    readings, notes = attribute(cluster, [channel_dict(ch) for ch in measurement.channels])
    notes = list(notes)
    summaries = {w["address"]: (w.get("summary") or {}) for w in cluster.workers}
    kernel_host = cluster.kernel.get("host_id")
    out: list[WorkerReading] = []
    energy = co2 = onsite = offsite = resolution = 0.0
    for w in readings:
        if w.energy_j is None:
            out.append(w)
            continue
        summary = summaries.get(w.address, {})
        same_host = bool(w.host_id) and w.host_id == kernel_host
        ip = w.address.split("://")[-1].rsplit(":", 1)[0]
        conf = dict(cluster.hosts.get(w.host) or cluster.hosts.get(ip) or {})
        env = summary.get("env") or {}
        w_region, w_ci, region_src = region, ci, "the notebook's region"
        if same_host:
            region_src = "the notebook's region (same host)"
        else:
            for value, origin in ((conf.get("region"), f"hosts setting for {w.host}"),
                                  (env.get("region"), "ECO_MAGIC_REGION on the worker")):
                if value:
                    from . import regions

                    try:
                        w_region = regions.lookup(str(value))
                    except Exception as exc:  # noqa: BLE001 - UnknownRegionError: keep the notebook's, say so
                        notes.append(f"worker {w.address}: region {value!r} ({origin}) unknown ({exc}); "
                                     "the notebook's region was used")
                        continue
                    w_ci, region_src = w_region.carbon_intensity_g_per_kwh, origin
                    break
        gpus = [bool(c.get("datacenter")) for c in summary.get("channels", []) if c.get("kind") == "gpu"]
        w_tier = tier if same_host else acc.pue_tier(gpus)
        w_pue, pue_src = None, ""
        for value, origin in ((conf.get("pue"), f"hosts setting for {w.host}"),
                              (env.get("pue"), "ECO_MAGIC_PUE on the worker")):
            if value is None or value == "":
                continue
            try:
                v = float(value)
            except (TypeError, ValueError):
                v = float("nan")
            if 1.0 <= v <= 5.0:
                w_pue, pue_src = v, origin
                break
            notes.append(f"worker {w.address}: PUE {value!r} ({origin}) is not between 1.0 and 5.0; ignored")
        if w_pue is None:
            if same_host or settings.pue is not None:
                w_pue, pue_src = pue, "the notebook's PUE"
            else:
                w_pue, pue_src = acc.PUE_TIERS[w_tier], acc.PUE_TIER_LABELS[w_tier]
        w_co2 = acc.co2_g(w.energy_j, w_ci, w_pue)
        if settings.water_model == "li":
            explicit = w_pue if settings.pue is not None or pue_src.startswith(("hosts", "ECO_MAGIC_PUE")) else None
            w_water = acc.water_li(w.energy_j, w_region.wue_site_l_per_kwh, li_pue(w_region, explicit, w_pue)[0],
                                   w_region.ewif_l_per_kwh)
        else:
            w_water = acc.water_paper(w.energy_j, w_region.water_intensity_l_per_kwh, acc.WATER_OVERHEAD[w_tier])
        counted = dict(w.counted_j)
        resolution += sum(c.get("resolution_j") or 0.0 for c in summary.get("channels", []) if c["key"] in counted)
        energy += w.energy_j
        co2 += w_co2
        onsite += w_water.onsite_l
        offsite += w_water.offsite_l
        out.append(dataclasses.replace(
            w, region=w_region.code, region_source=region_src, carbon_intensity_g_per_kwh=w_ci, pue=w_pue,
            pue_source=pue_src, co2_g=w_co2, water_l=w_water.total_l))
    if any(w.energy_j and (w.carbon_intensity_g_per_kwh != ci or w.pue != pue) for w in out):
        notes.append("CO₂e and water include Dask workers' hosts at their own carbon intensity and PUE "
                     "(see the workers section), so they are not simply energy × the factors above")
    return ClusterPart(tuple(out), energy, co2, onsite, offsite, resolution, tuple(notes))
