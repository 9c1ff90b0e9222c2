"""CPU energy *estimated* from CPU time or utilisation and the CPU's TDP, for machines without RAPL.

Two scopes (``DeviceInfo.scope``):

``process`` (default) — energy of this kernel process and its children::

    E = Σ Δ(user + system CPU seconds of the process, its reaped children and its live descendants)
          × TDP_machine / n_logical                                                    [J = s × W]

    This is CodeCarbon's v3 "cpu_load, process" model written as energy (power × time cancels to CPU
    seconds × W per hardware thread). Because it counts CPU seconds rather than a sampled percentage,
    even a 10 ms CPU-bound cell gets a non-zero figure. The sampler thread's own CPU time is included:
    it is real, small overhead of measuring.

``machine`` — whole-machine power from utilisation, integrated between reads::

    u = Δbusy / Δtotal over all CPUs, from ``psutil.cpu_times()`` deltas (busy = total − idle − iowait,
        guest time counted once; the same definition psutil's cpu_percent uses)
    P = TDP_machine × (0.1 + 0.9 u³)                                                      [W]
    E += P × Δt

    The load curve is CodeCarbon v3's (codecarbon/external/hardware.py ``_get_power_from_cpu_load``, added
    in commit 69384f34 "Better cpu load estimation", Jan 2025): 10 % of TDP at idle, cubic in load. We use
    cpu_times deltas rather than ``cpu_percent(interval=None)``, whose state is per calling thread and whose
    first value is meaningless.

TDP lookup (``eco_magic/data/cpu_tdp.csv``, per-socket TDP from Intel ARK / AMD product pages, with
sources in its header): the brand string (``model name`` in /proc/cpuinfo) is normalised
(:func:`normalise_cpu_name`) and matched exactly, then by tokens (a unique best match sharing the model
number). Then::

    TDP_machine = TDP_socket × sockets           (sockets = distinct "physical id" values)
    W per thread = TDP_machine / logical CPUs

except in a VM slice: when the table knows the part's threads per socket and the machine shows fewer
logical CPUs than ``sockets × threads``, the visible vCPUs get their share only
(W per thread = TDP_socket / threads, TDP_machine = W per thread × logical CPUs). Without this a 2-vCPU
cloud VM on a 64-core EPYC would be charged the whole 280 W socket.

Unknown CPU (no row matches, e.g. the bare ``"AMD EPYC"`` that some hypervisors report): the CPUID family and
model in /proc/cpuinfo name the generation (:mod:`.cpu_identity`: e.g. family 0x19 model 0x01 = Zen 3 "Milan"),
and the median W per thread of that generation's parts in the table is used; the source says how it was
decided (numbers, generation, hypervisor flag, DMI vendor). Failing that,
:data:`DEFAULT_W_PER_THREAD` = 4 W per hardware thread, CodeCarbon's ``DEFAULT_POWER_PER_CORE``
(codecarbon/core/cpu.py, which multiplies it by the thread count), and the source says
``"unknown CPU: 4 W/thread default"``.

Cost per read (process scope): two clock reads for this process (``time.process_time``, ``os.times``) plus
one ``/proc/<pid>/stat`` read per live descendant; the descendants are found again at most every 2 s and at
each cell's boundaries (:mod:`eco_magic.sensors.proctree`, issue 16), not at every tick.

Every figure here is an estimate (``method="estimated"``); RAPL (``rapl.py``) measures when readable.
Both model sensors treat their first ``read`` as the baseline: it returns ``energy_j=0.0``.
"""
from __future__ import annotations

import csv
import functools
import os
import platform
import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from .base import DeviceInfo, Discovery, ProbeNote, Sample
from .cpu_identity import CpuId, dmi_hint, generation_w_per_thread, identify, parse_cpuid

DEFAULT_W_PER_THREAD = 4.0  # W per hardware thread for unknown CPUs (CodeCarbon DEFAULT_POWER_PER_CORE)
IDLE_FRACTION = 0.1  # load curve: P(u=0) = 10 % of TDP (CodeCarbon v3)
TABLE_PATH = Path(__file__).resolve().parent.parent / "data" / "cpu_tdp.csv"
TABLE_LABEL = "table: eco_magic/data/cpu_tdp.csv"
SCOPES = ("process", "machine")
SOURCE = "CPU model"
BOUNDARY_WALK_MAX_AGE_S = 0.05  # the CPU and RAM models share one tree: one walk serves both boundary reads

