"""CPU temperature in °C from ``psutil.sensors_temperatures()``, or ``None`` with a note saying why.

Where it comes from
    On Linux hwmon (``/sys/class/hwmon/hwmon*/temp*_input``, millidegrees) with a fallback to
    ``/sys/class/thermal/thermal_zone*``, read directly the way psutil's ``sensors_temperatures`` reads them
    (:func:`linux_sensors_temperatures`; importing psutil costs more than the reads). FreeBSD through psutil.
    On macOS and Windows psutil has no such function (the attribute is absent, not an empty dict); in VMs and
    containers the answer is usually empty because hwmon is hidden.

Which reading counts as "the CPU temperature" (the hottest of the best available group):
    1. ``coretemp`` (Intel) entries labelled ``Package id N`` — one per socket;
    2. ``k10temp`` / ``zenpower`` (AMD): ``Tdie`` when present, else ``Tctl`` (``Tctl`` carries a fixed
       offset of up to +27 °C on some Ryzen/Threadripper parts, ``Tdie`` does not);
    3. ``coretemp`` per-core entries (``Core N``) on chips that report no package sensor;
    4. any other CPU-looking sensor (``cpu_thermal``, ``x86_pkg_temp``, ``soc_thermal``, …).
    Motherboard (``acpitz``), disk (``nvme``), GPU and Wi-Fi sensors are never used, nor readings outside
    (0, 150) °C, which are glitches (some drivers report 0 for an absent sensor).

Cost
    The sampler calls this at up to 5 Hz. psutil's call costs ~0.08 ms where hwmon is empty (a VM) and reads a
    few dozen sysfs files on a real machine. :class:`CpuThermometer` keeps every answer for ``MIN_TTL_S``
    (1 s), a slow one (over ``slow_s``, 2 ms) for ``ttl_s``, and "no sensor at all" for ``EMPTY_TTL_S`` (30 s).
"""
from __future__ import annotations

import glob
import os
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from .base import ProbeNote

SOURCE = "cpu temperature"
SLOW_CALL_S = 0.002
CACHE_TTL_S = 1.0
_MIN_C, _MAX_C = 0.0, 150.0  # outside (0, 150) °C: a glitch (some drivers report 0 for "no sensor")
_OTHER_CPU_HINTS = ("cpu", "pkg", "soc", "package")
_NOT_CPU = ("acpitz", "nvme", "gpu", "amdgpu", "radeon", "nouveau", "iwlwifi", "wifi", "pch", "drive", "ath")

SensorsFn = Callable[[], Mapping[str, Iterable[Any]]]


def _valid(value: Any) -> float | None:
    try:
        c = float(value)
    except (TypeError, ValueError):
        return None
    return c if _MIN_C < c < _MAX_C else None


def _readings(entries: Iterable[Any]) -> list[tuple[str, float]]:
    out = []
    for e in entries:
        c = _valid(getattr(e, "current", None))
        if c is not None:
            out.append((str(getattr(e, "label", "") or ""), c))
    return out


def pick_cpu_temp_c(temps: Mapping[str, Iterable[Any]]) -> float | None:
    """Pure choice of the CPU temperature (°C) from a ``sensors_temperatures()``-shaped mapping.

    ``temps`` maps a driver name to entries with ``label`` and ``current`` (°C). Returns ``None`` when no
    CPU sensor is among them. See the module docstring for the order of preference.
    """
    groups = {str(k).lower(): _readings(v) for k, v in temps.items()}
    package = [c for lab, c in groups.get("coretemp", []) if lab.lower().startswith("package id")]
    if package:
        return max(package)
    amd = groups.get("k10temp", []) + groups.get("zenpower", [])
    tdie = [c for lab, c in amd if lab.lower() == "tdie"]
    if tdie:
        return max(tdie)
    tctl = [c for lab, c in amd if lab.lower() == "tctl"]
    if tctl:
        return max(tctl)
    cores = [c for lab, c in groups.get("coretemp", []) if lab.lower().startswith("core")]
    if cores:
        return max(cores)
    other = [
        c
        for name, rows in groups.items()
        if any(h in name for h in _OTHER_CPU_HINTS) and not any(n in name for n in _NOT_CPU)
        for _, c in rows
    ]
    return max(other) if other else None


@dataclass(frozen=True)
class Reading:
    """One temperature input, shaped like psutil's ``shwtemp`` (the fields :func:`pick_cpu_temp_c` reads)."""

    label: str
    current: float


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            return fh.read().strip()
    except OSError:
        return None


