"""Shared plumbing for the benchmarks: paths, statistics, tables, machine facts, shells and patching.

Benchmarks are scripts, not tests: they print tables and, through ``run_all``, rewrite ``RESULTS.md``.
These machines are shared and noisy, so every timing is a median over interleaved repetitions, with its
interquartile range (IQR), and comparisons are ratios or differences measured within one run.

Each benchmark module exposes ``run(quick: bool) -> Section`` and a ``main()`` that prints the section and,
with ``--json PATH``, writes it for ``run_all``. Nothing here is imported by ``eco_magic``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
BENCH = Path(__file__).resolve().parent


def ensure_paths() -> None:
    """Make ``eco_magic`` (repo root) and the test fakes (``tests/``) importable."""
    for p in (str(ROOT), str(TESTS)):
        if p not in sys.path:
            sys.path.insert(0, p)


# ------------------------------------------------------------------------------------------------ results


@dataclass
class Target:
    """One checked target: what was measured, the figure, the target, whether it is met, and why not."""

    what: str
    measured: str
    target: str
    met: bool | None  # None: informational (no target), or could not be measured
    why: str = ""


@dataclass
class Table:
    caption: str
    headers: list[str]
    rows: list[list[str]]


@dataclass
class Section:
    """What one benchmark reports: its targets, detail tables and notes (plain strings, Markdown allowed)."""

    key: str
    title: str
    intro: str = ""
    targets: list[Target] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Section":
        d = dict(d)
        d["targets"] = [Target(**t) for t in d.get("targets", [])]
        d["tables"] = [Table(**t) for t in d.get("tables", [])]
        return cls(**d)


def met_text(met: bool | None) -> str:
    return {True: "yes", False: "**no**", None: "—"}[met]


def _md_cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def md_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(_md_cell(h) for h in headers) + " |",
             "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def targets_table(targets: Sequence[Target]) -> str:
    return md_table(["what", "measured", "target", "met?", "why / note"],
                    [[t.what, t.measured, t.target, met_text(t.met), t.why] for t in targets])


def section_markdown(s: Section, level: int = 2) -> str:
    h = "#" * level
    out = [f"{h} {s.title}", ""]
    if s.intro:
        out += [s.intro, ""]
    if s.targets:
        out += [targets_table(s.targets), ""]
    for t in s.tables:
        if t.caption:
            out += [f"*{t.caption}*", ""]
        out += [md_table(t.headers, t.rows), ""]
    for n in s.notes:
        out += [f"- {n}"]
    if s.notes:
        out.append("")
    out.append(f"<sub>section ran in {s.elapsed_s:.0f} s</sub>")
    out.append("")
    return "\n".join(out)


def text_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def print_section(s: Section, file=None) -> None:
    file = file or sys.stdout
    print(f"\n== {s.title} ==", file=file)
    if s.targets:
        print(text_table(["what", "measured", "target", "met?", "why"],
                         [[t.what, t.measured, t.target, met_text(t.met).strip("*"), t.why] for t in s.targets]),
              file=file)
    for t in s.tables:
        print(f"\n{t.caption}", file=file)
        print(text_table(t.headers, t.rows), file=file)
    for n in s.notes:
        print(f"- {n}", file=file)


def bench_main(run: Callable[[bool], Section], argv: Sequence[str] | None = None) -> int:
    """``python -m benchmarks.<name> [--quick] [--json PATH]``: run, print, optionally write JSON."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="few repetitions: a smoke run, not results")
    ap.add_argument("--json", default=None, help="write the section as JSON to this path")
    ap.add_argument("--reps", type=float, default=None, help=f"repetition factor (sets ${REPS_FACTOR_ENV})")
    args = ap.parse_args(argv)
    if args.reps is not None:
        os.environ[REPS_FACTOR_ENV] = str(args.reps)
    t0 = time.perf_counter()
    section = run(args.quick)
    section.elapsed_s = time.perf_counter() - t0
    print_section(section)
    if args.json:
        Path(args.json).write_text(json.dumps(section.to_json(), ensure_ascii=False, indent=1))
    return 0


# --------------------------------------------------------------------------------------------- statistics


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs) if xs else math.nan


def iqr(xs: Sequence[float]) -> tuple[float, float]:
    """(first quartile, third quartile); equal to the value for a single sample."""
    if not xs:
        return math.nan, math.nan
    if len(xs) == 1:
        return xs[0], xs[0]
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], q[2]


