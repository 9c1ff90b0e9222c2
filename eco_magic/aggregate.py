"""Repeated runs of one cell (``--repeat N``) → one :class:`EcoResult` whose headline figures are the means.

Each run keeps its own ledger row (tied by ``group``); this summary is what the card shows. Energy, CO₂e, water,
duration and ESS get the sample standard deviation and the 95 % confidence interval of the mean
(:func:`eco_magic.stats.summarize`); the other figures are means (per-item, per-minute and per-token figures are
recomputed from the mean totals, so they stay consistent with them). Pure: results in, result out.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

from . import accounting as acc
from .result import DeviceReading, EcoResult
from .stats import summarize

#: figures that get ``<name>_std`` and ``<name>_ci``
SPREAD_FIELDS = ("energy_j", "co2_g", "water_l", "duration_s", "ess")
#: other figures averaged over the runs that have them
MEAN_FIELDS = ("energy_net_j", "water_onsite_l", "water_offsite_l", "idle_power_w", "energy_resolution_j",
               "embodied_co2_g", "tokens_per_s")


def _mean(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    if not known or len(known) < len(values):
        return None  # a figure missing in one run has no honest mean
    return sum(known) / len(known)


def _devices(results: Sequence[EcoResult]) -> tuple[DeviceReading, ...]:
    """One reading per device key: mean energy and power, highest peak temperature, every throttle event."""
    keys = list(dict.fromkeys(d.key for r in results for d in r.devices))
    out = []
    for key in keys:
        readings = [d for r in results for d in r.devices if d.key == key]
        first = readings[0]
        energy = _mean([d.energy_j for d in readings]) if len(readings) == len(results) else None
        temps = [d.peak_temp_c for d in readings if d.peak_temp_c is not None]
        peaks = [d.peak_power_w for d in readings if d.peak_power_w is not None]
        out.append(dataclasses.replace(
            first, energy_j=energy, mean_power_w=_mean([d.mean_power_w for d in readings]),
            peak_power_w=max(peaks) if peaks else None, peak_temp_c=max(temps) if temps else None,
            mean_util_pct=_mean([d.mean_util_pct for d in readings]),
            throttle_events=tuple(dict.fromkeys(e for d in readings for e in d.throttle_events)),
            notes=tuple(dict.fromkeys(n for d in readings for n in d.notes))))
    return tuple(out)


def _token_means(results: Sequence[EcoResult], energy_j: float, co2_g: float,
                 energy_net_j: float | None, duration_s: float) -> dict:
    """Token counts per run (means) and per-token figures from the totals over all runs."""
    outs = [r.tokens_out for r in results]
    if any(t is None for t in outs):
        return {}
    n = len(results)
    tokens_out = sum(outs) / n
    tokens_in = _mean([r.tokens_in for r in results])
    responses = _mean([r.responses for r in results])
    per = {"tokens_in": None if tokens_in is None else round(tokens_in), "tokens_out": round(tokens_out),
           "responses": None if responses is None else round(responses), "token_source": results[-1].token_source,
           "tokens_per_s": tokens_out / duration_s if duration_s > 0 else None}
    per_token = (lambda x: None if x is None or tokens_out <= 0 else x / tokens_out)
    per_response = (lambda x: None if x is None or not responses else x / responses)
    per.update(energy_per_token_j=per_token(energy_j), co2_per_token_g=per_token(co2_g),
               energy_per_response_j=per_response(energy_j),
               energy_per_1k_responses_wh=None if per_response(energy_j) is None else
               per_response(energy_j) * 1000 / 3600,
               energy_net_per_token_j=per_token(energy_net_j),
               energy_net_per_1k_responses_wh=None if per_response(energy_net_j) is None else
               per_response(energy_net_j) * 1000 / 3600)
    return per


def aggregate(results: Sequence[EcoResult]) -> EcoResult:
    """The summary of ``results`` (runs of one group, oldest first). One result is returned as it is."""
    if not results:
        raise ValueError("aggregate needs at least one result")
    last = results[-1]
    if len(results) == 1:
        return dataclasses.replace(last, runs=1)
    changes: dict = {"runs": len(results), "run_index": None, "group": last.group,
                     "started_at": results[0].started_at, "status": last.status, "error": last.error,
                     "devices": _devices(results), "n_samples": sum(r.n_samples for r in results),
                     "notes": tuple(dict.fromkeys(n for r in results for n in r.notes)),
                     "thermal_flags": tuple(dict.fromkeys(f for r in results for f in r.thermal_flags))}
    for name in SPREAD_FIELDS:
        values = [getattr(r, name) for r in results]
        if any(v is None for v in values):
            changes.update({name: None if name == "ess" else _mean(values), f"{name}_std": None, f"{name}_ci": None})
            continue
        s = summarize(values)
        # these figures cannot be negative: a t interval reaching below 0 (few, spread-out runs) is cut at 0,
        # which keeps its coverage at least 95 %
        ci = None if s.ci_low is None else (max(s.ci_low, 0.0), s.ci_high)
        changes.update({name: s.mean, f"{name}_std": s.std, f"{name}_ci": ci})
    for name in MEAN_FIELDS:
        changes[name] = _mean([getattr(r, name) for r in results])
    if changes["energy_j"] is None:  # cannot happen for results of one measuring path; keep the type honest
        changes["energy_j"] = _mean([r.energy_j for r in results]) or 0.0
    energy, co2, duration = changes["energy_j"], changes["co2_g"], changes["duration_s"]
    changes.update(energy_per_item_j=acc.per_item(energy, last.items), co2_per_item_g=acc.per_item(co2, last.items),
                   energy_per_min_j=acc.per_minute(energy, duration), co2_per_min_g=acc.per_minute(co2, duration))
    recorded_names = list(dict.fromkeys(k for r in results for k, _ in r.recorded))
    recorded = []
    for name in recorded_names:
        values = [dict(r.recorded).get(name) for r in results]
        known = [v for v in values if v is not None]
        if known:
            recorded.append((name, sum(known) / len(known)))
    changes["recorded"] = tuple(recorded)
    changes.update(_token_means(results, energy, co2, changes["energy_net_j"], duration))
    return dataclasses.replace(last, **changes)
