"""1. Overhead: wall time of a ~2 s CPU-bound cell with ``%%ecolyze`` against the same cell without it.

A real in-process IPython shell runs three variants of one pure-Python CPU-bound cell, interleaved in rotating
order: plain, ``%%ecolyze`` (default adaptive 5→2→1 Hz) and ``%%ecolyze --rate 50``. The ratio with/without is
taken within each repetition, and the median of those ratios is reported. The measured cells include
everything the user waits for: the sampler, the result, the ledger write and the displayed bundle.
"""
from __future__ import annotations

import tempfile
import time

from .common import (Section, Table, Target, bench_main, eco_magics, iqr, make_shell, median, ms, rotations,
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
    "ecolyze (default rate)": "%%ecolyze -l overhead\n{body}",
    "ecolyze --rate 50": "%%ecolyze -l overhead50 --rate 50\n{body}",
}
TARGETS = {"ecolyze (default rate)": 1.01, "ecolyze --rate 50": 1.03}


def calibrate(sh, seconds: float) -> int:
    """Iterations of ``_eco_bench_spin`` that take about ``seconds`` here (median of three probes)."""
    n = 200_000
    probes = []
    for _ in range(3):
        t, _, _ = timed_cell(sh, f"_ = _eco_bench_spin({n})")
        probes.append(t / n)
    return max(1000, int(seconds / median(probes)))


def run(quick: bool = False) -> Section:
    cell_s = 0.5 if quick else 2.0
    reps = 3 if quick else 9
    tmp = tempfile.mkdtemp(prefix="eco_bench_overhead_")
    sh = make_shell(tmp)
    wait_until_idle(sh)
    sh.run_cell(SPIN_DEF)
    n = calibrate(sh, cell_s)
    body = f"_ = _eco_bench_spin({n})"
    # one untimed run of each variant: first-call costs (imports, caches) belong to benchmark 2, not here
    for code in VARIANTS.values():
        timed_cell(sh, code.format(body=body))

    wall: dict[str, list[float]] = {k: [] for k in VARIANTS}
    cpu: dict[str, list[float]] = {k: [] for k in VARIANTS}
    ratios: dict[str, list[float]] = {k: [] for k in VARIANTS if k != "plain"}
    for _, order in rotations(list(VARIANTS), reps):
        this: dict[str, float] = {}
        for name in order:
            w, c, cap = timed_cell(sh, VARIANTS[name].format(body=body))
            this[name] = w
            wall[name].append(w)
            cpu[name].append(c)
        for name in ratios:
            ratios[name].append(this[name] / this["plain"])

    led = eco_magics(sh).ledger
    samples = {r.label: r.n_samples for r in led}
    sh.run_line_magic("unload_ext", "eco_magic")

    section = Section(
        key="overhead",
        title="1. Overhead on a CPU-bound cell",
        intro=(f"A pure-Python loop calibrated to {cell_s:g} s, run {reps}× per variant in rotating order in one "
               "in-process IPython shell (after the idle baseline finished). Ratio = wall time with the magic / "
               "without, per repetition; median and IQR of the ratios. The timed cell includes the sampler, the "
               "result, the ledger write and the displayed text+HTML bundle."),
    )
    rows = []
    for name in VARIANTS:
        q1, q3 = iqr(wall[name])
        extra_cpu = median(cpu[name]) - median(cpu["plain"])
        row = [name, f"{median(wall[name]):.3f} s (IQR {q1:.3f}–{q3:.3f})",
               f"{median(cpu[name]):.3f} s", "—" if name == "plain" else ms(extra_cpu)]
        if name in ratios:
            r1, r3 = iqr(ratios[name])
            row.append(f"{median(ratios[name]):.4f} (IQR {r1:.4f}–{r3:.4f})")
        else:
            row.append("1")
        rows.append(row)
    section.tables.append(Table("Wall and process CPU time per variant (process CPU includes the sampler thread)",
                                ["variant", "wall time, median", "process CPU, median", "extra CPU vs plain",
                                 "ratio with/without"], rows))
    for name, limit in TARGETS.items():
        r = median(ratios[name])
        met = r <= limit
        extra_s = (r - 1.0) * median(wall["plain"])
        why = f"≈ {extra_s * 1e3:.0f} ms per {cell_s:g}-s cell"
        if not met:
            why += ("; the fixed per-cell cost (benchmark 2) and the sampler's reads share the 2 cores with the "
                    "cell — see the extra CPU column")
        section.targets.append(Target(f"{cell_s:g}-s CPU-bound cell, {name}", f"{r:.4f}", f"≤ {limit}", met, why))
    section.notes.append(f"Samples per measured cell (last of each label): {samples}.")
    if quick:
        section.notes.append("quick run: 0.5-s cells, 3 repetitions — a smoke test, not a result.")
    return section


def main(argv=None) -> int:
    return bench_main(run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
