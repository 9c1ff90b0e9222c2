"""Known truth for the accuracy benchmarks: power profiles with exact energy, and fake hardware that follows them.

A :class:`Profile` gives power ``power_w(t)`` and the exact cumulative energy ``energy_j(t)`` (t in seconds since
the cell started; negative t is before the cell). :class:`Rig` puts profiles behind the *real* interfaces that
eco_magic reads, using the test fakes:

* ``tests/fake_nvml.py`` patches the real ``pynvml`` module. GPU ``gpu:0`` has the total-energy counter, which
  here only changes at discrete *update instants* (NVML updates it about every 100 ms, measurement.md §1.3;
  :class:`UpdateGrid` adds per-update jitter): a read at t returns the exact energy at the last update before t,
  in whole mJ. ``gpu:1`` has no counter and
  reports instant power (eco_magic integrates it: method ``integrated``); ``gpu:2`` reports only the 1-s
  average power field, as Ampere-and-newer boards do for ``nvmlDeviceGetPowerUsage``.
* ``tests/fake_powercap.py`` builds a powercap tree; its ``energy_uj`` file is rewritten just before each read
  with the exact energy at the last RAPL update (about every 1 ms), in whole µJ, wrapping like the hardware.

Everything runs on one clock: a :class:`SimClock` (simulated time; the sampler's ``wait`` advances it) or the
real ``time.perf_counter``.
"""
from __future__ import annotations

import bisect
import math
import random
import threading
from pathlib import Path
from typing import Callable, Sequence

from .common import Patcher, ensure_paths, fast_tmpdir

ensure_paths()

GPU_E0_J = 50_000.0   # NVML counter value when the cell starts ("since the driver loaded")
CPU_E0_J = 1_000.0    # RAPL counter value when the cell starts


# ------------------------------------------------------------------------------------------------- profiles


class Profile:
    """Power over time with exact energy. Subclasses define ``power_w`` and ``energy_j`` (J since t = 0)."""

    name = "profile"

    def power_w(self, t: float) -> float:
        raise NotImplementedError

    def energy_j(self, t: float) -> float:
        raise NotImplementedError

    def avg_1s_w(self, t: float) -> float:
        """Trailing 1-s average power (what NVML's averaged power reading reports)."""
        return self.energy_j(t) - self.energy_j(t - 1.0)

    def between_j(self, t0: float, t1: float) -> float:
        return self.energy_j(t1) - self.energy_j(t0)


class Steady(Profile):
    name = "steady"

    def __init__(self, power_w: float) -> None:
        self.p = float(power_w)

    def power_w(self, t: float) -> float:
        return self.p

    def energy_j(self, t: float) -> float:
        return self.p * t


class Telegraph(Profile):
    """Random telegraph: busy and idle spells with exponential lengths; busy from t = 0, idle before.

    Defaults follow measurement.md §8.2 (busy 300 W for 0.3 s on average, idle 60 W for 0.2 s): the cell starts
    at an idle→load boundary, as a cell that launches work does. The sampler's start boundary sample is taken
    before the cell's code runs, so the power *at* t = 0 is the idle power; the first burst starts right after.
    ``first_sample_sees_burst`` makes the reading at t = 0 see the burst instead.
    """

    name = "bursty"

    def __init__(self, rng: random.Random, horizon_s: float, busy_w: float = 300.0, idle_w: float = 60.0,
                 mean_busy_s: float = 0.3, mean_idle_s: float = 0.2, first_sample_sees_burst: bool = False) -> None:
        self.idle_w, self.busy_w = idle_w, busy_w
        self.first_sample_sees_burst = first_sample_sees_burst
        self.mean_busy_s, self.mean_idle_s = mean_busy_s, mean_idle_s
        self.edges = [0.0]
        self.levels: list[float] = []
        self.cum = [0.0]
        busy = True
        t = 0.0
        while t < horizon_s + 2.0:
            length = rng.expovariate(1.0 / (mean_busy_s if busy else mean_idle_s))
            level = busy_w if busy else idle_w
            self.levels.append(level)
            t += length
            self.edges.append(t)
            self.cum.append(self.cum[-1] + level * length)
            busy = not busy

    def _index(self, t: float) -> int:
        k = bisect.bisect_right(self.edges, t) - 1
        if k >= len(self.levels):
            raise ValueError(f"t = {t} s is past the generated horizon")
        return k

    def power_w(self, t: float) -> float:
        # at t = 0 exactly the work has not started yet: the start boundary sample sees the idle power
        # (unless asked otherwise, to model a sampler whose first reading lands on the burst)
        if t < 0 or (t == 0 and not self.first_sample_sees_burst):
            return self.idle_w
        return self.levels[self._index(t)]

    def energy_j(self, t: float) -> float:
        if t < 0:
            return self.idle_w * t
        k = self._index(t)
        return self.cum[k] + self.levels[k] * (t - self.edges[k])


