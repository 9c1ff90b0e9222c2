"""9. A real Jupyter kernel through nbclient: fixed cost per displayed cell, and memory kept per displayed cell.

This is the path a notebook user is on (issue 16): a real ``ipykernel`` started by nbclient, every cell sent over
ZeroMQ, its outputs (the live readout, then the card that replaces it) received and stored by nbclient.

* **Fixed cost per trivial cell**: ``x = 1`` plain, ``%%ecolyze`` + ``x = 1`` and ``%%ecolyze -q`` + ``x = 1``
  (measured, nothing displayed) take turns (the order rotates), each timed around ``NotebookClient.execute_cell``
  (send, run, every output received, idle). The fixed cost is the median of the per-round differences to the
  plain cell, with its interquartile range (IQR); the quiet variant shows how much of it is the display.
* **Memory kept per displayed cell**: after 50 warm-up cells, the kernel's RSS (after ``gc.collect()``) and its
  open file descriptors are read; then 1,000 more measured cells run and both are read again. The difference over
  1,000 is what one displayed cell leaves behind in the kernel (ledger row, output history, display state).
  Then 1,000 cells measured with nothing displayed (``-q``) show how much of that is the display's own.
* **Card size**: bytes of the final ``text/html`` and ``text/plain`` of a trivial cell's card.

The kernel imports ``eco_magic`` from this checkout (or from ``--repo PATH``, to measure another checkout the
same way) with an empty powercap tree (no RAPL), no idle baseline and the region fixed to France.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from .common import ROOT, Section, Table, Target, bench_main, iqr, median, reps

FIXED_TARGET_S = 0.006
RSS_TARGET_B = 4 * 1024
PROBE = ("import gc as _gc, os as _os, json as _json, psutil as _ps\n_gc.collect()\n"
         "print('ECO_PROBE', _json.dumps({'rss': _ps.Process().memory_info().rss, "
         "'fds': len(_os.listdir('/proc/self/fd'))}))")


def _env(tmp: Path, repo: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(repo)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    empty = tmp / "no-powercap"
    empty.mkdir(exist_ok=True)
    env["ECO_MAGIC_POWERCAP_ROOT"] = str(empty)
    env["IPYTHONDIR"] = str(tmp / "ipython")
    env["MPLBACKEND"] = "Agg"
    for name in ("ECO_MAGIC_REGION", "CUDA_VISIBLE_DEVICES"):
        env.pop(name, None)
    return env


class KernelSession:
    """One nbclient-driven kernel; :meth:`run` executes one cell and returns (wall seconds, outputs)."""

    def __init__(self, tmp: Path, repo: Path) -> None:
        import nbclient
        import nbformat

        self.nbformat = nbformat
        self.nb = nbformat.v4.new_notebook()
        self.client = nbclient.NotebookClient(self.nb, kernel_name="python3", timeout=300, startup_timeout=120,
                                              resources={"metadata": {"path": str(tmp)}})
        self._ctx = self.client.setup_kernel(env=_env(tmp, repo), cwd=str(tmp))
        self._ctx.__enter__()

    def run(self, source: str):
        cell = self.nbformat.v4.new_code_cell(source)
        self.nb.cells.append(cell)
        t0 = time.perf_counter()
        self.client.execute_cell(cell, len(self.nb.cells) - 1)
        wall = time.perf_counter() - t0
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if errors:
            raise RuntimeError(f"{source!r}: {errors[0].ename}: {errors[0].evalue}")
        outputs = cell.outputs
        self.nb.cells[-1] = self.nbformat.v4.new_code_cell("")  # keep the client's copy small
        return wall, outputs

    def probe(self) -> dict:
        _, outputs = self.run(PROBE)
        text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
        return json.loads(text.split("ECO_PROBE", 1)[1])

    def close(self) -> None:
        self._ctx.__exit__(None, None, None)


def setup(session: KernelSession, ledger: Path) -> None:
    session.run("%config EcoMagics.idle_baseline_s = 0\n"
                f"%config EcoMagics.ledger_path = {str(ledger)!r}\n"
                "%config EcoMagics.region = 'FR'\n%load_ext eco_magic")


def measure(quick: bool, repo: Path = ROOT) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="eco_bench_kernel_"))
    s = KernelSession(tmp, repo)
    try:
        setup(s, tmp / "ledger.sqlite")
        for _ in range(20):  # warm: first-cell costs (imports, discovery) are another benchmark's
            s.run("%%ecolyze\nx = 1")
            s.run("x = 1")
        n = reps(150, 15, quick)
        plain, measured, diffs, quiet_diffs = [], [], [], []
        variants = ("x = 1", "%%ecolyze\nx = 1", "%%ecolyze -q\nx = 1")
        for i in range(n):
            times = {}
            for k in range(3):  # the order rotates: no variant always runs first
                source = variants[(i + k) % 3]
                times[source], outputs = s.run(source)
                if source == variants[1]:
                    out = outputs
            plain.append(times[variants[0]])
            measured.append(times[variants[1]])
            diffs.append(times[variants[1]] - times[variants[0]])
            quiet_diffs.append(times[variants[2]] - times[variants[0]])
        card = [o for o in out if o.output_type in ("display_data", "execute_result")][-1]
        mimes = sorted(card.data)
        html_b = len(card.data.get("text/html", "").encode())
        text_b = len(card.data.get("text/plain", "").encode())
        cells = reps(1000, 100, quick)
        for _ in range(30):
            s.run("%%ecolyze\nx = 1")
        before = s.probe()
        t0 = time.perf_counter()
        for _ in range(cells):
            s.run("%%ecolyze\nx = 1")
        loop_s = time.perf_counter() - t0
        after = s.probe()
        for _ in range(cells):  # the same cells with nothing displayed: what the display itself keeps
            s.run("%%ecolyze -q\nx = 1")
        quiet = s.probe()
    finally:
        s.close()
    return {"plain": plain, "measured": measured, "diffs": diffs, "quiet_diffs": quiet_diffs, "mimes": mimes, "html_bytes": html_b,
            "text_bytes": text_b, "cells": cells, "rss_before": before["rss"], "rss_after": after["rss"],
            "fds_before": before["fds"], "fds_after": after["fds"], "loop_s": loop_s, "rss_quiet": quiet["rss"],
            "fds_quiet": quiet["fds"]}


def _ms(xs) -> str:
    q1, q3 = iqr(xs)
    return f"{median(xs) * 1e3:.1f} ms (IQR {q1 * 1e3:.1f}–{q3 * 1e3:.1f})"


def run(quick: bool, repo: Path = ROOT) -> Section:
    m = measure(quick, repo)
    fixed = median(m["diffs"])
    per_cell_b = (m["rss_after"] - m["rss_before"]) / m["cells"]
    s = Section(key="kernel", title="9. Real kernel through nbclient",
                intro="A real ipykernel driven by nbclient (see the module docstring).")
    s.targets.append(Target("fixed cost per trivial cell, real kernel through nbclient, card displayed",
                            _ms(m["diffs"]), "≤ 6 ms", fixed <= FIXED_TARGET_S,
                            "" if fixed <= FIXED_TARGET_S else "see the parts in benchmark 2"))
    quiet_b = (m["rss_quiet"] - m["rss_after"]) / m["cells"]
    why = ("" if per_cell_b <= RSS_TARGET_B else
           f"{quiet_b / 1024:.2f} KiB per cell stays with nothing displayed (the results the ledger keeps in "
           f"memory); the display's own share is {(per_cell_b - quiet_b) / 1024:.2f} KiB")
    s.targets.append(Target(f"RSS kept per displayed cell (real kernel, {m['cells']:,} cells)",
                            f"{per_cell_b / 1024:.2f} KiB", "≤ 4 KiB", per_cell_b <= RSS_TARGET_B, why))
    s.tables.append(Table("per cell, through nbclient", ["what", "value"], [
        ["plain `x = 1`", _ms(m["plain"])],
        ["`%%ecolyze` + `x = 1`", _ms(m["measured"])],
        ["difference (fixed cost)", _ms(m["diffs"])],
        ["`%%ecolyze -q` (nothing displayed) − plain", _ms(m["quiet_diffs"])],
        ["card mime types", ", ".join(m["mimes"])],
        ["card size", f"text/html {m['html_bytes']:,} B, text/plain {m['text_bytes']:,} B"],
        [f"RSS over {m['cells']:,} measured cells", f"{m['rss_before'] / 2**20:.1f} → {m['rss_after'] / 2**20:.1f} MiB"],
        [f"open file descriptors over {m['cells']:,} cells", f"{m['fds_before']} → {m['fds_after']}"],
        [f"RSS over {m['cells']:,} more cells with nothing displayed (`-q`)",
         f"{m['rss_after'] / 2**20:.1f} → {m['rss_quiet'] / 2**20:.1f} MiB "
         f"({(m['rss_quiet'] - m['rss_after']) / m['cells'] / 1024:.2f} KiB per cell; the display's own share is "
         f"the difference to the displayed cells)"],
        [f"{m['cells']:,} measured cells took", f"{m['loop_s']:.1f} s"],
    ]))
    return s


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    repo = ROOT
    if "--repo" in argv:
        i = argv.index("--repo")
        repo = Path(argv[i + 1]).resolve()
        del argv[i:i + 2]
    return bench_main(lambda quick: run(quick, repo), argv)


if __name__ == "__main__":
    raise SystemExit(main())
