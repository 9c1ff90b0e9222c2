"""AMD GPUs through AMD SMI's Python package ``amdsmi`` (optional extra ``eco_magic[amd]``; needs ROCm's
``libamd_smi.so``).

One :class:`AmdGpuSensor` per visible GPU. ``amdsmi`` is imported lazily, inside :func:`discover`, and only when
an AMD GPU driver shows itself (``/dev/kfd``, or a DRM card with PCI vendor 0x1002): on other machines nothing is
imported. Its import prints to stdout when ``libamd_smi.so`` cannot be loaded and then fails with ``KeyError``
(not ``ImportError``); both are contained here (stdout redirected, any exception turned into one note).

What is read (amdsmi 6.0–7.0 Python interface, ``amdsmi_interface.py``; units converted to SI here):

energy   ``amdsmi_get_energy_count(h)`` → ``{"energy_accumulator", "counter_resolution", "timestamp"}`` (ROCm
         ≥ 6.2.1; the accumulator was called ``"power"`` before). accumulator × resolution = µJ; the resolution is
         about 15.3 µJ per count. The accumulator is a 64-bit field, but some boards keep a 32-bit hardware count
         behind it: a decrease from the upper half of the 32-bit (or 64-bit) range to the lower half is a
         wraparound and adds 2³² (2⁶⁴) counts; any other decrease (ROCm/amdsmi#115: the counter can step back)
         is left out, never subtracted, and counted in ``details["counter_glitches"]``. Method ``counter``.
power    ``amdsmi_get_power_info(h)`` in W: ``"current_socket_power"`` (instantaneous; MI300 and newer),
         else ``"socket_power"`` (ROCm 7), else ``"average_socket_power"`` (the SMU's average). Values the
         library marks unsupported come as the string ``"N/A"``. Without an energy counter the sampler
         integrates this power (method ``integrated``).
temp     ``amdsmi_get_temp_metric(h, HOTSPOT, CURRENT)`` (junction), else ``EDGE``, in °C; the hotspot's
         ``CRITICAL`` and ``EMERGENCY`` metrics are the slowdown and shutdown thresholds.
throttle ``amdsmi_get_violation_status(h)`` (ROCm ≥ 6.4; MI300): the ``active_*`` flags — PROCHOT, package
         power (PPT), socket, voltage-regulator and HBM thermal limits; else ``amdsmi_get_gpu_metrics_info(h)``'s
         ``"throttle_status"`` (a bitmask before ROCm 7, a boolean since), reported as ``throttled``.
util     ``amdsmi_get_gpu_activity(h)["gfx_activity"]``, percent.

Readings are whole-device (other processes included). ``HIP_VISIBLE_DEVICES`` (else ``ROCR_VISIBLE_DEVICES``,
else ``CUDA_VISIBLE_DEVICES``) restricts the GPUs by integer index, as ROCm does. Sources: the ``amdsmi`` wheels
6.0.2, 6.2.4, 6.4.4 and 7.0.2 (``amdsmi_interface.py``); Zeus ``zeus/device/gpu/amd.py`` for the key rename.
"""
from __future__ import annotations

import contextlib
import glob
import importlib.util
import io
import os
import sys
import threading
from typing import Any, Callable, Mapping

from .base import DeviceInfo, Discovery, ProbeNote, Sample, SensorError

NOTE_SOURCE = "amd"
INSTALL_HINT = "pip install 'eco_magic[amd]' (uses ROCm's libamd_smi.so)"
_WRAP_32, _WRAP_64 = 2**32, 2**64

#: ``amdsmi_get_violation_status`` flags we report, as (our name, key).
VIOLATIONS = (
    ("prochot_thermal", "active_prochot_thrm"),
    ("power_cap", "active_ppt_pwr"),
    ("socket_thermal", "active_socket_thrm"),
    ("vr_thermal", "active_vr_thrm"),
    ("hbm_thermal", "active_hbm_thrm"),
)


def gpu_absence() -> str | None:
    """Why no AMD GPU driver can answer here, or ``None`` when one may. Decided without importing amdsmi."""
    if not sys.platform.startswith("linux"):
        return "AMD SMI runs on Linux only"
    if os.path.exists("/dev/kfd"):
        return None
    for vendor in glob.glob("/sys/class/drm/card*/device/vendor"):
        try:
            with open(vendor, encoding="ascii") as fh:
                if fh.read().strip().lower() == "0x1002":
                    return None
        except OSError:
            continue
    return "no AMD GPU (no /dev/kfd, no DRM card of vendor 0x1002)"


