"""A fake NVIDIA driver behind the real ``pynvml`` module (nvidia-ml-py), for tests without a GPU.

:func:`install` patches the functions of the installed ``pynvml`` module with ``monkeypatch`` (undone at the
end of the test), so code under test imports and calls the real binding, gets real ``NVMLError_*``
exceptions and real ``c_nvmlFieldValue_t`` structs, but talks to :class:`FakeGpu` objects instead of a driver.

    from tests.fake_nvml import FakeGpu, install

    def test_something(monkeypatch):
        fake = install(monkeypatch, [FakeGpu(name="NVIDIA H100 80GB HBM3", power_w=300.0)])
        sensors = nvidia.discover(env={}).sensors
        fake.advance(2.0)                      # 2 s pass: the energy counter grows by 600 J

Time: the fake has its own clock, a :class:`ManualClock` starting at 0 s unless you pass ``clock=`` (any
zero-argument callable returning seconds, e.g. a sampler test's fake clock or ``time.monotonic``). Power
callables receive seconds since :func:`install`. Energy is integrated lazily, at each query, from the power
(exactly for a constant power, by 1-ms midpoint steps for a callable). All power queries return the current
power: the fake does not model NVML's 1-s averaging.

Counter update timing: by default the energy counter follows the true energy continuously. With
``FakeGpu(counter_update_s=0.1, counter_jitter=0.1)`` it behaves like NVML's, which moves about every 100 ms
(measurement.md §1.3): it changes only at update instants, each interval drawn from 0.1 s × U(0.9, 1.1), the
first one at a random phase (``counter_seed`` makes the draws reproducible), and shows the true energy at the
last update. Instant power stays exact at every instant. When no device has update timing, :func:`install`
tells eco_magic the counter has no update period (``nvidia.COUNTER_UPDATE_S = None``), so the sampler does not
align cell boundaries to updates that never come.

Reads: every energy or power query on a device (``nvmlDeviceGetTotalEnergyConsumption``, a power field in
``nvmlDeviceGetFieldValues``, ``nvmlDeviceGetPowerUsage``) adds one to ``FakeGpu.reads``, discovery's probes
included. Set ``fail_after_reads`` / ``lost_after_reads`` relative to it (``gpu.lost_after_reads =
gpu.reads``: the next query finds the GPU lost). FakeGpu fields may be changed at any time during a test.

Every call is counted in ``FakeNvml.calls`` (a Counter of function names); NVML's init reference count is
``FakeNvml.refcount``. Anything the fake does not patch answers ``NVMLError_FunctionNotFound``, as an old
driver would, so no test ever loads a real ``libnvidia-ml``.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

import pynvml

Number = float | int


class ManualClock:
    """A clock that moves only when told: ``clock()`` → seconds; ``clock.advance(dt)``."""

    def __init__(self, start_s: float = 0.0):
        self.now_s = float(start_s)

    def __call__(self) -> float:
        return self.now_s

    def advance(self, dt_s: float) -> None:
        if dt_s < 0:
            raise ValueError("time only moves forward")
        self.now_s += dt_s


@dataclass
class FakeGpu:
    """One fake GPU. Units follow eco_magic (W, J, °C); the fake converts to NVML's mW / mJ.

    ``None`` for temp_c, util_pct, brand, power_limit_w or a threshold makes that query NotSupported.
    """

    name: str = "NVIDIA H100 80GB HBM3"
    uuid: str | None = None                 # default: a fake UUID derived from the index
    arch: str | int = "hopper"              # a name ("volta", "ampere", ...) or an NVML_DEVICE_ARCH_* code
    power_w: Number | Callable[[float], Number] = 100.0
    energy_at_start_j: float = 50_000.0     # counter value at install ("since driver load")
    supports_counter: bool = True           # nvmlDeviceGetTotalEnergyConsumption (Volta+)
    supports_instant: bool = True           # NVML_FI_DEV_POWER_INSTANT at GPU scope (R535+ drivers)
    supports_average_field: bool = False    # NVML_FI_DEV_POWER_AVERAGE at GPU scope
    supports_usage: bool = True             # nvmlDeviceGetPowerUsage
    supports_module_power: bool = False     # power fields at module scope (Grace Hopper)
    module_extra_w: float = 0.0             # Grace CPU power added at module scope
    temp_c: Number | Callable[[float], Number] | None = 45.0
    supports_temperature_v: bool = True     # False: nvmlDeviceGetTemperatureV is FunctionNotFound
    slowdown_temp_c: int | None = 87
    shutdown_temp_c: int | None = 92
    util_pct: int | None = 30
    throttle_mask: int | Callable[[float], int] = 0
    supports_clocks_event_reasons: bool = True   # False: only the old ...ThrottleReasons name works
    brand: int | None = None
    power_limit_w: float | None = 700.0
    mig_enabled: bool = False
    mig_uuids: tuple[str, ...] = ()         # MIG-<uuid> identifiers of this GPU's slices
    name_as_bytes: bool = False             # old bindings returned bytes
    fail_after_reads: int | None = None     # energy/power queries after this many raise NVMLError_Unknown
    lost_after_reads: int | None = None     # every query after this many raises NVMLError_GpuIsLost
    counter_update_s: float | None = None   # None: the counter follows energy continuously; else the mean
                                            # seconds between its updates (NVML: ~0.1 s, measurement.md §1.3)
    counter_jitter: float = 0.0             # each update interval is counter_update_s × U(1 − j, 1 + j)
    counter_phase_s: float | None = None    # first update after install (default: drawn in one interval)
    counter_seed: int = 0                   # seed of the phase and the jitter draws (reproducible)
    reads: int = field(default=0, init=False)
    energy_j: float = field(default=0.0, init=False)   # the true energy, in J
    _t_s: float = field(default=0.0, init=False, repr=False)
    _counter_j: float = field(default=0.0, init=False, repr=False)    # what the counter shows (last update)
    _next_update_s: float = field(default=math.inf, init=False, repr=False)
    _rng: Any = field(default=None, init=False, repr=False)


class FakeHandle:
    """Opaque device handle, as NVML's ``c_nvmlDevice_t``; ``mig_uuid`` set for a MIG device handle."""

    def __init__(self, index: int, mig_uuid: str | None = None):
        self.index, self.mig_uuid = index, mig_uuid

    def __repr__(self) -> str:
        return f"FakeHandle({self.index}{', ' + self.mig_uuid if self.mig_uuid else ''})"


