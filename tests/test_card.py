"""The live readout and the card's lifecycle: the readout's HTML and text, its refresh thread, and what
``begin`` / ``present`` / ``cancel`` publish — in a terminal shell and in a (pretend) kernel. What stays in the
notebook is a plain text/plain + text/html bundle: no widget view, no comm."""
from __future__ import annotations

import contextvars
import sys
import threading
import time

import pytest
from IPython.utils.capture import capture_output

from eco_magic.display import card, live
from eco_magic.sampler import LiveStatus
from eco_magic.sensors.base import DeviceInfo
from helpers import make_result
from test_plot import traced_result

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
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


def no_live_threads() -> bool:
    """Every readout thread has ended (they end by themselves right after stop(), which does not join them)."""
    return wait_for(lambda: not live_threads(), 5.0)


@pytest.fixture
def kernel(ip, monkeypatch):
    """The test shell, pretending to be a Jupyter kernel (``get_ipython().kernel`` is set)."""
    monkeypatch.setattr(ip, "kernel", object(), raising=False)
    return ip


# --- the readout, pure ----------------------------------------------------------------------------------------

def test_live_html_shows_elapsed_power_and_energy_so_far():
    status = LiveStatus(elapsed_s=1.5, power_w={"gpu:0": 101.0, "cpu:model": None, "ram:model": 3.0},
                        energy_j={"gpu:0": 10.0, "ram:model": 2.0})
    html = live.live_html("demo", status, CHANNELS)
    assert 'class="eco eco-live"' in html and "demo" in html and "1.50 s" in html
    gpu_row = html[html.index("gpu:0"):html.index("cpu:model")]
    assert "101 W" in gpu_row and "10.0 J" in gpu_row
    cpu_row = html[html.index("cpu:model"):html.index("ram:model")]
    assert "n/a (not read yet)" in cpu_row and "…" in cpu_row    # no power read, no energy yet: never a zero
    assert "ram:model" in html                                   # a key beyond the channels still shows
    total_row = html[html.index(">total<"):]
    assert "104 W" in total_row and "12.0 J" in total_row
    assert "Test &lt;b&gt;GPU&lt;/b&gt;" in html and "<b>GPU" not in html
    assert live.live_text("demo", status, CHANNELS) == "ecolyze: measuring demo… 1.50 s · 104 W · 12.0 J so far"


def test_live_html_without_channels_says_so():
    html = live.live_html("", LiveStatus(0.0, {}, {}), ())
    assert "no device channel" in html and "measuring" in html
    assert live.live_bundle("", None) == {"text/plain": "ecolyze: measuring…"}


@pytest.mark.parametrize("label", HOSTILE)
def test_live_html_escapes_the_label(label):
    html = live.live_html(label, LiveStatus(0.2, {"gpu:0": 1.0}, {}), CHANNELS)
    assert label not in html and label.replace("<", "&lt;").replace(">", "&gt;") in html


# --- the refresh thread -------------------------------------------------------------------------------------------

def test_updater_publishes_then_stops_and_nothing_follows():
    sampler, published = FakeSampler(), []
    up = live.LiveUpdater(sampler, lambda b, u: published.append((b, u)), "demo", CHANNELS, interval_s=0.01)
    up.start()
    assert wait_for(lambda: up.n_updates >= 3)
    up.stop(join=True)
    assert not up.alive and no_live_threads()
    assert [u for _, u in published][:2] == [False, True] and up.shown   # shown once, then replaced
    bundles = [b for b, _ in published]
    assert len({b["text/html"] for b in bundles}) >= 2           # the readout changed, not just re-sent
    assert all(set(b) == {"text/plain", "text/html"} for b in bundles)
    assert "demo" in bundles[-1]["text/html"] and "measuring" in bundles[-1]["text/plain"]
    count = len(published)
    assert up.refresh() is False                                 # after stop: nothing can be published
    time.sleep(0.05)
    assert len(published) == count
    up.stop()                                                    # idempotent


def test_updater_waits_one_interval_before_the_first_refresh():
    """A cell shorter than the interval shows no readout and costs no refresh at all."""
    published = []
    up = live.LiveUpdater(FakeSampler(), lambda b, u: published.append(b), "x", interval_s=5.0)
    up.start()
    time.sleep(0.05)
    up.stop()
    assert published == [] and not up.shown and no_live_threads()


def test_stop_waits_for_a_publish_in_flight():
    """A refresh that is being published when the cell ends finishes before stop() returns: the card that is
    shown next can never be overwritten by a late readout."""
    entered, release, done = threading.Event(), threading.Event(), []

    def slow_publish(bundle, update):
        entered.set()
        release.wait(5)
        done.append(bundle)

    up = live.LiveUpdater(FakeSampler(), slow_publish, "x", interval_s=0.01)
    up.start()
    assert entered.wait(5)
    stopper = threading.Thread(target=up.stop)
    stopper.start()
    time.sleep(0.05)
    assert stopper.is_alive()                                    # blocked behind the publish in flight
    release.set()
    stopper.join(5)
    assert not stopper.is_alive() and len(done) == 1 and wait_for(lambda: not up.alive)


