"""NVIDIA GPUs through NVML, using NVIDIA's official binding ``nvidia-ml-py`` (``import pynvml``).

One :class:`NvidiaGpuSensor` per visible GPU. ``pynvml`` is imported lazily, inside :func:`discover`, so that
``import eco_magic`` stays light.

What is read, and in which unit NVML gives it (converted to SI here, at the boundary):

energy   ``nvmlDeviceGetTotalEnergyConsumption`` — cumulative mJ since the driver loaded; Volta and newer.
         Used whenever the call works at discovery (method ``counter``). Otherwise the sampler integrates power
         (method ``integrated``); we never report 0 J for a GPU that drew power.
power    ``nvmlDeviceGetFieldValues([NVML_FI_DEV_POWER_INSTANT])`` in mW (R535+ drivers), else the 1-s average
         field, else ``nvmlDeviceGetPowerUsage`` in mW — a 1-s trailing average on Ampere (except GA100) and newer,
         instantaneous before. ``details["power_field"]`` says which one: ``instant``, ``average_1s``,
         ``usage_average_1s`` or ``usage_instant``. Grace Hopper boards answer only at module scope (GPU + Grace
         CPU); we fall back to it last and label it (``details["power_scope"] == "module"``).
temp     ``nvmlDeviceGetTemperatureV`` (legacy ``nvmlDeviceGetTemperature`` is deprecated in nvidia-ml-py 13), °C.
throttle ``nvmlDeviceGetCurrentClocksEventReasons`` (older name ``…ThrottleReasons``), a bitmask.
util     ``nvmlDeviceGetUtilizationRates(h).gpu``, percent of the last 1/6–1 s sample period.

Readings are whole-device: they include other processes and, on MIG, every slice of the parent GPU.
Sources: NVML API reference and nvml.h; nvidia-ml-py 13.615.71 ``pynvml.py``; see
``research/measurement.md`` §1 and §11 for the facts behind each choice.
"""
from __future__ import annotations

import os
import re
import sys
import threading
from typing import Any, Callable, Mapping

from .base import DeviceInfo, Discovery, ProbeNote, Sample, SensorError

NOTE_SOURCE = "nvidia"

#: Name tokens of datacenter GPUs (matched as whole words, one trailing letter allowed: "A10G", "L40S",
#: "V100S"). Workstation (Quadro / RTX A-series) and GeForce boards are deliberately absent. Used for the
#: PUE tier (datacenter GPU 1.4 vs consumer GPU 1.2, ML-EcoLyzer paper).
DATACENTER_GPU_NAMES = (
    "Tesla",
    "K80", "M40", "M60", "P4", "P40", "P100", "V100", "T4",
    "A2", "A10", "A16", "A30", "A40", "A100", "A800",
    "L4", "L20", "L40",
    "H20", "H100", "H200", "H800", "GH200",
    "B100", "B200", "B300", "GB200", "GB300",
)

#: ``nvmlDeviceGetBrand`` values that mark a datacenter board: the Tesla brand, the plain "NVIDIA" brand
#: that datacenter parts report since the Tesla name was dropped, and vGPU for compute.
DATACENTER_BRANDS = ("NVML_BRAND_TESLA", "NVML_BRAND_NVIDIA", "NVML_BRAND_NVIDIA_VCS")

#: Ampere boards built on GA100, whose ``nvmlDeviceGetPowerUsage`` is still instantaneous (NVML docs).
GA100_NAMES = ("A100", "A800", "A30")

#: NVML architecture codes (``NVML_DEVICE_ARCH_*`` in nvidia-ml-py 13.615.71) to lowercase names.
ARCHITECTURES = {
    2: "kepler", 3: "maxwell", 4: "pascal", 5: "volta", 6: "turing",
    7: "ampere", 8: "ada", 9: "hopper", 10: "blackwell", 13: "rubin",
}
_AMPERE = 7

#: Clocks-event bits we report, as (our name, pynvml constant, value in nvml.h).
THROTTLE_REASONS = (
    ("sw_power_cap", "nvmlClocksEventReasonSwPowerCap", 0x04),
    ("hw_slowdown", "nvmlClocksEventReasonHwSlowdown", 0x08),
    ("sw_thermal_slowdown", "nvmlClocksEventReasonSwThermalSlowdown", 0x20),
    ("hw_thermal_slowdown", "nvmlClocksEventReasonHwThermalSlowdown", 0x40),
    ("hw_power_brake_slowdown", "nvmlClocksEventReasonHwPowerBrakeSlowdown", 0x80),
)

