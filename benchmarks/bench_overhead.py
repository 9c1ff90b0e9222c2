"""1. Overhead: wall time of a ~2 s CPU-bound cell with ``%%ecolyze`` against the same cell without it.

A real in-process IPython shell runs one pure-Python CPU-bound cell (calibrated to ~2 s of CPU time) in four
variants, interleaved in rotating order: plain, plain again (an A/A control: the spread of two identical runs is
this machine's noise floor), ``%%ecolyze`` (default adaptive 5→2→1 Hz) and ``%%ecolyze --rate 50``. Ratios
with/without are taken within each repetition; the median of those ratios is reported. The measured cells
include everything the user waits for: the sampler, the result, the ledger write and the displayed bundle.

Process CPU time (all threads, ``time.process_time``) is reported beside wall time: on a loaded machine the
cell gets only part of a core and wall time swings by tens of percent, while CPU time still shows what the
magic adds (its sampler thread and its fixed per-cell work).
"""
from __future__ import annotations

import tempfile
import time

from .common import (Section, Table, Target, bench_main, eco_magics, iqr, make_shell, median, ms, reps, rotations,
                     timed_cell, wait_until_idle)

SPIN_DEF = """
def _eco_bench_spin(n):
    s = 0
    for i in range(n):
        s += i * i
    return s
"""

VARIANTS = {
    "plain": "{body}",
    "plain again (A/A control)": "{body}",
    "ecolyze (default rate)": "%%ecolyze -l overhead\n{body}",
    "ecolyze --rate 50": "%%ecolyze -l overhead50 --rate 50\n{body}",
}
TARGETS = {"ecolyze (default rate)": 1.01, "ecolyze --rate 50": 1.03}
LABELS = {"ecolyze (default rate)": "overhead", "ecolyze --rate 50": "overhead50"}


def calibrate(sh, seconds: float) -> int:
    """Iterations of ``_eco_bench_spin`` that take about ``seconds`` of CPU time (robust to a loaded machine):
    a short probe, then one run at the estimated size to correct it."""
    n = 300_000
    probes = []
    for _ in range(3):
        _, cpu, _ = timed_cell(sh, f"_ = _eco_bench_spin({n})")
        probes.append(cpu / n)
    n = max(1000, int(seconds / median(probes)))
    _, cpu, _ = timed_cell(sh, f"_ = _eco_bench_spin({n})")
    return max(1000, int(n * seconds / cpu)) if cpu > 0 else n


class SamplerThreadCpu:
    """Instrumentation: CPU seconds used by each sampler thread, read just before ``Sampler.stop`` joins it.

    A per-thread CPU clock (``pthread_getcpuclockid``) is not inflated by other processes the way wall time is,
    so it measures the sampler's own cost even on a loaded machine. Patched on the class here, undone after.
    """

    def __init__(self) -> None:
        from eco_magic.sampler import Sampler

        self.cls = Sampler
        self.original = Sampler.stop
        self.seconds: list[float] = []
        self.available = hasattr(time, "pthread_getcpuclockid")

    def __enter__(self) -> "SamplerThreadCpu":
        original, seconds = self.original, self.seconds

        def stop(sampler):
            thread = getattr(sampler, "_thread", None)
            if self.available and thread is not None and thread.is_alive() and thread.ident is not None:
                try:
                    seconds.append(time.clock_gettime(time.pthread_getcpuclockid(thread.ident)))
                except OSError:
                    pass
            return original(sampler)

        self.cls.stop = stop
        return self

    def __exit__(self, *exc) -> None:
        self.cls.stop = self.original

    def take(self) -> float | None:
        """CPU seconds of the last sampler thread, once (``None`` if none was recorded)."""
        return self.seconds.pop() if self.seconds else None


