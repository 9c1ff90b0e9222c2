"""A fake ``zeus_apple_silicon`` module with exactly the documented API of zeus-apple-silicon 1.1.0, for tests on
machines that are not Apple Silicon Macs (the package is an sdist that builds only there).

Documented API (README "API Reference"; ``bindings/zeus_apple_silicon/__init__.py`` exports both classes):

* ``AppleEnergyMonitor()`` — raises ``RuntimeError`` when IOReport cannot be opened;
  ``begin_window(label, restart=False)``; ``end_window(label) -> AppleEnergyMetrics`` (``RuntimeError`` for an
  unknown label, or a label already open without ``restart``); ``get_cumulative_energy() -> AppleEnergyMetrics``.
* ``AppleEnergyMetrics`` — fields in mJ, ``int`` or ``None`` where the chip has no such channel:
  ``cpu_total_mj``, ``efficiency_cores_mj``, ``performance_cores_mj``, ``efficiency_cluster_mj``,
  ``performance_cluster_mj`` (lists of int), ``efficiency_core_manager_mj``, ``performance_core_manager_mj``,
  ``dram_mj``, ``gpu_mj``, ``gpu_sram_mj``, ``ane_mj``.

:func:`install` registers the fake as ``zeus_apple_silicon`` in ``sys.modules`` and makes the process look like
macOS on arm64 to :mod:`eco_magic.sensors.apple`. Power per domain is given in W (constant or a function of the
fake clock's seconds); the counters integrate it exactly and report whole mJ from a non-zero origin.
"""
from __future__ import annotations

import sys
import types
from dataclasses import dataclass, field
from typing import Callable

INT_FIELDS = ("cpu_total_mj", "efficiency_core_manager_mj", "performance_core_manager_mj", "dram_mj", "gpu_mj",
              "gpu_sram_mj", "ane_mj")
LIST_FIELDS = ("efficiency_cores_mj", "performance_cores_mj", "efficiency_cluster_mj", "performance_cluster_mj")


class AppleEnergyMetrics:
    """The result type: every documented field, ``None`` unless set."""

    def __init__(self, **values) -> None:
        for name in INT_FIELDS + LIST_FIELDS:
            setattr(self, name, values.pop(name, None))
        if values:
            raise TypeError(f"unknown fields {sorted(values)}")

    def __repr__(self) -> str:
        shown = {n: getattr(self, n) for n in INT_FIELDS if getattr(self, n) is not None}
        return f"AppleEnergyMetrics({shown})"


@dataclass
class FakeChip:
    """Power per domain in W; ``None`` = the chip has no such channel (M1: no separate GPU SRAM, some: no DRAM)."""

    cpu_w: float | Callable[[float], float] | None = 6.0
    gpu_w: float | Callable[[float], float] | None = 9.0
    gpu_sram_w: float | None = None
    ane_w: float | None = 0.5
    dram_w: float | None = 1.5
    origin_mj: int = 123_456_789
    fail_reads_after: int | None = None
    init_error: str | None = None
    reads: int = field(default=0, init=False)


class FakeZeusAppleSilicon:
    """Holds the chip and the clock; builds the module object."""

    def __init__(self, chip: FakeChip, clock: Callable[[], float]) -> None:
        self.chip, self.clock = chip, clock
        self.t0 = clock()
        self.module = types.ModuleType("zeus_apple_silicon")
        self.module.AppleEnergyMetrics = AppleEnergyMetrics
        fake = self

        class AppleEnergyMonitor:
            def __init__(self) -> None:
                if fake.chip.init_error:
                    raise RuntimeError(fake.chip.init_error)
                self._windows: dict[str, AppleEnergyMetrics] = {}

            def get_cumulative_energy(self) -> AppleEnergyMetrics:
                return fake.cumulative()

            def begin_window(self, label: str, restart: bool = False) -> None:
                if label in self._windows and not restart:
                    raise RuntimeError(f"Measurement window '{label}' already exists")
                self._windows[label] = fake.cumulative()

            def end_window(self, label: str) -> AppleEnergyMetrics:
                if label not in self._windows:
                    raise RuntimeError(f"No measurement window with label '{label}'")
                start, end = self._windows.pop(label), fake.cumulative()
                return AppleEnergyMetrics(**{n: getattr(end, n) - getattr(start, n) for n in INT_FIELDS
                                             if getattr(end, n) is not None})

        self.module.AppleEnergyMonitor = AppleEnergyMonitor

    def _energy_mj(self, spec, t: float) -> int | None:
        if spec is None:
            return None
        if callable(spec):
            steps = max(1, int(t / 1e-3))
            h = t / steps
            joules = sum(spec((k + 0.5) * h) for k in range(steps)) * h
        else:
            joules = spec * t
        return self.chip.origin_mj + int(joules * 1000)

    def cumulative(self) -> AppleEnergyMetrics:
        chip = self.chip
        if chip.fail_reads_after is not None and chip.reads >= chip.fail_reads_after:
            raise RuntimeError("IOReport sample failed")
        chip.reads += 1
        t = self.clock() - self.t0
        return AppleEnergyMetrics(cpu_total_mj=self._energy_mj(chip.cpu_w, t), gpu_mj=self._energy_mj(chip.gpu_w, t),
                                  gpu_sram_mj=self._energy_mj(chip.gpu_sram_w, t),
                                  ane_mj=self._energy_mj(chip.ane_w, t), dram_mj=self._energy_mj(chip.dram_w, t))


def install(monkeypatch, chip: FakeChip | None = None, *, clock: Callable[[], float] | None = None,
            chip_name: str = "Apple M3 Pro") -> FakeZeusAppleSilicon:
    """Register the fake module, look like an Apple Silicon Mac to eco_magic's probe; return the fake."""
    from eco_magic.sensors import apple

    now = [0.0]
    fake = FakeZeusAppleSilicon(chip or FakeChip(), clock or (lambda: now[0]))
    fake.manual_time = now
    monkeypatch.setitem(sys.modules, "zeus_apple_silicon", fake.module)
    monkeypatch.setattr(apple, "platform_absence", lambda: None)
    monkeypatch.setattr(apple, "_chip_name", lambda: chip_name)
    return fake