_FI_POWER_AVERAGE, _FI_POWER_INSTANT = 185, 186  # nvml.h field ids, used if the binding lacks the names

#: Nominal seconds between two updates of the total-energy counter ("approximately every 100 ms", ml.energy;
#: PETSc: "every 20–100 ms"). The sampler finds the real update instants by polling; this only sizes its waits.
COUNTER_UPDATE_S = 0.1
_INSTANT = ("instant", "usage_instant")  # power paths that read the present, not a 1-s trailing average
_SCOPE_GPU, _SCOPE_MODULE = 0, 1


def _name_pattern(names: tuple[str, ...]) -> "re.Pattern[str]":
    alternatives = "|".join(sorted((re.escape(n) for n in names), key=len, reverse=True))
    return re.compile(rf"(?<![A-Za-z0-9])(?:{alternatives})[A-Za-z]?(?![A-Za-z0-9])", re.IGNORECASE)


_DATACENTER_RE = _name_pattern(DATACENTER_GPU_NAMES)
_GA100_RE = _name_pattern(GA100_NAMES)


def is_datacenter_gpu(name: str, brand: int | None = None, nvml: Any = None) -> bool:
    """True when ``name`` carries a :data:`DATACENTER_GPU_NAMES` token or ``brand`` is a datacenter brand.

    ``nvml`` is the ``pynvml`` module, needed only to resolve :data:`DATACENTER_BRANDS` to numbers.
    """
    if _DATACENTER_RE.search(name or ""):
        return True
    if brand is None or nvml is None:
        return False
    return brand in {getattr(nvml, b) for b in DATACENTER_BRANDS if hasattr(nvml, b)}


def throttle_names(mask: int, nvml: Any = None) -> tuple[str, ...]:
    """Decode a clocks-event bitmask into names from :data:`THROTTLE_REASONS` (other bits are ignored)."""
    names = []
    for name, constant, default in THROTTLE_REASONS:
        bit = getattr(nvml, constant, default) if nvml is not None else default
        if mask & bit:
            names.append(name)
    return tuple(names)


def sync_cuda() -> str | None:
    """Wait for queued GPU work of frameworks the user already initialised, so the energy read after a cell
    includes it. Returns ``"torch"``, ``"cupy"``, ``"torch+cupy"`` or ``None`` when nothing was synced.

    Never imports torch or cupy and never creates a CUDA context: torch is synced only when
    ``torch.cuda.is_initialized()``, cupy only when the calling thread has a current CUDA context. Only the
    current device is synced (syncing another device could create a context on it). Call it from the thread
    that ran the user's code. Never raises.
    """
    synced = []
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            cuda = torch.cuda
            if cuda.is_available() and cuda.is_initialized():
                cuda.synchronize()
                synced.append("torch")
        except Exception:
            pass
    cupy = sys.modules.get("cupy")
    if cupy is not None:
        try:
            if cupy.cuda.driver.ctxGetCurrent():  # 0 when this thread has no context; creates none
                cupy.cuda.runtime.deviceSynchronize()
                synced.append("cupy")
        except Exception:
            pass
    return "+".join(synced) or None


# --------------------------------------------------------------------------------------------- discovery


def discover(env: Mapping[str, str] | None = None) -> Discovery:
    """Find the visible NVIDIA GPUs; one :class:`NvidiaGpuSensor` each. Never raises.

    ``env`` defaults to ``os.environ``; ``CUDA_VISIBLE_DEVICES`` there restricts and orders the GPUs:
    integers are taken as NVML indices (equal to CUDA's only with ``CUDA_DEVICE_ORDER=PCI_BUS_ID``),
    ``GPU-<uuid>`` (or a unique prefix) matches by UUID, ``MIG-…`` selects the whole parent GPU, and the
    first invalid entry ends the list, as in CUDA. An empty value hides every GPU.
    """
    try:
        return _discover(os.environ if env is None else env)
    except Exception as exc:  # a bug or a binding we do not know: degrade, never break the cell
        return Discovery(notes=[ProbeNote(NOTE_SOURCE, f"NVML probe failed ({type(exc).__name__}: {exc})")])


#: Where the NVIDIA kernel driver shows itself on Linux, and the library NVML is loaded from.
_DRIVER_PATHS = ("/proc/driver/nvidia", "/dev/nvidiactl")
_NVML_LIBRARY = "libnvidia-ml.so.1"


