"""The live readout and the result card: widget structure, the updater thread, the output bundles, escaping and
the degraded paths (terminal, no ipywidgets). Widgets are built without a kernel (``comm`` gives a dummy comm)."""
from __future__ import annotations

import sys
import threading
import time

import pytest
from IPython.utils.capture import capture_output

from eco_magic.display import card, widget
from eco_magic.display.html import render_html
from eco_magic.sampler import LiveStatus
from eco_magic.sensors.base import DeviceInfo
from helpers import make_result
from test_plot import traced_result

W = pytest.importorskip("ipywidgets")
from ipywidgets.widgets.widget import _instances  # noqa: E402

WIDGET = card.WIDGET_MIME
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
HOSTILE = ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>")
CHANNELS = (DeviceInfo("gpu:0", "gpu", "Test <b>GPU</b>", "counter", "NVML total-energy counter"),
            DeviceInfo("cpu:model", "cpu", "Test CPU", "estimated", "CPU time × TDP", "process"))


class FakeSampler:
    """Speaks ``Sampler.live()``: every call is 0.5 s later, 10 J more on the GPU; the CPU has no energy yet."""

    def __init__(self, fail: bool = False) -> None:
        self.calls = 0
        self.fail = fail

    def live(self) -> LiveStatus:
        if self.fail:
            raise RuntimeError("sampler gone")
        self.calls += 1
        return LiveStatus(elapsed_s=0.5 * self.calls, power_w={"gpu:0": 100.0 + self.calls, "cpu:model": None},
                          energy_j={"gpu:0": 10.0 * self.calls})


