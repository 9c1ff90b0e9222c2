"""5. Short cells: the shortest cell that gets a non-zero, correctly labelled energy, and what CodeCarbon reports.

CPU-bound cells of 1 ms to 1 s (a busy loop on ``perf_counter``) run under ``%%ecolyze`` in a real in-process
IPython shell, twice:

* on this machine's own sensors (whatever eco_magic discovers here: RAPL if readable, else the CPU-time × TDP
  model; NVML if a GPU is present), with CodeCarbon's ``OfflineEmissionsTracker`` around the same cell;
* on fake hardware behind the real interfaces, on the real clock: an H100 drawing a steady 300 W whose NVML
  energy counter updates every ~100 ms, and a RAPL package (~1 ms updates) drawing 98 W. There the truth is
  power × the measured duration, so accuracy is known too.

"Correctly labelled": the device's ``method`` is its sensor's method, or a note on the device says why it
differs (e.g. a counter that did not move in a short window is reported as *integrated* with a note).
"""
from __future__ import annotations

import tempfile
import time

from .common import (Section, Table, Target, bench_main, eco_magics, fast_tmpdir, make_shell, median, reps,
                     wait_until_idle)

DURATIONS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.3, 1.0)
TARGET_S = 0.010
SPIN_DEF = """
import time as _eco_time
def _eco_spin(seconds):
    end = _eco_time.perf_counter() + seconds
    while _eco_time.perf_counter() < end:
        pass
"""


def _measure(sh, d: float):
    sh.run_cell(f"%%ecolyze -q --var _eco_r -l short\n_eco_spin({d!r})")
    return sh.user_ns.pop("_eco_r")


def _label_ok(device, sensor_method: str) -> bool:
    if device.method == sensor_method:
        return True
    return bool(device.notes)  # a degraded method must say why


def _fmt_j(j: float | None) -> str:
    if j is None:
        return "none"
    if j == 0:
        return "0 J"
    for f, u in ((1.0, "J"), (1e-3, "mJ"), (1e-6, "µJ")):
        if abs(j) >= f:
            return f"{j / f:.3g} {u}"
    return f"{j:.2g} J"


def _codecarbon():
    try:
        import logging
        import os

        os.environ["CODECARBON_LOG_LEVEL"] = "critical"
        from codecarbon import OfflineEmissionsTracker

        logging.getLogger("codecarbon").setLevel(logging.CRITICAL)
        return OfflineEmissionsTracker
    except Exception as exc:  # noqa: BLE001
        return exc


def _cc_cell(tracker_cls, sh, d: float) -> tuple[float, float, float | None]:
    """(total J, CPU J, CPU W) CodeCarbon reports for one cell."""
    tr = tracker_cls(country_iso_code="FRA", save_to_file=False, log_level="critical")
    tr.start()
    sh.run_cell(f"_eco_spin({d!r})")
    tr.stop()
    data = tr.final_emissions_data
    return data.energy_consumed * 3.6e6, data.cpu_energy * 3.6e6, getattr(data, "cpu_power", None)


def _shortest(ok_by_duration: dict[float, bool]) -> float | None:
    """Shortest duration from which every longer one is OK too."""
    best = None
    for d in sorted(ok_by_duration, reverse=True):
        if not ok_by_duration[d]:
            break
        best = d
    return best