def driver_absence() -> str | None:
    """Why no NVIDIA driver can answer on this machine, or ``None`` when one may (then NVML decides).

    Importing ``pynvml`` costs ~110 ms (issue 16), paid in the background discovery that the first measured cell
    waits for; on the many machines without an NVIDIA driver it is skipped. Linux: the kernel driver shows
    ``/proc/driver/nvidia`` or ``/dev/nvidiactl``; failing both (WSL2 has neither), the NVML library itself must
    load (``dlopen`` of libnvidia-ml.so.1, ~0.1 ms when absent). macOS has no NVIDIA driver. Elsewhere
    (Windows) NVML's own init decides.
    """
    if sys.platform == "darwin":
        return "no NVIDIA driver on macOS"
    if not sys.platform.startswith("linux"):
        return None
    if any(os.path.exists(p) for p in _DRIVER_PATHS):
        return None
    import ctypes

    try:
        ctypes.CDLL(_NVML_LIBRARY)
    except OSError:
        return (f"no NVIDIA driver (no {' or '.join(_DRIVER_PATHS)}, {_NVML_LIBRARY} not loadable); "
                "nvidia-ml-py not imported")
    return None


def _discover(env: Mapping[str, str]) -> Discovery:
    found = Discovery()
    note = lambda message, hint=None: found.notes.append(ProbeNote(NOTE_SOURCE, message, hint))  # noqa: E731
    absent = driver_absence()
    if absent is not None:
        note(absent)
        return found
    try:
        import pynvml as nv
    except ImportError:
        note("nvidia-ml-py not installed", "pip install nvidia-ml-py")
        return found
    if not hasattr(nv, "_nvmlGetFunctionPointer"):
        note("unofficial pynvml bindings installed",
             "pip uninstall pynvml nvidia-ml-py3, then pip install nvidia-ml-py")
        return found
    visible = env.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and not visible.strip():
        note("CUDA_VISIBLE_DEVICES is empty: no GPU visible")
        return found
    try:
        nv.nvmlInit()
    except (nv.NVMLError_LibraryNotFound, nv.NVMLError_DriverNotLoaded):
        note("no NVIDIA driver")
        return found
    except nv.NVMLError as exc:
        note(f"NVML init failed: {exc}")
        return found
    except OSError as exc:
        note(f"NVML could not be loaded: {exc}")
        return found
    try:
        devices = []
        for index in range(nv.nvmlDeviceGetCount()):
            try:
                handle = nv.nvmlDeviceGetHandleByIndex(index)
                devices.append((index, handle, _text(nv.nvmlDeviceGetUUID(handle))))
            except nv.NVMLError as exc:
                note(f"GPU {index} skipped: {exc}")
        if not devices:
            note("NVML reports no usable GPU")
        for index, handle, mig in _select(nv, visible, devices, note):
            sensor = _open(nv, index, handle, mig, note)
            if sensor is not None:
                found.sensors.append(sensor)
    finally:
        try:
            nv.nvmlShutdown()  # each sensor holds its own nvmlInit reference
        except Exception:
            pass
    return found


def _select(nv, visible: str | None, devices: list, note: Callable) -> list[tuple[int, Any, bool]]:
    """Apply CUDA_VISIBLE_DEVICES to ``[(nvml_index, handle, uuid)]``; returns ``[(index, handle, via_mig)]``."""
    if visible is None:
        return [(index, handle, False) for index, handle, _ in devices]
    by_index = {index: (index, handle) for index, handle, _ in devices}
    chosen: dict[int, tuple[int, Any, bool]] = {}
    for entry in (e.strip() for e in visible.split(",")):
        hit, mig = None, False
        if entry.isdigit():
            hit = by_index.get(int(entry))
        elif entry.upper().startswith("GPU-"):
            hit = _by_uuid_prefix(entry, devices)
        elif entry.upper().startswith("MIG-"):
            hit, mig = _mig_parent(nv, entry, devices), True
        if hit is None:
            note(f"CUDA_VISIBLE_DEVICES entry {entry!r} is not a visible GPU; later entries ignored")
            break
        if hit[0] not in chosen:
            chosen[hit[0]] = (hit[0], hit[1], mig)
    return list(chosen.values())


def _by_uuid_prefix(prefix: str, devices: list) -> tuple[int, Any] | None:
    matches = [(i, h) for i, h, uuid in devices if uuid.lower().startswith(prefix.lower())]
    return matches[0] if len(matches) == 1 else None


