"""Which CPU generation a generic model string hides, from the CPUID family/model numbers (VMs and containers).

Cloud hypervisors often pass a bare brand string ("AMD EPYC", "Intel Xeon Processor", "Common KVM processor") that
matches no row of the TDP table. ``/proc/cpuinfo`` still carries the CPUID ``vendor_id``, ``cpu family``,
``model`` and ``stepping`` (and a ``hypervisor`` flag in VMs), which name the microarchitecture and so the server
generation. :func:`identify` maps them to a :class:`Generation`; :func:`generation_w_per_thread` turns the TDP
table's rows of that generation into one watts-per-thread figure:

* the rows whose names follow the generation's numbering (``AMD EPYC 7xx3`` = Milan, ``Xeon Gold 63xx`` = Ice
  Lake …), each giving TDP ÷ threads;
* in a VM (hypervisor flag), only the generation's dense parts (at least half its largest thread count), the ones
  cloud hosts run; on bare metal, all of them;
* their median.

The DMI vendor and product (``/sys/class/dmi/id/sys_vendor``, ``product_name``: "Google Compute Engine",
"Amazon EC2", an instance type…) are reported in the source text as hints; they do not change the figure.

Family/model numbers from AMD's and Intel's published CPUID tables (AMD "Processor Programming Reference" per
family; Intel SDM vol. 4 "Model-Specific Registers", table 2-1 of DisplayFamily_DisplayModel). A hypervisor may
also mask these; then nothing matches and the model keeps its 4 W/thread default, saying so.
"""
from __future__ import annotations

import re
import statistics
from pathlib import Path
from typing import NamedTuple, Sequence

DMI_DIR = Path("/sys/class/dmi/id")


class Generation(NamedTuple):
    """A server CPU generation: CPUID identity and the table naming of its parts."""

    vendor: str            # CPUID vendor_id
    family: int
    models: frozenset  # type: ignore[type-arg]
    name: str              # human name, e.g. "Zen 3 (EPYC 7003 'Milan')"
    pattern: str           # regex over cpu_tdp.csv names of its parts
    steppings: tuple[int, int] = (0, 255)  # inclusive stepping range (Intel model 0x55 spans three generations)


_AMD, _INTEL = "AuthenticAMD", "GenuineIntel"
_XEON_SP = r"^Intel Xeon (?:Platinum|Gold|Silver|Bronze) \d"

GENERATIONS: tuple[Generation, ...] = (
    Generation(_AMD, 0x17, frozenset({0x01, 0x08}), "Zen (EPYC 7001 'Naples')", r"^AMD EPYC 7\d\d1P?$"),
    Generation(_AMD, 0x17, frozenset({0x31}), "Zen 2 (EPYC 7002 'Rome')", r"^AMD EPYC 7[0-9A-Z][0-9A-Z]2P?$"),
    Generation(_AMD, 0x19, frozenset({0x01}), "Zen 3 (EPYC 7003 'Milan')", r"^AMD EPYC 7[0-9A-Z][0-9A-Z]3[PX]?$"),
    Generation(_AMD, 0x19, frozenset({0x11}), "Zen 4 (EPYC 9004 'Genoa')", r"^AMD EPYC 9[0-8][0-9A-Z]4[PFS]?$"),
    Generation(_AMD, 0x19, frozenset({0xA0}), "Zen 4c (EPYC 97x4 'Bergamo')", r"^AMD EPYC 97\d4S?$"),
    Generation(_AMD, 0x1A, frozenset({0x02, 0x11}), "Zen 5 (EPYC 9005 'Turin')", r"^AMD EPYC 9[0-9A-Z][0-9A-Z]5[PF]?$"),
    Generation(_INTEL, 6, frozenset({0x3F}), "Haswell-EP (Xeon E5 v3)", r"^Intel Xeon E5-2\d\d\d[A-Z]? v3$"),
    Generation(_INTEL, 6, frozenset({0x4F}), "Broadwell-EP (Xeon E5 v4)", r"^Intel Xeon E5-2\d\d\d[A-Z]? v4$"),
    Generation(_INTEL, 6, frozenset({0x55}), "Skylake-SP (1st gen Xeon Scalable)", _XEON_SP + r"1\d\d[A-Z]*$",
               (0, 4)),
    Generation(_INTEL, 6, frozenset({0x55}), "Cascade Lake (2nd gen Xeon Scalable)", _XEON_SP + r"2\d\d[A-Z]*$",
               (5, 7)),
    Generation(_INTEL, 6, frozenset({0x55}), "Cooper Lake (3rd gen Xeon Scalable, 4-8 sockets)",
               _XEON_SP + r"3\d\dH[L]?$", (10, 11)),
    Generation(_INTEL, 6, frozenset({0x6A, 0x6C}), "Ice Lake-SP (3rd gen Xeon Scalable)",
               _XEON_SP + r"3\d\d[A-GI-Z]?$"),
    Generation(_INTEL, 6, frozenset({0x8F}), "Sapphire Rapids (4th gen Xeon Scalable)", _XEON_SP + r"4\d\d[A-Z+]*$"),
    Generation(_INTEL, 6, frozenset({0xCF}), "Emerald Rapids (5th gen Xeon Scalable)", _XEON_SP + r"5\d\d[A-Z+]*$"),
    Generation(_INTEL, 6, frozenset({0xAD, 0xAE}), "Granite Rapids (Xeon 6 P-core)", r"^Intel Xeon 6\d\d\dP$"),
    Generation(_INTEL, 6, frozenset({0xAF}), "Sierra Forest (Xeon 6 E-core)", r"^Intel Xeon 6\d\d\dE$"),
)


