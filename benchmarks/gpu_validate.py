"""7. GPU validation on a real NVIDIA GPU: counter energy against integrated power, and the sampler's cost.

Run on a machine with an NVIDIA GPU and torch (CUDA build) or cupy::

    python -m benchmarks.gpu_validate            # or: python benchmarks/gpu_validate.py
    python -m benchmarks.gpu_validate --fake     # the same logic on the fake NVML (no GPU needed)

What it does, for one GPU (CUDA device 0, matched to its NVML handle by UUID):

1. A matrix-multiplication load of several seconds (bf16 8192² matmuls on torch, fp32 on cupy), between idle
   pauses. During it a reference thread polls NVML at 50 Hz: the instant-power field, the 1-s-average power
   field and ``nvmlDeviceGetPowerUsage``; the total-energy counter is read at the start and, after a CUDA sync,
   at the end. eco_magic's own ``Sampler`` measures the same window with its discovered sensor.
   Reported: the counter energy, the trapezoid of each polled power, and eco_magic's figure, each relative to
   the counter (the hardware's own integral).
2. Throughput of the same matmuls with no sampler, with eco_magic's sampler at its default rate and at 50 Hz,
   interleaved; the median ratio is the sampler's overhead on the GPU work.

Without a GPU it prints one line, writes a "not run" section with ``--json`` and exits with status 0.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the benchmarks package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "benchmarks"

from benchmarks.common import Section, Table, Target, ensure_paths, iqr, median, print_section  # noqa: E402

ensure_paths()

NOT_RUN = "not run: no GPU in this session"
OVERHEAD_TARGET = 1.01


# ------------------------------------------------------------------------------------------------- backends


class TorchLoad:
    name = "torch"
    unit = "matmul"

    def __init__(self, n: int = 8192) -> None:
        import torch

        self.torch = torch
        self.n = n
        self.a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
        self.b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
        self.dtype = "bf16"
        self.sync()

    def uuid(self) -> str | None:
        props = self.torch.cuda.get_device_properties(0)
        u = getattr(props, "uuid", None)
        return None if u is None else "GPU-" + str(u)

    def sync(self) -> None:
        self.torch.cuda.synchronize()

    def run(self, seconds: float) -> int:
        """Matmuls for about ``seconds`` (synchronised); returns how many ran."""
        end = time.perf_counter() + seconds
        n = 0
        while time.perf_counter() < end:
            for _ in range(8):
                self.a @ self.b
            n += 8
            self.sync()
        return n


class CupyLoad(TorchLoad):
    name = "cupy"

    def __init__(self, n: int = 8192) -> None:  # noqa: super().__init__ would import torch
        import cupy

        self.cupy = cupy
        self.n = n
        self.a = cupy.random.standard_normal((n, n), dtype=cupy.float32)
        self.b = cupy.random.standard_normal((n, n), dtype=cupy.float32)
        self.dtype = "fp32"
        self.sync()

    def uuid(self) -> str | None:
        try:
            u = self.cupy.cuda.runtime.getDeviceProperties(0).get("uuid")
            return None if u is None else "GPU-" + (u.hex() if isinstance(u, bytes) else str(u))
        except Exception:  # noqa: BLE001
            return None

    def sync(self) -> None:
        self.cupy.cuda.runtime.deviceSynchronize()


class SleepLoad:
    """``--fake``: no GPU; the fake NVML GPU draws its profile's power whatever runs."""

    name = "fake (sleep)"
    unit = "10-ms sleep"
    n = 0
    dtype = "-"

    def uuid(self) -> str | None:
        return None

    def sync(self) -> None:
        return None

    def run(self, seconds: float) -> int:
        """10-ms sleeps for ``seconds``; returns how many (the "work" of the fake)."""
        end = time.perf_counter() + seconds
        n = 0
        while time.perf_counter() < end:
            time.sleep(0.01)
            n += 1
        return n


