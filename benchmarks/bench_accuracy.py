"""4. Accuracy against known truth: energy error of the counter path and of power polling at 1–50 Hz.

Fake hardware behind the real interfaces (:mod:`benchmarks.truth`): an NVML GPU with the total-energy counter
updated every ~100 ms, an NVML GPU with only instant power, one with only the 1-s average power field, and a
RAPL package counter updated every ~1 ms. Power follows a known profile — steady 250 W; bursty random telegraph
(300 W busy / 60 W idle, mean spells 0.3 s / 0.2 s, the cell starting at an idle→busy edge); a ramp 60→300 W
over the cell — so the true energy of every cell is exact. eco_magic's own ``Sampler`` runs over simulated time
(fake clock and wait), once per sampling rate, for cells of 0.01 s to 120 s.

Each trial draws a new burst pattern, a counter update period of 90–110 ms (1 ms ± 10 % for RAPL) and a random
update phase. Error = (measured − true) / true; reported as mean ± standard deviation over the trials.

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
SHORT_WINDOW_S = 0.5  # eco_magic's STUCK_COUNTER_WINDOW_S
COUNTER_TARGET = 0.005
PAPER_1HZ_VS_5HZ = 0.058

PROPOSAL = "NVML proposal"
COLUMNS = ("NVML counter", PROPOSAL, "RAPL counter", "instant 1 Hz", "instant 2 Hz", "instant 5 Hz",
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
    gpu_grid = UpdateGrid.random(rng, NVML_PERIOD_S)
    rapl_grid = UpdateGrid.random(rng, RAPL_PERIOD_S)
    true_gpu = gpu.between_j(0.0, duration_s)
    true_cpu = cpu.between_j(0.0, duration_s)
    out: dict[str, float] = {}
    for rate in rates:
        clock = SimClock()
        with Rig(clock, gpu, cpu, gpu_grid, rapl_grid, powercap_dir=powercap_dir) as rig:
            m = simulate(rig.sensors(), clock, duration_s, rate)
        ch = {c.info.key: c for c in m.channels}
        name = _rate_name(rate)
        out[f"instant {name}"] = ch["gpu:1"].energy_j / true_gpu - 1.0
        out[f"1-s avg {name}"] = ch["gpu:2"].energy_j / true_gpu - 1.0
        out[f"NVML counter @ {name}"] = ch["gpu:0"].energy_j / true_gpu - 1.0
        if rate is None:  # the default schedule: the counter paths as users get them
            counter = ch["gpu:0"]
            out["NVML counter"] = counter.energy_j / true_gpu - 1.0
            out["RAPL counter"] = ch["cpu:rapl"].energy_j / true_cpu - 1.0
            out["_labelled_counter"] = 1.0 if counter.method == "counter" else 0.0
            out[PROPOSAL] = proposal_energy(counter.energy_j, counter.method, duration_s,
                                            gpu.power_w(0.0), gpu.power_w(duration_s),
                                            ch["gpu:1"].energy_j) / true_gpu - 1.0
    return out


def proposal_energy(counter_j: float, method: str, duration_s: float, p_start_w: float, p_end_w: float,
                    power_integral_j: float) -> float:
    """What the sampler could report from the same reads (the proposal in RESULTS.md).

    * windows under 0.5 s: the integral of the instant power (a counter delta there holds 0, 1 or 2 whole
      update periods of energy);
    * longer windows: the counter delta shifted by half an update period at each end — each read is on average
      half a period stale, so the window misses P_end × period/2 at the end and gains P_start × period/2 (the
      power before the cell) at the start: + (P_end − P_start) × period / 2, with the boundary samples' power.
    """
    if duration_s < SHORT_WINDOW_S or method != "counter":
        return power_integral_j
    return counter_j + (p_end_w - p_start_w) * NVML_PERIOD_S / 2.0


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
               + "). **NVML counter**: total-energy counter updated every 90–110 ms, read on eco_magic's default "
               "adaptive schedule (a window where it did not move and that is shorter than 0.5 s falls back to "
               "power × duration, labelled *integrated*). **NVML proposal**: the same reads, with the change "
               "proposed below. **RAPL counter**: 1 ms updates, read through the powercap files. **instant f Hz**: "
               "trapezoid of the instant-power field sampled at f Hz with boundary samples. **1-s avg**: the same "
               "over NVML's 1-s trailing-average power (Ampere and newer). The start boundary sample is taken "
               "before the cell's code runs, so it reads the pre-cell (idle) power."),
    )

    # targets: counter paths within 0.5 % for cells ≥ 1 s (95th percentile of |error| over all profiles)
    for col, label in (("RAPL counter", "RAPL counter (~1 ms updates)"),
                       ("NVML counter", "NVML counter (~100 ms updates), as implemented"),
                       (PROPOSAL, "NVML counter with the proposed edge correction")):
        for d in [x for x in DURATIONS if x >= 1.0]:
            errs = [abs(t[col]) for p in PROFILES for t in data[(p, d)]]
            p95 = quantile(errs, 0.95)
            met = p95 <= COUNTER_TARGET
            why = ""
            if not met and col != "RAPL counter":
                spread = NVML_PERIOD_S / math.sqrt(6) / d
                why = (f"update granularity: each end of the window is stale by U(0, 100 ms), independently, so "
                       f"even steady power gives sd ≈ 0.1 s/√6/{d:g} s = {spread * 100:.2g} %; hardware physics, "
                       "no rate or rule fixes it (reading until the next update at both ends would, at up to "
                       "100 ms per boundary)")
            section.targets.append(Target(f"{label}, {d:g}-s cells", f"p95 |error| {p95 * 100:.2f} %",
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
        "**Proposal (eco_magic/sampler.py, `_Channel.energy`; the update period from the sensor's "
        "`details['counter_update_s']`, which assemble.py already reads):** "
        "(a) below 0.5 s, use the power samples even when the counter moved: a counter delta there holds 0, 1 or 2 "
        f"whole update periods — steady 10-ms cells read {cell('NVML counter', 'steady', 0.01)} now, "
        f"{cell(PROPOSAL, 'steady', 0.01)} with (a); ramp 0.1 s: {cell('NVML counter', 'ramp', 0.1)} → "
        f"{cell(PROPOSAL, 'ramp', 0.1)}. The trade-off: on bursty cells that start from idle the power samples "
        "inherit the start boundary sample's idle reading (bursty 0.1 s: "
        f"{cell('NVML counter', 'bursty', 0.1)} → {cell(PROPOSAL, 'bursty', 0.1)}: a larger bias, a smaller spread). "
        "(b) from 0.5 s on, add (P_end − P_start) × period/2 with the boundary samples' power: each read is on "
        "average half a period stale, so the window misses P_end × period/2 at the end and gains the pre-cell "
        f"P_start × period/2 at the start. Ramp 1 s: {cell('NVML counter', 'ramp', 1.0)} → "
        f"{cell(PROPOSAL, 'ramp', 1.0)}; bursty 1 s: {cell('NVML counter', 'bursty', 1.0)} → "
        f"{cell(PROPOSAL, 'bursty', 1.0)}. It removes the bias, not the ± half-period spread.",
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