class Ramp(Profile):
    """Idle before the cell, then a linear ramp from ``p0_w`` to ``p1_w`` over the cell, flat after."""

    name = "ramp"

    def __init__(self, duration_s: float, p0_w: float = 60.0, p1_w: float = 300.0) -> None:
        self.d, self.p0, self.p1 = float(duration_s), float(p0_w), float(p1_w)
        self.slope = (self.p1 - self.p0) / self.d

    def power_w(self, t: float) -> float:
        if t <= 0:
            return self.p0
        return self.p0 + self.slope * min(t, self.d)

    def energy_j(self, t: float) -> float:
        if t <= 0:
            return self.p0 * t
        if t <= self.d:
            return self.p0 * t + 0.5 * self.slope * t * t
        return self.p0 * self.d + 0.5 * self.slope * self.d * self.d + self.p1 * (t - self.d)


class Affine(Profile):
    """``a + b × base`` — the CPU package's power following the same workload as the GPU."""

    def __init__(self, base: Profile, a_w: float, b: float) -> None:
        self.base, self.a, self.b = base, float(a_w), float(b)
        self.name = base.name

    def power_w(self, t: float) -> float:
        return self.a + self.b * self.base.power_w(t)

    def energy_j(self, t: float) -> float:
        return self.a * t + self.b * self.base.energy_j(t)


def make_profile(name: str, duration_s: float, rng: random.Random) -> Profile:
    if name == "steady":
        return Steady(250.0)
    if name == "bursty":
        return Telegraph(rng, duration_s)
    if name == "ramp":
        return Ramp(duration_s)
    raise ValueError(name)


def cpu_profile(gpu: Profile) -> Profile:
    """CPU package power: 8 W + 0.3 × the GPU's (26–98 W for a 60–300 W GPU)."""
    return Affine(gpu, 8.0, 0.3)


# ----------------------------------------------------------------------------------------------- counters


class UpdateGrid:
    """Instants at which a hardware counter updates: from ``phase``, every ``period`` × U(1 − jitter, 1 + jitter).

    ``jitter`` = 0 gives the regular grid ``phase + k × period``. Real NVML updates come about every 100 ms with
    some jitter from one update to the next; boards also differ in their mean period (:meth:`random`).
    """

    def __init__(self, period_s: float, phase_s: float, jitter: float = 0.0, seed: int = 0) -> None:
        self.period_s, self.phase_s, self.jitter = float(period_s), float(phase_s), float(jitter)
        self._rng = random.Random(seed)
        self._instants = [self.phase_s - self.period_s, self.phase_s]  # one before t = 0, for reads at t < phase

    @classmethod
    def random(cls, rng: random.Random, nominal_s: float, jitter: float = 0.1,
               per_update_jitter: float = 0.0) -> "UpdateGrid":
        """Mean period ``nominal × U(1 − jitter, 1 + jitter)`` (real boards differ), phase uniform in one period,
        and each interval ``× U(1 − per_update_jitter, 1 + per_update_jitter)``."""
        period = nominal_s * rng.uniform(1.0 - jitter, 1.0 + jitter)
        return cls(period, rng.uniform(0.0, period), per_update_jitter, rng.randrange(2**31))

    def last(self, t: float) -> float:
        """The last update instant at or before ``t``."""
        if self.jitter == 0.0:
            return self.phase_s + self.period_s * math.floor((t - self.phase_s) / self.period_s)
        while self._instants[-1] <= t:
            step = self.period_s * self._rng.uniform(1.0 - self.jitter, 1.0 + self.jitter)
            self._instants.append(self._instants[-1] + step)
        return self._instants[bisect.bisect_right(self._instants, t) - 1]