# Arm Ltd (implementer 0x41) server cores, as `lscpu` names them; /proc/cpuinfo on arm64 has no model name.
_ARM_PARTS = {0xD0C: "Neoverse-N1", 0xD40: "Neoverse-V1", 0xD49: "Neoverse-N2", 0xD4F: "Neoverse-V2"}


# --------------------------------------------------------------------------------------------- CPU identity
@dataclass(frozen=True)
class CpuInfo:
    """What the OS says about the CPU: brand string ("" when unknown), sockets, logical CPUs, architecture."""

    brand: str
    sockets: int = 1
    logical_cpus: int = 1
    arch: str = ""
    cpuid: CpuId | None = None   # CPUID vendor/family/model/stepping and the hypervisor flag (Linux x86)
    dmi: str | None = None       # DMI vendor / product, e.g. "Google / Google Compute Engine" (a hint only)


def parse_cpuinfo(text: str, arch: str = "") -> CpuInfo:
    """Parse Linux ``/proc/cpuinfo`` text (pure). Sockets = distinct ``physical id`` values (1 if none)."""
    brand = ""
    processors = 0
    physical_ids: set[str] = set()
    implementer = part = None
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip().lower(), value.strip()
        if key == "processor":
            processors += 1
        elif key == "model name" and not brand:
            brand = value
        elif key == "physical id":
            physical_ids.add(value)
        elif key == "cpu implementer" and implementer is None:
            implementer = value
        elif key == "cpu part" and part is None:
            part = value
    if not brand and implementer and part:
        try:
            if int(implementer, 16) == 0x41:
                brand = _ARM_PARTS.get(int(part, 16), "")
        except ValueError:
            pass
    return CpuInfo(
        brand=brand,
        sockets=max(1, len(physical_ids)),
        logical_cpus=processors or (os.cpu_count() or 1),
        arch=arch,
        cpuid=parse_cpuid(text),
    )


def _brand_macos() -> str:
    import subprocess

    out = subprocess.run(
        ["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True, timeout=2, check=False
    )
    return out.stdout.strip()


def _brand_windows() -> str:
    import winreg  # type: ignore[import-not-found]

    with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, r"HARDWARE\DESCRIPTION\System\CentralProcessor\0") as key:
        return str(winreg.QueryValueEx(key, "ProcessorNameString")[0]).strip()


def read_cpu_info(proc_info: str | None = None) -> CpuInfo:
    """This machine's :class:`CpuInfo`. ``proc_info``: /proc/cpuinfo text to parse instead (tests).

    Linux: /proc/cpuinfo. macOS: ``sysctl machdep.cpu.brand_string``. Windows: the registry's
    ``ProcessorNameString``. Never raises; an unreadable source gives ``brand=""``.
    """
    arch = platform.machine()
    if proc_info is not None:
        return parse_cpuinfo(proc_info, arch)
    logical = os.cpu_count() or 1
    try:
        if sys.platform.startswith("linux"):
            info = parse_cpuinfo(Path("/proc/cpuinfo").read_text(errors="replace"), arch)
            return replace(info, dmi=dmi_hint())
        if sys.platform == "darwin":
            return CpuInfo(_brand_macos(), 1, logical, arch)
        if sys.platform == "win32":
            return CpuInfo(_brand_windows(), 1, logical, arch)
        return CpuInfo(platform.processor(), 1, logical, arch)
    except Exception:
        return CpuInfo("", 1, logical, arch)


# ---------------------------------------------------------------------------------------------- TDP table
@dataclass(frozen=True)
class TdpRow:
    """One row of ``cpu_tdp.csv``: per-socket TDP (W), cores and threads per socket when known."""

    name: str
    tdp_w: float
    cores: int | None
    threads: int | None
    source: str

    @functools.cached_property
    def key(self) -> str:
        return normalise_cpu_name(self.name)


@dataclass(frozen=True)
class TdpMatch:
    row: TdpRow
    how: str  # "exact" or "tokens"


_RE_MARKS = re.compile(r"\((?:r|tm|c)\)|®|™")
_RE_CLOCK = re.compile(r"@\s*[\d.]+\s*[gm]hz")
_RE_GEN = re.compile(r"\b\d+(?:st|nd|rd|th) gen\b")
_RE_CORES = re.compile(r"\b\d+-cores?(?: processor)?\b")
_RE_GRAPHICS = re.compile(r"\b(?:with|w/) radeon\b.*$")
_RE_WORDS = re.compile(r"\b(?:cpu|processor)\b")
_RE_JUNK = re.compile(r"[^a-z0-9+\- ]")


