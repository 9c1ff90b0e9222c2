"""Counter-aligned boundaries (eco_magic/sampler/edges.py) against the fake NVML with realistic update timing:
the energy counter moves every 100 ms ± 10 %, the instant power is exact, time is simulated."""
from __future__ import annotations

import math
import threading

import pytest

from eco_magic.sampler import Sampler
from eco_magic.sampler.edges import TAIL_WAIT_S, _trapezoid
from eco_magic.sensors import nvidia
from eco_magic.sensors.base import DeviceInfo, Sample
from tests.fake_nvml import FakeGpu, install

T0 = 500.0


class SimClock:
    """Simulated seconds: the sampler's ``wait`` advances it until the cell's end; ``sleep`` always advances it."""

    def __init__(self, run_s: float) -> None:
        self.t = T0
        self.end = T0 + run_s
        self.done = threading.Event()
        self.slept = 0.0

    def __call__(self) -> float:
        return self.t

    def wait(self, event: threading.Event, timeout: float) -> bool:
        if event.is_set():
            return True
        if self.t + timeout >= self.end:
            self.t = self.end
            self.done.set()
            return True
        self.t += timeout
        return False

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.t += seconds


def measure(monkeypatch, power, run_s, *, seed=1, period=0.1, jitter=0.1, align=True, **gpu):
    """One simulated cell of ``run_s`` seconds on a fake H100; returns (channel result, sampler, true J)."""
    clock = SimClock(run_s)
    fake = install(monkeypatch, [FakeGpu(power_w=power, counter_update_s=period, counter_jitter=jitter,
                                         counter_seed=seed, temp_c=None, util_pct=None, **gpu)], clock=clock)
    (sensor,) = nvidia.discover(env={}).sensors
    fake._integrate(fake.devices[0])
    start_true = fake.devices[0].energy_j
    sampler = Sampler([sensor], clock=clock, wait=clock.wait, sleep=clock.sleep, align_edges=align)
    sampler.start()
    assert clock.done.wait(30)
    t_end_true = None

    real_stop_tick = sampler._run.tick

    def tick_and_note(t, **kw):  # the true energy at the end boundary read
        nonlocal t_end_true
        fake._integrate(fake.devices[0])
        if not kw.get("from_thread"):
            t_end_true = fake.devices[0].energy_j
        return real_stop_tick(t, **kw)

    sampler._run.tick = tick_and_note
    m = sampler.stop()
    sensor.close()
    return m.channels[0], sampler, t_end_true - start_true


def bursty(t: float) -> float:  # 300 W / 60 W square wave, 0.17 s period, busy from t = 0 on
    return 60.0 if t <= 0 or (t % 0.17) > 0.1 else 300.0


@pytest.mark.parametrize("seed", range(6))
def test_one_second_cell_is_within_a_fraction_of_a_percent(monkeypatch, seed):
    ch, sampler, true_j = measure(monkeypatch, bursty, 1.0, seed=seed)
    assert ch.method == "counter" and ch.notes == ()
    assert ch.energy_j == pytest.approx(true_j, rel=0.01)
    assert 0.0 < sampler.edge_wait_s <= 0.15                 # the only time added to the cell


def test_unaligned_delta_is_what_alignment_fixes(monkeypatch):
    """Same cells with align_edges=False: the plain delta misses up to a period of energy at each end."""
    aligned, plain = [], []
    for seed in range(8):
        ch, _, true_j = measure(monkeypatch, bursty, 1.0, seed=seed)
        aligned.append(abs(ch.energy_j / true_j - 1))
        ch, sampler, true_j = measure(monkeypatch, bursty, 1.0, seed=seed, align=False)
        plain.append(abs(ch.energy_j / true_j - 1))
        assert sampler.edge_wait_s == 0.0
    assert max(aligned) < 0.01 < max(plain)
    assert sum(aligned) < sum(plain) / 5


