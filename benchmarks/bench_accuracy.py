"""4. Accuracy against known truth: energy error of the counter path and of power polling at 1–50 Hz.

Fake hardware behind the real interfaces (:mod:`benchmarks.truth`): an NVML GPU with the total-energy counter
updated every ~100 ms, an NVML GPU with only instant power, one with only the 1-s average power field, and a
RAPL package counter updated every ~1 ms. Power follows a known profile — steady 250 W; bursty random telegraph
(300 W busy / 60 W idle, mean spells 0.3 s / 0.2 s, the cell starting at an idle→busy edge); a ramp 60→300 W
over the cell — so the true energy of every cell is exact. eco_magic's own ``Sampler`` runs over simulated time
(fake clock and wait), once per sampling rate, for cells of 0.01 s to 120 s.

Each trial draws a new burst pattern, a mean counter update period of 90–110 ms (1 ms ± 10 % for RAPL), a random
update phase, and for NVML a jitter of ± 10 % on every update interval. Error = (measured − true) / true; reported
as mean ± standard deviation over the trials. The NVML counter is measured twice on the same trial, in one run: with
eco_magic's counter-aligned boundaries (eco_magic/sampler/edges.py, the default) and with the plain counter delta
that eco_magic reported before (``Sampler(align_edges=False)``).

A second experiment reproduces the paper's sampling-sensitivity comparison (1 Hz against 5 Hz) with many more
trials of the bursty profile, and compares it with what the edge effect predicts (:func:`edge_prediction`).
"""
from __future__ import annotations

import math
import random
from typing import Sequence

from .common import Section, Table, Target, bench_main, fast_tmpdir, mean_sd, quantile, reps
from .truth import Rig, SimClock, Telegraph, UpdateGrid, cpu_profile, make_profile, simulate

PROFILES = ("steady", "bursty", "ramp")
DURATIONS = (0.01, 0.1, 1.0, 3.0, 10.0, 30.0, 120.0)
RATES: tuple[float | None, ...] = (None, 1.0, 2.0, 5.0, 10.0, 50.0)
NVML_PERIOD_S = 0.1
RAPL_PERIOD_S = 0.001
NVML_JITTER = 0.1     # each update interval × U(0.9, 1.1)
COUNTER_TARGET = 0.005
ALIGNED_TARGETS = {1.0: 0.01, 10.0: 0.003}  # issue 14: p95 |error| of the aligned NVML counter
WALL_TARGET_S = 0.150                       # issue 14: at most 150 ms added to a GPU cell's wall time
PAPER_1HZ_VS_5HZ = 0.058

OLD, NEW = "NVML counter, plain delta (old)", "NVML counter, aligned (new)"
COLUMNS = (OLD, NEW, "RAPL counter", "instant 1 Hz", "instant 2 Hz", "instant 5 Hz",
           "instant 10 Hz", "instant 50 Hz", "instant adaptive", "1-s avg 1 Hz", "1-s avg 5 Hz")


def trials_for(duration_s: float, quick: bool) -> int:
    full = 40 if duration_s <= 0.1 else 60 if duration_s <= 3.0 else 40 if duration_s <= 10.0 else \
        20 if duration_s <= 30.0 else 10
    return reps(full, 3 if duration_s <= 10 else 2, quick)


def _rate_name(rate: float | None) -> str:
    return "adaptive" if rate is None else f"{rate:g} Hz"


def one_trial(profile_name: str, duration_s: float, rng: random.Random, powercap_dir: str,
              rates: Sequence[float | None] = RATES) -> dict[str, float]:
    """Relative errors of every path for one simulated cell (one burst pattern, one counter phase)."""
    gpu = make_profile(profile_name, duration_s, rng)
    cpu = cpu_profile(gpu)
    gpu_grid = UpdateGrid.random(rng, NVML_PERIOD_S, per_update_jitter=NVML_JITTER)
    rapl_grid = UpdateGrid.random(rng, RAPL_PERIOD_S)
    true_gpu = gpu.between_j(0.0, duration_s)
    true_cpu = cpu.between_j(0.0, duration_s)
    out: dict[str, float] = {}
    for rate in rates:
        clock = SimClock()
        extra: dict = {}
        with Rig(clock, gpu, cpu, gpu_grid, rapl_grid, powercap_dir=powercap_dir) as rig:
            m = simulate(rig.sensors(), clock, duration_s, rate, extra=extra)
        ch = {c.info.key: c for c in m.channels}
        name = _rate_name(rate)
        out[f"instant {name}"] = ch["gpu:1"].energy_j / true_gpu - 1.0
        out[f"1-s avg {name}"] = ch["gpu:2"].energy_j / true_gpu - 1.0
        out[f"NVML counter @ {name}"] = ch["gpu:0"].energy_j / true_gpu - 1.0
        if rate is None:  # the default schedule: the counter paths as users get them
            counter = ch["gpu:0"]
            out[NEW] = counter.energy_j / true_gpu - 1.0
            out["RAPL counter"] = ch["cpu:rapl"].energy_j / true_cpu - 1.0
            out["_labelled_counter"] = 1.0 if counter.method == "counter" else 0.0
            out["_edge_wait_s"] = extra["edge_wait_s"]
            # the same trial (profile, update instants) with the plain counter delta, as before alignment
            clock = SimClock()
            with Rig(clock, gpu, None, gpu_grid, None, powercap_dir=powercap_dir, gpus=("counter",)) as rig:
                old = simulate(rig.sensors(), clock, duration_s, None, align_edges=False)
            out[OLD] = old.channels[0].energy_j / true_gpu - 1.0
    return out