def normalise_cpu_name(brand: str) -> str:
    """Lower-case brand string without marks, clock, generation prefix, core count or "CPU"/"Processor".

    ``"Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz"`` → ``"intel xeon platinum 8375c"``;
    ``"AMD EPYC 7B13 64-Core Processor"`` → ``"amd epyc 7b13"``;
    ``"12th Gen Intel(R) Core(TM) i7-12700K"`` → ``"intel core i7-12700k"``.
    """
    s = brand.lower()
    for rx in (_RE_MARKS, _RE_CLOCK, _RE_GEN, _RE_CORES, _RE_GRAPHICS, _RE_WORDS, _RE_JUNK):
        s = rx.sub(" ", s)
    return " ".join(s.split())


def _int_or_none(text: str) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdigit() else None


def read_tdp_table(lines: Iterable[str]) -> tuple[TdpRow, ...]:
    """Parse the CSV format of ``cpu_tdp.csv`` (``#`` comment lines, header ``name,tdp_w,cores,threads,source``)."""
    rows = []
    body = (line for line in lines if line.strip() and not line.lstrip().startswith("#"))
    for rec in csv.DictReader(body):
        try:
            tdp = float(rec["tdp_w"])
        except (KeyError, TypeError, ValueError):
            continue
        rows.append(
            TdpRow(
                name=(rec.get("name") or "").strip(),
                tdp_w=tdp,
                cores=_int_or_none(rec.get("cores", "")),
                threads=_int_or_none(rec.get("threads", "")),
                source=(rec.get("source") or "").strip(),
            )
        )
    return tuple(rows)


@functools.lru_cache(maxsize=1)
def load_tdp_table() -> tuple[TdpRow, ...]:
    """The packaged table, parsed once. An unreadable file gives an empty table (every CPU is then unknown)."""
    try:
        with open(TABLE_PATH, encoding="utf-8", newline="") as fh:
            return read_tdp_table(fh)
    except OSError:
        return ()


def _has_digit(token: str) -> bool:
    return any(ch.isdigit() for ch in token)


def lookup_tdp(brand: str, table: Sequence[TdpRow] | None = None) -> TdpMatch | None:
    """Find ``brand`` in the TDP table: exact normalised name, else the unique best token match.

    Token match: a row whose tokens are all in the brand (the most specific such row, if unique), else the
    only row containing all the brand's tokens. Either way the two must share a token with a digit (the
    model number), so ``"AMD EPYC"`` or ``"Intel Xeon CPU @ 2.20GHz"`` never match a particular part.
    """
    rows = load_tdp_table() if table is None else table
    key = normalise_cpu_name(brand)
    if not key:
        return None
    for row in rows:
        if row.key == key:
            return TdpMatch(row, "exact")
    want = set(key.split())
    numbered = {t for t in want if _has_digit(t)}
    if not numbered:
        return None
    inside = [(len(r.key.split()), r) for r in rows if set(r.key.split()) <= want and numbered & set(r.key.split())]
    if inside:
        best = max(n for n, _ in inside)
        top = [r for n, r in inside if n == best]
        if len(top) == 1:
            return TdpMatch(top[0], "tokens")
        return None
    around = [r for r in rows if want <= set(r.key.split())]
    return TdpMatch(around[0], "tokens") if len(around) == 1 else None


# ------------------------------------------------------------------------------------------- power budget
@dataclass(frozen=True)
class PowerBudget:
    """How many watts the model may attribute: the whole machine at full TDP, and per hardware thread."""

    tdp_machine_w: float
    w_per_thread: float
    basis: str  # short provenance, e.g. "AMD EPYC 7B13: 280 W, table: …" or "unknown CPU: 4 W/thread default"
    details: dict = field(default_factory=dict)