def test_ramp_over_ten_seconds(monkeypatch):
    ch, _, true_j = measure(monkeypatch, lambda t: 60.0 + 24.0 * max(0.0, t), 10.0, seed=3)
    assert ch.method == "counter"
    assert ch.energy_j == pytest.approx(true_j, rel=0.003)


def test_cell_shorter_than_one_update_is_integrated_without_waiting(monkeypatch):
    ch, sampler, true_j = measure(monkeypatch, bursty, 0.03, seed=2, period=0.1)
    assert ch.method == "integrated"
    assert ch.notes == (f"gpu:0: cell shorter than the counter's update period (~100 ms): energy integrated "
                        f"from {ch.notes[0].split('from ')[1].split(' ')[0]} instant-power readings",)
    assert ch.energy_j == pytest.approx(true_j, rel=0.05)
    assert sampler.edge_wait_s == 0.0


def test_counter_that_never_moves_keeps_the_plain_rules_and_says_so(monkeypatch):
    ch, sampler, _ = measure(monkeypatch, 200.0, 1.0, period=50.0, jitter=0.0, counter_phase_s=60.0)
    assert any("did not update within 0.25 s of the start" in n for n in ch.notes)
    assert ch.method == "integrated"                           # the old stuck-counter rule: power integrated
    assert sampler.edge_wait_s == 0.0


def test_counter_that_stops_after_the_cell_falls_back_with_a_note(monkeypatch):
    ch, sampler, true_j = measure(monkeypatch, 100.0, 1.0, period=0.1, jitter=0.0, counter_phase_s=0.05)
    assert ch.notes == () and sampler.edge_wait_s <= 0.15
    # updates at 0.2, 0.55, 0.9 and 1.25 s: none within 140 ms after the cell ends at 1 s
    ch, sampler, _ = measure(monkeypatch, 100.0, 1.0, period=0.35, jitter=0.0, counter_phase_s=0.2)
    assert any(f"did not update within {TAIL_WAIT_S * 1000:.0f} ms after the cell" in n for n in ch.notes)
    assert ch.method == "counter"
    assert sampler.edge_wait_s == pytest.approx(TAIL_WAIT_S, abs=0.005)


def test_no_coarse_counter_no_wait(monkeypatch):
    class Plain:
        info = DeviceInfo("cpu:rapl", "cpu", "fake", "counter", "test")

        def read(self, t):
            return Sample(t, energy_j=10.0 * (t - T0), power_w=10.0)

        def close(self):
            pass

    clock = SimClock(1.0)
    sampler = Sampler([Plain()], clock=clock, wait=clock.wait, sleep=clock.sleep)
    sampler.start()
    assert clock.done.wait(30)
    m = sampler.stop()
    assert clock.slept == 0.0 and sampler.edge_wait_s == 0.0
    assert m.channels[0].energy_j == pytest.approx(10.0)


def test_instant_power_needed_for_alignment(monkeypatch):
    """A GPU whose only power reading is the 1-s average keeps the plain delta: its lag would bias the edges."""
    clock = SimClock(1.0)
    install(monkeypatch, [FakeGpu(counter_update_s=0.1, supports_instant=False, supports_average_field=True)],
            clock=clock)
    (sensor,) = nvidia.discover(env={}).sensors
    assert sensor.edge_period_s is None and sensor.info.details["edges"].startswith("not aligned")
    sensor.close()


def test_trapezoid_helper():
    pts = [(0.0, 0.0), (1.0, 10.0)]
    assert _trapezoid(pts, 0.0, 1.0) == pytest.approx(5.0)
    assert _trapezoid(pts, 0.5, 1.0) == pytest.approx(3.75)
    assert _trapezoid(pts, 1.0, 2.0) == pytest.approx(10.0)    # held constant past the last point
    assert _trapezoid(pts, 1.0, 1.0) == 0.0
    assert math.isclose(_trapezoid([(0.0, 4.0)], -1.0, 1.0), 8.0)