def wait_for(predicate, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def live_threads():
    return [t for t in threading.enumerate() if t.name == "eco_magic-live" and t.is_alive()]


@pytest.fixture(autouse=True)
def close_widgets():
    yield
    W.Widget.close_all()


@pytest.fixture
def kernel(ip, monkeypatch):
    """The test shell, pretending to be a Jupyter kernel (``get_ipython().kernel`` is set)."""
    monkeypatch.setattr(ip, "kernel", object(), raising=False)
    return ip


# --- pure builders -------------------------------------------------------------------------------------------

def test_live_html_shows_elapsed_power_and_energy_so_far():
    status = LiveStatus(elapsed_s=1.5, power_w={"gpu:0": 101.0, "cpu:model": None, "ram:model": 3.0},
                        energy_j={"gpu:0": 10.0, "ram:model": 2.0})
    html = widget.live_html("demo", status, CHANNELS)
    assert 'class="eco-live"' in html and "demo" in html and "1.50 s" in html
    gpu_row = html[html.index("gpu:0"):html.index("cpu:model")]
    assert "101 W" in gpu_row and "10.0 J" in gpu_row
    cpu_row = html[html.index("cpu:model"):html.index("ram:model")]
    assert "n/a" in cpu_row and "…" in cpu_row                  # no power read, no energy yet: never a zero
    assert "ram:model" in html                                   # a key beyond the channels still shows
    total_row = html[html.index("total"):]
    assert "104 W" in total_row and "12.0 J" in total_row
    assert "Test &lt;b&gt;GPU&lt;/b&gt;" in html and "<b>GPU" not in html


def test_live_html_without_channels_says_so():
    html = widget.live_html("", LiveStatus(0.0, {}, {}), ())
    assert "no device channel" in html and "measuring" in html


@pytest.mark.parametrize("label", HOSTILE)
def test_live_html_escapes_the_label(label):
    html = widget.live_html(label, LiveStatus(0.2, {"gpu:0": 1.0}, {}), CHANNELS)
    assert label not in html and label.replace("<", "&lt;").replace(">", "&gt;") in html


def test_build_card_has_model_id_classes_html_and_image():
    root = widget.build_card(make_result(label="demo"), PNG)
    data = root._repr_mimebundle_()
    assert _instances[data[WIDGET]["model_id"]] is root               # a model id, even without a kernel
    assert "eco-card-root" in root._dom_classes
    html, img = root.children
    assert isinstance(html, W.HTML) and isinstance(img, W.Image)
    assert 'class="eco-card"' in html.value and "eco-energy" in html.value
    assert "data:image/png" not in html.value                         # the Image child shows the plot
    assert img.value == PNG and "eco-plot" in img._dom_classes


def test_build_card_without_png_has_no_image():
    root = widget.build_card(make_result())
    assert [type(c) for c in root.children] == [W.HTML]


@pytest.mark.parametrize("label", HOSTILE)
def test_hostile_strings_are_escaped_in_html_and_widget(label):
    r = make_result(label=label, region_name=label, error=f"ValueError: {label}", status="error",
                    notes=(label,), model_variable=label, effective_params_m=1.0, n_params=1e6, qf=1.0,
                    precision="fp32", carbon_source=label, pue_source=label, water_source=label)
    escaped = label.replace("<", "&lt;").replace(">", "&gt;")
    for html in (render_html(r), card.bundle(r)["text/html"], widget.build_card(r).children[0].value):
        assert label not in html
        assert "<script" not in html and "<img src=x" not in html
        assert escaped in html


# --- the updater thread -------------------------------------------------------------------------------------

def test_updater_refreshes_then_stops_and_joins():
    sampler, html = FakeSampler(), W.HTML()
    values = []
    html.observe(lambda change: values.append(change["new"]), names="value")
    up = widget.LiveUpdater(sampler, html, "demo", CHANNELS, interval_s=0.01)
    up.start()
    assert wait_for(lambda: up.n_updates >= 3)
    up.stop()
    assert not up.alive and not live_threads()
    assert len(set(values)) >= 2                                # the HTML value changed, not just re-set
    assert "demo" in values[-1] and "measuring" in values[-1]
    calls = sampler.calls
    time.sleep(0.05)
    assert sampler.calls == calls                                # nothing refreshes after stop
    up.stop()                                                    # idempotent


def test_updater_survives_a_failing_sampler():
    html = W.HTML(value="before")
    up = widget.LiveUpdater(FakeSampler(fail=True), html, "x", interval_s=0.01)
    assert up.refresh() is False
    up.start()
    time.sleep(0.03)
    up.stop()
    assert html.value == "before" and up.n_updates == 0 and not live_threads()


# --- begin / present / cancel ---------------------------------------------------------------------------------

def test_plain_shell_no_live_readout_and_a_static_bundle(ip):
    with capture_output() as cap:
        handle = card.begin("demo", FakeSampler(), CHANNELS)
        card.present(traced_result(label="demo"), handle, project_daily=10)
    assert handle is None and not live_threads()
    (out,) = cap.outputs
    assert set(out.data) == {"text/plain", "text/html"}
    assert out.data["text/plain"].startswith("ecolyze: demo")
    assert "per year" in out.data["text/plain"] and "what-if" in out.data["text/plain"]
    assert 'class="eco-card"' in out.data["text/html"] and "eco-whatif" in out.data["text/html"]
    assert "data:image/png" not in out.data["text/html"]        # a terminal could not show a plot: none drawn
    assert cap.stdout == ""


def test_kernel_live_readout_is_replaced_by_the_card(kernel):
    sampler = FakeSampler()
    with capture_output() as cap:
        handle = card.begin("demo", sampler, CHANNELS, interval_s=0.01)
        assert handle is not None
        assert wait_for(lambda: handle.updater.n_updates >= 2)
        live_html_id = handle.widget.model_id
        live_id = handle.root.model_id
        assert "eco-live" in handle.widget._dom_classes and "gpu:0" in handle.widget.value
        card.present(traced_result(label="demo"), handle, what_if_regions=["PL"])
    assert not live_threads()
    first, final = cap.outputs
    assert set(first.data) == {WIDGET, "text/plain"}            # no text/html while live
    assert first.data["text/plain"] == "ecolyze: measuring demo…"
    assert first.data[WIDGET]["model_id"] == live_id
    display_id = first.transient["display_id"]
    assert final.update and final.transient["display_id"] == display_id
    assert set(final.data) == {WIDGET, "text/plain", "text/html"}
    # the displayed root model *becomes* the card: JupyterLab hides an output whose model gets closed, even
    # after update_display gave it another one; only the readout's inner HTML widget is closed
    assert final.data[WIDGET]["model_id"] == live_id
    assert live_html_id not in _instances
    root = _instances[live_id]
    assert "eco-card-root" in root._dom_classes and "eco-live-root" not in root._dom_classes
    html, img = root.children
    assert img.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Poland" in html.value and "data:image/png" not in html.value
    assert "data:image/png;base64," in final.data["text/html"] and "Poland" in final.data["text/html"]
    assert final.data["text/plain"].startswith("ecolyze: demo")


def test_kernel_short_cell_card_has_no_plot(kernel):
    with capture_output() as cap:
        card.present(traced_result(duration_s=0.4))
    (out,) = cap.outputs
    root = _instances[out.data[WIDGET]["model_id"]]
    assert len(root.children) == 1 and "data:image/png" not in out.data["text/html"]


def test_cancel_stops_the_readout_and_empties_it(kernel):
    with capture_output() as cap:
        handle = card.begin("", FakeSampler(), CHANNELS, interval_s=0.01)
        assert cap.outputs[0].data["text/plain"] == "ecolyze: measuring…"
        card.cancel(handle)
        card.cancel(None)
    assert not live_threads()
    assert cap.outputs[-1].update and cap.outputs[-1].data == {"text/plain": ""}
    assert cap.outputs[-1].transient["display_id"] == cap.outputs[0].transient["display_id"]


def test_without_ipywidgets_everything_degrades_to_the_static_card(kernel, monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)         # import ipywidgets now raises ImportError
    with capture_output() as cap:
        handle = card.begin("demo", FakeSampler(), CHANNELS)
        card.present(make_result(label="demo"), handle)
    assert handle is None and not live_threads()
    (out,) = cap.outputs
    assert set(out.data) == {"text/plain", "text/html"}
    assert "eco-card" in out.data["text/html"]


def test_begin_never_raises(kernel):
    class Broken:
        def live(self):
            raise RuntimeError("no")

    with capture_output() as cap:
        assert card.begin("x", Broken(), CHANNELS) is None
    assert cap.outputs == [] and not live_threads()