# ----------------------------------------------------------------------------------- sampling sensitivity


def edge_prediction(duration_s: float, h_s: float, first_sample_sees_burst: bool = False) -> float:
    """Expected trapezoid energy at step ``h_s`` over expected true energy, minus 1, for the bursty profile.

    The telegraph starts busy just after t = 0; its expected power relaxes to the stationary mean as
    ``P̄ + (B − P̄)·exp(−λt)``, λ = 1/mean busy + 1/mean idle spell. The sample at t = 0 reads the idle power
    (eco_magic's start boundary sample, taken before the cell's code runs) or, with ``first_sample_sees_burst``,
    the burst. The trapezoid gives that sample a weight of h/2, so the bias is a fixed number of joules per
    cell (it decays as 1/T) whose sign is set by what that first sample sees.
    """
    busy, idle, mb, mi = 300.0, 60.0, 0.3, 0.2
    mean = (busy * mb + idle * mi) / (mb + mi)
    lam = 1.0 / mb + 1.0 / mi

    def expected_power(x: float) -> float:
        if x <= 0:
            return busy if first_sample_sees_burst else idle
        return mean + (busy - mean) * math.exp(-lam * x)

    n = max(1, round(duration_s / h_s))
    h = duration_s / n
    trapz = h * (0.5 * expected_power(0.0) + sum(expected_power(k * h) for k in range(1, n))
                 + 0.5 * expected_power(duration_s))
    true = mean * duration_s + (busy - mean) * (1.0 - math.exp(-lam * duration_s)) / lam
    return trapz / true - 1.0


def sampling_sensitivity(quick: bool, rng: random.Random, powercap_dir: str) -> tuple[Table, dict]:
    """1 Hz vs 5 Hz on the bursty profile, many trials; instant-power GPU only (the cheap path).

    Two variants of the first reading: eco_magic's start boundary sample (sees the idle power before the cell)
    and a first sample that lands on the burst (what a free-running sampler started with the work can see).
    """
    durations = (1.0, 3.0, 10.0, 30.0)
    n = reps(300, 30, quick)
    rows, stats = [], {}
    for sees_burst in (False, True):
        for d in durations:
            diffs, e1s, e5s = [], [], []
            for _ in range(n):
                gpu = Telegraph(rng, d, first_sample_sees_burst=sees_burst)
                true = gpu.between_j(0.0, d)
                energies = {}
                for rate in (1.0, 5.0):
                    clock = SimClock()
                    with Rig(clock, gpu, None, UpdateGrid(NVML_PERIOD_S, 0.0), None, powercap_dir=powercap_dir,
                             gpus=("instant",)) as rig:
                        energies[rate] = simulate(rig.sensors(), clock, d, rate).channels[0].energy_j
                diffs.append(energies[1.0] / energies[5.0] - 1.0)
                e1s.append(energies[1.0] / true - 1.0)
                e5s.append(energies[5.0] / true - 1.0)
            m, sd = mean_sd(diffs)
            se = sd / math.sqrt(len(diffs))
            m1, _ = mean_sd(e1s)
            m5, _ = mean_sd(e5s)
            pred = ((1 + edge_prediction(d, 1.0, sees_burst)) / (1 + edge_prediction(d, 0.2, sees_burst)) - 1.0)
            stats[(sees_burst, d)] = (m, se, sd, pred)
            rows.append(["burst" if sees_burst else "idle (eco_magic)", f"{d:g} s", str(n), f"{m1 * 100:+.1f} %",
                         f"{m5 * 100:+.1f} %", f"{m * 100:+.1f} % ± {se * 100:.1f}", f"{sd * 100:.0f} %",
                         f"{pred * 100:+.1f} %"])
    table = Table("Sampling sensitivity on the bursty profile (instant power, trapezoid): energy at 1 Hz relative to "
                  "5 Hz. The paper reports 1 Hz overestimating by 5.8 % against 5 Hz.",
                  ["first sample reads", "cell", "trials", "1 Hz error, mean", "5 Hz error, mean",
                   "1 Hz / 5 Hz − 1 (mean ± s.e.)", "sd per cell", "edge-effect prediction"], rows)
    return table, stats


