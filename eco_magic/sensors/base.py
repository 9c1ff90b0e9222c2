"""The one small protocol every energy source speaks.

A *sensor* is one measurable device channel (one GPU, the CPU packages, DRAM, ...). Discovery functions
(``discover()`` in each sensor module) return a list of sensors and never raise: a missing library, a
missing device or a permission problem yields no sensor plus a :class:`ProbeNote` that explains why.

Units are SI everywhere inside eco_magic: joules, watts, seconds, degrees Celsius. Vendor units (NVML mW
and mJ, RAPL µJ, hwmon m°C) are converted inside the sensor, before a :class:`Sample` is built.

Energy comes in one of three flavours, named by :data:`METHODS`:

``counter``
    the hardware integrates energy itself (NVML total-energy counter, RAPL ``energy_uj``). The sensor
    reports the cumulative counter, already wrap-corrected, in ``Sample.energy_j``.
``integrated``
    the hardware only reports power; the sampler integrates ``Sample.power_w`` over time (trapezoid).
``estimated``
    a model (utilisation × TDP, DIMM count × W) produces the figure. The sensor still reports a
    cumulative ``energy_j`` so that the estimate integrates exactly between reads.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol, runtime_checkable

METHODS = ("counter", "integrated", "estimated")
KINDS = ("gpu", "cpu", "ram", "npu")  # npu: a neural accelerator reported apart (Apple Neural Engine)


class SensorError(RuntimeError):
    """A read failed. The sampler catches every exception from ``read``; this class is for clear messages."""


@dataclass(frozen=True)
class DeviceInfo:
    """Static description of one sensor channel, known after discovery.

    key      unique and stable within a process, e.g. ``"gpu:0"``, ``"cpu:rapl"``, ``"cpu:model"``, ``"ram:model"``
    kind     one of :data:`KINDS`
    name     human name, e.g. ``"NVIDIA H100 80GB HBM3"`` or ``"Intel(R) Xeon(R) Platinum 8375C"``
    method   one of :data:`METHODS`: how energy is obtained for this channel
    source   one short phrase saying exactly what is read, e.g. ``"NVML total-energy counter"``,
             ``"RAPL package-0 + package-1 (powercap)"``, ``"CPU time × TDP/thread (TDP 270 W, table: …)"``
    scope    ``"device"`` (whole device; includes other processes), ``"machine"`` or ``"process"``
    details  free-form extra facts for provenance (uuid, architecture, tdp_w, power_field, …); JSON-able values
    """

    key: str
    kind: str
    name: str
    method: str
    source: str
    scope: str = "device"
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Sample:
    """One reading of one channel at monotonic time ``t_s``. Every field but ``t_s`` may be ``None``.

    energy_j     cumulative energy since the sensor was opened (counter or model), monotone non-decreasing,
                 wrap-corrected; ``None`` when the channel has no counter (then the sampler integrates power)
    power_w      instantaneous power (or the best the device offers; ``DeviceInfo.details`` says which)
    temp_c       temperature of the device
    util_pct     utilisation 0–100
    throttle     names of active slowdown / clocks-event reasons, e.g. ``("hw_thermal_slowdown",)``
    """

    t_s: float
    energy_j: float | None = None
    power_w: float | None = None
    temp_c: float | None = None
    util_pct: float | None = None
    throttle: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProbeNote:
    """Why a source is absent or degraded, in one line a person can act on (``hint`` optional)."""

    source: str
    message: str
    hint: str | None = None

    def __str__(self) -> str:  # one line, always
        return f"{self.source}: {self.message}" + (f" — {self.hint}" if self.hint else "")


@runtime_checkable
class Sensor(Protocol):
    """One channel. ``read`` is called from the sampler thread only; it may raise, the sampler survives it."""

    info: DeviceInfo

    def read(self, t_s: float) -> Sample:
        """Read the channel now; ``t_s`` is the sampler's monotonic timestamp for this tick."""
        ...

    def close(self) -> None:
        """Release handles. Idempotent; never raises."""
        ...

    # Optional: ``refresh() -> None``. A sensor that caches slow-changing state between reads (the process
    # tree of the process-scope models) renews it here; the sampler calls it just before each boundary read.


@dataclass
class Discovery:
    """What a ``discover()`` call found: sensors plus notes about what is missing or degraded."""

    sensors: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    def extend(self, other: "Discovery") -> None:
        self.sensors.extend(other.sensors)
        self.notes.extend(other.notes)
