"""The power-trace plot: when it is drawn, what it shows, that it never touches pyplot, and what it costs."""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from eco_magic.display import plot
from eco_magic.result import DeviceReading
from eco_magic.sampler import Trace
from helpers import make_result

ROOT = Path(__file__).resolve().parents[1]


def traced_result(duration_s: float = 5.0, n: int = 26, decimation: int = 1, **kw):
    t = tuple(i * duration_s / (n - 1) for i in range(n))
    trace = Trace(t_s=t, decimation=decimation, power_w={
        "cpu:model": tuple(20.0 + 5.0 * (i % 3) for i in range(n)),
        "gpu:0": tuple(None if i == 3 else 100.0 + i for i in range(n)),   # one failed read: a gap
    })
    devices = (
        DeviceReading("cpu:model", "cpu", "Test CPU", 100.0, "estimated", "CPU time × TDP", "process",
                      idle_power_w=10.0),
        DeviceReading("gpu:0", "gpu", "Test GPU", 500.0, "counter", "NVML total-energy counter"),
    )
    return make_result(duration_s=duration_s, devices=devices, trace=trace, **kw)


def test_should_plot_only_long_cells_with_a_trace():
    assert plot.should_plot(traced_result())
    assert not plot.should_plot(traced_result(duration_s=0.4))             # short cell
    assert not plot.should_plot(traced_result(n=2))                        # too few points
    assert not plot.should_plot(make_result(duration_s=5.0))               # no trace at all
    empty = Trace(t_s=(0.0, 1.0, 2.0, 3.0), power_w={"cpu:model": (None, None, None, None)}, decimation=1)
    assert not plot.should_plot(make_result(duration_s=5.0, trace=empty))  # nothing but failed reads


def test_png_bytes_without_pyplot():
    pyplot = pytest.importorskip("matplotlib.pyplot")
    before = pyplot.get_fignums()
    png = plot.render_png(traced_result())
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])           # IHDR: 6.4 × 2.2 in at 100 dpi
    assert (width, height) == (640, 220)
    assert pyplot.get_fignums() == before == []


def test_short_cell_renders_nothing():
    assert plot.render_png(traced_result(duration_s=0.5)) is None


def test_figure_has_one_line_per_device_idle_baseline_and_units():
    fig = plot.figure(traced_result())
    (ax,) = fig.axes
    assert "(s)" in ax.get_xlabel() and "(W)" in ax.get_ylabel()
    solid = [ln for ln in ax.lines if ln.get_linestyle() == "-"]
    dashed = [ln for ln in ax.lines if ln.get_linestyle() == "--"]
    assert sorted(ln.get_label().split(" · ")[0] for ln in solid) == ["cpu:model", "gpu:0"]
    assert len(dashed) == 1 and list(dashed[0].get_ydata()) == [10.0, 10.0]      # cpu idle; the GPU has none
    assert dashed[0].get_color() == solid[0].get_color()                          # same colour as its device
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "idle baseline" in legend and any("Test GPU" in t for t in legend)
    assert ax.get_ylim()[0] == 0.0 and ax.get_ylim()[1] > 125.0                   # peak 125 W fits
    assert "averages" not in ax.get_xlabel()


def test_decimated_trace_says_so():
    fig = plot.figure(traced_result(decimation=4))
    assert "averages 4 samples" in fig.axes[0].get_xlabel()


_SCRIPT = r"""
import json, sys
sys.path[:0] = [{root!r}, {tests!r}]
out = {{}}
import eco_magic, eco_magic.display.card, eco_magic.display.plot, eco_magic.display.svg, eco_magic.whatif
out["heavy_after_import"] = [m for m in ("IPython", "ipywidgets", "matplotlib", "pandas") if m in sys.modules]
from eco_magic.display import card
from test_plot import traced_result
card.present(traced_result())            # no IPython running: shows nothing, prints nothing
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from traitlets.config import Config
cfg = Config(); cfg.HistoryManager.hist_file = ":memory:"
ip = InteractiveShell.instance(config=cfg)
ip.kernel = object()                     # pretend to be a Jupyter kernel: plots allowed
with capture_output() as cap:
    card.present(traced_result(duration_s=0.6))
data = cap.outputs[0].data
out["short_keys"] = sorted(data)
out["short_svg"] = "<svg" in data["text/html"]
with capture_output() as cap:
    card.present(traced_result(duration_s=5.0))
out["long_svg"] = "<svg" in cap.outputs[0].data["text/html"]
out["long_png"] = "data:image/png" in cap.outputs[0].data["text/html"]
out["heavy_after_cards"] = [m for m in ("ipywidgets", "matplotlib", "pandas") if m in sys.modules]
print(json.dumps(out))
"""


def test_cards_never_import_matplotlib_or_ipywidgets(tmp_path):
    """The card's trace is SVG: neither a short nor a long cell imports matplotlib, and no widget is built."""
    script = _SCRIPT.format(root=str(ROOT), tests=str(ROOT / "tests"))
    env = dict(os.environ, MPLBACKEND="Agg", IPYTHONDIR=str(tmp_path))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)              # the whole stdout is the JSON line: nothing else was printed
    assert out == {"heavy_after_import": [], "short_keys": ["text/html", "text/plain"], "short_svg": False,
                   "long_svg": True, "long_png": False, "heavy_after_cards": []}