def linux_sensors_temperatures(root: str = "/sys/class") -> dict[str, list[Reading]]:
    """What ``psutil.sensors_temperatures()`` reads on Linux, read directly (no psutil import, ~80 ms on a cold
    start, issue 16): ``hwmon*/name`` with ``temp*_input`` (m°C) and ``temp*_label``; where hwmon shows nothing,
    ``thermal/thermal_zone*/type`` and ``temp``, as psutil falls back."""
    out: dict[str, list[Reading]] = {}
    for d in sorted(glob.glob(os.path.join(root, "hwmon", "hwmon*"))):
        name = _read(os.path.join(d, "name")) or os.path.basename(d)
        for inp in sorted(glob.glob(os.path.join(d, "temp*_input"))):
            raw = _read(inp)
            if raw is None or not raw.lstrip("-").isdigit():
                continue
            label = _read(inp[: -len("_input")] + "_label") or ""
            out.setdefault(name, []).append(Reading(label, int(raw) / 1000.0))
    if out:
        return out
    for d in sorted(glob.glob(os.path.join(root, "thermal", "thermal_zone*"))):
        raw = _read(os.path.join(d, "temp"))
        if raw is None or not raw.lstrip("-").isdigit():
            continue
        out.setdefault(_read(os.path.join(d, "type")) or os.path.basename(d), []).append(Reading("", int(raw) / 1000.0))
    return out


def _default_sensors_fn() -> SensorsFn | None:
    if sys.platform.startswith("linux"):
        return linux_sensors_temperatures
    try:
        import psutil
    except ImportError:
        return None
    return getattr(psutil, "sensors_temperatures", None)


#: Shortest time a reading is reused, even when the call is fast (s). Temperatures move over seconds; psutil
#: globs every hwmon and thermal-zone file on each call (~80 µs even where it finds none, issue 16).
MIN_TTL_S = 1.0
#: How long "no temperature sensor at all" is believed (s): hwmon does not appear while a kernel runs.
EMPTY_TTL_S = 30.0


class CpuThermometer:
    """Reads the CPU temperature; caches the answer for ``ttl_s`` only when the underlying call is slow.

    ``sensors_fn`` defaults to ``psutil.sensors_temperatures``; ``clock`` to ``time.perf_counter``.
    Both are injectable for tests. ``read`` never raises.
    """

    def __init__(
        self,
        sensors_fn: SensorsFn | None = None,
        *,
        clock: Callable[[], float] = time.perf_counter,
        slow_s: float = SLOW_CALL_S,
        ttl_s: float = CACHE_TTL_S,
    ) -> None:
        self._explicit = sensors_fn is not None
        self._fn = sensors_fn if sensors_fn is not None else _default_sensors_fn()
        self._clock = clock
        self._slow_s = slow_s
        self._ttl_s = ttl_s
        self._cached: tuple[float, float | None] | None = None  # (valid until, value)
        self._lock = threading.Lock()
        self.last_call_s: float | None = None  # duration of the last real call, for diagnostics

    def _call(self) -> Mapping[str, Iterable[Any]] | None:
        if self._fn is None:
            return None
        try:
            return self._fn() or {}
        except Exception:  # a flaky hwmon driver must not break sampling
            return {}

    def read(self) -> float | None:
        """Current CPU temperature in °C, or ``None`` when the platform shows no CPU sensor."""
        with self._lock:
            now = self._clock()
            if self._cached is not None and now < self._cached[0]:
                return self._cached[1]
            temps = self._call()
            done = self._clock()
            self.last_call_s = done - now
            value = pick_cpu_temp_c(temps) if temps else None
            # a fast call is still kept for MIN_TTL_S: temperatures move over seconds, and psutil globs every
            # hwmon and thermal-zone file on each call (most of a 50 Hz sampler tick otherwise)
            ttl = self._ttl_s if self.last_call_s > self._slow_s else min(MIN_TTL_S, self._ttl_s)
            if not temps and self._ttl_s > 0:
                ttl = max(ttl, EMPTY_TTL_S)
            self._cached = (done + ttl, value) if ttl > 0 else None
            return value

    def note(self) -> ProbeNote | None:
        """``None`` when a CPU temperature is available, else one :class:`ProbeNote` saying why not."""
        if self._fn is None:
            try:
                import psutil  # noqa: F401
            except ImportError:
                return ProbeNote(SOURCE, "psutil is not installed", "pip install psutil")
            return ProbeNote(SOURCE, "not available on this platform (temperatures are read on Linux and, through "
                                     "psutil, FreeBSD only)")
        temps = self._call()
        if not temps:
            return ProbeNote(SOURCE, "no temperature sensors visible (usual in VMs and containers)")
        if pick_cpu_temp_c(temps) is None:
            names = ", ".join(sorted(str(k) for k in temps))
            return ProbeNote(SOURCE, f"no CPU sensor among: {names}")
        return None


_shared: CpuThermometer | None = None
_shared_lock = threading.Lock()


def shared_thermometer() -> CpuThermometer:
    """The process-wide :class:`CpuThermometer` (created on first use)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = CpuThermometer()
        return _shared


def cpu_temp_c() -> float | None:
    """Current CPU temperature in °C from psutil, or ``None`` (see :func:`cpu_temp_note` for why)."""
    return shared_thermometer().read()


def cpu_temp_note() -> ProbeNote | None:
    """Why :func:`cpu_temp_c` returns ``None`` on this machine, as one note; ``None`` when it works."""
    return shared_thermometer().note()
