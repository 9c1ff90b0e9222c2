"""Run every benchmark, each in a fresh interpreter, and rewrite ``benchmarks/RESULTS.md``.

    python -m benchmarks                  # full run (~10 min on 2 cores), rewrites benchmarks/RESULTS.md
    python -m benchmarks --quick          # smoke run: prints the Markdown, writes nothing
    python -m benchmarks --only load,scale --out /tmp/partial.md
    python -m benchmarks --reps 2         # twice the repetitions everywhere (quieter numbers, twice the time)

Each benchmark module runs as ``python -m benchmarks.<module> --json FILE`` so that no state (the IPython
singleton, patched modules, imported matplotlib) leaks from one into the next. Progress goes to stderr.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the benchmarks package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import (BENCH, REPS_FACTOR_ENV, ROOT, SHM_ENV, Section, Target, bench_env,  # noqa: E402
                               machine_info, md_table, met_text, section_markdown)

BENCHMARKS = (
    ("overhead", "benchmarks.bench_overhead", "1. Overhead on a CPU-bound cell"),
    ("fixed_cost", "benchmarks.bench_fixed_cost", "2. Fixed cost of %%ecolyze on a trivial cell"),
    ("load", "benchmarks.bench_load", "3. Load time"),
    ("accuracy", "benchmarks.bench_accuracy", "4. Accuracy against known truth"),
    ("short", "benchmarks.bench_short", "5. Short cells"),
    ("scale", "benchmarks.bench_scale", "6. Scale"),
    ("gpu", "benchmarks.gpu_validate", "7. GPU validation"),
    ("sampler", "benchmarks.bench_sampler", "8. Sampler tick, achieved rate and first result"),
    ("kernel", "benchmarks.bench_kernel", "9. Real kernel through nbclient"),
)
RESULTS = BENCH / "RESULTS.md"
TIMEOUT_S = 1200


def run_one(key: str, module: str, title: str, quick: bool, env: dict) -> Section:
    """One benchmark in a fresh interpreter; a failure becomes a section that says so."""
    out = Path(tempfile.mkdtemp(prefix="eco_bench_json_", dir=env.get("TMPDIR"))) / f"{key}.json"
    cmd = [sys.executable, "-m", module, "--json", str(out)] + (["--quick"] if quick else [])
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=str(ROOT), env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
        failed = proc.returncode != 0 or not out.exists()
        detail = (proc.stderr or proc.stdout).strip()[-600:]
    except subprocess.TimeoutExpired:
        failed, detail = True, f"timed out after {TIMEOUT_S} s"
    if failed:
        s = Section(key=key, title=title)
        s.targets.append(Target(title, "failed", "—", False, detail.replace("\n", " ")))
    else:
        s = Section.from_json(json.loads(out.read_text()))
    s.elapsed_s = time.perf_counter() - t0
    return s


def render(sections: list[Section], info: dict[str, str], quick: bool, wall_s: float) -> str:
    lines = ["# eco_magic benchmarks — results", ""]
    lines.append(f"Written by `python -m benchmarks`{' --quick' if quick else ''} in {wall_s / 60:.1f} min. Rerun it "
                 "to refresh; do not edit by hand. Timings are medians of interleaved repetitions on a shared, "
                 "noisy machine: compare ratios and differences measured in the same run, not absolute numbers "
                 "across runs. How each benchmark works: the docstring of its module and `benchmarks/README.md`.")
    if quick:
        lines += ["", "**Quick run: few repetitions, a smoke test — not results.**"]
    lines += ["", "## Machine", "", md_table(["", ""], [[k, v] for k, v in info.items()]), ""]
    rows = []
    for s in sections:
        number = s.title.split(".", 1)[0]
        for t in s.targets:
            rows.append([number, t.what, t.measured, t.target, met_text(t.met)])
    lines += ["## Summary", "", "Every row, with its reason when a target is missed, is repeated in its section.", "",
              md_table(["#", "what", "measured", "target", "met?"], rows), ""]
    for s in sections:
        lines.append(section_markdown(s))
    return "\n".join(lines).rstrip() + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Run the eco_magic benchmarks and rewrite benchmarks/RESULTS.md.")
    ap.add_argument("--quick", action="store_true", help="few repetitions; prints Markdown unless --out is given")
    ap.add_argument("--only", default=None, help="comma-separated subset: " + ", ".join(k for k, _, _ in BENCHMARKS))
    ap.add_argument("--reps", type=float, default=None, help="repetition factor for every benchmark (default 1; "
                                                              "2 doubles the repetitions and roughly the time)")
    ap.add_argument("--out", default=None, help=f"Markdown file to write (default {RESULTS.relative_to(ROOT)} for a "
                                                "full run of everything)")
    args = ap.parse_args(argv)
    chosen = BENCHMARKS
    if args.only:
        wanted = {w.strip() for w in args.only.split(",") if w.strip()}
        unknown = wanted - {k for k, _, _ in BENCHMARKS}
        if unknown:
            ap.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
        chosen = tuple(b for b in BENCHMARKS if b[0] in wanted)
    out = Path(args.out) if args.out else (RESULTS if not args.quick and not args.only else None)

    t0 = time.perf_counter()
    info = machine_info()
    scratch = [tempfile.mkdtemp(prefix="eco_bench_run_")]  # every temporary file of the run, removed at the end
    env = bench_env(scratch[0])
    env["TMPDIR"] = scratch[0]
    if Path("/dev/shm").is_dir() and os.access("/dev/shm", os.W_OK):
        scratch.append(tempfile.mkdtemp(prefix="eco_bench_run_", dir="/dev/shm"))
        env[SHM_ENV] = scratch[-1]
    if args.reps is not None:
        env[REPS_FACTOR_ENV] = str(args.reps)
    sections = []
    try:
        for i, (key, module, title) in enumerate(chosen, 1):
            print(f"[{i}/{len(chosen)}] {title} …", end="", file=sys.stderr, flush=True)
            s = run_one(key, module, title, args.quick, env)
            bad = sum(t.met is False for t in s.targets)
            print(f" {s.elapsed_s:.0f} s" + (f", {bad} target(s) missed" if bad else ""), file=sys.stderr,
                  flush=True)
            sections.append(s)
    finally:
        for d in scratch:
            shutil.rmtree(d, ignore_errors=True)
    try:
        info["load average at end"] = " / ".join(f"{x:.2f}" for x in os.getloadavg()) + " (1 / 5 / 15 min)"
    except OSError:
        pass
    text = render(sections, info, args.quick, time.perf_counter() - t0)
    if out is None:
        print(text)
    else:
        out.write_text(text, encoding="utf-8")
        print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
