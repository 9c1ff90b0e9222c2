"""Memory (DRAM) power *estimated* from the installed RAM size, for machines without a RAPL ``dram`` counter.

The model is CodeCarbon v3's DIMM heuristic (codecarbon/external/ram.py, ``_estimate_dimm_count`` and
``_calculate_ram_power``; docs/explanation/methodology.md "RAM"), with its constants:

* power per DIMM: 5 W on x86 (``RAM_SLOT_POWER_X86``), 1.5 W on ARM (lower-power memory);
* floor: 10 W on x86 (two DIMMs), 3 W on ARM;
* DIMM count guessed from total RAM in GB (GiB, 1024³ bytes, as CodeCarbon):
  ≤ 2 → 1; ≤ 16 → 2; ≤ 32 → 4; ≤ 64 → 4; ≤ 128 → 8; above 128 GB the largest module size in
  {128, 64, 32, 16, 8, 4} GB that is ≤ total/8, then ceil(total / size) DIMMs, at most 32;
* diminishing power per DIMM: DIMMs 1–4 at 100 %, 5–8 at 90 %, 9–16 at 80 %, 17+ at 70 %.

Examples (CodeCarbon docs): 8 GB → 10 W, 32 GB → 20 W, 64 GB → 20 W, 128 GB → 38 W.

Scopes (``DeviceInfo.scope``):

``machine`` — P = ram_power_w(total RAM), constant; energy = P × elapsed time.
``process`` — an *attribution*, not a measurement: P = machine P × RSS(process + live descendants) / total
    RAM, integrated with the trapezoid rule between reads. RSS counts shared pages once per process, so a
    forked tree can be over-charged; the share is capped at 100 %. (CodeCarbon's process mode instead runs
    the DIMM model on the RSS in GB, which puts a 10 W floor under any process.)

Energy is cumulative from the first ``read`` (which returns ``energy_j=0.0``); ``method="estimated"``.
"""
from __future__ import annotations

import math
import os
import platform
import sys
from typing import Callable

from .base import DeviceInfo, Discovery, ProbeNote, Sample

RAM_SLOT_POWER_X86_W = 5.0
RAM_SLOT_POWER_ARM_W = 1.5
MIN_POWER_X86_W = 2 * RAM_SLOT_POWER_X86_W
MIN_POWER_ARM_W = 3.0
GB = 1024**3  # bytes; CodeCarbon's B_TO_GB
_DIMM_SIZES_GB = (128, 64, 32, 16, 8, 4)
MAX_DIMMS = 32
SCOPES = ("process", "machine")
SOURCE = "RAM model"


def is_arm(arch: str) -> bool:
    """True for ARM machine names (``arm64``, ``aarch64``, ``armv7l`` …)."""
    a = (arch or "").lower()
    return "arm" in a or "aarch" in a


def estimate_dimm_count(total_gb: float) -> int:
    """CodeCarbon v3's guess of the number of memory modules for ``total_gb`` GB of RAM."""
    if total_gb <= 2:
        return 1
    if total_gb <= 16:
        return 2
    if total_gb <= 64:
        return 4
    if total_gb <= 128:
        return 8
    for size in _DIMM_SIZES_GB:
        if size <= total_gb / 8:
            return min(math.ceil(total_gb / size), MAX_DIMMS)
    return 8  # unreachable for total_gb > 128 (128/8 = 16 GB modules always fit); kept as CodeCarbon's floor


def ram_power_w(total_gb: float, arch: str = "x86_64") -> float:
    """Estimated DRAM power in W for ``total_gb`` GB of installed RAM on ``arch`` (pure function)."""
    per_dimm = RAM_SLOT_POWER_ARM_W if is_arm(arch) else RAM_SLOT_POWER_X86_W
    floor = MIN_POWER_ARM_W if is_arm(arch) else MIN_POWER_X86_W
    n = estimate_dimm_count(total_gb)
    tiers = ((4, 1.0), (4, 0.9), (8, 0.8), (math.inf, 0.7))  # (DIMMs in tier, share of per-DIMM power)
    power, left = 0.0, n
    for size, share in tiers:
        k = min(left, size)
        power += per_dimm * share * k
        left -= k
        if left <= 0:
            break
    return max(floor, power)


from .proctree import process_tree_rss_bytes, shared_tree  # noqa: E402,F401  (importable from here, as before)