def power_budget(cpu: CpuInfo, tdp_w: float | None = None, table: Sequence[TdpRow] | None = None) -> PowerBudget:
    """TDP for this machine and per logical CPU (see the module docstring for the rules).

    ``tdp_w`` (user override) is the TDP of the whole visible machine, all sockets together, in W.
    """
    n = max(1, int(cpu.logical_cpus))
    sockets = max(1, int(cpu.sockets))
    details: dict[str, Any] = {"brand": cpu.brand, "sockets": sockets, "logical_cpus": n}
    if tdp_w is not None:
        tdp_w = float(tdp_w)
        details.update(tdp_machine_w=tdp_w, w_per_thread=tdp_w / n, tdp_from="user")
        return PowerBudget(tdp_w, tdp_w / n, f"user-given TDP {tdp_w:g} W", details)
    match = lookup_tdp(cpu.brand, table) if cpu.brand else None
    if match is None:
        by_cpuid = _budget_from_cpuid(cpu, n, table, details)
        if by_cpuid is not None:
            return by_cpuid
        machine = DEFAULT_W_PER_THREAD * n
        details.update(tdp_machine_w=machine, w_per_thread=DEFAULT_W_PER_THREAD, tdp_from="default")
        label = f"unknown CPU: {DEFAULT_W_PER_THREAD:g} W/thread default"
        if cpu.brand:
            label = f"unknown CPU {cpu.brand!r}: {DEFAULT_W_PER_THREAD:g} W/thread default"
        c = cpu.cpuid
        if c is not None and c.family is not None and c.model is not None:
            label += (f" (CPUID family {c.family:#x} model {c.model:#x} names no server generation eco_magic knows"
                      + (", in a VM" if c.hypervisor else "") + ")")
        return PowerBudget(machine, DEFAULT_W_PER_THREAD, label, details)
    row = match.row
    full_threads = row.threads * sockets if row.threads else None
    vm_slice = full_threads is not None and n < full_threads
    if vm_slice:
        per_thread = row.tdp_w / row.threads  # type: ignore[operator]
        machine = per_thread * n
        label = f"{row.name}: {row.tdp_w:g} W for {row.threads} threads, {n} visible"
    else:
        machine = row.tdp_w * sockets
        per_thread = machine / n
        label = f"{row.name}: {row.tdp_w:g} W" + (f" × {sockets} sockets" if sockets > 1 else "")
    details.update(
        tdp_machine_w=machine,
        w_per_thread=per_thread,
        tdp_from="table",
        tdp_socket_w=row.tdp_w,
        threads_per_socket=row.threads,
        vm_slice=vm_slice,
        table_row=row.name,
        table_source=row.source,
        match=match.how,
    )
    return PowerBudget(machine, per_thread, f"{label}, {TABLE_LABEL}", details)


def _budget_from_cpuid(cpu: CpuInfo, n: int, table: Sequence[TdpRow] | None, details: dict) -> PowerBudget | None:
    """A generic or unknown brand string: the CPUID family/model's generation and its median W per thread
    (:mod:`.cpu_identity`), with how it was decided in the label; ``None`` when the numbers name no generation."""
    cpuid = cpu.cpuid
    gen = identify(cpuid) if cpuid is not None else None
    if gen is None:
        return None
    rows = load_tdp_table() if table is None else table
    found = generation_w_per_thread(gen, rows, in_vm=cpuid.hypervisor)
    if found is None:
        return None
    per_thread, k = found
    where = "in a VM (hypervisor flag" + (f"; DMI: {cpu.dmi}" if cpu.dmi else "") + ")" if cpuid.hypervisor \
        else (f"DMI: {cpu.dmi}" if cpu.dmi else "bare metal")
    brand = repr(cpu.brand) if cpu.brand else "no model name"
    label = (f"{brand} not in the table; CPUID family {cpuid.family:#x} model {cpuid.model:#x} stepping "
             f"{cpuid.stepping} → {gen.name}, {where}: median {per_thread:.2f} W/thread over {k} "
             f"{'dense ' if cpuid.hypervisor else ''}parts of that generation, {TABLE_LABEL}")
    machine = per_thread * n
    details.update(tdp_machine_w=machine, w_per_thread=per_thread, tdp_from="cpuid", generation=gen.name,
                   cpuid_family=cpuid.family, cpuid_model=cpuid.model, cpuid_stepping=cpuid.stepping,
                   hypervisor=cpuid.hypervisor, dmi=cpu.dmi, generation_rows=k)
    return PowerBudget(machine, per_thread, label, details)


def load_curve_power_w(tdp_w: float, util: float) -> float:
    """CodeCarbon v3 load curve: ``P = TDP × (0.1 + 0.9 u³)`` in W, ``u`` in [0, 1] (clamped)."""
    u = min(1.0, max(0.0, float(util)))
    return tdp_w * (IDLE_FRACTION + (1.0 - IDLE_FRACTION) * u**3)