def find_backend():
    """A load on CUDA device 0 (torch, else cupy), or ``(None, why)``."""
    reasons = []
    try:
        import torch

        if torch.cuda.is_available() and torch.cuda.device_count() > 0:
            return TorchLoad(), ""
        reasons.append("torch sees no CUDA device")
    except ImportError:
        reasons.append("torch not installed")
    except Exception as exc:  # noqa: BLE001
        reasons.append(f"torch: {type(exc).__name__}: {exc}")
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() > 0:
            return CupyLoad(), ""
        reasons.append("cupy sees no CUDA device")
    except ImportError:
        reasons.append("cupy not installed")
    except Exception as exc:  # noqa: BLE001
        reasons.append(f"cupy: {type(exc).__name__}: {exc}")
    return None, "; ".join(reasons)


# ----------------------------------------------------------------------------------------------- reference


class PowerPoller:
    """Reference thread: polls instant power, 1-s-average power and nvmlDeviceGetPowerUsage at ``rate_hz``."""

    FIELDS = ("instant", "average_1s", "usage")

    def __init__(self, nv, handle, rate_hz: float = 50.0) -> None:
        self.nv, self.h, self.period = nv, handle, 1.0 / rate_hz
        self.samples: dict[str, list[tuple[float, float]]] = {k: [] for k in self.FIELDS}
        self.errors: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gpu_validate-poller", daemon=True)

    def read_once(self) -> None:
        nv, h = self.nv, self.h
        t = time.perf_counter()
        ids = [(getattr(nv, "NVML_FI_DEV_POWER_INSTANT", 186), 0), (getattr(nv, "NVML_FI_DEV_POWER_AVERAGE", 185), 0)]
        try:
            values = nv.nvmlDeviceGetFieldValues(h, ids)
            for name, v in zip(("instant", "average_1s"), values):
                if v.nvmlReturn == nv.NVML_SUCCESS:
                    self.samples[name].append((t, v.value.uiVal / 1000.0))
                else:
                    self.errors[name] = f"nvmlReturn {v.nvmlReturn}"
        except Exception as exc:  # noqa: BLE001
            self.errors["fields"] = f"{type(exc).__name__}: {exc}"
        try:
            self.samples["usage"].append((t, nv.nvmlDeviceGetPowerUsage(h) / 1000.0))
        except Exception as exc:  # noqa: BLE001
            self.errors["usage"] = f"{type(exc).__name__}: {exc}"

    def _run(self) -> None:
        nxt = time.perf_counter()
        while not self._stop.is_set():
            self.read_once()
            nxt += self.period
            self._stop.wait(max(0.0, nxt - time.perf_counter()))

    def __enter__(self) -> "PowerPoller":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5.0)

    def energy_j(self, name: str, t0: float, t1: float) -> float | None:
        """Trapezoid of one series over [t0, t1], clipped with linear interpolation at the ends."""
        pts = self.samples[name]
        if len(pts) < 2:
            return None
        inside = [(t, p) for t, p in pts if t0 <= t <= t1]
        before = [(t, p) for t, p in pts if t < t0][-1:]
        after = [(t, p) for t, p in pts if t > t1][:1]
        series = before + inside + after
        if len(series) < 2:
            return None
        total = 0.0
        for (ta, pa), (tb, pb) in zip(series, series[1:]):
            lo, hi = max(ta, t0), min(tb, t1)
            if hi <= lo:
                continue
            slope = (pb - pa) / (tb - ta)
            total += 0.5 * ((pa + slope * (lo - ta)) + (pa + slope * (hi - ta))) * (hi - lo)
        return total


def counter_j(nv, handle) -> float:
    return nv.nvmlDeviceGetTotalEnergyConsumption(handle) / 1000.0


# ------------------------------------------------------------------------------------------------ the runs


def pick_sensor(load, sensors):
    """The eco_magic sensor of the GPU the load runs on (by UUID; else the first GPU, with a note)."""
    uuid = load.uuid()
    gpus = [s for s in sensors if s.info.kind == "gpu"]
    if uuid:
        for s in gpus:
            if str(s.info.details.get("uuid", "")).lower().startswith(uuid.lower()[:40]):
                return s, ""
    return (gpus[0], "NVML device chosen as the first GPU (CUDA UUID not matched)") if gpus else (None, "")