def run(quick: bool = False) -> Section:
    cell_s = 0.5 if quick else 2.0
    n_reps = reps(11, 3, quick)
    tmp = tempfile.mkdtemp(prefix="eco_bench_overhead_")
    sh = make_shell(tmp)
    wait_until_idle(sh)
    sh.run_cell(SPIN_DEF)
    n = calibrate(sh, cell_s)
    body = f"_ = _eco_bench_spin({n})"
    # one untimed run of each variant: first-call costs (imports, caches) belong to benchmark 2, not here
    for code in VARIANTS.values():
        timed_cell(sh, code.format(body=body))
    _, cpu_now, _ = timed_cell(sh, body)  # the loop runs faster once warm: size it again
    if cpu_now > 0:
        n = max(1000, int(n * cell_s / cpu_now))
        body = f"_ = _eco_bench_spin({n})"

    wall: dict[str, list[float]] = {k: [] for k in VARIANTS}
    cpu: dict[str, list[float]] = {k: [] for k in VARIANTS}
    ratios: dict[str, list[float]] = {k: [] for k in VARIANTS if k != "plain"}
    cpu_ratios: dict[str, list[float]] = {k: [] for k in VARIANTS if k != "plain"}
    thread_cpu: dict[str, list[float]] = {k: [] for k in TARGETS}
    with SamplerThreadCpu() as probe:
        for _, order in rotations(list(VARIANTS), n_reps):
            this_wall: dict[str, float] = {}
            this_cpu: dict[str, float] = {}
            for name in order:
                w, c, _ = timed_cell(sh, VARIANTS[name].format(body=body))
                this_wall[name], this_cpu[name] = w, c
                wall[name].append(w)
                cpu[name].append(c)
                used = probe.take()
                if name in thread_cpu and used is not None:
                    thread_cpu[name].append(used)
            for name in ratios:
                ratios[name].append(this_wall[name] / this_wall["plain"])
                cpu_ratios[name].append(this_cpu[name] / this_cpu["plain"])

    led = eco_magics(sh).ledger
    per_label: dict[str, list] = {}
    for r in led:
        per_label.setdefault(r.label, []).append(r)
    ticks_of = {k: median([r.n_samples for r in v]) for k, v in per_label.items()}
    rate_of = {k: median([(r.n_samples - 1) / r.duration_s for r in v if r.duration_s > 0])  # intervals per s
               for k, v in per_label.items()}
    sh.run_line_magic("unload_ext", "eco_magic")

    section = Section(
        key="overhead",
        title="1. Overhead on a CPU-bound cell",
        intro=(f"A pure-Python loop calibrated to {cell_s:g} s of CPU time, {n_reps} repetitions of 4 variants in "
               "rotating order in one in-process IPython shell (after the idle baseline finished). Ratio = time "
               "with the magic / without, within each repetition; median and IQR of the ratios. The A/A row "
               "runs the plain cell twice: its spread is the noise floor of this machine. The timed cell "
               "includes the sampler, the result, the ledger write and the displayed text+HTML bundle."),
    )
    rows = []
    for name in VARIANTS:
        q1, q3 = iqr(wall[name])
        row = [name, f"{median(wall[name]):.3f} s (IQR {q1:.3f}–{q3:.3f})", f"{median(cpu[name]):.3f} s"]
        if name in ratios:
            r1, r3 = iqr(ratios[name])
            c1, c3 = iqr(cpu_ratios[name])
            row += [f"{median(ratios[name]):.4f} (IQR {r1:.4f}–{r3:.4f})",
                    f"{median(cpu_ratios[name]):.4f} (IQR {c1:.4f}–{c3:.4f})",
                    ms((median(cpu_ratios[name]) - 1.0) * median(cpu["plain"]))]
        else:
            row += ["1", "1", "—"]
        row.append(ms(median(thread_cpu[name]), 2) if thread_cpu.get(name) else "—")
        label = LABELS.get(name)
        row.append(f"{ticks_of[label]:g} ({rate_of[label]:.1f} Hz)" if label in ticks_of else "—")
        rows.append(row)
    section.tables.append(Table("Wall and process CPU time per variant (process CPU includes the sampler thread)",
                                ["variant", "wall time", "process CPU", "wall ratio", "CPU ratio",
                                 "CPU added per cell", "sampler thread CPU per cell",
                                 "samples per cell (achieved rate)"], rows))
    aa1, aa3 = iqr(ratios["plain again (A/A control)"])
    noise = (aa3 - aa1) / 2.0
    plain_s = median(wall["plain"])
    for name, limit in TARGETS.items():
        r = median(ratios[name])
        met = r <= limit
        sampler_s = median(thread_cpu[name]) if thread_cpu[name] else float("nan")
        share = sampler_s / plain_s
        ticks = ticks_of.get(LABELS[name]) or 0
        achieved = rate_of.get(LABELS[name]) or 0.0
        per_tick = sampler_s / ticks if ticks else float("nan")
        why = (f"sampler thread: {sampler_s * 1e3:.1f} ms CPU per cell ({ticks:g} ticks, {per_tick * 1e3:.2f} ms each) = "
               f"{share * 100:.2f} % of the cell; A/A control {median(ratios['plain again (A/A control)']):.4f} "
               f"(IQR {aa1:.4f}–{aa3:.4f})")
        if not met:
            budget = limit - 1.0
            if share >= 0.8 * budget:
                why = (f"cause: the sampler thread alone uses {sampler_s * 1e3:.0f} ms CPU per cell = "
                       f"{share * 100:.1f} % ({ticks:g} ticks × {per_tick * 1e3:.2f} ms; the same reads cost ~0.2 ms "
                       "back to back — waking the thread and winning the GIL back from the CPU-bound cell after each "
                       "file read cost the rest) and it holds the GIL the cell needs")
                if "50" in name:
                    why += (f". It achieved {achieved:.0f} Hz of the 50 asked; the result's sampling label says so "
                            "('fixed 50 Hz requested, … Hz achieved'), and estimated channels are read at ≤ 5 Hz "
                            "(their energy is cumulative, so exact at any rate). What is left is the wake-up "
                            "itself: 50 Python wake-ups a second, each taking the GIL from a pure-Python cell. "
                            "Not fixed: a sampler outside the GIL (a process or C extension) would cost short "
                            "cells more than it saves; use --rate 50 for dense power traces, not for timing. The "
                            f"A/A control's IQR ({aa1:.4f}–{aa3:.4f}) shows how much of the ratio is noise here")
            else:
                aa = median(ratios["plain again (A/A control)"])
                why = (f"noise, not the magic: its sampler thread costs {share * 100:.2f} % of the cell "
                       f"({sampler_s * 1e3:.1f} ms CPU, thread CPU clock) and the fixed cost a few ms (benchmark 2), "
                       f"while two identical plain runs (A/A control) differ by {aa:.4f} (IQR {aa1:.4f}–{aa3:.4f}) "
                       "on this loaded machine; rerun on a quiet one for a wall-time verdict")
        section.targets.append(Target(f"{plain_s:.1f}-s CPU-bound cell, {name}", f"{r:.4f}", f"≤ {limit}", met, why))
    if quick:
        section.notes.append("quick run: 0.5-s cells, 3 repetitions — a smoke test, not a result.")
    return section


def main(argv=None) -> int:
    return bench_main(run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