def discover(env: Mapping[str, str] | None = None) -> Discovery:
    """Find the visible AMD GPUs; one :class:`AmdGpuSensor` each. Never raises; notes say what is missing."""
    try:
        return _discover(os.environ if env is None else env)
    except Exception as exc:  # a bug or a library we do not know: degrade, never break the cell
        return Discovery(notes=[ProbeNote(NOTE_SOURCE, f"AMD SMI probe failed ({type(exc).__name__}: {exc})")])


def _import_amdsmi() -> tuple[Any, str | None]:
    """``(module, None)`` or ``(None, why)``; nothing printed (amdsmi prints when libamd_smi.so is missing)."""
    if "amdsmi" in sys.modules:
        return sys.modules["amdsmi"], None
    if importlib.util.find_spec("amdsmi") is None:
        return None, "amdsmi not installed"
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            import amdsmi
    except Exception as exc:  # KeyError / OSError when libamd_smi.so is missing, AttributeError on a mismatch
        return None, f"amdsmi could not load libamd_smi.so ({type(exc).__name__}: {exc})"
    return amdsmi, None


def _discover(env: Mapping[str, str]) -> Discovery:
    found = Discovery()
    note = lambda message, hint=None: found.notes.append(ProbeNote(NOTE_SOURCE, message, hint))  # noqa: E731
    absent = gpu_absence()
    if absent is not None:
        note(absent)
        return found
    smi, why = _import_amdsmi()
    if smi is None:
        note(why, INSTALL_HINT if "not installed" in why else "install ROCm's amd-smi-lib or set ROCM_PATH")
        return found
    try:
        smi.amdsmi_init(smi.AmdSmiInitFlags.INIT_AMD_GPUS)
    except smi.AmdSmiException as exc:
        note(f"AMD SMI init failed: {_error_text(exc)}")
        return found
    session = _Session(smi)
    session.acquire()  # held while probing, released below: the sensors hold the init from then on
    try:
        handles = list(smi.amdsmi_get_processor_handles())
        if not handles:
            note("AMD SMI reports no GPU")
        for index in _visible(env, len(handles), note):
            sensor = _open(smi, index, handles[index], note, session)
            if sensor is not None:
                found.sensors.append(sensor)
    finally:
        session.release()
    return found


def _visible(env: Mapping[str, str], count: int, note: Callable) -> list[int]:
    for var in ("HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES"):
        value = env.get(var)
        if value is None:
            continue
        chosen: list[int] = []
        for entry in (e.strip() for e in value.split(",") if e.strip()):
            if not entry.isdigit() or int(entry) >= count:
                note(f"{var} entry {entry!r} is not a visible AMD GPU; later entries ignored")
                break
            if int(entry) not in chosen:
                chosen.append(int(entry))
        return chosen
    return list(range(count))


def _open(smi, index: int, handle: Any, note: Callable, session: "_Session") -> "AmdGpuSensor | None":
    name = _try(smi, lambda: smi.amdsmi_get_gpu_asic_info(handle)["market_name"]) or f"AMD GPU {index}"
    counter = _EnergyCounter.probe(smi, handle)
    power = _choose_power(smi, handle)
    if counter is None and power is None:
        note(f"GPU {index} ({name}) skipped: AMD SMI gives neither an energy counter nor power")
        return None
    if counter is not None:
        method, source = "counter", "AMD SMI energy accumulator"
    else:
        method, source = "integrated", f"AMD SMI {_POWER_LABELS[power]}, integrated over time"
    temp_type = _choose_temperature(smi, handle)
    details = {
        "uuid": _try(smi, lambda: smi.amdsmi_get_gpu_device_uuid(handle)),
        "amdsmi_index": index,
        "power_field": power,
        "counter_resolution_uj": counter.resolution_uj if counter else None,
        "resolution_j": counter.resolution_uj * 1e-6 if counter else None,
        "power_limit_w": _micro(_try(smi, lambda: smi.amdsmi_get_power_cap_info(handle)["power_cap"])),
        "slowdown_temp_c": _threshold(smi, handle, "CRITICAL"),
        "shutdown_temp_c": _threshold(smi, handle, "EMERGENCY"),
        "temperature_sensor": temp_type,
        "datacenter": "instinct" in name.lower() or name.upper().startswith("MI"),
    }
    info = DeviceInfo(key=f"gpu:amd{index}", kind="gpu", name=name, method=method, source=source,
                      scope="device", details=details)
    return AmdGpuSensor(smi, handle, info, counter=counter, power=power, temp_type=temp_type,
                        throttle=_choose_throttle(smi, handle), session=session)


