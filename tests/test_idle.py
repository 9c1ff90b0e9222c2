"""IdleMeter: idle power from the gaps between cells (fake sensors, fake clock)."""
from __future__ import annotations

import pytest

from eco_magic.idle import IdleMeter
from eco_magic.sensors.base import DeviceInfo, Sample


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


class Counter:
    """Cumulative energy at a power that the test sets."""

    def __init__(self, key, clock, method="counter"):
        self.info = DeviceInfo(key, "cpu", key, method, "fake")
        self.clock, self.power_w, self.energy_j, self.last = clock, 10.0, 0.0, 0.0
        self.fail = False

    def read(self, t):
        if self.fail:
            raise OSError("gone")
        self.energy_j += self.power_w * (self.clock.t - self.last)
        self.last = self.clock.t
        return Sample(t, energy_j=self.energy_j if self.info.method != "integrated" else None,
                      power_w=self.power_w)

    def close(self):
        pass


def test_gaps_add_up_and_cell_time_never_counts():
    clock = Clock()
    a, b = Counter("a", clock), Counter("b", clock, method="integrated")
    meter = IdleMeter([a, b], clock=clock)
    assert meter.power_w() is None and meter.seconds == 0
    meter.open()
    clock.t += 2.0
    meter.close()
    a.power_w = b.power_w = 500.0     # a busy cell: not idle
    clock.t += 10.0
    a.read(clock.t)
    a.power_w = b.power_w = 10.0
    meter.open()
    clock.t += 3.0
    meter.close()
    assert meter.seconds == pytest.approx(5.0)
    assert meter.power_w() == pytest.approx({"a": 10.0, "b": 10.0})


def test_window_keeps_the_most_recent_idle_time():
    clock = Clock()
    a = Counter("a", clock)
    meter = IdleMeter([a], window_s=10.0, clock=clock)
    for power in (100.0, 100.0, 5.0, 5.0, 5.0):  # idle draw drops (a model was unloaded)
        a.power_w = power
        meter.open()
        clock.t += 4.0
        meter.close()
    assert meter.seconds == pytest.approx(12.0)  # 3 gaps: dropping another would leave less than the window
    assert meter.power_w()["a"] == pytest.approx(5.0)


def test_a_gap_with_a_failed_read_is_left_out_and_replace_starts_over():
    clock = Clock()
    a, b = Counter("a", clock), Counter("b", clock)
    meter = IdleMeter([a, b], clock=clock)
    meter.open()
    clock.t += 1.0
    b.fail = True
    meter.close()
    assert meter.seconds == 0 and meter.power_w() is None
    meter.replace(3.0, {"a": 2.0, "b": 4.0}, "%ecolyze_idle over 3 s")
    assert meter.power_w() == {"a": 2.0, "b": 4.0} and meter.source == "%ecolyze_idle over 3 s"
    meter.close()  # idempotent without an open gap
    assert meter.seconds == 3.0