# -------------------------------------------------------------------------------------------------- clocks


class SimClock:
    """Simulated monotonic seconds; ``wait`` advances it instead of sleeping, until the cell's end."""

    def __init__(self, start_s: float = 1000.0) -> None:
        self.t = float(start_s)
        self.end = math.inf
        self.done = threading.Event()

    def __call__(self) -> float:
        return self.t

    def run_for(self, seconds: float) -> None:
        self.end = self.t + seconds
        self.done.clear()

    def sleep(self, seconds: float) -> None:
        """Time passing after the cell (the sampler's polls for the counter's next update)."""
        self.t += seconds

    def wait(self, event: threading.Event, timeout: float) -> bool:
        if event.is_set():
            return True
        if self.t + timeout >= self.end:  # the simulated cell is over: park until stop()
            self.t = self.end
            self.done.set()
            return True
        self.t += timeout
        return False


# ------------------------------------------------------------------------------------------------------ rig

GPU_KINDS = ("counter", "instant", "average")  # also "counter+fields" (gpu_validate --fake)


class Rig:
    """Fake NVML GPUs and a fake RAPL package following ``gpu`` / ``cpu`` profiles on ``clock``.

    ``install()`` patches (pynvml functions, the powercap read, ``ECO_MAGIC_POWERCAP_ROOT``); ``sensors()``
    discovers through eco_magic's own probes; ``close()`` closes the sensors and undoes every patch. Time 0 of
    the profiles is the clock's value at ``install()``.
    """

    def __init__(self, clock: Callable[[], float], gpu: Profile, cpu: Profile | None,
                 gpu_grid: UpdateGrid, rapl_grid: UpdateGrid | None, powercap_dir: str | Path | None = None,
                 gpus: Sequence[str] = GPU_KINDS) -> None:
        self.clock, self.gpu, self.cpu = clock, gpu, cpu
        self.gpu_grid, self.rapl_grid = gpu_grid, rapl_grid
        self.gpus = tuple(gpus)
        self.powercap_dir = Path(powercap_dir or fast_tmpdir("eco_bench_pc_"))
        self.patcher = Patcher()
        self.fake = None
        self.powercap = None
        self.t0 = 0.0
        self._sensors: list = []

    def now(self) -> float:
        return self.clock() - self.t0

    def install(self) -> None:
        import pynvml
        from fake_nvml import FakeGpu, install

        from eco_magic.sensors import rapl

        self.t0 = self.clock()
        devices = []
        for kind in self.gpus:
            common = dict(name="NVIDIA H100 80GB HBM3", temp_c=None, util_pct=None, supports_usage=False)
            if kind == "counter":
                devices.append(FakeGpu(power_w=self.gpu.power_w, **common))
            elif kind == "instant":
                devices.append(FakeGpu(power_w=self.gpu.power_w, supports_counter=False, **common))
            elif kind == "average":
                devices.append(FakeGpu(power_w=self.gpu.avg_1s_w, supports_counter=False, supports_instant=False,
                                       supports_average_field=True, **common))
            elif kind == "counter+fields":  # counter, both power fields and PowerUsage (the fake does not average)
                devices.append(FakeGpu(power_w=self.gpu.power_w, supports_average_field=True,
                                       **{**common, "supports_usage": True}))
            else:
                raise ValueError(kind)
        fake = install(self.patcher, devices, clock=self.clock)
        from eco_magic.sensors import nvidia

        # the counter below moves only at the grid's update instants, like NVML's: the sampler aligns to them
        self.patcher.setattr(nvidia, "COUNTER_UPDATE_S", max(self.gpu_grid.period_s, 0.1))
        fake._integrate = lambda gpu: None  # energy comes from the profile's exact integral instead
        self.fake = fake
        profile, grid = self.gpu, self.gpu_grid

        def total_energy_mj(handle):
            gpu = fake._gpu(handle, query=True)
            if not gpu.supports_counter:
                raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
            return math.floor((GPU_E0_J + profile.energy_j(grid.last(fake.now_s()))) * 1000.0)

        self.patcher.setattr(pynvml, "nvmlDeviceGetTotalEnergyConsumption", total_energy_mj)

        if self.cpu is not None and self.rapl_grid is not None:
            from fake_powercap import FakePowercap

            root = self.powercap_dir / "powercap"
            if not (root / "intel-rapl:0").exists():
                FakePowercap(root, packages=1, core=False, dram=None)
            self.powercap = _Powercap(root)
            cpu_prof, rgrid, pc = self.cpu, self.rapl_grid, self.powercap
            real_read = rapl._read_text

            def read_text(path):
                if Path(path).name == "energy_uj":
                    pc.write_uj(math.floor((CPU_E0_J + cpu_prof.energy_j(rgrid.last(self.now()))) * 1e6))
                return real_read(path)

            self.patcher.setattr(rapl, "_read_text", read_text)
            self.patcher.setenv("ECO_MAGIC_POWERCAP_ROOT", str(root))

    def sensors(self) -> list:
        """Discover through eco_magic's probes: ``gpu:0..`` then ``cpu:rapl`` (if a CPU profile was given)."""
        from eco_magic.sensors import nvidia, rapl

        found = list(nvidia.discover(env={}).sensors)
        if self.powercap is not None:
            found += [s for s in rapl.discover(env={"ECO_MAGIC_POWERCAP_ROOT": str(self.powercap.root)},
                                               temp_fn=lambda: None, util_fn=lambda: None,
                                               cpu_name="fake CPU").sensors if s.info.kind == "cpu"]
        self._sensors = found
        return found

    def close(self) -> None:
        for s in self._sensors:
            try:
                s.close()
            except Exception:  # noqa: BLE001
                pass
        self._sensors = []
        self.patcher.undo()

    def __enter__(self) -> "Rig":
        self.install()
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Powercap:
    """The one package zone of a fake powercap tree: write its ``energy_uj`` (modulo the wrap value)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        zone = root / "intel-rapl" / "intel-rapl:0"
        self.file = zone / "energy_uj"
        self.max_uj = int((zone / "max_energy_range_uj").read_text())

    def write_uj(self, value: int) -> None:
        self.file.write_text(f"{int(value) % self.max_uj}\n")


def simulate(sensors: Sequence, clock: SimClock, duration_s: float, rate_hz: float | None, *,
             align_edges: bool = True, extra: dict | None = None):
    """Run eco_magic's :class:`~eco_magic.sampler.Sampler` over a simulated cell; returns its Measurement.

    ``align_edges=False`` gives the plain counter delta (the method before counter alignment); ``extra``, when
    given, receives ``edge_wait_s``: the simulated seconds ``stop()`` added after the cell.
    """
    from eco_magic.sampler import Sampler

    clock.run_for(duration_s)
    sampler = Sampler(sensors, rate_hz=rate_hz, clock=clock, wait=clock.wait, sleep=clock.sleep,
                      align_edges=align_edges)
    sampler.start()
    if not clock.done.wait(600):
        sampler.stop()
        raise RuntimeError("simulated cell did not finish")
    m = sampler.stop()
    if extra is not None:
        extra["edge_wait_s"] = sampler.edge_wait_s
    return m