def energy_run(load, sensor, seconds: float, idle_s: float) -> dict:
    """One load window measured four ways (see the module docstring)."""
    from eco_magic.sampler import Sampler
    from eco_magic.sensors.nvidia import sync_cuda

    import pynvml as nv

    handle = nv.nvmlDeviceGetHandleByIndex(int(sensor.info.details.get("nvml_index", 0)))
    with PowerPoller(nv, handle) as poller:
        time.sleep(idle_s)
        sampler = Sampler([sensor], sync=sync_cuda if load.name != "fake (sleep)" else None)
        e0 = counter_j(nv, handle)
        t0 = time.perf_counter()
        sampler.start()
        iters = load.run(seconds)
        m = sampler.stop()
        load.sync()
        t1 = time.perf_counter()
        e1 = counter_j(nv, handle)
        time.sleep(idle_s)
    counter = e1 - e0
    ch = m.channels[0]
    out = {"duration_s": t1 - t0, "counter_j": counter, "iters": iters, "eco_j": ch.energy_j,
           "eco_method": ch.method, "eco_notes": list(ch.notes) + list(m.notes), "errors": dict(poller.errors),
           "n_polls": len(poller.samples["instant"]) or len(poller.samples["usage"])}
    for name in PowerPoller.FIELDS:
        out[f"{name}_j"] = poller.energy_j(name, t0, t1)
    return out


def throughput(load, sensor, seconds: float, reps: int) -> dict:
    """Work per second with no sampler, eco_magic's default rate and 50 Hz, interleaved."""
    from eco_magic.sampler import Sampler
    from eco_magic.sensors.nvidia import sync_cuda

    variants = {"no sampler": None, "eco_magic default": "default", "eco_magic 50 Hz": 50.0}
    rates: dict[str, list[float]] = {k: [] for k in variants}
    names = list(variants)
    load.run(1.0)  # warm clocks
    for r in range(reps):
        for name in names[r % 3:] + names[:r % 3]:
            v = variants[name]
            t0 = time.perf_counter()
            if v is None:
                iters = load.run(seconds)
            else:
                with Sampler([sensor], rate_hz=None if v == "default" else v, sync=sync_cuda):
                    iters = load.run(seconds)
            rates[name].append(iters / (time.perf_counter() - t0))
    return rates