def _mig_parent(nv, entry: str, devices: list) -> tuple[int, Any] | None:
    """Parent GPU of a MIG identifier: ``MIG-GPU-<uuid>/<gi>/<ci>`` (old drivers) or ``MIG-<uuid>``."""
    if entry.upper().startswith("MIG-GPU-"):
        return _by_uuid_prefix(entry[4:].split("/")[0], devices)
    try:
        parent = nv.nvmlDeviceGetDeviceHandleFromMigDeviceHandle(nv.nvmlDeviceGetHandleByUUID(entry))
        return _by_uuid_prefix(_text(nv.nvmlDeviceGetUUID(parent)), devices)
    except (nv.NVMLError, AttributeError):
        return None


def _open(nv, index: int, handle: Any, via_mig: bool, note: Callable) -> "NvidiaGpuSensor | None":
    """Probe one GPU once, decide how to read it, and build its sensor (or a note saying why not)."""
    try:
        name = _text(nv.nvmlDeviceGetName(handle))
        uuid = _text(nv.nvmlDeviceGetUUID(handle))
    except nv.NVMLError as exc:
        note(f"GPU {index} skipped: {exc}")
        return None
    arch_code = _try(nv, nv.nvmlDeviceGetArchitecture, handle)
    counter_mj = _try(nv, nv.nvmlDeviceGetTotalEnergyConsumption, handle)
    power = _choose_power(nv, handle, arch_code, name)
    if counter_mj is None and power is None:
        note(f"GPU {index} ({name}) skipped: NVML gives neither an energy counter nor power")
        return None
    mig = via_mig or _mig_enabled(nv, handle)
    if mig:
        note(f"GPU {index} ({name}): MIG slice: whole-device readings")
    if counter_mj is not None:
        method, source = "counter", "NVML total-energy counter"
    else:
        method, source = "integrated", f"NVML {power.describe()}, integrated over time"
    details = {
        "uuid": uuid,
        "nvml_index": index,
        "architecture": ARCHITECTURES.get(arch_code, "unknown"),
        "power_field": power.label if power else None,
        "power_scope": power.scope_name if power else None,
        "power_limit_w": _milli(_try(nv, nv.nvmlDeviceGetEnforcedPowerLimit, handle)),
        "slowdown_temp_c": _threshold(nv, handle, "NVML_TEMPERATURE_THRESHOLD_SLOWDOWN", 1),
        "shutdown_temp_c": _threshold(nv, handle, "NVML_TEMPERATURE_THRESHOLD_SHUTDOWN", 0),
        "datacenter": is_datacenter_gpu(name, _try(nv, nv.nvmlDeviceGetBrand, handle), nv),
        "mig": mig,
    }
    if counter_mj is not None and COUNTER_UPDATE_S:
        details["counter_update_s"] = COUNTER_UPDATE_S
        details["edges"] = ("aligned to counter updates" if power is not None and power.label in _INSTANT
                            else "not aligned (no instant power)")
    info = DeviceInfo(key=f"gpu:{index}", kind="gpu", name=name, method=method, source=source,
                      scope="device", details=details)
    try:
        nv.nvmlInit()  # the sensor's own reference, released by close()
    except nv.NVMLError as exc:
        note(f"GPU {index} skipped: {exc}")
        return None
    return NvidiaGpuSensor(nv, handle, info, counter_mj=counter_mj, power=power,
                           temperature=_choose(nv, handle, _TEMPERATURE_CALLS),
                           throttle=_choose(nv, handle, _THROTTLE_CALLS),
                           utilisation=_choose(nv, handle, _UTILISATION_CALLS))


class _PowerPath:
    """One way of reading power, decided at discovery: a field (id, scope) or ``nvmlDeviceGetPowerUsage``."""

    def __init__(self, label: str, field_id: int | None = None, scope: int = _SCOPE_GPU):
        self.label, self.field_id, self.scope = label, field_id, scope
        self.scope_name = "module" if scope == _SCOPE_MODULE else "gpu"

    def describe(self) -> str:
        what = {"instant": "instant-power field", "average_1s": "1-s average power field",
                "usage_instant": "nvmlDeviceGetPowerUsage (instantaneous)",
                "usage_average_1s": "nvmlDeviceGetPowerUsage (1-s average)"}[self.label]
        return what + (" at module scope (GPU + CPU)" if self.scope == _SCOPE_MODULE else "")

    def read_w(self, nv, handle) -> float:
        if self.field_id is None:
            return nv.nvmlDeviceGetPowerUsage(handle) / 1000.0
        value = nv.nvmlDeviceGetFieldValues(handle, [(self.field_id, self.scope)])[0]
        if value.nvmlReturn != nv.NVML_SUCCESS:
            raise nv.NVMLError(value.nvmlReturn)
        return _field_number(nv, value) / 1000.0