class _EnergyCounter:
    """The energy accumulator in counts, wrap-corrected; energy in J since the sensor was opened."""

    def __init__(self, key: str, counts: int, resolution_uj: float) -> None:
        self.key, self.last, self.resolution_uj = key, int(counts), float(resolution_uj)
        self.total_counts = 0
        self.glitches = 0
        self.backwards = 0  # consecutive reads below the last count

    @classmethod
    def probe(cls, smi, handle) -> "_EnergyCounter | None":
        try:
            reading = smi.amdsmi_get_energy_count(handle)
        except (smi.AmdSmiException, AttributeError, TypeError):
            return None
        key = "energy_accumulator" if "energy_accumulator" in reading else "power"  # "power" before ROCm 6.2.1
        counts, resolution = reading.get(key), reading.get("counter_resolution")
        if not isinstance(counts, int) or not isinstance(resolution, (int, float)) or resolution <= 0:
            return None
        return cls(key, counts, resolution)

    def read_j(self, smi, handle) -> float:
        counts = int(smi.amdsmi_get_energy_count(handle)[self.key])
        delta = counts - self.last
        if delta < 0:
            if _WRAP_32 // 2 <= self.last < _WRAP_32 and counts < _WRAP_32 // 2:
                delta += _WRAP_32   # a 32-bit hardware count behind the 64-bit field wrapped
            elif self.last >= _WRAP_64 // 2 and counts < _WRAP_64 // 2:
                delta += _WRAP_64
        if delta < 0:
            # the counter stepped back (ROCm/amdsmi#115): leave the interval out; a dip that lasts three reads is
            # taken as a reset and the count goes on from there (a transient one is not counted twice)
            self.glitches += 1
            self.backwards += 1
            if self.backwards >= 3:
                self.last, self.backwards = counts, 0
            return self.total_counts * self.resolution_uj * 1e-6
        self.backwards = 0
        self.last = counts
        self.total_counts += delta
        return self.total_counts * self.resolution_uj * 1e-6


_POWER_KEYS = ("current_socket_power", "socket_power", "average_socket_power")
_POWER_LABELS = {"current_socket_power": "current socket power", "socket_power": "socket power",
                 "average_socket_power": "average socket power"}


def _choose_power(smi, handle) -> str | None:
    """The first power key that holds a number (the library puts "N/A" where the board has none)."""
    try:
        info = smi.amdsmi_get_power_info(handle)
    except (smi.AmdSmiException, AttributeError, TypeError):
        return None
    for key in _POWER_KEYS:
        value = info.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value not in (0xFFFF, 0xFFFFFFFF):
            return key
    return None


def _choose_temperature(smi, handle) -> str | None:
    for name in ("HOTSPOT", "EDGE"):
        kind = getattr(smi.AmdSmiTemperatureType, name, None)
        if kind is not None and _try(smi, lambda: smi.amdsmi_get_temp_metric(
                handle, kind, smi.AmdSmiTemperatureMetric.CURRENT)) is not None:
            return name
    return None


def _choose_throttle(smi, handle) -> str | None:
    if callable(getattr(smi, "amdsmi_get_violation_status", None)):
        status = _try(smi, lambda: smi.amdsmi_get_violation_status(handle))
        if isinstance(status, dict) and any(isinstance(status.get(k), bool) for _, k in VIOLATIONS):
            return "violation_status"
    metrics = _try(smi, lambda: smi.amdsmi_get_gpu_metrics_info(handle))
    if isinstance(metrics, dict) and isinstance(metrics.get("throttle_status"), (bool, int)):
        return "throttle_status"
    return None


class _Session:
    """One ``amdsmi_init`` shared by the sensors of one discovery; shut down when the last of them closes."""

    def __init__(self, smi: Any) -> None:
        self.smi, self.users = smi, 0
        self.lock = threading.Lock()

    def acquire(self) -> None:
        with self.lock:
            self.users += 1

    def release(self) -> None:
        with self.lock:
            self.users -= 1
            last = self.users == 0
        if last:
            _shut_down(self.smi)