def validate(load, sensors, seconds: float, reps: int, idle_s: float) -> Section:
    section = Section(key="gpu", title="7. GPU validation (NVML on a real GPU)")
    sensor, note = pick_sensor(load, sensors)
    if sensor is None:
        section.targets.append(Target("GPU validation", "not run", "—", None, "eco_magic discovered no NVIDIA GPU"))
        return section
    info = sensor.info
    section.intro = (f"{info.name} ({info.details.get('architecture')}), eco_magic method **{info.method}** "
                     f"({info.source}); load: {load.name} {load.dtype} {load.n}² matmuls, {seconds:g} s between "
                     f"{idle_s:g}-s idle pauses; reference polling at 50 Hz. " + note)
    runs = [energy_run(load, sensor, seconds, idle_s) for _ in range(max(1, reps // 2))]
    rows = []
    methods = (("counter_j", "NVML total-energy counter (reference)"), ("instant_j", "∫ instant-power field, 50 Hz"),
               ("average_1s_j", "∫ 1-s average power field, 50 Hz"), ("usage_j", "∫ nvmlDeviceGetPowerUsage, 50 Hz"),
               ("eco_j", "eco_magic Sampler, default rate"))
    for key, label in methods:
        vals = [r[key] for r in runs if r.get(key) is not None]
        if not vals:
            rows.append([label, "not available", "", ""])
            continue
        rel = [r[key] / r["counter_j"] - 1.0 for r in runs if r.get(key) is not None and r["counter_j"] > 0]
        rows.append([label, f"{median(vals):.1f} J", f"{median(vals) / median([r['duration_s'] for r in runs]):.0f} W",
                     "—" if key == "counter_j" else f"{median(rel) * 100:+.2f} %"])
    section.tables.append(Table(f"Energy of the load window (median of {len(runs)} runs)",
                                ["method", "energy", "mean power", "vs counter"], rows))
    eco_rel = median([r["eco_j"] / r["counter_j"] - 1.0 for r in runs if r["eco_j"] and r["counter_j"] > 0])
    section.targets.append(Target("eco_magic energy vs the NVML counter read around the same window",
                                  f"{eco_rel * 100:+.2f} %", "within ±1 % (own target)", abs(eco_rel) <= 0.01,
                                  f"eco_magic method: {runs[0]['eco_method']}"))
    avg = [r["average_1s_j"] / r["counter_j"] - 1.0 for r in runs if r.get("average_1s_j") and r["counter_j"] > 0]
    if avg:
        section.targets.append(Target("∫ 1-s-average power vs counter (the lag eco_magic avoids)",
                                      f"{median(avg) * 100:+.2f} %", "—", None,
                                      "expected ≈ −(0.5 s × ΔP)/E for a window starting from idle"))
    rates = throughput(load, sensor, seconds, reps)
    base = median(rates["no sampler"])
    trows = []
    for name, xs in rates.items():
        q1, q3 = iqr(xs)
        trows.append([name, f"{median(xs):.2f} {load.unit}/s (IQR {q1:.2f}–{q3:.2f})",
                      f"{median(xs) / base:.4f}" if base else "n/a"])
    section.tables.append(Table(f"Throughput with and without the sampler ({reps} interleaved runs of {seconds:g} s)",
                                ["variant", "throughput", "ratio to no sampler"], trows))
    for name in ("eco_magic default", "eco_magic 50 Hz"):
        ratio = base / median(rates[name]) if median(rates[name]) else float("nan")
        section.targets.append(Target(f"sampler overhead on GPU throughput, {name}", f"{ratio:.4f}",
                                      f"≤ {OVERHEAD_TARGET} (own target)", ratio <= OVERHEAD_TARGET, ""))
    errs = {k: v for r in runs for k, v in r["errors"].items()}
    if errs:
        section.notes.append(f"NVML reads that failed during the reference polling: {errs}")
    notes = sorted({n for r in runs for n in r["eco_notes"]})
    if notes:
        section.notes.append("eco_magic notes: " + "; ".join(notes))
    return section


def not_run(why: str) -> Section:
    s = Section(key="gpu", title="7. GPU validation (NVML on a real GPU)")
    s.targets.append(Target("GPU validation", NOT_RUN, "runs wherever a GPU is present", None, why))
    return s


def run(fake: bool = False, seconds: float = 5.0, reps: int = 6, idle_s: float = 1.0) -> Section:
    """Run the validation on a real GPU (or the fake with ``fake=True``); a "not run" section without one."""
    if fake:
        return run_fake(seconds, reps, idle_s)
    load, why = find_backend()
    if load is None:
        return not_run(why)
    from eco_magic.sensors import nvidia

    found = nvidia.discover()
    try:
        return validate(load, found.sensors, seconds, reps, idle_s)
    finally:
        for s in found.sensors:
            s.close()


def run_fake(seconds: float, reps: int, idle_s: float) -> Section:
    """The same logic over the fake NVML on the real clock: a steady 300-W GPU with counter and power fields."""
    import random

    from .truth import Rig, Steady, UpdateGrid

    rig = Rig(time.perf_counter, Steady(300.0), None, UpdateGrid.random(random.Random(1), 0.1), None,
              gpus=("counter+fields",))
    with rig:
        section = validate(SleepLoad(), rig.sensors(), seconds, reps, idle_s)
    section.title += " — FAKE NVML (logic check, not a result)"
    return section


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fake", action="store_true", help="run on the fake NVML from tests/ (no GPU needed)")
    ap.add_argument("--seconds", type=float, default=5.0, help="length of one load window (s)")
    ap.add_argument("--reps", type=int, default=6, help="throughput repetitions (energy runs: half as many)")
    ap.add_argument("--quick", action="store_true", help="short windows and few repetitions")
    ap.add_argument("--json", default=None, help="write the section as JSON to this path")
    args = ap.parse_args(argv)
    seconds, reps, idle = (1.0, 2, 0.2) if args.quick else (args.seconds, args.reps, 1.0)
    t0 = time.perf_counter()
    section = run(fake=args.fake, seconds=seconds, reps=reps, idle_s=idle)
    section.elapsed_s = time.perf_counter() - t0
    if section.targets and section.targets[0].measured == NOT_RUN:
        print(f"gpu_validate: {NOT_RUN} ({section.targets[0].why})")
    else:
        print_section(section)
    if args.json:
        Path(args.json).write_text(json.dumps(section.to_json(), ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