def _choose_power(nv, handle, arch_code: int | None, name: str) -> _PowerPath | None:
    """First power reading that answers: GPU-scope fields, then PowerUsage, then module-scope fields.

    PowerUsage (GPU only) comes before the module scope because module power includes the Grace CPU,
    which a CPU sensor may already count.
    """
    instant = getattr(nv, "NVML_FI_DEV_POWER_INSTANT", _FI_POWER_INSTANT)
    average = getattr(nv, "NVML_FI_DEV_POWER_AVERAGE", _FI_POWER_AVERAGE)
    # PowerUsage averages over 1 s on Ampere+ except GA100; an unknown architecture is assumed recent.
    averaged = arch_code not in ARCHITECTURES or (arch_code >= _AMPERE and not _GA100_RE.search(name))
    candidates = [_PowerPath("instant", instant), _PowerPath("average_1s", average),
                  _PowerPath("usage_average_1s" if averaged else "usage_instant"),
                  _PowerPath("instant", instant, _SCOPE_MODULE), _PowerPath("average_1s", average, _SCOPE_MODULE)]
    for path in candidates:
        try:
            path.read_w(nv, handle)
            return path
        except (nv.NVMLError, AttributeError, TypeError, IndexError):
            continue
    return None


# Optional quantities: alternative calls, tried in order at discovery; the first that answers is kept.
_TEMPERATURE_CALLS = (
    lambda nv, h: _temperature_value(nv.nvmlDeviceGetTemperatureV(h, nv.NVML_TEMPERATURE_GPU)),
    lambda nv, h: float(nv.nvmlDeviceGetTemperature(h, nv.NVML_TEMPERATURE_GPU)),
)
_THROTTLE_CALLS = (
    lambda nv, h: throttle_names(nv.nvmlDeviceGetCurrentClocksEventReasons(h), nv),
    lambda nv, h: throttle_names(nv.nvmlDeviceGetCurrentClocksThrottleReasons(h), nv),
)
_UTILISATION_CALLS = (lambda nv, h: float(nv.nvmlDeviceGetUtilizationRates(h).gpu),)


def _choose(nv, handle, calls: tuple) -> Callable | None:
    """First call that works; on FunctionNotFound / NotSupported / a missing binding try the next one.
    Another error (a transient one) keeps the current call. None when nothing is supported."""
    for call in calls:
        try:
            call(nv, handle)
            return call
        except AttributeError:
            continue
        except nv.NVMLError as exc:
            if not _unsupported(nv, exc):
                return call
    return None


# ------------------------------------------------------------------------------------------------ sensor


