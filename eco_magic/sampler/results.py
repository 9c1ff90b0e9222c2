"""What a sampling run hands back: per-channel results, the power trace, the measurement, the live status."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from ..sensors.base import DeviceInfo


@dataclass(frozen=True)
class ChannelResult:
    """What one sensor channel measured over the cell (SI units).

    energy_j       joules; ``None`` only when nothing usable was read
    method         ``"counter"``, ``"integrated"`` or ``"estimated"``: how ``energy_j`` was obtained this time;
                   differs from ``info.method`` when the channel degraded (``notes`` say why)
    mean_power_w   ``energy_j`` over the seconds the energy covers, else the mean of the power samples
    peak_power_w, peak_temp_c, mean_util_pct   running statistics of the successful reads
    throttle_events  distinct slowdown reasons seen, in first-seen order
    n_samples      successful reads; ``n_errors`` failed ones
    notes          one line per degradation, each said once
    """

    info: DeviceInfo
    energy_j: float | None
    method: str
    mean_power_w: float | None
    peak_power_w: float | None
    peak_temp_c: float | None
    mean_util_pct: float | None
    throttle_events: tuple[str, ...]
    n_samples: int
    n_errors: int
    notes: tuple[str, ...]


@dataclass(frozen=True)
class Trace:
    """Bounded power timeline for plots.

    t_s         seconds since the cell started, one per point (the time of the first tick a point averages)
    power_w     per channel key, watts aligned with ``t_s``; ``None`` where no power was read
    decimation  raw ticks each point averages (1 = raw); the last point may average fewer
    """

    t_s: tuple[float, ...]
    power_w: Mapping[str, tuple[float | None, ...]]
    decimation: int


@dataclass(frozen=True)
class Measurement:
    """Everything the sampler saw during one cell.

    duration_s  seconds between the start and end boundary samples (the sampler's clock)
    channels    one :class:`ChannelResult` per sensor, in the order the sensors were given
    n_ticks     reads of the whole sensor set, boundary samples included
    rate        ``"adaptive 5→2→1 Hz"`` or ``"fixed 50 Hz"``
    notes       sampler-level notes (CUDA sync, a thread that would not stop, ...)
    started_at  wall-clock epoch seconds (``time.time()``) at the start, for the ledger
    """

    duration_s: float
    channels: tuple[ChannelResult, ...]
    trace: Trace
    n_ticks: int
    rate: str
    notes: tuple[str, ...]
    started_at: float


@dataclass(frozen=True)
class LiveStatus:
    """A cheap, thread-safe snapshot for the live widget.

    elapsed_s  seconds since the start boundary sample
    power_w    latest power per channel key (``None`` when the latest read failed or had no power)
    energy_j   joules so far per channel key, by the same rules as the final result; channels whose energy
               is not known yet are absent (never a made-up zero)
    """

    elapsed_s: float
    power_w: Mapping[str, float | None]
    energy_j: Mapping[str, float]


