"""8. The sampler at the physical floor (issue 16): CPU per tick, the rate it achieves beside a busy cell, and
``%load_ext`` → first finished result.

**CPU per tick.** The real process-scope estimate sensors (``cpu:model``, ``ram:model``: what a machine without
counters measures, e.g. Binder, most VMs) in a process with 10 extra idle threads (an ipykernel has about as many).
A :class:`~eco_magic.sampler.Sampler` runs on its default schedule (every tick reads both estimates) while the
main thread sleeps; the sampler thread's own CPU clock (``pthread_getcpuclockid``) over its ticks, after a
warm-up second. Beside it, in the same run and interleaved, the same sensors wired the way eco_magic read them
before issue 16 (**before**): the process tree walked on every read (``/proc/<pid>/task/*/children``, one file
per thread, twice a tick: CPU and RAM) and psutil's ``sensors_temperatures()`` every 0.2 s.

**Achieved rate.** ``rate_hz=50`` while the main thread runs a pure-Python loop (a busy cell holding the GIL),
alone and with 10 more busy pure-Python threads; achieved = (ticks − 1) / duration.

**First result.** A fresh interpreter (byte-code caches warm), an IPython shell, then the timer: ``%load_ext
eco_magic`` and a first ``%%ecolyze`` cell ``x = 1`` run at once, up to the returned result (the cell waits for
the background sensor discovery). Which heavy modules were imported by then is listed.

Medians over interleaved repetitions, with the interquartile range; the machine's load is in the header of
RESULTS.md. Tests check none of these times (tests/test_proctree.py checks the behaviour behind them).
"""
from __future__ import annotations

import functools
import os
import tempfile
import threading
import time

from .common import (Section, Table, Target, bench_env, bench_main, iqr, med_iqr_ms, median, reps, rotations,
                     run_json_script, spin_for)

TICK_TARGET_S = 60e-6
RATE_TARGET_HZ = 45.0
FIRST_TARGET_S = 0.120
TODAY = {"tick": "710–1,060 µs", "rate": "31 Hz (17 Hz, 10 threads)", "first": "348 ms"}

FIRST_RESULT = r"""
import json, sys, tempfile, time
from benchmarks.common import make_shell, timed_cell
sh = make_shell(tempfile.mkdtemp(), load=False)
heavy = ("pynvml", "psutil", "amdsmi", "pandas", "matplotlib", "torch")
before = set(sys.modules)
t0 = time.perf_counter()
sh.run_line_magic("load_ext", "eco_magic")
load = time.perf_counter() - t0
wall, _, _ = timed_cell(sh, "%%ecolyze\nx = 1")
total = time.perf_counter() - t0
new = [m for m in heavy if m in sys.modules and m not in before]
sh.run_line_magic("unload_ext", "eco_magic")
print(json.dumps({"load": load, "first": wall, "total": total, "heavy": new}))
"""


def _sensors(kind: str) -> list:
    """The process-scope estimate sensors, as eco_magic wires them now (``after``) or did before issue 16."""
    from eco_magic.sensors import cpu_model, ram_model

    if kind == "after":
        return cpu_model.discover("process").sensors + ram_model.discover("process").sensors
    import psutil

    from eco_magic.sensors.proctree import process_tree_cpu_seconds, process_tree_rss_bytes
    from eco_magic.sensors.temperature import pick_cpu_temp_c

    cache = {"t": -1.0, "v": None}

    def old_temp():  # psutil every 0.2 s, as temperature.py did (MIN_TTL_S = 0.2)
        now = time.perf_counter()
        if now - cache["t"] >= 0.2:
            cache["v"], cache["t"] = pick_cpu_temp_c(psutil.sensors_temperatures() or {}), now
        return cache["v"]

    pid = os.getpid()
    cpu = cpu_model.discover("process", cpu_seconds_fn=functools.partial(process_tree_cpu_seconds, pid),
                             temp_fn=old_temp).sensors
    ram = ram_model.discover("process", rss_fn=functools.partial(process_tree_rss_bytes, pid)).sensors
    return cpu + ram


def tick_cpu_s(sensors: list, seconds: float) -> tuple[float, int]:
    """(sampler-thread CPU seconds per tick, ticks) on the default schedule, after one second of warm-up."""
    from eco_magic.sampler import Sampler

    s = Sampler(sensors)
    s.start()
    try:
        time.sleep(1.0)
        clock = time.pthread_getcpuclockid(s._thread.ident)
        c0, n0 = time.clock_gettime(clock), s._run.n_ticks
        time.sleep(seconds)
        c1, n1 = time.clock_gettime(clock), s._run.n_ticks
    finally:
        s.stop()
    return (c1 - c0) / max(1, n1 - n0), n1 - n0


def tick_work_s(sensors: list, n: int = 2000) -> float:
    """The tick's own work (read every sensor, record), called back to back in this thread: CPU s per tick.
    The sampler thread pays it plus a wake-up from its sleep, with cold caches, at every tick."""
    from eco_magic.sampler.run import _Run

    t = time.perf_counter()
    run = _Run(sensors, t, 1024, with_trace=True)
    run.tick(t)
    c0 = time.thread_time()
    for _ in range(n):
        t += 0.2
        run.tick(t, from_thread=True)
    return (time.thread_time() - c0) / n


