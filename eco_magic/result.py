"""EcoResult: one measured cell, every figure with its unit in its name and how it was obtained."""
from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass, field
from typing import Any

STATUSES = ("ok", "error", "interrupted")


@functools.lru_cache(maxsize=None)
def _field_names(cls) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


@dataclass(frozen=True, slots=True)
class DeviceReading:
    """Energy and thermal facts for one device channel over the cell.

    ``method`` is "counter" (hardware energy counter), "integrated" (power samples integrated over time) or
    "estimated" (a model); ``source`` says exactly what was read; ``scope`` is "device" / "machine" (includes other
    processes) or "process" (attributed to the kernel process and its children).
    """

    key: str
    kind: str
    name: str
    energy_j: float | None
    method: str
    source: str
    scope: str = "device"
    mean_power_w: float | None = None
    peak_power_w: float | None = None
    idle_power_w: float | None = None
    peak_temp_c: float | None = None
    slowdown_temp_c: float | None = None
    mean_util_pct: float | None = None
    throttle_events: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (a flat copy: every field is a scalar or a tuple of strings)."""
        d = {name: getattr(self, name) for name in _field_names(type(self))}
        d["throttle_events"] = list(self.throttle_events)
        d["notes"] = list(self.notes)
        for k, v in d.items():
            if isinstance(v, float) and not math.isfinite(v):
                d[k] = None
        return d


@dataclass(frozen=True, slots=True)
class WorkerReading:
    """One Dask worker over a cell measured with ``%%ecolyze --dask`` (see :mod:`eco_magic.cluster`).

    address    the worker's address (``tcp://10.0.0.7:40123``); ``host`` its host name, ``host_id`` the machine
               identity used to count host counters once (Linux boot id, else machine id, else host name)
    status     "measured"; "left" (left or died during the cell: energy missing), "joined" (joined during
               the cell: energy from when it joined unknown) or "failed" (could not be measured)
    energy_j   joules this worker adds to the cell's totals after de-duplication (``None`` when not measured);
               ``counted_j`` says which channel contributed how much
    read_j     joules its channels read in total, before de-duplication (machine-level counters shared with the
               kernel or another worker on the same host, and process estimates already inside another
               process-tree estimate, are read here but counted once, elsewhere; ``notes`` says where)
    region, carbon_intensity_g_per_kwh, pue, co2_g, water_l   the factors applied to ``energy_j`` on this host
               and the result (``region_source`` / ``pue_source`` say where each came from)
    devices    every channel it read, as :class:`DeviceReading` (method, source and scope included)
    """

    address: str
    host: str
    status: str
    energy_j: float | None
    read_j: float | None = None
    pid: int | None = None
    host_id: str = ""
    duration_s: float | None = None
    region: str = ""
    region_source: str = ""
    carbon_intensity_g_per_kwh: float | None = None
    pue: float | None = None
    pue_source: str = ""
    co2_g: float | None = None
    water_l: float | None = None
    devices: tuple[DeviceReading, ...] = ()
    counted_j: tuple[tuple[str, float], ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def peak_temp_c(self) -> float | None:
        temps = [d.peak_temp_c for d in self.devices if d.peak_temp_c is not None]
        return max(temps) if temps else None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict; ``counted_j`` becomes ``{channel key: J}``; NaN/inf never appear."""
        d = dataclasses.asdict(self)
        d["devices"] = [x.to_dict() for x in self.devices]
        d["counted_j"] = dict(self.counted_j)
        d["notes"] = list(self.notes)
        for k, v in d.items():
            if isinstance(v, float) and not math.isfinite(v):
                d[k] = None
        return d