def run(quick: bool = False) -> Section:
    durations = (0.001, 0.01, 0.1, 1.0) if quick else DURATIONS
    n_reps = reps(12, 2, quick)
    cc_reps = reps(5, 2, quick)
    tmp = tempfile.mkdtemp(prefix="eco_bench_short_")
    from IPython.utils.capture import capture_output

    section = Section(
        key="short",
        title="5. Short cells",
        intro=(f"CPU-bound cells (busy loop) of {durations[0] * 1e3:g} ms to {durations[-1]:g} s under `%%ecolyze`, "
               f"{n_reps} repetitions each, on this machine's sensors and on fake hardware (real clock). A cell "
               "passes when every repetition has energy > 0 on the device that matters (CPU here; GPU and CPU "
               "on the fakes) with a correct label; the shortest passing cell (with every longer one passing "
               "too) is the figure."),
    )

    # --- this machine --------------------------------------------------------------------------------------
    with capture_output():
        sh = make_shell(tmp)
        wait_until_idle(sh)
        sh.run_cell(SPIN_DEF)
        magics = eco_magics(sh)
        methods = {s.info.key: s.info.method for s in magics.engine.sensors}
        sources = {s.info.key: f"{s.info.key}: {s.info.method} ({s.info.source})" for s in magics.engine.sensors}
        cc = _codecarbon()
        rows, ok = [], {}
        for d in durations:
            _measure(sh, d)  # warm
            res = [_measure(sh, d) for _ in range(n_reps)]
            cpu = [[x for x in r.devices if x.kind == "cpu"] for r in res]
            cpu_j = [sum(x.energy_j or 0.0 for x in devs) for devs in cpu]
            nonzero = sum(j > 0 for j in cpu_j)
            labels_ok = all(_label_ok(x, methods.get(x.key, "")) for devs in cpu for x in devs)
            ok[d] = nonzero == n_reps and labels_ok and all(cpu)
            labels = sorted({x.method for devs in cpu for x in devs})
            row = [f"{d * 1e3:g} ms", f"{nonzero}/{n_reps}", _fmt_j(median(cpu_j)),
                   ", ".join(labels) + ("" if labels_ok else " (label mismatch)"),
                   _fmt_j(median([r.energy_j for r in res]))]
            if isinstance(cc, Exception):
                row += ["not run", ""]
            else:
                ccs = [_cc_cell(cc, sh, d) for _ in range(cc_reps)]
                cc_nonzero = sum(c[1] > 0 for c in ccs)
                row += [f"{_fmt_j(median([c[1] for c in ccs]))} ({cc_nonzero}/{cc_reps} > 0)",
                        _fmt_j(median([c[0] for c in ccs]))]
            rows.append(row)
        sh.run_line_magic("unload_ext", "eco_magic")
    short_here = _shortest(ok)
    section.tables.append(Table(
        "This machine — sensors: " + "; ".join(sources.values()),
        ["cell", "CPU energy > 0", "CPU energy (median)", "CPU label", "total (CPU+RAM)",
         "CodeCarbon CPU energy", "CodeCarbon total"], rows))
    if any(k == "cpu:model" for k in methods):
        section.tables.append(_cpu_clock_table(durations, n_reps))
    section.targets.append(Target(
        "shortest CPU-bound cell with non-zero, correctly labelled CPU energy — this machine",
        "none passes" if short_here is None else f"{short_here * 1e3:g} ms", "≤ 10 ms",
        short_here is not None and short_here <= TARGET_S + 1e-12,
        _why_here(ok, sources)))

    # --- fake hardware ----------------------------------------------------------------------------------------
    fake_rows, fake_ok, acc_ok = _fake_hardware(tmp, durations, n_reps)
    section.tables.append(Table(
        "Fake hardware on the real clock (H100 at 300 W, NVML counter every ~100 ms; RAPL package at 98 W, ~1 ms "
        "updates). Error against power × measured duration.",
        ["cell", "GPU label(s)", "GPU error, median", "GPU within ±10 %", "CPU (RAPL) error, median",
         "CPU within ±10 %", "all > 0 and labelled"], fake_rows))
    short_fake = _shortest(fake_ok)
    section.targets.append(Target(
        "shortest cell with non-zero, correctly labelled GPU and CPU energy — fake H100 + RAPL",
        "none passes" if short_fake is None else f"{short_fake * 1e3:g} ms", "≤ 10 ms",
        short_fake is not None and short_fake <= TARGET_S + 1e-12,
        ""))
    short_acc = _shortest(acc_ok)
    section.targets.append(Target(
        "… and also within ±10 % of the truth on every repetition",
        "none passes" if short_acc is None else f"{short_acc * 1e3:g} ms", "— (informational)", None,
        "the NVML counter is aligned to its ~100 ms updates (benchmark 4); a cell shorter than one update is "
        "integrated from 2-ms instant-power polls; the misses are 1–2-ms cells on the 1-ms RAPL counter and, for "
        "the GPU, polls delayed on the real clock"))
    if not isinstance(cc, Exception):
        section.notes.append("CodeCarbon on this machine has no RAPL either: its CPU figure is its own TDP/load "
                             "model × elapsed time for the whole machine (its default tracking mode), so it is "
                             "non-zero for any cell, idle ones included, and larger than eco_magic's process-scope "
                             "estimate; it includes the tracker's own start/stop time.")
    else:
        section.notes.append(f"CodeCarbon not run: {cc}")
    if quick:
        section.notes.append("quick run: 2 repetitions and 4 lengths — a smoke test, not a result.")
    return section