def test_updater_thread_runs_in_the_starting_context():
    """ipykernel keeps the cell's parent header in a context variable: the refresh thread must see the value the
    starting thread had, so that its updates are routed to the cell that started it."""
    var = contextvars.ContextVar("parent_header", default=None)
    seen = []
    token = var.set({"msg_id": "cell-7"})
    try:
        up = live.LiveUpdater(FakeSampler(), lambda b, u: seen.append(var.get()), "x", interval_s=0.01)
        up.start()
    finally:
        var.reset(token)
    assert wait_for(lambda: seen)
    up.stop()
    assert seen[0] == {"msg_id": "cell-7"}


def test_updater_survives_a_failing_sampler_and_publisher():
    published = []
    up = live.LiveUpdater(FakeSampler(fail=True), lambda b, u: published.append(b), "x", interval_s=0.01)
    assert up.refresh() is False
    up.start()
    time.sleep(0.03)
    up.stop()
    assert published == [] and up.n_updates == 0 and no_live_threads()

    def broken(bundle, update):
        raise OSError("iopub closed")

    up = live.LiveUpdater(FakeSampler(), broken, "x", interval_s=0.01)
    assert up.refresh() is False


# --- begin / present / cancel ---------------------------------------------------------------------------------

def test_plain_shell_no_live_readout_and_a_static_bundle(ip):
    with capture_output() as cap:
        handle = card.begin("demo", FakeSampler(), CHANNELS)
        card.present(traced_result(label="demo"), handle, project_daily=10)
    assert handle is None and no_live_threads()
    (out,) = cap.outputs
    assert set(out.data) == {"text/plain", "text/html"}
    assert out.data["text/plain"].startswith("ecolyze: demo")
    assert "per year" in out.data["text/plain"] and "what-if" in out.data["text/plain"]
    assert 'class="eco eco-card"' in out.data["text/html"] and "eco-whatif" in out.data["text/html"]
    assert "<svg" not in out.data["text/html"]                   # a terminal could not show a trace: none drawn
    assert cap.stdout == ""


def test_kernel_live_readout_is_replaced_by_the_card_in_place(kernel):
    sampler = FakeSampler()
    with capture_output() as cap:
        handle = card.begin("demo", sampler, CHANNELS, interval_s=0.01)
        assert handle is not None
        assert wait_for(lambda: handle.updater.n_updates >= 2)
        card.present(traced_result(label="demo"), handle, what_if_regions=["PL"])
        assert not live_threads()                                # joined before present() returned
    first, *updates = cap.outputs
    assert not first.update and set(first.data) == {"text/plain", "text/html"}   # the readout, as HTML
    assert first.data["text/plain"].startswith("ecolyze: measuring demo…")
    assert 'class="eco eco-live"' in first.data["text/html"]
    display_id = first.transient["display_id"]
    assert display_id == handle.display_id
    assert len(updates) >= 2                                     # at least one refresh, then the card
    assert all(u.update and u.transient["display_id"] == display_id for u in updates)
    final = updates[-1]
    assert set(final.data) == {"text/plain", "text/html"}       # no widget view: nothing needs a kernel later
    assert final.data["text/plain"].startswith("ecolyze: demo")
    assert "eco-card" in final.data["text/html"] and "Poland" in final.data["text/html"]
    assert "<svg" in final.data["text/html"] and "data:image/png" not in final.data["text/html"]
    assert not any(WIDGET_MIME in o.data for o in cap.outputs)


def test_kernel_short_cell_sends_one_message_its_card(kernel):
    """Under one refresh interval no readout is shown: the card is the cell's only output (one message)."""
    with capture_output() as cap:
        handle = card.begin("quick", FakeSampler(), CHANNELS, interval_s=5.0)
        assert handle is not None
        card.present(traced_result(label="quick", duration_s=0.4), handle)
    assert no_live_threads()
    (out,) = cap.outputs
    assert not out.update and set(out.data) == {"text/plain", "text/html"}
    assert out.data["text/plain"].startswith("ecolyze: quick") and "<svg" not in out.data["text/html"]


def test_cancel_stops_the_readout_and_empties_it(kernel):
    with capture_output() as cap:
        handle = card.begin("", FakeSampler(), CHANNELS, interval_s=0.01)
        assert wait_for(lambda: handle.shown)
        assert cap.outputs[0].data["text/plain"].startswith("ecolyze: measuring…")
        card.cancel(handle)
        card.cancel(None)
    assert no_live_threads()
    assert cap.outputs[-1].update and cap.outputs[-1].data == {"text/plain": ""}
    assert cap.outputs[-1].transient["display_id"] == cap.outputs[0].transient["display_id"]
    with capture_output() as cap:                                # cancelled before anything was shown: nothing
        card.cancel(card.begin("", FakeSampler(), CHANNELS, interval_s=5.0))
    assert cap.outputs == []


def test_no_ipywidgets_needed(kernel, monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)         # import ipywidgets now raises ImportError
    with capture_output() as cap:
        handle = card.begin("demo", FakeSampler(), CHANNELS, interval_s=0.01)
        assert wait_for(lambda: handle.shown)
        card.present(make_result(label="demo"), handle)
    assert no_live_threads()
    assert set(cap.outputs[-1].data) == {"text/plain", "text/html"}


def test_begin_never_raises_and_a_broken_sampler_shows_nothing(kernel):
    class Broken:
        def live(self):
            raise RuntimeError("no")

    with capture_output() as cap:
        handle = card.begin("x", Broken(), CHANNELS, interval_s=0.01)
        time.sleep(0.05)
        card.cancel(handle)
    assert cap.outputs == [] and no_live_threads()