@dataclass(frozen=True, slots=True)
class EcoResult:
    """The outcome of ``%%ecolyze``: energy, CO₂, water, thermal state and ESS, with provenance.

    Energy is IT energy (what the devices drew); CO₂ applies carbon intensity and PUE to it. ``ess`` is ``None``
    when it is not meaningful (no model, or CO₂ below what the sensors resolve).
    """

    label: str
    status: str
    duration_s: float
    energy_j: float
    co2_g: float
    water_l: float
    ess: float | None
    effective_params_m: float | None
    precision: str | None
    pue: float
    carbon_intensity_g_per_kwh: float
    region: str
    devices: tuple[DeviceReading, ...] = ()
    # energy detail
    energy_net_j: float | None = None
    idle_power_w: float | None = None
    energy_resolution_j: float = 0.0
    # provenance of factors
    region_name: str = ""
    region_resolved_by: str = ""
    carbon_source: str = ""
    carbon_year: int | None = None
    pue_tier: str = ""
    pue_source: str = ""
    # water
    water_onsite_l: float = 0.0
    water_offsite_l: float = 0.0
    water_model: str = "paper"
    water_formula: str = ""
    water_source: str = ""
    # model / ESS
    n_params: float | None = None
    qf: float | None = None
    model_source: str | None = None
    model_variable: str | None = None
    precision_mix: tuple[tuple[str, float], ...] = ()
    ess_note: str = ""
    # per-item / per-minute
    items: int | None = None
    energy_per_item_j: float | None = None
    co2_per_item_g: float | None = None
    energy_per_min_j: float | None = None
    co2_per_min_g: float | None = None
    # thermal and bookkeeping
    thermal_flags: tuple[str, ...] = ()
    sampling: str = ""
    n_samples: int = 0
    started_at: str = ""
    error: str | None = None
    notes: tuple[str, ...] = ()
    trace: Any = field(default=None, repr=False, compare=False)
    # Dask workers the cell drove (``%%ecolyze --dask``); their counted energy is inside the totals above
    workers: tuple[WorkerReading, ...] = ()
    # idle baseline behind ``energy_net_j``: seconds of idle it rests on and where they came from
    idle_baseline_s: float | None = None
    idle_source: str = ""
    # repeats (``--repeat N``): the headline figures above are means over ``runs``; ``*_std`` is the sample standard
    # deviation and ``*_ci`` the 95 % confidence interval ``(low, high)`` of the mean (None for one run). Every run
    # is its own ledger row; ``group`` ties them together and ``run_index`` numbers them from 1.
    runs: int = 1
    group: str | None = None
    run_index: int | None = None
    energy_j_std: float | None = None
    energy_j_ci: tuple[float, float] | None = None
    co2_g_std: float | None = None
    co2_g_ci: tuple[float, float] | None = None
    water_l_std: float | None = None
    water_l_ci: tuple[float, float] | None = None
    duration_s_std: float | None = None
    duration_s_ci: tuple[float, float] | None = None
    ess_std: float | None = None
    ess_ci: tuple[float, float] | None = None
    # quality next to cost (``--record VAR``): variable name → its numeric value after the cell
    recorded: tuple[tuple[str, float], ...] = ()
    # LLM inference (token accounting): counts seen while the cell ran, and the per-token figures
    tokens_in: int | None = None
    tokens_out: int | None = None
    responses: int | None = None
    token_source: str = ""
    tokens_per_s: float | None = None
    energy_per_token_j: float | None = None
    co2_per_token_g: float | None = None
    energy_per_response_j: float | None = None
    energy_per_1k_responses_wh: float | None = None
    energy_net_per_token_j: float | None = None
    energy_net_per_1k_responses_wh: float | None = None
    # how the precision behind QF was decided (dtype census, quantization_config, --precision, …)
    precision_source: str = ""
    # embodied carbon of the hardware used, amortised over the cell (separate from the operational co2_g)
    embodied_co2_g: float | None = None
    embodied_source: str = ""
    # kind of carbon intensity: "annual average", "hourly", "live" (latest reading), "marginal", or "user value"
    # (--ci); its time when not annual (ISO 8601 UTC instant or start/end interval)
    carbon_kind: str = "annual average"
    carbon_time: str | None = None
    # live intensity only: the same cell at the cleanest hour the provider gave around it (CO2e, g) and that hour
    # ("2026-11-22T13:00Z (last 24 h)"); None when not live or the provider gave no series
    cleanest_hour_co2_g: float | None = None
    cleanest_hour_time: str | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {self.status!r}")

    # --- conveniences -------------------------------------------------------------------------------------------
    @property
    def energy_kwh(self) -> float:
        return self.energy_j / 3.6e6

    @property
    def methods(self) -> dict[str, str]:
        """Device key → how its energy was obtained."""
        return {d.key: d.method for d in self.devices}

    @property
    def cluster_energy_j(self) -> float | None:
        """Joules the Dask workers added to ``energy_j`` (``None`` when the cell drove no measured worker)."""
        known = [w.energy_j for w in self.workers if w.energy_j is not None]
        return sum(known) if known else None

    @property
    def peak_temp_c(self) -> float | None:
        temps = [d.peak_temp_c for d in self.devices if d.peak_temp_c is not None]
        return max(temps) if temps else None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (the trace is left out; NaN/inf never appear)."""
        out: dict[str, Any] = {}
        for name in _field_names(type(self)):
            if name == "trace":
                continue
            v = getattr(self, name)
            if name in ("devices", "workers"):
                v = [d.to_dict() for d in v]
            elif name in ("precision_mix", "recorded"):
                v = dict(v)
            elif isinstance(v, tuple):
                v = list(v)
            elif isinstance(v, float) and not math.isfinite(v):
                v = None
            out[name] = v
        return out

    def scale_to(self, items: float | None = None, *, tokens: float | None = None, label: str = ""):
        """This cell scaled to ``items`` items (it ran with ``--items``) or ``tokens`` generated tokens: a
        :class:`~eco_magic.planner.Plan` with energy, CO₂e, water and embodied carbon scaled, a repeated cell's
        interval carried with the same relative width, marked as calibrated from this ledger row."""
        from .planner import scale

        return scale(self, items=items, tokens=tokens, label=label)

    # --- representations ----------------------------------------------------------------------------------------
    def __str__(self) -> str:
        from .display.text import summary_line

        return summary_line(self)

    def _repr_pretty_(self, p, cycle) -> None:  # IPython terminal
        from .display.text import render_text

        p.text(render_text(self))

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, str]:
        """``text/plain`` + ``text/html``: the same card the magic shows (what-if rows, power trace)."""
        from .display.card import bundle

        return bundle(self)
