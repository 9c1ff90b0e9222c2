"""A fake AMD GPU driver behind the real ``amdsmi`` Python package (AMD SMI's py-interface), for tests without ROCm.

The installed ``amdsmi`` package cannot be imported without ROCm's ``libamd_smi.so``: its ``amdsmi_wrapper``
loads the library with ``ctypes.CDLL`` at import and binds ~190 functions. :func:`load_amdsmi` imports the real
package against a stand-in library object (``ctypes.CDLL`` is replaced only while the import runs), so the
package's own Python is loaded: its enums (``AmdSmiTemperatureType``…), its exceptions
(``AmdSmiLibraryException`` with real status codes) and its handle type. :func:`install` then patches the
interface functions eco_magic calls, as ``tests/fake_nvml.py`` does for ``pynvml``, to answer from
:class:`FakeAmdGpu` objects with the return shapes of a given ROCm release (``api``):

=======  =====================================================================================================
api      shapes (read in the amdsmi wheels 6.0.2, 6.2.4, 6.4.4 and 7.0.2, ``amdsmi_interface.py``)
=======  =====================================================================================================
"6.0"    energy count key ``"power"``; power info without "N/A" conversion; no violation status;
         gpu metrics ``throttle_status`` is the raw bitmask
"6.2"    ``"power"`` (renamed in 6.2.1); power info values 0xFFFF → "N/A"
"6.4"    ``"energy_accumulator"``; ``amdsmi_get_violation_status`` with ``active_*`` flags
"7.0"    as 6.4, plus ``"socket_power"`` in power info; ``throttle_status`` is a boolean
=======  =====================================================================================================

Energy: the accumulator counts ``resolution_uj`` µJ per count and is integrated exactly from ``power_w``
(constant, or a function of the fake clock's seconds), starting at ``counts_at_start``; ``wrap_bits=32`` makes it
wrap like a 32-bit hardware count; ``step_back_at`` (seconds) makes the first read from then on return 1000 counts less than
the read before it (ROCm/amdsmi#115).
"""
from __future__ import annotations

import ctypes
import math
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

APIS = ("6.0", "6.2", "6.4", "7.0")


