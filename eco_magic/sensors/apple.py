"""Apple Silicon CPU, GPU, Neural Engine and DRAM energy without sudo, through ``zeus-apple-silicon`` (optional
extra ``eco_magic[apple]``).

``zeus_apple_silicon.AppleEnergyMonitor().get_cumulative_energy()`` returns an ``AppleEnergyMetrics`` whose fields
are cumulative energies in **mJ** "from an unspecified point fixed over the lifetime of the energy monitor"
(``None`` where the chip does not report one; zeus-apple-silicon 1.1.0 README, "API Reference"). The library
reads Apple's IOReport "Energy Model" channels, a private framework that needs no root. Its README warns that
these are "believed to be model-based estimates derived from utilization, frequency, and voltage" with 1 mJ
resolution; the source text says so.

One sensor per domain, each a *counter* (energy in J since the sensor was opened; power from the difference
between reads):

==============  ======  ===============================================================
key             kind    fields (mJ)
==============  ======  ===============================================================
``apple:cpu``   cpu     ``cpu_total_mj`` — all CPU clusters, their managers and caches
``apple:gpu``   gpu     ``gpu_mj`` (+ ``gpu_sram_mj`` where the chip reports it apart)
``apple:ane``   npu     ``ane_mj`` — the Apple Neural Engine
``apple:dram``  ram     ``dram_mj``
==============  ======  ===============================================================

The four sensors share one monitor; the values read for one sampler tick are reused by the other domains of the
same tick (one IOReport sample per tick). Discovery runs only on macOS on arm64; elsewhere nothing is imported.
"""
from __future__ import annotations

import importlib.util
import platform
import sys
import threading
from typing import Any

from .base import DeviceInfo, Discovery, ProbeNote, Sample, SensorError

NOTE_SOURCE = "apple"
INSTALL_HINT = "pip install 'eco_magic[apple]'"
RESOLUTION_J = 0.001  # IOReport energy channels count whole mJ
SOURCE = ("IOReport energy-model counter via zeus-apple-silicon ({fields}; Apple's model-based estimate, "
          "1 mJ resolution, no sudo)")

#: (key suffix, kind, name suffix, fields summed, human name of the domain)
DOMAINS = (
    ("cpu", "cpu", "CPU", ("cpu_total_mj",), "CPU"),
    ("gpu", "gpu", "GPU", ("gpu_mj", "gpu_sram_mj"), "GPU"),
    ("ane", "npu", "Neural Engine", ("ane_mj",), "Neural Engine"),
    ("dram", "ram", "DRAM", ("dram_mj",), "DRAM"),
)


def platform_absence() -> str | None:
    """Why this is not an Apple Silicon Mac, or ``None`` when it is."""
    if sys.platform != "darwin":
        return "not macOS"
    if platform.machine() != "arm64":
        return "not Apple Silicon (Intel Mac)"
    return None


def _chip_name() -> str:
    from .cpu_model import read_cpu_info

    return read_cpu_info().brand or "Apple Silicon"


def discover(include_gpu: bool = True) -> Discovery:
    """One counter sensor per energy domain the chip reports. Never raises."""
    found = Discovery()
    note = lambda message, hint=None: found.notes.append(ProbeNote(NOTE_SOURCE, message, hint))  # noqa: E731
    try:
        absent = platform_absence()
        if absent is not None:
            note(absent)
            return found
        if "zeus_apple_silicon" not in sys.modules and importlib.util.find_spec("zeus_apple_silicon") is None:
            note("zeus-apple-silicon not installed: CPU and RAM estimated, GPU and Neural Engine not measured",
                 INSTALL_HINT)
            return found
        try:
            import zeus_apple_silicon as zas

            monitor = zas.AppleEnergyMonitor()
            first = monitor.get_cumulative_energy()
        except Exception as exc:  # RuntimeError when IOReport cannot be opened; a broken build
            note(f"zeus-apple-silicon could not read IOReport ({type(exc).__name__}: {exc})")
            return found
        reader = _SharedReader(monitor)
        chip = _chip_name()
        for suffix, kind, label, fields, _ in DOMAINS:
            if kind in ("gpu", "npu") and not include_gpu:
                continue
            present = [f for f in fields if isinstance(getattr(first, f, None), int)]
            if not present:
                continue
            info = DeviceInfo(
                key=f"apple:{suffix}", kind=kind, name=f"{chip} {label}", method="counter",
                source=SOURCE.format(fields=" + ".join(present)), scope="device",
                details={"fields": present, "resolution_j": RESOLUTION_J, "chip": chip,
                         "model_based": True, "datacenter": False},
            )
            found.sensors.append(AppleDomainSensor(info, reader, present, _sum_mj(first, present)))
        if not found.sensors:
            note("zeus-apple-silicon reports no energy domain on this chip")
    except Exception as exc:  # a bug or a library we do not know: degrade, never break the cell
        found.sensors.clear()
        note(f"Apple Silicon probe failed ({type(exc).__name__}: {exc})")
    return found


def _sum_mj(metrics: Any, fields: list[str]) -> int:
    total = 0
    for f in fields:
        value = getattr(metrics, f, None)
        if not isinstance(value, int):
            raise SensorError(f"zeus-apple-silicon stopped reporting {f}")
        total += value
    return total


class _SharedReader:
    """One ``get_cumulative_energy()`` per sampler tick, shared by the domains (same ``t_s`` → same metrics)."""

    def __init__(self, monitor: Any) -> None:
        self.monitor = monitor
        self.lock = threading.Lock()
        self.last: tuple[float, Any] | None = None
        self.calls = 0

    def metrics(self, t_s: float) -> Any:
        with self.lock:
            if self.last is not None and self.last[0] == t_s:
                return self.last[1]
            value = self.monitor.get_cumulative_energy()
            self.calls += 1
            self.last = (t_s, value)
            return value


class AppleDomainSensor:
    """One energy domain of an Apple Silicon chip: a cumulative counter in mJ, read through a shared monitor."""

    def __init__(self, info: DeviceInfo, reader: _SharedReader, fields: list[str], mj_at_open: int) -> None:
        self.info = info
        self._reader, self._fields = reader, list(fields)
        self._mj_at_open = int(mj_at_open)
        self._last: tuple[float, float] | None = None  # (t_s, energy_j)
        self._closed = False

    def read(self, t_s: float) -> Sample:
        if self._closed:
            raise SensorError(f"{self.info.key} is closed")
        try:
            mj = _sum_mj(self._reader.metrics(t_s), self._fields)
        except SensorError:
            raise
        except Exception as exc:
            raise SensorError(f"{self.info.key}: zeus-apple-silicon read failed ({type(exc).__name__}: {exc})") \
                from exc
        energy_j = (mj - self._mj_at_open) / 1000.0
        power = None
        last, self._last = self._last, (t_s, energy_j)
        if last is not None and t_s > last[0]:
            power = max(0.0, (energy_j - last[1]) / (t_s - last[0]))
        return Sample(t_s=t_s, energy_j=energy_j, power_w=power)

    def close(self) -> None:
        self._closed = True

    def __repr__(self) -> str:
        return f"AppleDomainSensor({self.info.key!r}, {self.info.name!r})"