class NvidiaGpuSensor:
    """One NVIDIA GPU. Built by :func:`discover`; holds one NVML init reference until :meth:`close`.

    ``read`` returns cumulative energy since the sensor was opened (J, counter path only), power (W),
    temperature (°C), utilisation (%) and active slowdown reasons. Energy or power failing raises
    :class:`SensorError`; temperature, utilisation or throttle failing leaves that field ``None`` / empty.
    """

    def __init__(self, nvml: Any, handle: Any, info: DeviceInfo, *, counter_mj: int | None,
                 power: _PowerPath | None, temperature: Callable | None = None,
                 throttle: Callable | None = None, utilisation: Callable | None = None):
        self.info = info
        #: Seconds between counter updates when the sampler may align the cell's boundaries to them (a counter
        #: and an instant power reading to attribute the partial intervals); ``None`` otherwise.
        self.edge_period_s = (COUNTER_UPDATE_S if COUNTER_UPDATE_S and counter_mj is not None and power is not None
                              and power.label in _INSTANT else None)
        self._nv, self._handle = nvml, handle
        self._counter_at_open_mj = counter_mj
        self._last_energy_j = 0.0
        self._power = power
        self._optional = {"temp": temperature, "throttle": throttle, "util": utilisation}
        self._lock = threading.Lock()
        self._closed = False

    def read(self, t_s: float) -> Sample:
        with self._lock:
            if self._closed:
                raise SensorError(f"{self.info.key} is closed")
            nv, h = self._nv, self._handle
            try:
                energy_j = self._read_energy_j() if self._counter_at_open_mj is not None else None
            except nv.NVMLError as exc:
                raise SensorError(self._message(exc, "energy counter")) from exc
            try:
                power_w = self._power.read_w(nv, h) if self._power is not None else None
            except nv.NVMLError as exc:
                raise SensorError(self._message(exc, "power")) from exc
            temp_c = self._read_optional("temp")
            util_pct = self._read_optional("util")
            throttle = self._read_optional("throttle") or ()
        return Sample(t_s=t_s, energy_j=energy_j, power_w=power_w, temp_c=temp_c, util_pct=util_pct,
                      throttle=throttle)

    def read_edge(self, t_s: float) -> tuple[float, float | None]:
        """``(energy_j, power_w)`` only: the cheap read the sampler polls near a cell's boundaries to find the
        counter's update instants (two NVML calls instead of five). Raises :class:`SensorError`."""
        with self._lock:
            if self._closed or self._counter_at_open_mj is None:
                raise SensorError(f"{self.info.key} has no open energy counter")
            nv = self._nv
            try:
                energy_j = self._read_energy_j()
                power_w = self._power.read_w(nv, self._handle) if self._power is not None else None
            except nv.NVMLError as exc:
                raise SensorError(self._message(exc, "energy counter or power")) from exc
        return energy_j, power_w

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._nv.nvmlShutdown()
            except Exception:
                pass

    def _read_energy_j(self) -> float:
        counter_mj = self._nv.nvmlDeviceGetTotalEnergyConsumption(self._handle)
        energy_j = (counter_mj - self._counter_at_open_mj) / 1000.0
        if energy_j < self._last_energy_j:
            raise SensorError(f"{self.info.key}: NVML energy counter went backwards (driver reloaded?)")
        self._last_energy_j = energy_j
        return energy_j

    def _read_optional(self, quantity: str) -> Any:
        call = self._optional[quantity]
        if call is None:
            return None
        try:
            return call(self._nv, self._handle)
        except self._nv.NVMLError as exc:
            if isinstance(exc, self._nv.NVMLError_GpuIsLost):
                raise SensorError(self._message(exc, quantity)) from exc
            if _unsupported(self._nv, exc):
                self._optional[quantity] = None  # stop asking
            return None

    def _message(self, exc: Exception, what: str) -> str:
        if isinstance(exc, self._nv.NVMLError_GpuIsLost):
            return "GPU is lost (NVML)"
        return f"{self.info.key}: NVML {what} read failed: {exc}"

    def __repr__(self) -> str:
        return f"NvidiaGpuSensor({self.info.key!r}, {self.info.name!r}, method={self.info.method!r})"


# ----------------------------------------------------------------------------------------------- helpers


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, (bytes, bytearray)) else str(value)


def _try(nv, call: Callable, *args) -> Any:
    """``call(*args)``, or None when NVML refuses or the binding lacks it."""
    try:
        return call(*args)
    except (nv.NVMLError, AttributeError):
        return None


def _milli(value: float | None) -> float | None:
    return None if value is None else value / 1000.0


def _threshold(nv, handle, constant: str, default: int) -> float | None:
    celsius = _try(nv, lambda: nv.nvmlDeviceGetTemperatureThreshold(handle, getattr(nv, constant, default)))
    return float(celsius) if celsius else None


def _mig_enabled(nv, handle) -> bool:
    modes = _try(nv, nv.nvmlDeviceGetMigMode, handle)
    return bool(modes) and modes[0] == getattr(nv, "NVML_DEVICE_MIG_ENABLE", 1)


def _temperature_value(value: Any) -> float:
    return float(getattr(value, "temperature", value))  # some bindings may hand back the v1 struct


def _unsupported(nv, exc: Exception) -> bool:
    return isinstance(exc, (nv.NVMLError_NotSupported, nv.NVMLError_FunctionNotFound))


_VALUE_MEMBERS = {0: "dVal", 1: "uiVal", 2: "ulVal", 3: "ullVal", 4: "sllVal", 5: "siVal", 6: "usVal"}


def _field_number(nv, field_value: Any) -> float:
    """The number in an ``nvmlFieldValue_t``, read from the union member its ``valueType`` names."""
    return float(getattr(field_value.value, _VALUE_MEMBERS.get(field_value.valueType, "uiVal")))