# --------------------------------------------------------------------------------------------------- report


def _span(data: dict, column: str, duration_s: float) -> str:
    """``"−44 … −33 %"``: the range of the mean error of ``column`` over the non-steady profiles."""
    means = [mean_sd([t[column] for t in data[(p, duration_s)]])[0] * 100 for p in PROFILES if p != "steady"]
    lo, hi = min(means), max(means)
    return f"{lo:+.0f} … {hi:+.0f} %" if round(lo) != round(hi) else f"{lo:+.0f} %"


def _fmt(xs: Sequence[float]) -> str:
    if not xs:
        return "—"
    m, sd = mean_sd(xs)
    digits = 1 if max(abs(m), sd) >= 0.1 else 2
    return f"{m * 100:+.{digits}f} ± {sd * 100:.{digits}f}"


def run(quick: bool = False) -> Section:
    rng = random.Random(20261122)
    powercap_dir = fast_tmpdir("eco_bench_acc_")
    data: dict[tuple[str, float], list[dict[str, float]]] = {}
    for prof in PROFILES:
        for d in DURATIONS:
            data[(prof, d)] = [one_trial(prof, d, rng, powercap_dir) for _ in range(trials_for(d, quick))]
    sens_table, sens = sampling_sensitivity(quick, rng, powercap_dir)

    section = Section(
        key="accuracy",
        title="4. Accuracy against known truth (fake NVML and RAPL, simulated time)",
        intro=("Relative energy error, mean ± sd in % over the trials (trials per cell length: "
               + ", ".join(f"{d:g} s: {trials_for(d, quick)}" for d in DURATIONS)
               + "). **NVML counter**: total-energy counter updated every 90–110 ms (each interval ± 10 %), read on "
               "eco_magic's default adaptive schedule; **aligned (new)**: the cell's boundaries placed on the "
               "counter's update instants, found by polling counter and instant power every 2 ms near each "
               "boundary, partial intervals attributed from the instant power (eco_magic/sampler/edges.py); "
               "**plain delta (old)**: the same trial read without alignment, as eco_magic did before (a window "
               "where the counter did not move and that is shorter than 0.5 s falls back to power × duration, "
               "labelled *integrated*). **RAPL counter**: 1 ms updates, read through the powercap files. "
               "**instant f Hz**: trapezoid of the instant-power field sampled at f Hz with boundary samples. "
               "**1-s avg**: the same over NVML's 1-s trailing-average power (Ampere and newer). The start boundary "
               "sample is taken before the cell's code runs, so it reads the pre-cell (idle) power."),
    )

    def p95(col: str, d: float) -> float:
        return quantile([abs(t[col]) for p in PROFILES for t in data[(p, d)]], 0.95)

    # issue 14: the aligned NVML counter, beside the plain delta measured on the same trials
    for d, target in ALIGNED_TARGETS.items():
        new, old = p95(NEW, d), p95(OLD, d)
        section.targets.append(Target(f"NVML counter (~100 ms updates, jittered), aligned, {d:g}-s cells",
                                      f"p95 |error| {new * 100:.2f} % (plain delta, old: {old * 100:.2f} %)",
                                      f"≤ {target * 100:g} %", new <= target))
    waits = [t["_edge_wait_s"] for trials in data.values() for t in trials]
    section.targets.append(Target(
        "wall time added to a GPU cell by the alignment (wait for the counter's next update after the cell)",
        f"median {quantile(waits, 0.5) * 1000:.0f} ms, p95 {quantile(waits, 0.95) * 1000:.0f} ms, "
        f"max {max(waits) * 1000:.0f} ms", f"≤ {WALL_TARGET_S * 1000:.0f} ms", max(waits) <= WALL_TARGET_S,
        "a cell without such a counter waits 0 ms (tests/test_sampler_edges.py)"))
    # counter paths within 0.5 % for cells ≥ 1 s (95th percentile of |error| over all profiles)
    for col, label in (("RAPL counter", "RAPL counter (~1 ms updates)"),
                       (NEW, "NVML counter (~100 ms updates), aligned"),
                       (OLD, "NVML counter (~100 ms updates), plain delta (old)")):
        for d in [x for x in DURATIONS if x >= 1.0]:
            q = p95(col, d)
            met = q <= COUNTER_TARGET
            why = ""
            if not met and col == OLD:
                spread = NVML_PERIOD_S / math.sqrt(6) / d
                why = (f"update granularity: each end of the window is stale by U(0, 100 ms), independently, so "
                       f"even steady power gives sd ≈ 0.1 s/√6/{d:g} s = {spread * 100:.2g} %; the aligned "
                       "counter removes it")
            elif not met:
                why = "two partial intervals attributed from instant power and ± 1 ms on each update instant"
            section.targets.append(Target(f"{label}, {d:g}-s cells", f"p95 |error| {q * 100:.2f} %",
                                          "≤ 0.5 %", met, why))
    mb, seb, _, predb = sens[(True, 3.0)]
    mi, sei, _, predi = sens[(False, 3.0)]
    section.targets.append(Target(
        "paper's sampling sensitivity: 1 Hz vs 5 Hz, bursty 3-s cells",
        f"{mb * 100:+.1f} % ± {seb * 100:.1f} when the first sample sees the burst; {mi * 100:+.1f} % ± "
        f"{sei * 100:.1f} with eco_magic's boundary sample (idle)", "reproduce +5.8 %", None,
        f"reproduced as an edge effect (predicted {predb * 100:+.1f} % / {predi * 100:+.1f} %): the trapezoid "
        "gives the first sample h/2 of weight; not an effect of the rate on steady work, and absent from counters"))

    for prof in PROFILES:
        rows = []
        for d in DURATIONS:
            trials = data[(prof, d)]
            share = sum(t["_labelled_counter"] for t in trials) / len(trials)
            rows.append([f"{d:g} s"] + [_fmt([t[c] for t in trials if c in t]) for c in COLUMNS]
                        + [f"{share * 100:.0f} %"])
        section.tables.append(Table(f"Profile: {prof} — error in %, mean ± sd",
                                    ["cell"] + list(COLUMNS) + ["NVML result labelled counter"], rows))
    section.tables.append(sens_table)

    worst = max(abs(t[f"NVML counter @ {_rate_name(r)}"] - t["NVML counter @ adaptive"])
                for trials in data.values() for t in trials for r in RATES[1:]
                if t["_labelled_counter"] == 1.0)

    def cell(col: str, prof: str, d: float) -> str:
        return _fmt([t[col] for t in data[(prof, d)]]) + " %"

    section.notes += [
        f"The counter path does not depend on the sampling rate: where the counter moved, its energy at 1–50 Hz "
        f"differs from the adaptive schedule's by at most {worst * 100:.2g} % (float rounding).",
        "**Counter alignment** (issue 14): the plain delta is stale by up to one update period at each end; "
        f"ramp 1 s: {cell(OLD, 'ramp', 1.0)} → {cell(NEW, 'ramp', 1.0)}; bursty 1 s: {cell(OLD, 'bursty', 1.0)} → "
        f"{cell(NEW, 'bursty', 1.0)}; steady 10 ms: {cell(OLD, 'steady', 0.01)} → {cell(NEW, 'steady', 0.01)} (a "
        "cell shorter than one update is integrated from the 2-ms instant-power polls, without a wait). What is "
        "left comes from the instant power over the two partial intervals (exact on this fake; on a real board "
        "its own sampling adds to it) and the ± 1 ms placement of each update instant.",
        f"1-s average power (nvmlDeviceGetPowerUsage on Ampere and newer) lags: {_span(data, '1-s avg 5 Hz', 1.0)} "
        f"on 1-s cells of the bursty and ramp profiles and still {_span(data, '1-s avg 5 Hz', 10.0)} at 10 s, "
        "whatever the rate — eco_magic reads the counter or the instant field first.",
        "Sampling sensitivity: on random bursts the trapezoid is unbiased except at the cell's start, where the "
        "first sample gets h/2 of weight while the burst that starts the cell relaxes to the mean within "
        "~1/λ = 0.12 s. If that sample reads the burst, 1 Hz overestimates against 5 Hz (the paper's sign and "
        "size at a few seconds); eco_magic's start boundary sample reads the pre-cell idle power, so its "
        "integrated path errs low at 1 Hz instead (its default is 5 Hz for the first 10 s). The simulated means "
        "match the closed-form prediction, and the effect falls as 1/T. Counters make the question moot: "
        "eco_magic reports them whenever they exist.",
    ]
    if quick:
        section.notes.append("quick run: 2–3 trials per cell — a smoke test, not a result.")
    return section


def main(argv=None) -> int:
    return bench_main(run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