class CpuId(NamedTuple):
    """The CPUID identity /proc/cpuinfo shows (``None`` where absent, e.g. on arm64)."""

    vendor: str | None = None
    family: int | None = None
    model: int | None = None
    stepping: int | None = None
    hypervisor: bool = False


def parse_cpuid(text: str) -> CpuId:
    """Vendor, family, model, stepping and the hypervisor flag of the first processor in /proc/cpuinfo text."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip().lower()
        if key == "processor" and values:
            break  # the first processor is enough
        if key in ("vendor_id", "cpu family", "model", "stepping", "flags") and key not in values:
            values[key] = value.strip()

    def number(key: str) -> int | None:
        v = values.get(key, "")
        return int(v) if v.isdigit() else None

    return CpuId(vendor=values.get("vendor_id") or None, family=number("cpu family"), model=number("model"),
                 stepping=number("stepping"), hypervisor="hypervisor" in values.get("flags", "").split())


def identify(cpu: CpuId) -> Generation | None:
    """The generation these CPUID numbers name, or ``None``."""
    if cpu.vendor is None or cpu.family is None or cpu.model is None:
        return None
    stepping = cpu.stepping if cpu.stepping is not None else 0
    for gen in GENERATIONS:
        if (gen.vendor == cpu.vendor and gen.family == cpu.family and cpu.model in gen.models
                and gen.steppings[0] <= stepping <= gen.steppings[1]):
            return gen
    return None


def generation_w_per_thread(gen: Generation, rows: Sequence, in_vm: bool) -> tuple[float, int] | None:
    """``(median W per thread, rows used)`` over the TDP table's parts of ``gen`` (dense parts only in a VM)."""
    rx = re.compile(gen.pattern)
    parts = [r for r in rows if r.threads and rx.search(r.name)]
    if not parts:
        return None
    if in_vm:
        most = max(r.threads for r in parts)
        parts = [r for r in parts if r.threads >= most / 2]
    return statistics.median(r.tdp_w / r.threads for r in parts), len(parts)


def dmi_hint(root: Path = DMI_DIR) -> str | None:
    """``"Google Compute Engine"``-style platform hint from DMI (vendor and product), or ``None``."""
    parts = []
    for name in ("sys_vendor", "product_name"):
        try:
            value = (root / name).read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            continue
        if value and value.lower() not in ("", "none", "to be filled by o.e.m.", "default string"):
            parts.append(value)
    return " / ".join(dict.fromkeys(parts)) or None
