"""CPU package and DRAM energy *measured* by Intel/AMD RAPL counters through Linux powercap sysfs.

Layout (kernel Documentation/ABI/testing/sysfs-class-powercap)::

    /sys/class/powercap/intel-rapl:0/          name = package-0   energy_uj   max_energy_range_uj
    /sys/class/powercap/intel-rapl:0:0/        name = core        (subzone of package-0)
    /sys/class/powercap/intel-rapl:0:1/        name = dram        (subzone; servers)
    /sys/class/powercap/intel-rapl:1/          name = package-1 | psys | dram
    /sys/class/powercap/intel-rapl-mmio:0/     name = package-0   (MMIO interface of newer Intel parts)

``energy_uj`` is a cumulative counter in µJ that wraps at ``max_energy_range_uj``. AMD Zen/Zen 2
(Family 17h) and Zen 3/4 (19h) expose the same files since Linux 5.11.

What is summed
    * ``cpu:rapl`` = all **package** domains (``package-N``, ``package-N-die-M``) — never ``core`` or
      ``uncore``, which are inside a package. Only when no package domain exists is ``psys`` (the whole
      platform, a superset of the package) used, and the source says so.
    * ``ram:rapl`` = the ``dram`` domains (top-level or package subzones), a separate sensor.
    * Zones listed twice (MSR ``intel-rapl`` and ``intel-rapl-mmio``) are de-duplicated by name, keeping
      MMIO — CodeCarbon's policy (codecarbon/core/cpu.py ``IntelRAPL``).

Wrap-around: per read and zone, ``delta = now − last``, plus ``max_energy_range_uj`` when negative (one
wrap per read; the sampler reads at ≥ 1 Hz while the fastest wrap, AMD's 32-bit counter at 240 W, takes
about 9 minutes). Deltas are summed in integer µJ and converted to J (÷ 1e6) at this boundary.

Permissions: since Linux 5.10 (commit 949dd0104c49, CVE-2020-8694 "PLATYPUS", backported to stable kernels)
``energy_uj`` is readable by root only. Then discovery returns no sensor and one :class:`ProbeNote` whose
hint says how to grant access; it never tries sudo. The root defaults to ``/sys/class/powercap`` and can
be moved with the environment variable ``ECO_MAGIC_POWERCAP_ROOT`` (containers, tests).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

from .base import DeviceInfo, Discovery, ProbeNote, Sample, SensorError

ENV_ROOT = "ECO_MAGIC_POWERCAP_ROOT"
DEFAULT_ROOT = Path("/sys/class/powercap")
SOURCE = "RAPL"
PERMISSION_HINT = (
    "grant read access: sudo chmod -R a+r /sys/class/powercap/intel-rapl* (until reboot) or a sysfs.conf "
    "rule; in Docker mount /sys/class/powercap read-only and set ECO_MAGIC_POWERCAP_ROOT"
)
_ZONE_DIR = re.compile(r"^intel-rapl(-mmio)?:(\d+)(?::(\d+))?$")
_PACKAGE = re.compile(r"^package-\d+(?:-die-\d+)?$")


def powercap_root(env: Mapping[str, str] | None = None) -> Path:
    """``$ECO_MAGIC_POWERCAP_ROOT`` when set and non-empty, else ``/sys/class/powercap``."""
    env = os.environ if env is None else env
    value = env.get(ENV_ROOT, "")
    return Path(value) if value else DEFAULT_ROOT


def _read_text(path: Path) -> str:
    """Every sysfs read goes through here (one place to fake permission errors in tests)."""
    with open(path, encoding="ascii", errors="replace") as fh:
        return fh.read()


def _read_int(path: Path) -> int:
    return int(_read_text(path).strip())


@dataclass(frozen=True)
class RaplZone:
    """One powercap zone: directory, domain name, wrap value in µJ, parent package name for subzones."""

    path: Path
    name: str
    max_energy_range_uj: int | None
    mmio: bool = False
    parent: str | None = None  # name of the package a subzone belongs to

    @property
    def label(self) -> str:
        return f"{self.parent}/{self.name}" if self.parent else self.name

    def read_energy_uj(self) -> int:
        return _read_int(self.path / "energy_uj")


def list_zones(root: Path) -> list[RaplZone]:
    """All RAPL zones under ``root``, de-duplicated by domain (MMIO preferred).

    ``root`` may be ``/sys/class/powercap`` (flat ``intel-rapl:N:M`` links), ``/sys/devices/virtual/powercap``
    (nested ``intel-rapl/intel-rapl:N/intel-rapl:N:M``) or a copy of either. Unreadable ``name`` files skip
    the zone; nothing here reads ``energy_uj``."""
    dirs: dict[str, Path] = {}
    patterns = ("intel-rapl*:*", "intel-rapl*:*/intel-rapl*:*",  # /sys/class/powercap: flat links
                "intel-rapl*/intel-rapl*:*", "intel-rapl*/intel-rapl*:*/intel-rapl*:*")  # …/virtual/powercap
    for pattern in patterns:
        for p in sorted(root.glob(pattern)):
            if _ZONE_DIR.match(p.name) and p.is_dir():
                dirs.setdefault(p.name, p)
    names: dict[tuple[bool, str], str] = {}  # (mmio, "N") → name of top-level zone N
    raw = []
    for zone_id, path in sorted(dirs.items()):
        mmio, top, sub = _ZONE_DIR.match(zone_id).groups()  # type: ignore[union-attr]
        try:
            name = _read_text(path / "name").strip()
        except OSError:
            continue
        try:
            max_uj = _read_int(path / "max_energy_range_uj")
        except (OSError, ValueError):
            max_uj = None
        raw.append((bool(mmio), top, sub, path, name, max_uj))
        if sub is None:
            names[(bool(mmio), top)] = name
    chosen: dict[str, RaplZone] = {}
    for mmio, top, sub, path, name, max_uj in sorted(raw, key=lambda r: r[0]):  # MSR first, MMIO overrides
        parent = names.get((mmio, top), f"zone-{top}") if sub is not None else None
        zone = RaplZone(path, name, max_uj, mmio, parent)
        chosen[zone.label] = zone
    return sorted(chosen.values(), key=lambda z: (z.parent or z.name, z.parent is not None, z.name))


class RaplSensor:
    """Sum of several RAPL zones as one cumulative counter in J (wrap-corrected), with average power."""

    def __init__(self, info: DeviceInfo, zones: Sequence[RaplZone], temp_fn: Callable[[], float | None] | None = None,
                 util_fn: Callable[[], float | None] | None = None) -> None:
        self.info = info
        self._zones = tuple(zones)
        self._temp_fn = temp_fn
        self._util_fn = util_fn
        self._last_uj = [z.read_energy_uj() for z in self._zones]  # baseline: energy counts from opening
        self._total_uj = 0
        self._last: tuple[float, int] | None = None  # (t_s, total µJ) of the previous read

    def _deltas_uj(self) -> list[int]:
        now = []
        for zone in self._zones:
            try:
                now.append(zone.read_energy_uj())
            except (OSError, ValueError) as exc:
                raise SensorError(f"RAPL read failed for {zone.path / 'energy_uj'}: {exc}") from exc
        deltas = []
        for zone, cur, last in zip(self._zones, now, self._last_uj):
            d = cur - last
            if d < 0:  # wrapped once since the last read; with no known range, assume a restart from 0
                d = d + zone.max_energy_range_uj if zone.max_energy_range_uj else cur
            deltas.append(d)
        self._last_uj = now
        return deltas

    def read(self, t_s: float) -> Sample:
        self._total_uj += sum(self._deltas_uj())
        power = None
        if self._last is not None and t_s > self._last[0]:
            power = (self._total_uj - self._last[1]) / 1e6 / (t_s - self._last[0])
        self._last = (t_s, self._total_uj)
        temp = util = None
        if self._temp_fn is not None:
            try:
                temp = self._temp_fn()
            except Exception:
                temp = None
        if self._util_fn is not None:
            try:
                u = self._util_fn()
                util = None if u is None else 100.0 * u
            except Exception:
                util = None
        return Sample(t_s=t_s, energy_j=self._total_uj / 1e6, power_w=power, temp_c=temp, util_pct=util)

    def close(self) -> None:
        return None


def _check_readable(zones: Sequence[RaplZone]) -> tuple[list[RaplZone], str | None, bool]:
    """All zones if every ``energy_uj`` reads (a partial sum would undercount), else none plus the first
    error: (zones, message, whether it was a permission error)."""
    ok = []
    for zone in zones:
        try:
            zone.read_energy_uj()
        except PermissionError:
            return [], f"{zone.path.name}/energy_uj is not readable by this user", True
        except (OSError, ValueError) as exc:
            return [], f"{zone.path.name}/energy_uj unreadable: {exc}", False
        ok.append(zone)
    return ok, None, False


def _joined(zones: Sequence[RaplZone], attr: str = "name") -> str:
    return " + ".join(getattr(z, attr) for z in zones)


def discover(
    env: Mapping[str, str] | None = None,
    *,
    temp_fn: Callable[[], float | None] | None = None,
    util_fn: Callable[[], float | None] | None = None,
    cpu_name: str | None = None,
) -> Discovery:
    """``cpu:rapl`` (package sum, or psys as last resort) and ``ram:rapl`` (dram) sensors. Never raises.

    env       mapping to read ``ECO_MAGIC_POWERCAP_ROOT`` from (default ``os.environ``)
    temp_fn   () → CPU °C for ``cpu:rapl`` samples (default ``temperature.cpu_temp_c``)
    util_fn   () → machine utilisation 0–1 since the last call (default: psutil cpu_times deltas)
    cpu_name  human name for the CPU sensor (default: the brand string from /proc/cpuinfo)
    """
    found = Discovery()
    try:
        root = powercap_root(env)
        if not root.is_dir():
            found.notes.append(ProbeNote(SOURCE, "no RAPL powercap interface"))
            return found
        zones = list_zones(root)
        packages = [z for z in zones if z.parent is None and _PACKAGE.match(z.name)]
        psys = [z for z in zones if z.parent is None and z.name == "psys"]
        drams = [z for z in zones if z.name == "dram"]
        if not (packages or psys or drams):
            found.notes.append(ProbeNote(SOURCE, f"no RAPL package, psys or dram zone under {root}"))
            return found
        cpu_zones, used_psys = (packages, False) if packages else (psys, True)
        denied_msg: str | None = None
        details_common = {"root": str(root)}

        if cpu_zones:
            ok, err, denied = _check_readable(cpu_zones)
            if denied:
                denied_msg = err
            elif err:
                found.notes.append(ProbeNote(SOURCE, err))
            if ok:
                if temp_fn is None:
                    from .temperature import cpu_temp_c as temp_fn
                if util_fn is None:
                    util_fn = _default_util_fn()
                if cpu_name is None:
                    from .cpu_model import read_cpu_info

                    cpu_name = read_cpu_info().brand or "CPU"
                if used_psys:
                    source = "RAPL psys, whole platform incl. more than the CPU (powercap)"
                    found.notes.append(
                        ProbeNote(SOURCE, "no package domain; using psys (whole platform, more than the CPU)")
                    )
                else:
                    source = f"RAPL {_joined(ok)} (powercap)"
                info = DeviceInfo(
                    key="cpu:rapl", kind="cpu", name=cpu_name, method="counter", source=source, scope="machine",
                    details={**details_common, **_zone_details(ok), "domain": "psys" if used_psys else "package"},
                )
                found.sensors.append(RaplSensor(info, ok, temp_fn, util_fn))

        if drams:
            ok, err, denied = _check_readable(drams)
            if denied:
                denied_msg = denied_msg or err
            elif err:
                found.notes.append(ProbeNote(SOURCE, err))
            if ok:
                parents = [z.parent for z in ok if z.parent]
                where = f" of {' + '.join(parents)}" if parents else ""
                info = DeviceInfo(
                    key="ram:rapl", kind="ram", name="DRAM", method="counter",
                    source=f"RAPL dram{where} (powercap)", scope="machine",
                    details={**details_common, **_zone_details(ok), "domain": "dram"},
                )
                found.sensors.append(RaplSensor(info, ok))

        if denied_msg:
            found.notes.append(ProbeNote(SOURCE, denied_msg, PERMISSION_HINT))
    except Exception as exc:  # discovery never raises
        found.sensors.clear()
        found.notes.append(ProbeNote(SOURCE, f"RAPL probe failed: {type(exc).__name__}: {exc}"))
    return found


def _zone_details(zones: Sequence[RaplZone]) -> dict:
    return {
        "zones": [
            {"zone": z.path.name, "name": z.label, "max_energy_range_uj": z.max_energy_range_uj, "mmio": z.mmio}
            for z in zones
        ]
    }


def _default_util_fn() -> Callable[[], float | None] | None:
    try:
        import psutil  # noqa: F401
    except ImportError:
        return None
    from .cpu_model import MachineLoadMeter

    return MachineLoadMeter().update