def _error(code: int) -> pynvml.NVMLError:
    return pynvml.NVMLError(code)


def _arch_code(arch: str | int) -> int:
    if isinstance(arch, int):
        return arch
    return getattr(pynvml, f"NVML_DEVICE_ARCH_{arch.upper()}")


class FakeNvml:
    """The fake driver: devices, clock, init reference count and call counts. Built by :func:`install`."""

    def __init__(self, devices: list[FakeGpu], clock: Callable[[], float] | None = None,
                 init_error: int | None = None):
        self.devices = list(devices)
        self.clock = clock if clock is not None else ManualClock()
        self.t0_s = self.clock()
        self.init_error = init_error
        self.refcount = 0
        self.calls: Counter[str] = Counter()
        for i, gpu in enumerate(self.devices):
            if gpu.uuid is None:
                gpu.uuid = f"GPU-{i:08x}-fa4e-4000-8000-{i:012x}"
            gpu.energy_j = gpu._counter_j = gpu.energy_at_start_j
            gpu._t_s = 0.0
            if gpu.counter_update_s is not None:
                import random

                gpu._rng = random.Random(gpu.counter_seed)
                phase = gpu.counter_phase_s
                gpu._next_update_s = gpu._rng.uniform(0.0, gpu.counter_update_s) if phase is None else phase

    # ---- time
    def now_s(self) -> float:
        """Seconds since install, on the fake's clock."""
        return self.clock() - self.t0_s

    def advance(self, dt_s: float) -> None:
        """Move the manual clock forward (only when the fake owns a :class:`ManualClock`)."""
        if not isinstance(self.clock, ManualClock):
            raise TypeError("advance() needs the default ManualClock; move your own clock instead")
        self.clock.advance(dt_s)

    # ---- device state
    def _gpu(self, handle: Any, *, query: bool = False) -> FakeGpu:
        if self.refcount <= 0:
            raise _error(pynvml.NVML_ERROR_UNINITIALIZED)
        if not isinstance(handle, FakeHandle) or not 0 <= handle.index < len(self.devices):
            raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        gpu = self.devices[handle.index]
        if gpu.lost_after_reads is not None and gpu.reads >= gpu.lost_after_reads:
            raise _error(pynvml.NVML_ERROR_GPU_IS_LOST)
        if query:
            if gpu.fail_after_reads is not None and gpu.reads >= gpu.fail_after_reads:
                raise _error(pynvml.NVML_ERROR_UNKNOWN)
            gpu.reads += 1
            self._integrate(gpu)
        return gpu

    @staticmethod
    def _value(spec: Any, t_s: float) -> Any:
        return spec(t_s) if callable(spec) else spec

    def _integrate(self, gpu: FakeGpu) -> None:
        """Bring the true energy up to now; with update timing, snapshot it at every update instant passed."""
        now = self.now_s()
        while gpu._next_update_s <= now:
            self._integrate_to(gpu, gpu._next_update_s)
            gpu._counter_j = gpu.energy_j
            step = gpu.counter_update_s * gpu._rng.uniform(1.0 - gpu.counter_jitter, 1.0 + gpu.counter_jitter)
            gpu._next_update_s += step
        self._integrate_to(gpu, now)
        if gpu.counter_update_s is None:
            gpu._counter_j = gpu.energy_j

    def counter_j(self, gpu: FakeGpu) -> float:
        """What the energy counter shows now (J): the true energy at its last update."""
        self._integrate(gpu)
        return gpu._counter_j

    def _integrate_to(self, gpu: FakeGpu, t1: float) -> None:
        t0, gpu._t_s = gpu._t_s, t1
        if t1 <= t0:
            return
        if not callable(gpu.power_w):
            gpu.energy_j += float(gpu.power_w) * (t1 - t0)
            return
        steps = max(1, math.ceil((t1 - t0) / 1e-3))
        dt = (t1 - t0) / steps
        gpu.energy_j += sum(float(gpu.power_w(t0 + (k + 0.5) * dt)) for k in range(steps)) * dt

    def power_w_now(self, gpu: FakeGpu) -> float:
        return float(self._value(gpu.power_w, self.now_s()))

    # ---- the patched NVML functions (names as in pynvml)
    def nvmlInit(self) -> None:
        self.calls["nvmlInit"] += 1
        if self.init_error is not None:
            raise _error(self.init_error)
        self.refcount += 1

    def nvmlInitWithFlags(self, flags: int) -> None:
        self.nvmlInit()

    def nvmlShutdown(self) -> None:
        self.calls["nvmlShutdown"] += 1
        if self.refcount <= 0:
            raise _error(pynvml.NVML_ERROR_UNINITIALIZED)
        self.refcount -= 1

    def nvmlDeviceGetCount(self) -> int:
        self.calls["nvmlDeviceGetCount"] += 1
        if self.refcount <= 0:
            raise _error(pynvml.NVML_ERROR_UNINITIALIZED)
        return len(self.devices)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeHandle:
        self.calls["nvmlDeviceGetHandleByIndex"] += 1
        handle = FakeHandle(index)
        self._gpu(handle)
        return handle

    def nvmlDeviceGetHandleByUUID(self, uuid: str | bytes) -> FakeHandle:
        self.calls["nvmlDeviceGetHandleByUUID"] += 1
        if self.refcount <= 0:
            raise _error(pynvml.NVML_ERROR_UNINITIALIZED)
        uuid = uuid.decode() if isinstance(uuid, bytes) else uuid
        for i, gpu in enumerate(self.devices):
            if uuid == gpu.uuid:
                return FakeHandle(i)
            if uuid in gpu.mig_uuids:
                return FakeHandle(i, mig_uuid=uuid)
        raise _error(pynvml.NVML_ERROR_NOT_FOUND)

    def nvmlDeviceGetDeviceHandleFromMigDeviceHandle(self, handle: FakeHandle) -> FakeHandle:
        self.calls["nvmlDeviceGetDeviceHandleFromMigDeviceHandle"] += 1
        self._gpu(handle)
        if handle.mig_uuid is None:
            raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return FakeHandle(handle.index)

    def nvmlDeviceIsMigDeviceHandle(self, handle: FakeHandle) -> bool:
        self.calls["nvmlDeviceIsMigDeviceHandle"] += 1
        self._gpu(handle)
        return handle.mig_uuid is not None

    def nvmlDeviceGetIndex(self, handle: FakeHandle) -> int:
        self.calls["nvmlDeviceGetIndex"] += 1
        self._gpu(handle)
        return handle.index

    def nvmlDeviceGetName(self, handle: FakeHandle) -> str | bytes:
        self.calls["nvmlDeviceGetName"] += 1
        gpu = self._gpu(handle)
        return gpu.name.encode() if gpu.name_as_bytes else gpu.name

    def nvmlDeviceGetUUID(self, handle: FakeHandle) -> str | bytes:
        self.calls["nvmlDeviceGetUUID"] += 1
        gpu = self._gpu(handle)
        uuid = handle.mig_uuid or gpu.uuid
        return uuid.encode() if gpu.name_as_bytes else uuid

    def nvmlDeviceGetArchitecture(self, handle: FakeHandle) -> int:
        self.calls["nvmlDeviceGetArchitecture"] += 1
        return _arch_code(self._gpu(handle).arch)

    def nvmlDeviceGetBrand(self, handle: FakeHandle) -> int:
        self.calls["nvmlDeviceGetBrand"] += 1
        return self._supported(self._gpu(handle).brand)

    def nvmlDeviceGetMigMode(self, handle: FakeHandle) -> list[int]:
        self.calls["nvmlDeviceGetMigMode"] += 1
        mode = int(self._gpu(handle).mig_enabled)
        return [mode, mode]

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: FakeHandle) -> int:
        self.calls["nvmlDeviceGetEnforcedPowerLimit"] += 1
        return round(self._supported(self._gpu(handle).power_limit_w) * 1000)

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: FakeHandle) -> int:
        self.calls["nvmlDeviceGetTotalEnergyConsumption"] += 1
        if not self._gpu(handle).supports_counter:
            raise _error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return math.floor(self._gpu(handle, query=True)._counter_j * 1000)  # mJ, uint64

    def nvmlDeviceGetPowerUsage(self, handle: FakeHandle) -> int:
        self.calls["nvmlDeviceGetPowerUsage"] += 1
        if not self._gpu(handle).supports_usage:
            raise _error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return round(self.power_w_now(self._gpu(handle, query=True)) * 1000)  # mW

    def nvmlDeviceGetFieldValues(self, handle: FakeHandle, field_ids: list) -> Any:
        """Real ``c_nvmlFieldValue_t`` array with a per-field ``nvmlReturn``, as the binding returns it."""
        self.calls["nvmlDeviceGetFieldValues"] += 1
        gpu = self._gpu(handle)
        values = (pynvml.c_nvmlFieldValue_t * len(field_ids))()
        for slot, spec in zip(values, field_ids):
            field_id, scope = spec if isinstance(spec, tuple) else (spec, 0)
            slot.fieldId, slot.scopeId = field_id, scope
            slot.timestamp = int(self.clock() * 1e6)
            slot.nvmlReturn = pynvml.NVML_ERROR_NOT_SUPPORTED
            if field_id not in (pynvml.NVML_FI_DEV_POWER_INSTANT, pynvml.NVML_FI_DEV_POWER_AVERAGE):
                continue
            supported = {
                (pynvml.NVML_FI_DEV_POWER_INSTANT, pynvml.NVML_POWER_SCOPE_GPU): gpu.supports_instant,
                (pynvml.NVML_FI_DEV_POWER_AVERAGE, pynvml.NVML_POWER_SCOPE_GPU): gpu.supports_average_field,
            }.get((field_id, scope), scope == pynvml.NVML_POWER_SCOPE_MODULE and gpu.supports_module_power)
            if not supported:
                continue
            try:
                self._gpu(handle, query=True)
            except pynvml.NVMLError as exc:
                slot.nvmlReturn = exc.value
                continue
            extra_w = gpu.module_extra_w if scope == pynvml.NVML_POWER_SCOPE_MODULE else 0.0
            slot.valueType = pynvml.NVML_VALUE_TYPE_UNSIGNED_INT
            slot.value.uiVal = round((self.power_w_now(gpu) + extra_w) * 1000)  # mW
            slot.nvmlReturn = pynvml.NVML_SUCCESS
        return values

    def nvmlDeviceGetTemperatureV(self, handle: FakeHandle, sensor: int,
                                  version: int = pynvml.nvmlTemperature_v1) -> int:
        self.calls["nvmlDeviceGetTemperatureV"] += 1
        if not self._gpu(handle).supports_temperature_v:
            raise _error(pynvml.NVML_ERROR_FUNCTION_NOT_FOUND)
        return self._temperature(handle, sensor)

    def nvmlDeviceGetTemperature(self, handle: FakeHandle, sensor: int) -> int:
        self.calls["nvmlDeviceGetTemperature"] += 1
        return self._temperature(handle, sensor)

    def _temperature(self, handle: FakeHandle, sensor: int) -> int:
        gpu = self._gpu(handle)
        if sensor != pynvml.NVML_TEMPERATURE_GPU:
            raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return round(self._supported(self._value(gpu.temp_c, self.now_s())))

    def nvmlDeviceGetTemperatureThreshold(self, handle: FakeHandle, threshold: int) -> int:
        self.calls["nvmlDeviceGetTemperatureThreshold"] += 1
        gpu = self._gpu(handle)
        value = {pynvml.NVML_TEMPERATURE_THRESHOLD_SLOWDOWN: gpu.slowdown_temp_c,
                 pynvml.NVML_TEMPERATURE_THRESHOLD_SHUTDOWN: gpu.shutdown_temp_c}.get(threshold)
        return self._supported(value)

    def nvmlDeviceGetUtilizationRates(self, handle: FakeHandle) -> Any:
        self.calls["nvmlDeviceGetUtilizationRates"] += 1
        gpu = self._gpu(handle)
        if gpu.mig_enabled:  # NVML: utilisation is not supported on MIG-enabled GPUs
            raise _error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        rates = pynvml.c_nvmlUtilization_t()
        rates.gpu, rates.memory = int(self._supported(gpu.util_pct)), 0
        return rates

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle: FakeHandle) -> int:
        self.calls["nvmlDeviceGetCurrentClocksEventReasons"] += 1
        gpu = self._gpu(handle)
        if not gpu.supports_clocks_event_reasons:
            raise _error(pynvml.NVML_ERROR_FUNCTION_NOT_FOUND)
        return int(self._value(gpu.throttle_mask, self.now_s()))

    def nvmlDeviceGetCurrentClocksThrottleReasons(self, handle: FakeHandle) -> int:
        self.calls["nvmlDeviceGetCurrentClocksThrottleReasons"] += 1
        return int(self._value(self._gpu(handle).throttle_mask, self.now_s()))

    def nvmlSystemGetDriverVersion(self) -> str:
        self.calls["nvmlSystemGetDriverVersion"] += 1
        return "999.99.fake"

    @staticmethod
    def _supported(value: Any) -> Any:
        if value is None:
            raise _error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return value