# ---------------------------------------------------------------------------------------------- CPU times
def busy_total_s(times: Any) -> tuple[float, float]:
    """(busy, total) CPU seconds from a ``psutil.cpu_times()`` tuple, psutil's own definition:
    total excludes guest/guest_nice (already inside user/nice); busy = total − idle − iowait."""
    total = float(sum(times))
    total -= float(getattr(times, "guest", 0.0) or 0.0) + float(getattr(times, "guest_nice", 0.0) or 0.0)
    idle = float(getattr(times, "idle", 0.0)) + float(getattr(times, "iowait", 0.0) or 0.0)
    return total - idle, total


def machine_cpu_times() -> tuple[float, float]:
    """(busy, total) CPU seconds summed over all CPUs since boot, from ``psutil.cpu_times()``."""
    import psutil

    return busy_total_s(psutil.cpu_times())


# The process tree (descendants, CPU seconds, RSS) lives in proctree.py; these names stay importable from here.
from .proctree import (  # noqa: E402,F401
    _children_from_proc,
    _stat_ticks,
    descendant_pids,
    process_tree_cpu_seconds,
    shared_tree,
)


class MachineLoadMeter:
    """Machine utilisation (0–1) between successive :meth:`update` calls, from cumulative (busy, total)."""

    def __init__(self, cpu_times_fn: Callable[[], tuple[float, float]] = machine_cpu_times) -> None:
        self._fn = cpu_times_fn
        self._last: tuple[float, float] | None = None

    def update(self) -> float | None:
        """Utilisation since the previous call that returned a value; ``None`` on the first call, or when the
        counters have not moved yet (they tick every 10 ms), in which case the interval carries over."""
        busy, total = self._fn()
        if self._last is None or total <= self._last[1]:  # first call, or no clock tick yet: keep the baseline
            self._last = self._last or (busy, total)
            return None
        last, self._last = self._last, (busy, total)
        return min(1.0, max(0.0, (busy - last[0]) / (total - last[1])))


# ------------------------------------------------------------------------------------------------ sensors
TempFn = Callable[[], "float | None"]


def _temp(fn: TempFn | None) -> float | None:
    if fn is None:
        return None
    try:
        return fn()
    except Exception:
        return None


class ProcessCpuModel:
    """``cpu:model`` in process scope: CPU seconds of the process tree × W per hardware thread."""

    def __init__(
        self,
        info: DeviceInfo,
        w_per_thread: float,
        logical_cpus: int,
        cpu_seconds_fn: Callable[[], float],
        temp_fn: TempFn | None = None,
        refresh_fn: Callable[[], None] | None = None,
    ) -> None:
        self.info = info
        self._w = float(w_per_thread)
        self._n = max(1, int(logical_cpus))
        self._fn = cpu_seconds_fn
        self._temp_fn = temp_fn
        self._refresh_fn = refresh_fn
        self._last: tuple[float, float] | None = None  # (t_s, cpu seconds)
        self._energy_j = 0.0

    def read(self, t_s: float) -> Sample:
        cpu_s = float(self._fn())
        temp = _temp(self._temp_fn)
        last, self._last = self._last, (t_s, cpu_s)
        if last is None:
            return Sample(t_s=t_s, energy_j=0.0, temp_c=temp)
        d_cpu = max(0.0, cpu_s - last[1])  # a vanished (re-parented) child must not make energy go back
        self._energy_j += d_cpu * self._w
        dt = t_s - last[0]
        power = util = None
        if dt > 0:
            power = d_cpu * self._w / dt
            util = min(100.0, 100.0 * d_cpu / (dt * self._n))
        return Sample(t_s=t_s, energy_j=self._energy_j, power_w=power, temp_c=temp, util_pct=util)

    def refresh(self) -> None:
        """Find the tree's processes again now (the sampler calls this before each boundary read)."""
        if self._refresh_fn is not None:
            self._refresh_fn()

    def close(self) -> None:
        return None


