"""Plan before you run: MLCarbon's (LLMCarbon's) operational model, and plans calibrated by a measured cell.

:func:`plan` estimates a training or inference job before it runs (Faiz et al., "LLMCarbon", ICLR 2024; the
MLCarbon tool):

* FLOPs — training ≈ 6·N·D (forward 2·N·D + backward 4·N·D; Kaplan et al. 2020), inference ≈ 2·N per token;
  ``flops`` gives the total instead (a model paper's own count).
* time — FLOPs / (devices × achieved FLOP/s per device); achieved = peak × hardware efficiency when only the
  device is known. ``days`` overrides the derived time.
* energy — devices × average power per device × time (IT energy); at the meter × PUE.
* CO₂e — IT energy × PUE × carbon intensity (:func:`eco_magic.accounting.co2_g`), water by the same models as a
  measured cell, embodied carbon = devices × the device's embodied carbon × time / lifetime (accelerators only).

:func:`scale` turns a measured cell into a :class:`Plan` for N items or N generated tokens: energy, CO₂e, water
and embodied carbon scaled linearly, the measured interval of a repeated cell carried with the same relative
width (``EcoResult.scale_to`` delegates here). Pure; no IPython, no network.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from . import accounting as acc

__all__ = ["Plan", "PlanComparison", "plan", "scale", "compare", "training_flops", "inference_flops",
           "PHASES", "DEFAULT_HARDWARE_EFFICIENCY"]

PHASES = ("training", "inference")
#: Median hardware efficiency of LLMCarbon's validated training rows (data/database.csv: T5 0.37, GPT-3 0.197,
#: GShard 0.39, Switch 0.28, XLM 0.212), used when only the device is given, and said so.
DEFAULT_HARDWARE_EFFICIENCY = 0.28
METHOD = ("MLCarbon/LLMCarbon model: FLOPs ÷ (devices × achieved FLOP/s) = time; devices × average power × time "
          "= IT energy; × PUE × carbon intensity = CO₂e")
CALIBRATED = "calibrated by measurement: a measured cell scaled linearly"


def training_flops(params: float, tokens: float) -> float:
    """≈ 6·N·D: forward (2·N·D) and backward (4·N·D) passes over D tokens (Kaplan et al. 2020, LLMCarbon)."""
    return 6.0 * params * tokens


def inference_flops(params: float, tokens: float) -> float:
    """≈ 2·N FLOPs per token processed or generated (one forward pass), times the tokens."""
    return 2.0 * params * tokens


@dataclass(frozen=True)
class Plan:
    """An estimate made before running, or a measured cell scaled up; every figure with its unit and provenance.

    energy_kwh           IT energy (what the devices draw), as ``EcoResult.energy_j``; ``facility_energy_kwh``
                         is at the meter (× PUE), the figure MLCarbon and Patterson et al. publish
    co2_kg               operational CO₂e = IT energy × PUE × carbon intensity
    embodied_co2_kg      amortised manufacturing footprint (separate; never inside ``co2_kg``); ``None`` unknown
    *_ci                 95 % interval carried from a repeated measured cell (calibrated plans only)
    method               how the figures were obtained; ``calibrated_from`` names the measured ledger row
    """

    label: str
    method: str
    flops: float | None
    duration_s: float
    energy_kwh: float
    facility_energy_kwh: float
    co2_kg: float
    embodied_co2_kg: float | None
    water_l: float
    notes: tuple[str, ...] = ()
    phase: str | None = None
    params: float | None = None
    tokens: float | None = None
    flops_source: str = ""
    device: str | None = None
    devices: int | None = None
    precision: str | None = None
    peak_tflops: float | None = None
    hardware_efficiency: float | None = None
    achieved_tflops: float | None = None
    throughput_source: str = ""
    power_w: float | None = None
    power_source: str = ""
    duration_source: str = ""
    pue: float = 1.0
    pue_source: str = ""
    carbon_intensity_g_per_kwh: float = 0.0
    region: str = ""
    carbon_source: str = ""
    carbon_year: int | None = None
    water_model: str = "paper"
    water_source: str = ""
    embodied_source: str = ""
    lifetime_years: float | None = None
    calibrated_from: str | None = None
    scale_factor: float | None = None
    items: float | None = None
    runs: int | None = None
    energy_kwh_ci: tuple[float, float] | None = None
    co2_kg_ci: tuple[float, float] | None = None
    water_l_ci: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        # inputs each within range can still multiply past what a float holds (tokens 1e30 at 1e-300 TFLOP/s, a
        # cell scaled to 1e308 items): say so, never show "inf years" or "inf kt"
        for name, words in _FIGURES.items():
            value = getattr(self, name)
            for v in (value if isinstance(value, tuple) else (value,)):
                if v is not None and not math.isfinite(v):
                    raise ValueError(f"these inputs give a {words} beyond what a number can hold ({v}); check "
                                     "the orders of magnitude of the inputs")

    @property
    def days(self) -> float:
        return self.duration_s / acc.S_PER_DAY

    @property
    def energy_j(self) -> float:
        return self.energy_kwh * acc.J_PER_KWH

    @property
    def co2_g(self) -> float:
        return self.co2_kg * 1000.0

    @property
    def total_co2_kg(self) -> float | None:
        """Operational plus embodied CO₂e (``None`` when the embodied part is unknown)."""
        return None if self.embodied_co2_kg is None else self.co2_kg + self.embodied_co2_kg

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for k, v in d.items():
            if isinstance(v, tuple):
                d[k] = list(v)
            elif isinstance(v, float) and not math.isfinite(v):
                d[k] = None
        return d

    def __str__(self) -> str:
        from .plan_card import summary_line

        return summary_line(self)

    def _repr_pretty_(self, p, cycle) -> None:
        from .plan_card import render_text

        p.text(render_text(self))

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, str]:
        from .plan_card import bundle

        return bundle(self)


#: the figures of a :class:`Plan` that must be finite numbers
_FIGURES = {"flops": "FLOP count", "duration_s": "duration", "energy_kwh": "IT energy",
            "facility_energy_kwh": "energy at the meter", "co2_kg": "CO₂e", "embodied_co2_kg": "embodied CO₂e",
            "water_l": "water use", "achieved_tflops": "throughput", "hardware_efficiency": "hardware efficiency",
            "scale_factor": "scale factor", "energy_kwh_ci": "energy interval", "co2_kg_ci": "CO₂e interval",
            "water_l_ci": "water interval"}


@dataclass(frozen=True)
class PlanComparison:
    """Several plans side by side (``%ecoplan --compare``); ``labels`` name the columns."""

    plans: tuple[Plan, ...]

    def __str__(self) -> str:
        from .plan_card import compare_text

        return compare_text(self.plans)

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(str(self))

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, str]:
        from .plan_card import compare_bundle

        return compare_bundle(self.plans)


def compare(plans: Sequence[Plan]) -> PlanComparison:
    """Plans side by side, in the order given."""
    plans = tuple(plans)
    if not plans or not all(isinstance(p, Plan) for p in plans):
        raise ValueError("compare() takes one or more Plan objects")
    return PlanComparison(plans)


# --------------------------------------------------------------------------------------------------- the model
def _positive(name: str, value: Any, *, allow_none: bool = True, upper: float | None = None) -> float | None:
    if value is None and allow_none:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    if upper is not None and v > upper:
        raise ValueError(f"{name} must be at most {upper:g}, got {value!r}")
    return v


def _count_label(n: float) -> str:
    for factor, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= factor:
            return f"{n / factor:.4g}{suffix}"
    return f"{n:g}"


def plan(*, params: float | None = None, tokens: float | None = None, phase: str = "training",
         flops: float | None = None, devices: int = 1, device: str | None = None,
         achieved_tflops: float | None = None, hardware_efficiency: float | None = None,
         precision: str | None = None, power_w: float | None = None, days: float | None = None,
         pue: float | None = None, region: str | None = None, ci_g_per_kwh: float | None = None,
         water_model: str = "paper", lifetime_years: float | None = None, label: str = "") -> Plan:
    """Estimate a job before running it (MLCarbon's method); see the module docstring for the model.

    params, tokens       model parameters N and tokens D (training tokens, or tokens processed in inference)
    phase                ``"training"`` (6·N·D FLOPs) or ``"inference"`` (2·N·D)
    flops                total FLOPs instead of the N·D rule (e.g. a model paper's own count)
    devices, device      how many accelerators, and which (a key or alias of ``data/accelerators.csv``)
    achieved_tflops      sustained TFLOP/s per device (else the device's dense peak × ``hardware_efficiency``,
                         default :data:`DEFAULT_HARDWARE_EFFICIENCY`); ``precision`` picks the peak column
    power_w              average power per device in W (else the table's typical average, else its TDP)
    days                 wall time, overriding the one derived from FLOPs
    pue, region, ci_g_per_kwh   facility overhead and grid; default PUE the ML-EcoLyzer hardware tier (or the
                         cloud region's published fleet PUE), default grid the world average
    lifetime_years       amortisation period of the embodied carbon (default the device row's)

    Raises ``ValueError`` with a sentence when an input is missing or out of range.
    """
    from . import accelerators, embodied, regions

    notes: list[str] = []
    if phase not in PHASES:
        raise ValueError(f"phase must be 'training' or 'inference', got {phase!r}")
    params, tokens = _positive("params", params), _positive("tokens", tokens)
    flops, days = _positive("flops", flops), _positive("days", days)
    achieved_tflops, power_w = _positive("achieved_tflops", achieved_tflops), _positive("power_w", power_w)
    hardware_efficiency = _positive("hardware_efficiency", hardware_efficiency, upper=1.0)
    lifetime_years = _positive("lifetime_years", lifetime_years)
    pue = _positive("pue", pue)
    if pue is not None and not 1.0 <= pue <= 5.0:
        raise ValueError(f"pue is a power usage effectiveness between 1.0 and 5.0, got {pue!r}")
    if ci_g_per_kwh is not None and not 0.0 <= float(ci_g_per_kwh) <= 2000.0:
        raise ValueError(f"ci_g_per_kwh must be between 0 and 2000 g CO₂e/kWh, got {ci_g_per_kwh!r}")
    if isinstance(devices, bool) or not isinstance(devices, (int, float)) or devices != int(devices) or devices < 1:
        raise ValueError(f"devices is a whole number of accelerators ≥ 1, got {devices!r}")
    devices = int(devices)
    if water_model not in acc.WATER_MODELS:
        raise ValueError(f"water_model must be one of {acc.WATER_MODELS}, got {water_model!r}")

    # FLOPs
    if flops is not None:
        flops_source = "given"
        if params and tokens:
            rule = training_flops if phase == "training" else inference_flops
            notes.append(f"FLOPs given ({flops:.3g}); the {'6' if phase == 'training' else '2'}·N·D rule would "
                         f"give {rule(params, tokens):.3g}")
    elif params and tokens:
        if phase == "training":
            flops, flops_source = training_flops(params, tokens), "6·N·D (training: forward + backward)"
        else:
            flops, flops_source = inference_flops(params, tokens), "2·N per token × tokens (inference)"
    else:
        flops_source = ""
        if params or tokens:
            notes.append("FLOPs need both params and tokens")

    # throughput
    acc_row = accelerators.lookup(device) if device else None
    peak = peak_precision = None
    if acc_row is not None:
        found = acc_row.peak(precision)
        if found is None and (achieved_tflops is None or precision):
            raise ValueError(f"the accelerator table has no {precision or 'half-precision'} peak for {acc_row.key}; "
                             f"it lists {', '.join(acc_row.peak_tflops) or 'none'}")
        if found is not None:
            peak, peak_precision = found
    if achieved_tflops is not None:
        throughput_source = "given (per device)"
        if peak:
            hardware_efficiency = achieved_tflops / peak
    elif peak is not None and hardware_efficiency is None and days is not None:
        throughput_source = "implied by the given days" if flops is not None else ""  # computed below
    elif peak is not None:
        if hardware_efficiency is None:
            hardware_efficiency = DEFAULT_HARDWARE_EFFICIENCY
            notes.append(f"hardware efficiency {DEFAULT_HARDWARE_EFFICIENCY:g} assumed (median of LLMCarbon's "
                         "validated training runs, 0.20–0.39); give hardware_efficiency or achieved_tflops")
        achieved_tflops = peak * hardware_efficiency
        throughput_source = (f"{acc_row.key} dense {peak_precision} peak {peak:g} TFLOP/s × efficiency "
                             f"{hardware_efficiency:.3g} ({acc_row.spec_source})")
    else:
        throughput_source = ""

    # duration
    derived_s = None
    if flops is not None and achieved_tflops:
        derived_s = flops / (devices * achieved_tflops * 1e12)
    if days is not None:
        duration_s, duration_source = days * acc.S_PER_DAY, "given (days)"
        if flops is not None and achieved_tflops is None and peak is not None:
            achieved_tflops = flops / (devices * duration_s * 1e12)
            hardware_efficiency = achieved_tflops / peak
            notes.append(f"the given {days:g} days imply {achieved_tflops:.3g} TFLOP/s per device, hardware "
                         f"efficiency {hardware_efficiency:.3g} of the dense {peak_precision} peak"
                         + (" — above the peak: not feasible as stated" if hardware_efficiency > 1 else ""))
        elif derived_s is not None:
            notes.append(f"the FLOP model gives {derived_s / acc.S_PER_DAY:.3g} days; the given {days:g} days "
                         f"imply {flops / (devices * duration_s * 1e12):.3g} TFLOP/s per device")
    elif derived_s is not None:
        duration_s, duration_source = derived_s, "FLOPs ÷ (devices × achieved TFLOP/s)"
    else:
        raise ValueError("cannot derive the duration: give days, or params and tokens (or flops) with "
                         "achieved_tflops or a device")

    # power
    if power_w is not None:
        power_source = "given (average per device)"
    elif acc_row is not None and acc_row.typical_power_w:
        power_w, power_source = acc_row.typical_power_w, acc_row.typical_power_source
    elif acc_row is not None and acc_row.tdp_w:
        power_w, power_source = acc_row.tdp_w, f"{acc_row.key} TDP ({acc_row.spec_source})"
        notes.append(f"no published average power for {acc_row.key}: its TDP ({acc_row.tdp_w:g} W) is used, an "
                     "upper bound for the device alone (host CPUs, memory and network not included); give power_w")
    else:
        raise ValueError("give power_w (average watts per device) or a device from the accelerator table")
    energy_j = devices * power_w * duration_s

    # grid, PUE, water
    if region:
        place = regions.lookup(region)
    else:
        place = regions.world()
        if ci_g_per_kwh is None:
            notes.append("no region given: world-average carbon intensity and water figures")
    if ci_g_per_kwh is not None:
        ci, carbon_source, carbon_year = float(ci_g_per_kwh), "given", None
    else:
        ci, carbon_source, carbon_year = place.carbon_intensity_g_per_kwh, place.ci_source, place.ci_year
    tier = "datacenter_gpu" if acc_row is None or acc_row.datacenter else "consumer_gpu"
    if pue is not None:
        pue_source = "given"
    elif place.provider_pue:
        pue, pue_source = place.provider_pue, f"{place.name} provider fleet PUE (data/cloud_regions.csv)"
    else:
        pue, pue_source = acc.PUE_TIERS[tier], acc.PUE_TIER_LABELS[tier]
    co2_g = acc.co2_g(energy_j, ci, pue)
    if water_model == "li":
        water = acc.water_li(energy_j, place.wue_site_l_per_kwh, pue, place.ewif_l_per_kwh)
    else:
        water = acc.water_paper(energy_j, place.water_intensity_l_per_kwh, acc.WATER_OVERHEAD[tier])

    # embodied (accelerators only)
    embodied_kg, embodied_source, life = None, "", None
    if acc_row is not None and acc_row.embodied_kg_co2e:
        life = lifetime_years or acc_row.lifetime_years or embodied.DEFAULT_LIFETIME_YEARS
        embodied_kg = devices * embodied.share_g(acc_row.embodied_kg_co2e, duration_s, life) / 1000.0
        embodied_source = (f"{devices} × {acc_row.embodied_kg_co2e:g} kg ({acc_row.embodied_source}) × time / "
                           f"{life:g} y ({acc_row.lifetime_source if not lifetime_years else 'given'}); "
                           "accelerators only: host CPUs, memory, storage, network and chassis not counted")
    elif acc_row is not None:
        notes.append(f"no embodied-carbon figure for {acc_row.key} in the accelerator table: embodied not counted")
    else:
        notes.append("no device from the accelerator table: embodied carbon unknown (give device)")

    if not label:
        size = f"{_count_label(params)} " if params else ""
        label = f"{size}{phase}".strip()
    return Plan(
        label=label, method=METHOD, flops=flops, duration_s=duration_s, energy_kwh=acc.kwh_from_j(energy_j),
        facility_energy_kwh=acc.kwh_from_j(energy_j) * pue, co2_kg=co2_g / 1000.0, embodied_co2_kg=embodied_kg,
        water_l=water.total_l, notes=tuple(notes), phase=phase, params=params, tokens=tokens,
        flops_source=flops_source, device=acc_row.key if acc_row else None, devices=devices,
        precision=peak_precision, peak_tflops=peak, hardware_efficiency=hardware_efficiency,
        achieved_tflops=achieved_tflops, throughput_source=throughput_source, power_w=power_w,
        power_source=power_source, duration_source=duration_source, pue=pue, pue_source=pue_source,
        carbon_intensity_g_per_kwh=ci, region=place.code if (region or ci_g_per_kwh is None) else "",
        carbon_source=carbon_source, carbon_year=carbon_year, water_model=water.model,
        water_source=f"{water.formula}; {place.water_source}", embodied_source=embodied_source,
        lifetime_years=life)


# --------------------------------------------------------------------------------------- calibrated by a cell
def _scaled_ci(ci: Any, factor: float) -> tuple[float, float] | None:
    if not ci or len(ci) != 2 or any(v is None for v in ci):
        return None
    return (float(ci[0]) * factor, float(ci[1]) * factor)


def _n(x: float) -> str:
    """``10,000`` for whole numbers, else three significant figures."""
    x = float(x)
    return f"{x:,.0f}" if x == int(x) and abs(x) < 1e15 else f"{x:,.3g}"


def scale(source: Any, *, items: float | None = None, tokens: float | None = None, label: str = "") -> Plan:
    """A measured cell (an :class:`~eco_magic.result.EcoResult` or a ledger record dict) scaled to ``items``
    items (the cell ran with ``--items``) or ``tokens`` generated tokens (the cell counted ``tokens_out``).

    Energy, CO₂e, water, duration and embodied carbon are multiplied by target ÷ measured; a repeated cell's
    95 % intervals are multiplied too, so the relative interval stays the same. Raises ``ValueError`` when the
    cell has no such count.
    """
    get = source.get if isinstance(source, Mapping) else (lambda k, d=None: getattr(source, k, d))
    if (items is None) == (tokens is None):
        raise ValueError("give exactly one of items=N (the cell ran with --items) or tokens=N (generated tokens)")
    if items is not None:
        target, measured, what = _positive("items", items, allow_none=False), get("items"), "items"
        if not measured:
            hint = (f"; it generated {get('tokens_out')} tokens: use tokens=N" if get("tokens_out")
                    else "; measure it with %%ecolyze --items N")
            raise ValueError(f"this cell was measured without --items{hint}")
    else:
        target, measured, what = _positive("tokens", tokens, allow_none=False), get("tokens_out"), "generated tokens"
        if not measured:
            raise ValueError("this cell has no generated-token count (tokens_out); use items=N with a cell "
                             "measured with --items N")
    factor = target / float(measured)
    runs = int(get("runs") or 1)
    energy_kwh = acc.kwh_from_j(float(get("energy_j") or 0.0)) * factor
    pue = float(get("pue") or 1.0)
    emb_g = get("embodied_co2_g")
    notes = [f"scaled ×{_factor(factor)} from {_n(measured)} {what} to {_n(target)}: assumes every {what[:-1]} costs "
             "what the measured ones did on the same hardware, one after another; fixed costs inside the cell "
             "(loading, warm-up) are scaled too"]
    ci = {name: _scaled_ci(get(f"{name}_ci"), factor) for name in ("energy_j", "co2_g", "water_l")}
    if runs < 2:
        notes.append("one measured run: no interval (measure with --repeat N to carry one)")
    elif ci["energy_j"] is None:
        notes.append(f"{runs} runs but no interval recorded")
    if emb_g is None:
        notes.append("no embodied-carbon figure on the measured cell")
    row_id = get("row_id")
    where = f"ledger row {row_id}: " if row_id is not None else "ledger row "
    group = f", group {get('group')}" if get("group") else ""
    origin = (f"{where}{get('label') or '(no label)'!r} measured {get('started_at') or '?'}, {_n(measured)} {what}"
              f"{f', mean of {runs} runs' if runs > 1 else ''}{group}")
    devices = get("devices") or ()
    names = [d.get("name") if isinstance(d, Mapping) else getattr(d, "name", "") for d in devices]
    return Plan(
        label=label or f"{get('label') or 'cell'} × {_count_label(target)} {what}", method=CALIBRATED, flops=None,
        duration_s=float(get("duration_s") or 0.0) * factor, energy_kwh=energy_kwh,
        facility_energy_kwh=energy_kwh * pue, co2_kg=float(get("co2_g") or 0.0) * factor / 1000.0,
        embodied_co2_kg=None if emb_g is None else float(emb_g) * factor / 1000.0,
        water_l=float(get("water_l") or 0.0) * factor, notes=tuple(notes), device=", ".join(n for n in names if n)
        or None, duration_source=f"measured duration × {_factor(factor)}", pue=pue, pue_source=get("pue_source") or "",
        carbon_intensity_g_per_kwh=float(get("carbon_intensity_g_per_kwh") or 0.0), region=get("region") or "",
        carbon_source=get("carbon_source") or "", carbon_year=get("carbon_year"),
        water_model=get("water_model") or "paper", water_source=get("water_source") or "",
        embodied_source=get("embodied_source") or "", calibrated_from=origin, scale_factor=factor, items=target,
        runs=runs, energy_kwh_ci=None if ci["energy_j"] is None else tuple(acc.kwh_from_j(v) for v in ci["energy_j"]),
        co2_kg_ci=None if ci["co2_g"] is None else tuple(v / 1000.0 for v in ci["co2_g"]), water_l_ci=ci["water_l"])


def _factor(x: float) -> str:
    """A scaling factor without scientific notation: 36,500 or 2.5."""
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"