def _cpu_clock_table(durations, n_reps: int) -> Table:
    """The CPU model's clock (/proc ticks) against CLOCK_PROCESS_CPUTIME_ID around the same busy loops."""
    from eco_magic.sensors.cpu_model import process_tree_cpu_seconds

    from .common import spin_for

    rows = []
    for d in durations:
        ticks, precise = [], []
        for _ in range(n_reps):
            a, b = process_tree_cpu_seconds(), time.process_time()
            spin_for(d)
            ticks.append(process_tree_cpu_seconds() - a)
            precise.append(time.process_time() - b)
        rows.append([f"{d * 1e3:g} ms", f"{sum(x == 0 for x in ticks)}/{n_reps}", f"{median(ticks) * 1e3:.3g} ms",
                     f"{sum(x == 0 for x in precise)}/{n_reps}", f"{median(precise) * 1e3:.3g} ms"])
    return Table("CPU time of the same busy loops by two clocks: /proc/<pid>/stat ticks (what the CPU model reads "
                 "now) vs time.process_time() (CLOCK_PROCESS_CPUTIME_ID, the proposed fix)",
                 ["cell", "ticks: reads 0", "ticks: median", "process_time: reads 0", "process_time: median"], rows)


def _why_here(ok: dict[float, bool], sources: dict[str, str]) -> str:
    failing = [d for d, v in sorted(ok.items()) if not v]
    if not failing:
        return ""
    text = ", ".join(f"{d * 1e3:g} ms" for d in failing)
    if max(failing) < TARGET_S and any("cpu:model" in k for k in sources):
        text += (" (so 10 ms passes only because it is one clock tick: marginal, see the clock table)")
    if any("cpu:model" in k for k in sources):
        return (f"fails at {text}: the CPU model counts process CPU time from /proc/<pid>/stat, which advances in "
                "10-ms clock ticks, so a cell shorter than a tick often reads 0 s of CPU. Proposed fix: "
                "eco_magic/sensors/cpu_model.py process_tree_cpu_seconds — use time.process_time() "
                "(CLOCK_PROCESS_CPUTIME_ID, ns resolution) for this process and /proc ticks only for children")
    return f"fails at {text}"


def _fake_hardware(tmp: str, durations, n_reps: int):
    from .truth import Rig, Steady, UpdateGrid, cpu_profile

    import random

    rng = random.Random(7)
    gpu = Steady(300.0)
    cpu = cpu_profile(gpu)
    rig = Rig(time.perf_counter, gpu, cpu, UpdateGrid.random(rng, 0.1), UpdateGrid.random(rng, 0.001),
              powercap_dir=fast_tmpdir("eco_bench_short_pc_"), gpus=("counter",))
    from IPython.utils.capture import capture_output

    rows, ok, acc = [], {}, {}
    with capture_output():
        rig.install()
        try:
            sh = make_shell(tmp, idle_baseline_s=0)
            wait_until_idle(sh)
            sh.run_cell(SPIN_DEF)
            methods = {s.info.key: s.info.method for s in eco_magics(sh).engine.sensors}
            for d in durations:
                _measure(sh, d)
                res = [_measure(sh, d) for _ in range(n_reps)]
                g_err, c_err, labels, all_ok = [], [], set(), True
                for r in res:
                    g = next((x for x in r.devices if x.kind == "gpu"), None)
                    c = next((x for x in r.devices if x.key == "cpu:rapl"), None)
                    if g is None or c is None:
                        all_ok = False
                        continue
                    labels.add(g.method)
                    g_err.append((g.energy_j or 0.0) / (gpu.p * r.duration_s) - 1.0)
                    c_err.append((c.energy_j or 0.0) / (cpu.power_w(0.0) * r.duration_s) - 1.0)
                    all_ok &= bool(g.energy_j) and bool(c.energy_j)
                    all_ok &= _label_ok(g, methods[g.key]) and _label_ok(c, methods[c.key])
                within_g = sum(abs(e) <= 0.10 for e in g_err)
                within_c = sum(abs(e) <= 0.10 for e in c_err)
                ok[d] = all_ok
                acc[d] = all_ok and within_g == n_reps and within_c == n_reps
                rows.append([f"{d * 1e3:g} ms", ", ".join(sorted(labels)), f"{median(g_err) * 100:+.1f} %",
                             f"{within_g}/{n_reps}", f"{median(c_err) * 100:+.1f} %", f"{within_c}/{n_reps}",
                             "yes" if all_ok else "**no**"])
            sh.run_line_magic("unload_ext", "eco_magic")
        finally:
            rig.close()
    return rows, ok, acc


def main(argv=None) -> int:
    return bench_main(run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