def mean_sd(xs: Sequence[float]) -> tuple[float, float]:
    if not xs:
        return math.nan, math.nan
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def quantile(xs: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile, q in [0, 1]."""
    if not xs:
        return math.nan
    s = sorted(xs)
    pos = q * (len(s) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def ms(seconds: float, digits: int = 1) -> str:
    return "n/a" if seconds is None or not math.isfinite(seconds) else f"{seconds * 1e3:.{digits}f} ms"


def med_iqr_ms(xs: Sequence[float], digits: int = 1) -> str:
    """``"12.3 ms (IQR 11.0–14.2)"``."""
    q1, q3 = iqr(xs)
    return f"{ms(median(xs), digits)} (IQR {q1 * 1e3:.{digits}f}–{q3 * 1e3:.{digits}f})"


def pct(x: float, digits: int = 2, sign: bool = True) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x * 100:+.{digits}f} %" if sign else f"{x * 100:.{digits}f} %"


REPS_FACTOR_ENV = "ECO_BENCH_REPS"


def reps(n: int, quick_n: int, quick: bool) -> int:
    """Repetitions: ``quick_n`` in a quick run, else ``n`` × ``$ECO_BENCH_REPS`` (a factor, default 1; ≥ 1)."""
    if quick:
        return quick_n
    try:
        factor = float(os.environ.get(REPS_FACTOR_ENV, "1") or 1)
    except ValueError:
        factor = 1.0
    return max(1, round(n * factor))


def spin_for(seconds: float) -> None:
    """Burn CPU in this thread for ``seconds`` of wall time (a CPU-bound cell of known length)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


# ------------------------------------------------------------------------------------------ machine facts


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(dist: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_info() -> dict[str, str]:
    """CPU model, cores, RAM, OS, Python, package versions, date, git commit — the header of RESULTS.md."""
    ensure_paths()
    import eco_magic

    info: dict[str, str] = {}
    info["date (UTC)"] = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    info["CPU"] = _cpu_model()
    logical = os.cpu_count() or 0
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = logical
    info["cores"] = f"{logical} logical ({usable} usable by this process)"
    try:
        import psutil

        info["RAM"] = f"{psutil.virtual_memory().total / 2**30:.1f} GiB"
    except Exception:  # noqa: BLE001
        info["RAM"] = "unknown"
    info["OS"] = f"{platform.system()} {platform.release()} ({platform.machine()})"
    info["Python"] = f"{platform.python_version()} ({platform.python_implementation()})"
    try:
        load = os.getloadavg()
        info["load average at start"] = " / ".join(f"{x:.2f}" for x in load) + " (1 / 5 / 15 min)"
    except OSError:
        pass
    versions = [f"eco_magic {eco_magic.__version__}"]
    for dist in ("ipython", "ipywidgets", "matplotlib", "pandas", "numpy", "psutil", "nvidia-ml-py",
                 "codecarbon", "torch", "cupy"):
        v = _version(dist)
        if v != "not installed" or dist not in ("torch", "cupy"):
            versions.append(f"{dist} {v}")
    info["packages"] = ", ".join(versions)
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        if commit:
            info["git"] = commit + (" + uncommitted changes" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    info["GPU"] = gpu_summary()
    return info


def gpu_summary() -> str:
    """One line: the NVIDIA GPUs NVML sees, or why none."""
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception as exc:  # noqa: BLE001
        return f"none (NVML: {type(exc).__name__})"
    try:
        n = pynvml.nvmlDeviceGetCount()
        names = [pynvml.nvmlDeviceGetName(pynvml.nvmlDeviceGetHandleByIndex(i)) for i in range(n)]
        return ", ".join(str(x) for x in names) or "none (NVML sees no device)"
    finally:
        pynvml.nvmlShutdown()


# ---------------------------------------------------------------------------------------------- processes


def bench_env(tmp: str | os.PathLike | None = None) -> dict[str, str]:
    """Environment for benchmark subprocesses: repo importable, Agg backend, ledger and IPython dir in tmp."""
    tmp = Path(tmp or tempfile.mkdtemp(prefix="eco_bench_"))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(TESTS)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH")
                                                                   else []))
    env["MPLBACKEND"] = "Agg"
    env["ECO_MAGIC_LEDGER"] = str(tmp / "ledger.sqlite")
    env["IPYTHONDIR"] = str(tmp / "ipython")
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # byte-code caches on: load times as users see them
    env.pop("ECO_MAGIC_REGION", None)
    return env


def run_json_script(code: str, *, env: dict[str, str] | None = None, timeout: float = 120.0) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter; its last stdout line must be a JSON object, which is returned."""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                          env=env or bench_env(), cwd=str(ROOT))
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"subprocess failed (rc {proc.returncode}): {proc.stderr.strip()[-800:]}")
    return json.loads(lines[-1])


# ----------------------------------------------------------------------------------------------- patching


class Patcher:
    """The two things the test fakes need from pytest's ``monkeypatch``: ``setattr``/``setenv`` and ``undo``."""

    _MISSING = object()

    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []

    def setattr(self, target: Any, name: str, value: Any) -> None:
        old = getattr(target, name, self._MISSING)

        def restore() -> None:
            if old is self._MISSING:
                delattr(target, name)
            else:
                setattr(target, name, old)

        setattr(target, name, value)
        self._undo.append(restore)

    def setenv(self, name: str, value: str) -> None:
        old = os.environ.get(name)
        os.environ[name] = value
        self._undo.append(lambda: os.environ.pop(name, None) if old is None else os.environ.__setitem__(name, old))

    def undo(self) -> None:
        while self._undo:
            self._undo.pop()()

    def __enter__(self) -> "Patcher":
        return self

    def __exit__(self, *exc) -> None:
        self.undo()


# ------------------------------------------------------------------------------------------------- shells


def make_shell(tmp: str | os.PathLike, *, region: str = "FR", idle_baseline_s: float | None = None,
               load: bool = True):
    """A real in-process IPython ``InteractiveShell`` with eco_magic loaded (ledger and IPython dir in tmp).

    ``idle_baseline_s=None`` keeps the extension's default; the caller decides whether to wait for it.
    """
    ensure_paths()
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ["IPYTHONDIR"] = str(Path(tmp) / "ipython")
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    cfg = Config()
    cfg.HistoryManager.hist_file = ":memory:"
    cfg.InteractiveShell.colors = "nocolor"
    sh = InteractiveShell.instance(config=cfg)
    sh.run_line_magic("config", f"EcoMagics.ledger_path = {str(Path(tmp) / 'ledger.sqlite')!r}")
    sh.run_line_magic("config", f"EcoMagics.region = {region!r}")
    if idle_baseline_s is not None:
        sh.run_line_magic("config", f"EcoMagics.idle_baseline_s = {idle_baseline_s}")
    if load:
        sh.run_line_magic("load_ext", "eco_magic")
    return sh


def eco_magics(sh):
    """The loaded ``EcoMagics`` instance of shell ``sh``."""
    from eco_magic import magic

    return magic._LOADED[id(sh)]


def wait_until_idle(sh, timeout_s: float = 15.0) -> bool:
    """Wait for the background sensor discovery to finish (as a user who pauses after loading). The idle baseline
    needs no waiting: it comes from the gaps between cells (``eco_magic.idle``)."""
    engine = eco_magics(sh).engine
    warm = engine._warmup
    if warm is not None:
        warm.join(timeout_s)
        return not warm.is_alive()
    return True


def timed_cell(sh, code: str) -> tuple[float, float, Any]:
    """Run ``code`` as a cell with outputs captured; ``(wall s, process CPU s, captured output)``."""
    from IPython.utils.capture import capture_output

    with capture_output() as cap:
        c0 = time.process_time()
        t0 = time.perf_counter()
        sh.run_cell(code)
        t1 = time.perf_counter()
        c1 = time.process_time()
    return t1 - t0, c1 - c0, cap


def rotations(names: Sequence[str], reps: int) -> Iterable[tuple[int, list[str]]]:
    """Interleaving order: repetition ``r`` runs the variants rotated by ``r`` (each goes first equally often)."""
    k = len(names)
    for r in range(reps):
        shift = r % k
        yield r, list(names[shift:]) + list(names[:shift])


SHM_ENV = "ECO_BENCH_SHM_DIR"


def fast_tmpdir(prefix: str) -> str:
    """A temporary directory on tmpfs when there is one (fake sysfs files are rewritten per read): under
    ``$ECO_BENCH_SHM_DIR`` (set by run_all, which removes it afterwards), else /dev/shm, else the default."""
    for base in (os.environ.get(SHM_ENV), "/dev/shm"):
        if base and Path(base).is_dir() and os.access(base, os.W_OK):
            return tempfile.mkdtemp(prefix=prefix, dir=base)
    return tempfile.mkdtemp(prefix=prefix)