def _meminfo_total_bytes(path: str = "/proc/meminfo") -> int | None:
    """``MemTotal`` from /proc/meminfo in bytes (what ``psutil.virtual_memory().total`` reads), or ``None``."""
    try:
        with open(path, encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


class RamModel:
    """``ram:model``: constant machine DRAM power, or its RSS share for one process tree."""

    def __init__(
        self,
        info: DeviceInfo,
        machine_w: float,
        total_bytes: int,
        rss_fn: Callable[[], float] | None = None,
        refresh_fn: Callable[[], None] | None = None,
    ) -> None:
        self.info = info
        self._machine_w = float(machine_w)
        self._total = max(1, int(total_bytes))
        self._rss_fn = rss_fn  # None: machine scope
        self._refresh_fn = refresh_fn
        self._last: tuple[float, float] | None = None  # (t_s, power_w)
        self._energy_j = 0.0

    def read(self, t_s: float) -> Sample:
        share = None
        power = self._machine_w
        if self._rss_fn is not None:
            share = min(1.0, max(0.0, float(self._rss_fn()) / self._total))
            power = self._machine_w * share
        last, self._last = self._last, (t_s, power)
        if last is not None and t_s > last[0]:
            self._energy_j += 0.5 * (last[1] + power) * (t_s - last[0])
        return Sample(
            t_s=t_s,
            energy_j=self._energy_j,
            power_w=power,
            util_pct=None if share is None else 100.0 * share,
        )

    def refresh(self) -> None:
        """Find the tree's processes again now (the sampler calls this before each boundary read)."""
        if self._refresh_fn is not None:
            self._refresh_fn()

    def close(self) -> None:
        return None


def discover(
    scope: str = "process",
    total_bytes: int | None = None,
    rss_fn: Callable[[], float] | None = None,
    *,
    power_w: float | None = None,
    arch: str | None = None,
    pid: int | None = None,
) -> Discovery:
    """One estimated ``ram:model`` sensor, or a note why not. Never raises.

    scope        ``"process"`` (RSS share of the machine's DRAM power) or ``"machine"``
    total_bytes  installed RAM in bytes (default ``psutil.virtual_memory().total``)
    rss_fn       () → RSS in bytes of the tracked process tree (default: this process and its descendants)
    power_w      override for the machine's DRAM power in W (skips the DIMM model)
    arch         machine architecture (default ``platform.machine()``); ARM uses 1.5 W per DIMM
    pid          process to follow in process scope (default: this one)
    """
    found = Discovery()
    try:
        if scope not in SCOPES:
            found.notes.append(ProbeNote(SOURCE, f"unknown scope {scope!r}", "use 'process' or 'machine'"))
            return found
        linux = sys.platform.startswith("linux")  # /proc gives both: no psutil import (~50 ms) there
        if total_bytes is None and linux:
            total_bytes = _meminfo_total_bytes()
        needs_psutil = total_bytes is None or (scope == "process" and rss_fn is None and not linux)
        if needs_psutil:
            try:
                import psutil
            except ImportError:
                found.notes.append(ProbeNote(SOURCE, "psutil is not installed", "pip install psutil"))
                return found
            if total_bytes is None:
                total_bytes = int(psutil.virtual_memory().total)
        arch = platform.machine() if arch is None else arch
        total_gb = total_bytes / GB
        if power_w is not None:
            machine_w = float(power_w)
            basis = f"user-given {machine_w:g} W"
        else:
            machine_w = ram_power_w(total_gb, arch)
            dimms = estimate_dimm_count(total_gb)
            per = RAM_SLOT_POWER_ARM_W if is_arm(arch) else RAM_SLOT_POWER_X86_W
            basis = f"{total_gb:.0f} GB ≈ {dimms} DIMMs × {per:g} W → {machine_w:g} W, CodeCarbon v3 DIMM model"
        details = {
            "total_bytes": int(total_bytes),
            "total_gb": round(total_gb, 3),
            "arch": arch,
            "machine_power_w": machine_w,
            "dimms": None if power_w is not None else estimate_dimm_count(total_gb),
        }
        refresh_fn = None
        if scope == "process":
            target = os.getpid() if pid is None else int(pid)
            if rss_fn is None:
                tree = shared_tree(target)
                rss_fn = tree.rss_bytes
                refresh_fn = lambda: tree.refresh(0.05)  # noqa: E731  (one walk serves the CPU model too)
            rss_fn()  # fail in discovery rather than on every read
            source = f"RSS share of DRAM power ({basis})"
            details["pid"] = target
        else:
            rss_fn = None
            source = f"DRAM power from installed RAM ({basis})"
        info = DeviceInfo(
            key="ram:model", kind="ram", name=f"RAM {total_gb:.0f} GB", method="estimated",
            source=source, scope=scope, details=details,
        )
        found.sensors.append(RamModel(info, machine_w, int(total_bytes), rss_fn, refresh_fn))
    except Exception as exc:  # discovery never raises
        found.sensors.clear()
        found.notes.append(ProbeNote(SOURCE, f"RAM estimate unavailable: {type(exc).__name__}: {exc}"))
    return found