class AmdGpuSensor:
    """One AMD GPU. Built by :func:`discover`; its discovery's ``amdsmi_init`` lasts until every sensor closed."""

    def __init__(self, smi: Any, handle: Any, info: DeviceInfo, *, counter: _EnergyCounter | None,
                 power: str | None, temp_type: str | None = None, throttle: str | None = None,
                 session: _Session | None = None) -> None:
        self.info = info
        self._smi, self._handle = smi, handle
        self._counter, self._power = counter, power
        self._temp_type, self._throttle = temp_type, throttle
        self._lock = threading.Lock()
        self._closed = False
        self._session = session or _Session(smi)
        self._session.acquire()

    def read(self, t_s: float) -> Sample:
        smi, h = self._smi, self._handle
        with self._lock:
            if self._closed:
                raise SensorError(f"{self.info.key} is closed")
            try:
                energy_j = self._counter.read_j(smi, h) if self._counter is not None else None
                power_w = self._read_power()
            except smi.AmdSmiException as exc:
                raise SensorError(f"{self.info.key}: AMD SMI read failed: {_error_text(exc)}") from exc
            temp_c = self._optional(self._read_temp)
            util = self._optional(lambda: _number(smi.amdsmi_get_gpu_activity(h).get("gfx_activity")))
            throttle = self._optional(self._read_throttle) or ()
            if self._counter is not None:
                self.info.details["counter_glitches"] = self._counter.glitches  # type: ignore[index]
        return Sample(t_s=t_s, energy_j=energy_j, power_w=power_w, temp_c=temp_c, util_pct=util, throttle=throttle)

    def _read_power(self) -> float | None:
        if self._power is None:
            return None
        return _number(self._smi.amdsmi_get_power_info(self._handle).get(self._power))

    def _read_temp(self) -> float | None:
        if self._temp_type is None:
            return None
        smi = self._smi
        return _number(smi.amdsmi_get_temp_metric(self._handle, getattr(smi.AmdSmiTemperatureType, self._temp_type),
                                                  smi.AmdSmiTemperatureMetric.CURRENT))

    def _read_throttle(self) -> tuple[str, ...]:
        smi, h = self._smi, self._handle
        if self._throttle == "violation_status":
            status = smi.amdsmi_get_violation_status(h)
            return tuple(name for name, key in VIOLATIONS if status.get(key) is True)
        if self._throttle == "throttle_status":
            value = smi.amdsmi_get_gpu_metrics_info(h).get("throttle_status")
            return ("throttled",) if value is True or (type(value) is int and value != 0) else ()
        return ()

    def _optional(self, read: Callable[[], Any]) -> Any:
        try:
            return read()
        except (self._smi.AmdSmiException, KeyError, TypeError, ValueError):
            return None

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._session.release()

    def __repr__(self) -> str:
        return f"AmdGpuSensor({self.info.key!r}, {self.info.name!r}, method={self.info.method!r})"


# ----------------------------------------------------------------------------------------------- helpers


def _number(value: Any) -> float | None:
    """A reading as float; ``None`` for the library's "N/A" and other non-numbers."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _micro(value: Any) -> float | None:
    v = _number(value)
    return None if v is None else v / 1e6


def _try(smi, call: Callable[[], Any]) -> Any:
    try:
        return call()
    except (smi.AmdSmiException, AttributeError, KeyError, TypeError):
        return None


def _threshold(smi, handle, metric: str) -> float | None:
    kind = getattr(smi.AmdSmiTemperatureType, "HOTSPOT", None)
    which = getattr(smi.AmdSmiTemperatureMetric, metric, None)
    if kind is None or which is None:
        return None
    value = _number(_try(smi, lambda: smi.amdsmi_get_temp_metric(handle, kind, which)))
    return value if value and value > 0 else None


def _error_text(exc: Exception) -> str:
    get = getattr(exc, "get_error_info", None)
    try:
        return str(get(detailed=False)) if get else str(exc)
    except Exception:  # noqa: BLE001
        return type(exc).__name__


def _shut_down(smi) -> None:
    try:
        smi.amdsmi_shut_down()
    except Exception:  # noqa: BLE001
        pass