def achieved_hz(sensors: list, seconds: float, busy_threads: int) -> float:
    """Ticks per second at rate_hz=50 while this thread (and ``busy_threads`` more) run pure-Python loops."""
    from eco_magic.sampler import Sampler

    stop = threading.Event()

    def busy():
        while not stop.is_set():
            sum(i * i for i in range(200))

    threads = [threading.Thread(target=busy, daemon=True) for _ in range(busy_threads)]
    for t in threads:
        t.start()
    try:
        s = Sampler(sensors, rate_hz=50)
        s.start()
        spin_for(seconds)
        m = s.stop()
    finally:
        stop.set()
        for t in threads:
            t.join(5)
    return (m.n_ticks - 1) / m.duration_s


def _markdown(rst: str) -> str:
    """The module docstring's paragraphs as Markdown text."""
    return (rst.replace(":class:`~eco_magic.sampler.Sampler`", "`Sampler`").replace("``", "`")
            .replace("\n\n", "<br>").replace("\n", " "))


def _us(xs) -> str:
    q1, q3 = iqr(xs)
    return f"{median(xs) * 1e6:.0f} µs (IQR {q1 * 1e6:.0f}–{q3 * 1e6:.0f})"


def _hz(xs) -> str:
    q1, q3 = iqr(xs)
    return f"{median(xs):.1f} Hz (IQR {q1:.1f}–{q3:.1f})"


def run(quick: bool = False) -> Section:
    n = reps(5, 2, quick)
    seconds = 2.0 if quick else 4.0
    idle = threading.Event()
    extra = [threading.Thread(target=idle.wait, daemon=True, name=f"idle-{i}") for i in range(10)]
    for t in extra:
        t.start()
    kinds = ("after", "before")
    sensors = {k: _sensors(k) for k in kinds}
    ticks: dict[str, list[float]] = {k: [] for k in kinds}
    work: dict[str, list[float]] = {k: [] for k in kinds}
    rates: dict[tuple[str, int], list[float]] = {(k, b): [] for k in kinds for b in (0, 10)}
    try:
        for _, order in rotations(list(kinds), n):
            for k in order:
                ticks[k].append(tick_cpu_s(sensors[k], seconds)[0])
                work[k].append(tick_work_s(sensors[k], 500 if quick else 2000))
        for _, order in rotations(list(kinds), n):
            for k in order:
                for b in (0, 10):
                    rates[(k, b)].append(achieved_hz(sensors[k], 2.0 if quick else 3.0, b))
    finally:
        idle.set()

    env = bench_env(tempfile.mkdtemp(prefix="eco_bench_first_"))
    first, errors = [], []
    run_json_script(FIRST_RESULT, env=env)  # warm the byte-code caches
    for _ in range(reps(9, 3, quick)):
        try:
            first.append(run_json_script(FIRST_RESULT, env=env))
        except Exception as exc:  # noqa: BLE001
            errors.append(str(exc))

    section = Section(key="sampler", title="8. Sampler tick, achieved rate and first result (issue 16)",
                      intro=_markdown(__doc__.split("\n\n", 1)[1].rsplit("\n\nMedians", 1)[0]))
    tick = median(ticks["after"])
    section.targets.append(Target(
        "sampler CPU per tick, steady state, estimates only", _us(ticks["after"]),
        f"≤ 60 µs (today {TODAY['tick']})", tick <= TICK_TARGET_S,
        f"before, same run: {_us(ticks['before'])}. The tick's own work, back to back: {_us(work['after'])} "
        f"(before {_us(work['before'])}); the rest is the thread waking from its sleep with cold caches "
        "(a bare lock wait with timeout costs ~35 µs of CPU on this VM, Event.wait ~65 µs)"))
    r0, r10 = median(rates[("after", 0)]), median(rates[("after", 10)])
    section.targets.append(Target(
        "achieved rate at rate 50 Hz beside a busy pure-Python cell", _hz(rates[("after", 0)]),
        f"≥ 45 Hz (today {TODAY['rate']})", r0 >= RATE_TARGET_HZ,
        f"with 10 more busy threads {_hz(rates[('after', 10)])}; before, same run: "
        f"{_hz(rates[('before', 0)])} / {_hz(rates[('before', 10)])} with 10 threads"
        + ("" if r10 >= RATE_TARGET_HZ else "; with 11 threads holding the GIL in turn, each wait for it is "
           "up to one switch interval (5 ms) per thread ahead")))
    if first:
        tot = median([r["total"] for r in first])
        heavy = sorted({m for r in first for m in r["heavy"]})
        section.targets.append(Target(
            "%load_ext → first finished result, fresh process", med_iqr_ms([r["total"] for r in first]),
            f"≤ 120 ms (today {TODAY['first']})", tot <= FIRST_TARGET_S,
            f"%load_ext {med_iqr_ms([r['load'] for r in first])} + first cell "
            f"{med_iqr_ms([r['first'] for r in first])}; heavy modules imported by then: {', '.join(heavy) or 'none'}"))
    else:
        section.targets.append(Target("%load_ext → first finished result, fresh process", "not run",
                                      "≤ 120 ms", None, "; ".join(errors)[:300]))
    section.tables.append(Table(
        "Per variant (median, IQR)", ["variant", "sampler-thread CPU per tick", "tick work, back to back",
                                      "rate 50 Hz, busy cell", "… and 10 busy threads"],
        [[k, _us(ticks[k]), _us(work[k]), _hz(rates[(k, 0)]), _hz(rates[(k, 10)])] for k in kinds]))
    if quick:
        section.notes.append("quick run: few repetitions — a smoke test, not a result.")
    return section


def main(argv=None) -> int:
    return bench_main(run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