#: Names of the pynvml functions :func:`install` replaces.
PATCHED = tuple(name for name in vars(FakeNvml) if name.startswith("nvml"))


def _function_not_found(name: str) -> Any:
    raise _error(pynvml.NVML_ERROR_FUNCTION_NOT_FOUND)


def install(monkeypatch: Any, devices: list[FakeGpu] | None = None, *,
            clock: Callable[[], float] | None = None, init_error: int | None = None) -> FakeNvml:
    """Patch the real ``pynvml`` module to talk to ``devices``; return the :class:`FakeNvml`.

    ``devices`` defaults to one default :class:`FakeGpu`; pass ``[]`` for a driver with no GPU.
    ``init_error``: an ``NVML_ERROR_*`` code that ``nvmlInit`` raises, e.g.
    ``pynvml.NVML_ERROR_LIBRARY_NOT_FOUND`` for a machine without the NVIDIA driver.
    """
    from eco_magic.sensors import nvidia

    fake = FakeNvml([FakeGpu()] if devices is None else devices, clock=clock, init_error=init_error)
    monkeypatch.setattr(nvidia, "driver_absence", lambda: None)  # the fake driver is "installed"
    if not any(gpu.counter_update_s for gpu in fake.devices):
        # a counter that follows energy continuously has no update steps: nothing for the sampler to align to
        monkeypatch.setattr(nvidia, "COUNTER_UPDATE_S", None)
    for name in PATCHED:
        monkeypatch.setattr(pynvml, name, getattr(fake, name))
    monkeypatch.setattr(pynvml, "_nvmlGetFunctionPointer", _function_not_found)
    return fake