class _StubFunction:
    """Takes the ``restype``/``argtypes`` the wrapper assigns; calling it means a function was not faked."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, *args: Any) -> Any:
        raise AssertionError(f"libamd_smi.{self.name} reached: fake it in tests/fake_amdsmi.py")


class _StubLibrary:
    def __getattr__(self, name: str) -> _StubFunction:
        if name.startswith("__"):
            raise AttributeError(name)
        fn = _StubFunction(name)
        setattr(self, name, fn)
        return fn


def load_amdsmi(monkeypatch) -> Any:
    """Import the installed ``amdsmi`` package against a stand-in ``libamd_smi.so``; undone after the test."""
    for name in [n for n in sys.modules if n == "amdsmi" or n.startswith("amdsmi.")]:
        monkeypatch.delitem(sys.modules, name)
    real_cdll = ctypes.CDLL
    ctypes.CDLL = lambda *args, **kwargs: _StubLibrary()  # only for the import below
    try:
        import amdsmi
    finally:
        ctypes.CDLL = real_cdll
    for name in [n for n in sys.modules if n == "amdsmi" or n.startswith("amdsmi.")]:
        monkeypatch.setitem(sys.modules, name, sys.modules[name])  # removed again at the end of the test
    return amdsmi


@dataclass
class FakeAmdGpu:
    """One fake AMD GPU. ``None`` for a reading makes it unsupported (NOT_SUPPORTED or "N/A", as the API does)."""

    name: str = "AMD Instinct MI300X"
    uuid: str = "4eff74a1-0000-1000-80e6-c7c0b7b0a2f1"
    power_w: float | Callable[[float], float] = 550.0
    current_power: bool = True          # "current_socket_power" holds a number (MI300+); else only the average
    supports_counter: bool = True
    resolution_uj: float = 15.259
    counts_at_start: int = 10_000_000
    wrap_bits: int = 64
    step_back_at: float | None = None   # seconds: the first read from then on goes 1000 counts back
    hotspot_c: float | None = 61.0
    edge_c: float | None = 48.0
    critical_c: float | None = 100.0
    emergency_c: float | None = 105.0
    gfx_activity: int | None = 87
    violations: dict = field(default_factory=dict)   # e.g. {"active_ppt_pwr": True}
    throttle_bits: int = 0
    power_cap_uw: int = 750_000_000
    fail_reads_after: int | None = None  # energy/power reads after this many raise AMDSMI_STATUS_UNKNOWN_ERROR
    reads: int = field(default=0, init=False)
    _energy_uj: float = field(default=0.0, init=False)
    _t: float = field(default=0.0, init=False)
    _stepped: bool = field(default=False, init=False)
    _last_returned: int = field(default=0, init=False)


class FakeAmdSmi:
    """The fake driver: its GPUs, a clock, the init reference count and which functions were called."""

    def __init__(self, smi: Any, devices: list[FakeAmdGpu], api: str, clock: Callable[[], float],
                 init_error: int | None = None) -> None:
        if api not in APIS:
            raise ValueError(f"api must be one of {APIS}")
        self.smi, self.devices, self.api, self.clock = smi, devices, api, clock
        self.t0 = clock()
        self.init_error = init_error
        self.refcount = 0
        self.calls: dict[str, int] = {}
        self.handles = [smi.amdsmi_wrapper.amdsmi_processor_handle(0x1000 + i) for i in range(len(devices))]

    # ---- helpers
    def _call(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1
        if self.refcount <= 0 and name != "amdsmi_init":
            raise self.smi.AmdSmiLibraryException(self.smi.amdsmi_wrapper.AMDSMI_STATUS_NOT_INIT)

    def _gpu(self, handle: Any, query: bool = False) -> FakeAmdGpu:
        for h, gpu in zip(self.handles, self.devices):
            if h.value == getattr(handle, "value", None):
                if query:
                    if gpu.fail_reads_after is not None and gpu.reads >= gpu.fail_reads_after:
                        raise self.smi.AmdSmiLibraryException(self.smi.amdsmi_wrapper.AMDSMI_STATUS_UNKNOWN_ERROR)
                    gpu.reads += 1
                    self._integrate(gpu)
                return gpu
        raise self.smi.AmdSmiLibraryException(self.smi.amdsmi_wrapper.AMDSMI_STATUS_INVAL)

    def now(self) -> float:
        return self.clock() - self.t0

    def _power(self, gpu: FakeAmdGpu, t: float) -> float:
        return float(gpu.power_w(t) if callable(gpu.power_w) else gpu.power_w)

    def _integrate(self, gpu: FakeAmdGpu) -> None:
        t1 = self.now()
        t0, gpu._t = gpu._t, t1
        if t1 <= t0:
            return
        steps = 1 if not callable(gpu.power_w) else max(1, math.ceil((t1 - t0) / 1e-3))
        h = (t1 - t0) / steps
        gpu._energy_uj += sum(self._power(gpu, t0 + (k + 0.5) * h) for k in range(steps)) * h * 1e6

    def counts(self, gpu: FakeAmdGpu) -> int:
        raw = gpu.counts_at_start + int(gpu._energy_uj / gpu.resolution_uj)
        return raw % (2 ** gpu.wrap_bits)

    def _unsupported(self) -> Exception:
        return self.smi.AmdSmiLibraryException(self.smi.amdsmi_wrapper.AMDSMI_STATUS_NOT_SUPPORTED)

    # ---- patched interface functions (names as in amdsmi)
    def amdsmi_init(self, flag=None) -> None:
        self._call("amdsmi_init")
        if flag is not None and not isinstance(flag, self.smi.AmdSmiInitFlags):
            raise self.smi.AmdSmiParameterException(flag, self.smi.AmdSmiInitFlags)
        if self.init_error is not None:
            raise self.smi.AmdSmiLibraryException(self.init_error)
        self.refcount += 1

    def amdsmi_shut_down(self) -> None:
        self._call("amdsmi_shut_down")
        self.refcount -= 1

    def amdsmi_get_processor_handles(self) -> list:
        self._call("amdsmi_get_processor_handles")
        return list(self.handles)

    def amdsmi_get_gpu_asic_info(self, handle) -> dict:
        self._call("amdsmi_get_gpu_asic_info")
        gpu = self._gpu(handle)
        return {"market_name": gpu.name, "vendor_id": 0x1002, "vendor_name": "Advanced Micro Devices Inc. [AMD/ATI]",
                "subvendor_id": "0x1002", "device_id": 0x74a1, "rev_id": "0x00", "asic_serial": "0xABCD",
                "oam_id": 0}

    def amdsmi_get_gpu_device_uuid(self, handle) -> str:
        self._call("amdsmi_get_gpu_device_uuid")
        return self._gpu(handle).uuid

    def amdsmi_get_energy_count(self, handle) -> dict:
        self._call("amdsmi_get_energy_count")
        gpu = self._gpu(handle)
        if not gpu.supports_counter:
            raise self._unsupported()
        self._gpu(handle, query=True)
        counts = self.counts(gpu)
        if gpu.step_back_at is not None and not gpu._stepped and self.now() >= gpu.step_back_at:
            gpu._stepped = True
            counts = gpu._last_returned - 1000
        gpu._last_returned = counts
        key = "power" if self.api in ("6.0", "6.2") else "energy_accumulator"
        return {key: counts, "counter_resolution": gpu.resolution_uj, "timestamp": int(self.clock() * 1e9)}

    def amdsmi_get_power_info(self, handle, *args) -> dict:
        self._call("amdsmi_get_power_info")
        gpu = self._gpu(handle, query=True)
        watts = round(self._power(gpu, self.now()))
        na = 0xFFFF if self.api == "6.0" else "N/A"
        info = {"current_socket_power": watts if gpu.current_power else na, "average_socket_power": watts,
                "gfx_voltage": 800, "soc_voltage": 750, "mem_voltage": 1100, "power_limit": gpu.power_cap_uw // 10**6}
        if self.api == "7.0":
            info = {"socket_power": watts, **info}
        return info

    def amdsmi_get_temp_metric(self, handle, sensor_type, metric) -> int:
        self._call("amdsmi_get_temp_metric")
        smi, gpu = self.smi, self._gpu(handle)
        if not isinstance(sensor_type, smi.AmdSmiTemperatureType):
            raise smi.AmdSmiParameterException(sensor_type, smi.AmdSmiTemperatureType)
        if not isinstance(metric, smi.AmdSmiTemperatureMetric):
            raise smi.AmdSmiParameterException(metric, smi.AmdSmiTemperatureMetric)
        value = {
            (smi.AmdSmiTemperatureType.HOTSPOT, smi.AmdSmiTemperatureMetric.CURRENT): gpu.hotspot_c,
            (smi.AmdSmiTemperatureType.EDGE, smi.AmdSmiTemperatureMetric.CURRENT): gpu.edge_c,
            (smi.AmdSmiTemperatureType.HOTSPOT, smi.AmdSmiTemperatureMetric.CRITICAL): gpu.critical_c,
            (smi.AmdSmiTemperatureType.HOTSPOT, smi.AmdSmiTemperatureMetric.EMERGENCY): gpu.emergency_c,
        }.get((sensor_type, metric))
        if value is None:
            raise self._unsupported()
        return int(value)

    def amdsmi_get_power_cap_info(self, handle, *args) -> dict:
        self._call("amdsmi_get_power_cap_info")
        cap = self._gpu(handle).power_cap_uw
        return {"power_cap": cap, "default_power_cap": cap, "dpm_cap": 0, "min_power_cap": 0, "max_power_cap": cap}

    def amdsmi_get_gpu_activity(self, handle) -> dict:
        self._call("amdsmi_get_gpu_activity")
        gpu = self._gpu(handle)
        na = 0xFFFF if self.api == "6.0" else "N/A"
        return {"gfx_activity": na if gpu.gfx_activity is None else gpu.gfx_activity, "umc_activity": na,
                "mm_activity": na}

    def amdsmi_get_violation_status(self, handle) -> dict:
        self._call("amdsmi_get_violation_status")
        gpu = self._gpu(handle)
        out = {"reference_timestamp": int(self.clock() * 1e6), "acc_counter": 0}
        for key in ("active_prochot_thrm", "active_ppt_pwr", "active_socket_thrm", "active_vr_thrm",
                    "active_hbm_thrm"):
            out[key] = bool(gpu.violations.get(key, False))
        return out

    def amdsmi_get_gpu_metrics_info(self, handle) -> dict:
        self._call("amdsmi_get_gpu_metrics_info")
        gpu = self._gpu(handle)
        bits = gpu.throttle_bits
        return {"temperature_edge": gpu.edge_c, "temperature_hotspot": gpu.hotspot_c,
                "average_socket_power": round(self._power(gpu, self.now())),
                "throttle_status": bits if self.api == "6.0" else bool(bits)}


PATCHED = tuple(n for n in vars(FakeAmdSmi) if n.startswith("amdsmi_"))


def install(monkeypatch, devices: list[FakeAmdGpu] | None = None, *, api: str = "7.0",
            clock: Callable[[], float] | None = None, init_error: int | None = None) -> FakeAmdSmi:
    """Load the real ``amdsmi`` (stand-in library), patch its functions to talk to ``devices``; return the fake.

    Functions absent from ``api`` (``amdsmi_get_violation_status`` before 6.4) are removed from the module.
    """
    from eco_magic.sensors import amd

    smi = load_amdsmi(monkeypatch)
    now = [0.0]
    fake = FakeAmdSmi(smi, [FakeAmdGpu()] if devices is None else devices, api,
                      clock or (lambda: now[0]), init_error)
    fake.manual_time = now  # advance with fake.manual_time[0] += seconds when no clock was given
    for name in PATCHED:
        monkeypatch.setattr(smi, name, getattr(fake, name), raising=False)
    if api in ("6.0", "6.2"):
        monkeypatch.delattr(smi, "amdsmi_get_violation_status", raising=False)
    monkeypatch.setattr(amd, "gpu_absence", lambda: None)  # the fake GPU "is there"
    return fake