class MachineCpuModel:
    """``cpu:model`` in machine scope: ``TDP × (0.1 + 0.9 u³)`` integrated over the read intervals."""

    def __init__(
        self,
        info: DeviceInfo,
        tdp_machine_w: float,
        cpu_times_fn: Callable[[], tuple[float, float]],
        temp_fn: TempFn | None = None,
    ) -> None:
        self.info = info
        self._tdp = float(tdp_machine_w)
        self._meter = MachineLoadMeter(cpu_times_fn)
        self._temp_fn = temp_fn
        self._last_util = 0.0
        self._last_t: float | None = None
        self._energy_j = 0.0

    def read(self, t_s: float) -> Sample:
        util = self._meter.update()
        temp = _temp(self._temp_fn)
        last_t, self._last_t = self._last_t, t_s
        if last_t is None:
            return Sample(t_s=t_s, energy_j=0.0, temp_c=temp)
        if util is not None:
            self._last_util = util
        u = self._last_util  # reads closer than one clock tick reuse the last utilisation (idle before any)
        power = load_curve_power_w(self._tdp, u)
        dt = t_s - last_t
        if dt > 0:
            self._energy_j += power * dt
        return Sample(
            t_s=t_s,
            energy_j=self._energy_j,
            power_w=power,
            temp_c=temp,
            util_pct=None if util is None else 100.0 * util,
        )

    def close(self) -> None:
        return None


def discover(
    scope: str = "process",
    tdp_w: float | None = None,
    pid: int | None = None,
    *,
    proc_info: str | None = None,
    cpu_seconds_fn: Callable[[], float] | None = None,
    cpu_times_fn: Callable[[], tuple[float, float]] | None = None,
    temp_fn: TempFn | None = None,
    table: Sequence[TdpRow] | None = None,
) -> Discovery:
    """One estimated ``cpu:model`` sensor, or a note why not. Never raises.

    scope           ``"process"`` (this process tree, CPU time × W/thread) or ``"machine"`` (load curve)
    tdp_w           override: TDP of the whole machine in W (all sockets)
    pid             process to follow in process scope (default: this one)
    proc_info       /proc/cpuinfo text to use instead of the real file (tests)
    cpu_seconds_fn  () → cumulative CPU seconds of the tree (process scope; default psutil)
    cpu_times_fn    () → cumulative (busy, total) CPU seconds of the machine (machine scope; default psutil)
    temp_fn         () → CPU °C or None (default: ``temperature.cpu_temp_c``)
    table           TDP rows to use instead of the packaged table (tests)
    """
    found = Discovery()
    try:
        if scope not in SCOPES:
            found.notes.append(ProbeNote(SOURCE, f"unknown scope {scope!r}", "use 'process' or 'machine'"))
            return found
        linux = sys.platform.startswith("linux")  # process scope reads /proc there: no psutil import (~50 ms)
        if (scope == "process" and cpu_seconds_fn is None and not linux) or (scope == "machine" and cpu_times_fn is None):
            try:
                import psutil  # noqa: F401
            except ImportError:
                found.notes.append(ProbeNote(SOURCE, "psutil is not installed", "pip install psutil"))
                return found
        if temp_fn is None:
            from .temperature import cpu_temp_c as temp_fn
        cpu = read_cpu_info(proc_info)
        budget = power_budget(cpu, tdp_w, table)
        name = cpu.brand or "unknown CPU"
        if scope == "process":
            refresh_fn = None
            if cpu_seconds_fn is None:
                target = os.getpid() if pid is None else int(pid)
                tree = shared_tree(target)
                cpu_seconds_fn = tree.cpu_seconds
                refresh_fn = functools.partial(tree.refresh, BOUNDARY_WALK_MAX_AGE_S)
            else:
                target = pid
            info = DeviceInfo(
                key="cpu:model",
                kind="cpu",
                name=name,
                method="estimated",
                source=f"CPU time × TDP per thread ({budget.basis})",
                scope="process",
                details={**budget.details, "model": "cpu seconds × W per thread", "pid": target},
            )
            cpu_seconds_fn()  # fail here, in discovery, rather than on every read
            found.sensors.append(ProcessCpuModel(info, budget.w_per_thread, cpu.logical_cpus, cpu_seconds_fn, temp_fn,
                                                 refresh_fn))
        else:
            cpu_times_fn = cpu_times_fn or machine_cpu_times
            info = DeviceInfo(
                key="cpu:model",
                kind="cpu",
                name=name,
                method="estimated",
                source=f"TDP × (0.1 + 0.9·u³) load curve, CodeCarbon v3 ({budget.basis})",
                scope="machine",
                details={**budget.details, "model": "TDP × (0.1 + 0.9 u^3)"},
            )
            cpu_times_fn()
            found.sensors.append(MachineCpuModel(info, budget.tdp_machine_w, cpu_times_fn, temp_fn))
    except Exception as exc:  # discovery never raises
        found.sensors.clear()
        found.notes.append(ProbeNote(SOURCE, f"CPU estimate unavailable: {type(exc).__name__}: {exc}"))
    return found
