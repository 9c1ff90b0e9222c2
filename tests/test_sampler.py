"""Tests for eco_magic.sampler: schedule, energy rules, degradation, bounded trace, threads.

Time is simulated: ``FakeClock.wait`` advances the fake clock by the requested timeout instead of sleeping,
so a 24-hour cell runs in seconds. A few tests use the real clock for a fraction of a second to prove that the
real thread starts, is named, and is joined.
"""
from __future__ import annotations

import math
import threading

import pytest

from eco_magic.sampler import (
    MAX_RATE_HZ,
    ChannelResult,
    IdleBaseline,
    LiveStatus,
    Measurement,
    Sampler,
    interval_s,
)
from eco_magic.sensors.base import DeviceInfo, Sample, SensorError

T0 = 1000.0  # fake clock origin: not zero, so that relative/absolute time mix-ups show


# ------------------------------------------------------------------------------------------------- fixtures


_BEFORE: set[threading.Thread] = set()  # eco_magic threads some other module left running (not ours to judge)


def _eco_threads() -> list[threading.Thread]:
    """eco_magic-* threads started during the current test."""
    return [t for t in threading.enumerate() if t.name.startswith("eco_magic-") and t not in _BEFORE]


@pytest.fixture(autouse=True)
def no_leaked_sampler_thread():
    """No eco_magic-* thread started by a test may outlive it."""
    _BEFORE.clear()
    _BEFORE.update(t for t in threading.enumerate() if t.name.startswith("eco_magic-"))
    yield
    leaked = _eco_threads()
    assert not leaked, f"eco_magic threads outlived the test: {[t.name for t in leaked]}"


# ---------------------------------------------------------------------------------------------------- fakes


class FakeClock:
    """A monotonic clock that only moves when ``wait`` is called; ends the run at ``T0 + run_s``."""

    def __init__(self, run_s: float = math.inf, start: float = T0) -> None:
        self.t = start
        self.end = start + run_s
        self.done = threading.Event()

    def __call__(self) -> float:
        return self.t

    def wait(self, event: threading.Event, timeout: float) -> bool:
        assert timeout >= 0.0
        if event.is_set():
            return True
        if self.t + timeout >= self.end:  # the simulated cell is over: park the thread until stop()
            self.t = self.end
            self.done.set()
            return True
        self.t += timeout
        return False


class FakeSensor:
    """Reports ``energy_fn(t)`` and/or ``power_fn(t)``; records every read (time and thread name)."""

    def __init__(self, key="gpu:0", *, method="counter", energy_fn=None, power_fn=None, temp_fn=None,
                 util=None, throttle=(), kind="gpu"):
        self.info = DeviceInfo(key=key, kind=kind, name=f"fake {key}", method=method, source="test fake")
        self.energy_fn, self.power_fn, self.temp_fn = energy_fn, power_fn, temp_fn
        self.util, self.throttle = util, throttle
        self.reads: list[tuple[float, str]] = []
        self.closed = False

    def read(self, t_s: float) -> Sample:
        self.reads.append((t_s, threading.current_thread().name))
        return self._sample(t_s)

    def _sample(self, t_s: float) -> Sample:
        return Sample(
            t_s=t_s,
            energy_j=None if self.energy_fn is None else self.energy_fn(t_s),
            power_w=None if self.power_fn is None else self.power_fn(t_s),
            temp_c=None if self.temp_fn is None else self.temp_fn(t_s),
            util_pct=self.util,
            throttle=self.throttle(t_s) if callable(self.throttle) else self.throttle,
        )

    def close(self) -> None:
        self.closed = True


class FailingSensor(FakeSensor):
    """Raises on the reads whose 1-based numbers are in ``fail_on``, or on every read from ``fail_from``."""

    def __init__(self, *args, fail_on=(), fail_from=None, exc=None, **kw):
        super().__init__(*args, **kw)
        self.fail_on, self.fail_from = set(fail_on), fail_from
        self.exc = exc or SensorError("GPU is lost (NVML)")
        self.n = 0

    def read(self, t_s: float) -> Sample:
        self.n += 1
        self.reads.append((t_s, threading.current_thread().name))
        if self.n in self.fail_on or (self.fail_from is not None and self.n >= self.fail_from):
            raise self.exc
        return self._sample(t_s)


class AlwaysFailing(FakeSensor):
    def read(self, t_s: float) -> Sample:
        self.reads.append((t_s, threading.current_thread().name))
        raise ZeroDivisionError("division by zero")


def energy_quadratic(t):  # J; power 40 + (t - T0) W
    x = t - T0
    return 5000.0 + 40.0 * x + 0.5 * x * x


def power_linear(t):  # W
    return 40.0 + (t - T0)


def run_fake(sensors, run_s, **kw) -> tuple[Measurement, FakeClock, Sampler]:
    clock = FakeClock(run_s)
    sampler = Sampler(sensors, clock=clock, wait=clock.wait, **kw)
    sampler.start()
    assert clock.done.wait(60), "the simulated run did not finish"
    return sampler.stop(), clock, sampler


def channel(m: Measurement, key: str) -> ChannelResult:
    return next(c for c in m.channels if c.info.key == key)


# ---------------------------------------------------------------------------------------------- schedule


def test_interval_adaptive_and_fixed():
    assert [interval_s(e) for e in (0.0, 9.99, 10.0, 59.99, 60.0, 86400.0)] == [0.2, 0.2, 0.5, 0.5, 1.0, 1.0]
    assert interval_s(5.0, 50) == pytest.approx(0.02)
    assert interval_s(500.0, 2.0) == 0.5
    assert interval_s(0.0, MAX_RATE_HZ) == pytest.approx(0.01)


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), MAX_RATE_HZ + 1, "fast", True])
def test_bad_rates_are_rejected(bad):
    with pytest.raises(ValueError):
        interval_s(1.0, bad)
    with pytest.raises(ValueError):
        Sampler([], rate_hz=bad)


def test_adaptive_tick_times_and_boundaries():
    s = FakeSensor(energy_fn=energy_quadratic)
    m, clock, _ = run_fake([s], 120.0)
    times = [t - T0 for t, _ in s.reads]
    # boundary at 0, 5 Hz to 10 s, 2 Hz to 60 s, 1 Hz after, boundary at 120 s
    expected = ([0.0] + [0.2 * k for k in range(1, 51)] + [10.0 + 0.5 * k for k in range(1, 101)]
                + [60.0 + k for k in range(1, 60)] + [120.0])
    assert times == pytest.approx(expected, abs=1e-6)
    assert m.n_ticks == len(expected) == 211
    assert m.rate == "adaptive 5→2→1 Hz"
    assert m.duration_s == pytest.approx(120.0)
    # the boundary samples come from the caller's thread, the rest from the named sampler thread
    threads = [name for _, name in s.reads]
    main = threading.current_thread().name
    assert threads[0] == threads[-1] == main
    assert set(threads[1:-1]) == {"eco_magic-sampler"}
    assert m.trace.t_s[0] == 0.0 and m.trace.t_s[-1] == pytest.approx(120.0)


def test_fixed_rate_schedule():
    s = FakeSensor(energy_fn=energy_quadratic)
    m, _, _ = run_fake([s], 1.0, rate_hz=50)
    times = [t - T0 for t, _ in s.reads]
    assert times == pytest.approx([0.02 * k for k in range(51)], abs=1e-6)
    assert m.rate == "fixed 50 Hz"


def test_late_ticks_skip_ahead_instead_of_drifting():
    """A read that takes 2.5 s (at 1 Hz) makes the next tick land on the grid, not 1 s after the slow one."""
    holder = {}

    class Slow(FakeSensor):
        def read(self, t_s):
            sample = super().read(t_s)
            if len(self.reads) == 3:  # second thread tick, at 2 s: stall the fake clock by 2.5 s
                holder["clock"].t += 2.5
            return sample

    s = Slow(energy_fn=energy_quadratic)
    clock = FakeClock(8.0)
    holder["clock"] = clock
    sampler = Sampler([s], clock=clock, wait=clock.wait, rate_hz=1)
    sampler.start()
    assert clock.done.wait(10)
    sampler.stop()
    times = [t - T0 for t, _ in s.reads]
    assert times == pytest.approx([0.0, 1.0, 2.0, 5.0, 6.0, 7.0, 8.0], abs=1e-6)


# ------------------------------------------------------------------------------------------- energy rules


def test_counter_energy_is_exact():
    s = FakeSensor(energy_fn=energy_quadratic, power_fn=power_linear, temp_fn=lambda t: 50 + (t - T0) / 10,
                   util=75.0, throttle=lambda t: ("sw_power_cap",) if t - T0 > 20 else ())
    m, _, _ = run_fake([s], 37.3)
    c = channel(m, "gpu:0")
    expected = energy_quadratic(T0 + 37.3) - energy_quadratic(T0)
    assert c.energy_j == pytest.approx(expected, rel=1e-12)
    assert c.method == "counter"
    assert c.mean_power_w == pytest.approx(expected / 37.3)
    assert c.peak_power_w == pytest.approx(40.0 + 37.3)
    assert c.peak_temp_c == pytest.approx(50 + 3.73)
    assert c.mean_util_pct == pytest.approx(75.0)
    assert c.throttle_events == ("sw_power_cap",)
    assert c.n_samples == m.n_ticks and c.n_errors == 0
    assert c.notes == () and m.notes == ()


def test_trapezoid_is_exact_for_linear_power():
    s = FakeSensor("cpu:p", method="integrated", kind="cpu", power_fn=lambda t: 10.0 + 3.0 * (t - T0))
    m, _, _ = run_fake([s], 12.34)
    c = channel(m, "cpu:p")
    d = 12.34
    assert c.method == "integrated"
    assert c.energy_j == pytest.approx(10.0 * d + 1.5 * d * d, rel=1e-12)
    assert c.mean_power_w == pytest.approx(10.0 + 1.5 * d)
    assert c.notes == ()


def test_estimated_channel_keeps_its_method():
    s = FakeSensor("ram:model", method="estimated", kind="ram", energy_fn=lambda t: 3.0 * (t - T0))
    m, _, _ = run_fake([s], 4.0)
    c = channel(m, "ram:model")
    assert c.method == "estimated"
    assert c.energy_j == pytest.approx(12.0)


def test_stuck_counter_in_short_window_uses_power_times_duration():
    s = FakeSensor(energy_fn=lambda t: 777.0, power_fn=lambda t: 200.0)
    m, _, _ = run_fake([s], 0.12)
    c = channel(m, "gpu:0")
    assert c.method == "integrated"
    assert c.energy_j == pytest.approx(200.0 * 0.12)
    assert c.notes == ("gpu:0: counter did not advance in 0.12 s (update period ~100 ms); "
                       "energy = power × duration",)


def test_stuck_counter_in_long_window_integrates_power_and_says_so():
    s = FakeSensor(energy_fn=lambda t: 777.0, power_fn=lambda t: 100.0)
    m, _, _ = run_fake([s], 3.0)
    c = channel(m, "gpu:0")
    assert c.method == "integrated"
    assert c.energy_j == pytest.approx(300.0)
    assert len(c.notes) == 1 and "counter did not advance in 3.00 s" in c.notes[0]


def test_counter_still_at_zero_power_is_a_true_zero():
    s = FakeSensor(energy_fn=lambda t: 777.0, power_fn=lambda t: 0.0)
    m, _, _ = run_fake([s], 0.12)
    c = channel(m, "gpu:0")
    assert (c.energy_j, c.method, c.notes) == (0.0, "counter", ())


def test_counter_going_backwards_is_ignored_and_noted():
    # counter resets to 0 at 1 s; power 10 W throughout
    s = FakeSensor(energy_fn=lambda t: 10.0 * (t - T0) + (100.0 if t - T0 < 1.0 - 1e-9 else 0.0))
    m, _, _ = run_fake([s], 2.0)
    c = channel(m, "gpu:0")
    assert c.energy_j == pytest.approx(20.0 - 2.0)  # the 0.8 → 1.0 s interval is left out
    assert any("went backwards 1×" in n for n in c.notes)


def test_non_finite_values_are_ignored_with_a_note():
    s = FakeSensor("cpu:p", method="integrated", power_fn=lambda t: math.nan if 0.3 < t - T0 < 0.5 else 5.0)
    m, _, _ = run_fake([s], 1.0)
    c = channel(m, "cpu:p")
    assert c.energy_j == pytest.approx(5.0)  # interpolated across the dropped 0.4 s sample
    assert c.notes == ("cpu:p: 1 non-numeric, non-finite or negative values ignored",)


# --------------------------------------------------------------------------------------------- degradation


def test_transient_failure_leaves_counter_energy_exact():
    bad = FailingSensor(energy_fn=energy_quadratic, power_fn=power_linear, fail_on={3})
    m, _, _ = run_fake([bad], 5.0)
    c = channel(m, "gpu:0")
    assert c.energy_j == pytest.approx(energy_quadratic(T0 + 5.0) - energy_quadratic(T0), rel=1e-12)
    assert (c.method, c.n_errors, c.n_samples) == ("counter", 1, m.n_ticks - 1)
    assert c.notes == ("gpu:0: read failed 1× (GPU is lost (NVML)); energy unaffected (the counter spans the gaps)",)


def test_sensor_failing_from_its_third_read_degrades_with_a_note():
    bad = FailingSensor(energy_fn=energy_quadratic, power_fn=power_linear, fail_from=3)
    good = FakeSensor("cpu:p", method="integrated", kind="cpu", power_fn=lambda t: 7.0)
    m, _, _ = run_fake([bad, good], 5.0)
    c = channel(m, "gpu:0")
    # reads 1 (t=0) and 2 (t=0.2 s) succeeded; every later one failed
    assert c.energy_j == pytest.approx(energy_quadratic(T0 + 0.2) - energy_quadratic(T0), rel=1e-9)
    assert c.method == "counter"
    assert c.n_samples == 2 and c.n_errors == m.n_ticks - 2
    assert c.notes == (f"gpu:0: read failed {m.n_ticks - 2}× (GPU is lost (NVML)); "
                       "energy from readings before the failure (0.20 of 5.00 s)",)
    assert c.mean_power_w == pytest.approx(c.energy_j / 0.2)
    # the healthy sensor is untouched
    assert channel(m, "cpu:p").energy_j == pytest.approx(35.0)
    assert channel(m, "cpu:p").notes == ()
    # the trace shows the gap instead of zeros
    assert m.trace.power_w["gpu:0"][:2] == pytest.approx((40.0, 40.2))
    assert set(m.trace.power_w["gpu:0"][2:]) == {None}


def test_counter_channel_without_counter_readings_integrates_power():
    s = FakeSensor(power_fn=lambda t: 50.0)  # method "counter", but no energy_j in any sample
    m, _, _ = run_fake([s], 2.0)
    c = channel(m, "gpu:0")
    assert c.method == "integrated" and c.energy_j == pytest.approx(100.0)
    assert c.notes == ("gpu:0: no reading carried a cumulative energy value; energy integrated from power samples",)


def test_counter_channel_falls_back_to_power_when_counter_reads_fail():
    holder = {}

    class CounterFlaky(FakeSensor):
        def read(self, t_s):
            super().read(t_s)
            n = len(self.reads)
            return Sample(t_s=t_s, energy_j=1.0 if n == 1 else None, power_w=holder["p"])

    holder["p"] = 20.0
    m, _, _ = run_fake([CounterFlaky()], 1.0)
    c = channel(m, "gpu:0")
    assert c.method == "integrated" and c.energy_j == pytest.approx(20.0)
    assert any("only one reading carried a cumulative energy value" in n for n in c.notes)


def test_always_failing_sensor_gives_none_not_zero():
    dead = AlwaysFailing("gpu:1")
    good = FakeSensor(energy_fn=energy_quadratic)
    m, _, _ = run_fake([dead, good], 3.0)
    c = channel(m, "gpu:1")
    assert c.energy_j is None and c.mean_power_w is None and c.peak_power_w is None
    assert (c.n_samples, c.n_errors) == (0, m.n_ticks)
    assert c.notes == (f"gpu:1: read failed {m.n_ticks}× (ZeroDivisionError: division by zero); energy unknown",)
    assert channel(m, "gpu:0").energy_j == pytest.approx(energy_quadratic(T0 + 3) - energy_quadratic(T0))
    assert set(m.trace.power_w["gpu:1"]) == {None}


def test_distinct_errors_are_each_reported_once_with_counts():
    class TwoKinds(FakeSensor):
        def read(self, t_s):
            super().read(t_s)
            n = len(self.reads)
            if n in (2, 4, 6):
                raise SensorError("timeout")
            if n == 3:
                raise OSError("bus error")
            return self._sample(t_s)

    m, _, _ = run_fake([TwoKinds(power_fn=lambda t: 1.0, method="integrated")], 2.0)
    (note,) = channel(m, "gpu:0").notes
    assert note == ("gpu:0: read failed 4× (timeout ×3; OSError: bus error ×1); "
                    "power interpolated across the gaps")


# ------------------------------------------------------------------------------------- trace and memory


def test_decimation_merges_pairs_and_averages_exactly():
    s = FakeSensor("cpu:p", method="integrated", power_fn=lambda t: t - T0)
    m, _, _ = run_fake([s], 20.0, rate_hz=1, max_trace_points=8)
    assert m.trace.decimation == 4
    assert m.trace.t_s == pytest.approx((0.0, 4.0, 8.0, 12.0, 16.0, 20.0))
    assert m.trace.power_w["cpu:p"] == pytest.approx((1.5, 5.5, 9.5, 13.5, 17.5, 20.0))
    assert channel(m, "cpu:p").energy_j == pytest.approx(200.0)


def test_24_hour_cell_keeps_trace_bounded_and_energy_exact():
    day = 24 * 3600.0
    counter = FakeSensor("gpu:0", energy_fn=lambda t: 250.0 * (t - T0) + 1e6)
    power = FakeSensor("cpu:p", method="integrated", kind="cpu", power_fn=lambda t: 30.0 + (t - T0) / 3600.0)
    m, _, _ = run_fake([counter, power], day, max_trace_points=1024)
    assert m.n_ticks == 1 + 50 + 100 + (int(day) - 61) + 1
    assert len(m.trace.t_s) <= 1024 and len(m.trace.t_s) > 256
    assert m.trace.decimation > 1 and m.trace.decimation & (m.trace.decimation - 1) == 0
    assert all(len(v) == len(m.trace.t_s) for v in m.trace.power_w.values())
    assert list(m.trace.t_s) == sorted(set(m.trace.t_s)) and m.trace.t_s[0] == 0.0
    cpu_trace = m.trace.power_w["cpu:p"]
    assert all(b > a for a, b in zip(cpu_trace, cpu_trace[1:]))
    assert channel(m, "gpu:0").energy_j == pytest.approx(250.0 * day, rel=1e-12)
    assert channel(m, "cpu:p").energy_j == pytest.approx(30.0 * day + day * day / 7200.0, rel=1e-9)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError):
        Sampler([], max_trace_points=1)
    with pytest.raises(ValueError):
        Sampler([FakeSensor("a"), FakeSensor("a")])
    with pytest.raises(ValueError):
        IdleBaseline([], duration_s=0)


# ----------------------------------------------------------------------------------------- live status


def test_live_status_before_during_and_after():
    s = FakeSensor(energy_fn=energy_quadratic, power_fn=power_linear)
    dead = AlwaysFailing("gpu:1")
    clock = FakeClock(120.0)
    sampler = Sampler([s, dead], clock=clock, wait=clock.wait)
    assert sampler.live() == LiveStatus(0.0, {}, {})
    sampler.start()
    assert clock.done.wait(30)
    live = sampler.live()  # thread parked at the end of the simulated run; last thread tick at 119 s
    assert live.elapsed_s == pytest.approx(120.0)
    assert live.power_w == {"gpu:0": pytest.approx(40.0 + 119.0), "gpu:1": None}
    assert live.energy_j == {"gpu:0": pytest.approx(energy_quadratic(T0 + 119) - energy_quadratic(T0))}
    m = sampler.stop()
    final = sampler.live()
    assert final.energy_j["gpu:0"] == pytest.approx(channel(m, "gpu:0").energy_j)


# ------------------------------------------------------------------------------------- threads, lifecycle


def test_real_thread_short_run_is_named_and_joined():
    seen = threading.Event()

    class Signal(FakeSensor):
        def read(self, t_s):
            if threading.current_thread().name == "eco_magic-sampler":
                seen.set()
            return super().read(t_s)

    s = Signal("cpu:p", method="integrated", power_fn=lambda t: 12.0)
    sampler = Sampler([s], rate_hz=50)
    sampler.start()
    assert [t.name for t in _eco_threads()] == ["eco_magic-sampler"]
    assert _eco_threads()[0].daemon
    assert seen.wait(5.0)
    m = sampler.stop()
    assert not _eco_threads()
    assert m.n_ticks >= 3 and m.duration_s > 0.0
    assert channel(m, "cpu:p").energy_j == pytest.approx(12.0 * m.duration_s)
    assert m.started_at > 1e9  # epoch seconds


def test_single_use_and_idempotent_stop():
    s = FakeSensor(energy_fn=energy_quadratic)
    sampler = Sampler([s])
    with pytest.raises(RuntimeError):
        sampler.stop()
    sampler.start()
    with pytest.raises(RuntimeError):
        sampler.start()
    first = sampler.stop()
    assert sampler.stop() is first and sampler.measurement is first
    assert not _eco_threads()


def test_with_block_stops_on_keyboard_interrupt():
    s = FakeSensor(energy_fn=energy_quadratic)
    with pytest.raises(KeyboardInterrupt):
        with Sampler([s], thread_name="eco_magic-sampler") as sampler:
            raise KeyboardInterrupt
    assert not _eco_threads()
    m = sampler.measurement
    assert isinstance(m, Measurement) and m.n_ticks >= 2
    assert sampler.stop() is m


def test_sync_runs_after_join_and_before_final_read():
    events = []

    class Recording(FakeSensor):
        def read(self, t_s):
            events.append("read")
            return super().read(t_s)

    def sync():
        events.append("sync, thread alive" if _eco_threads() else "sync")
        return "torch"

    m, _, _ = run_fake([Recording(energy_fn=energy_quadratic)], 1.0, sync=sync)
    assert events[-2:] == ["sync", "read"]
    assert m.notes == ("CUDA synchronised (torch) before the final read",)


def test_failing_sync_is_noted_and_measurement_survives():
    def sync():
        raise RuntimeError("CUDA error: device-side assert")

    m, _, _ = run_fake([FakeSensor(energy_fn=energy_quadratic)], 1.0, sync=sync)
    assert len(m.notes) == 1 and m.notes[0].startswith("CUDA synchronisation before the final read failed")
    assert channel(m, "gpu:0").energy_j == pytest.approx(energy_quadratic(T0 + 1) - energy_quadratic(T0))


def test_hanging_sensor_thread_is_abandoned_without_hanging_stop(monkeypatch):
    release, blocked = threading.Event(), threading.Event()

    class Hang(FakeSensor):
        def read(self, t_s):
            if threading.current_thread().name == "eco_magic-sampler":
                blocked.set()
                release.wait(5.0)
            return super().read(t_s)

    monkeypatch.setattr(Sampler, "_join_timeout_s", lambda self: 0.05)
    hang = Hang("gpu:0", energy_fn=lambda t: 0.0)
    good = FakeSensor("cpu:p", method="integrated", power_fn=lambda t: 1.0)
    sampler = Sampler([hang, good], rate_hz=100)
    sampler.start()
    (thread,) = _eco_threads()
    try:
        assert blocked.wait(5.0)
        m = sampler.stop()
    finally:
        release.set()
        thread.join(5.0)
    assert any("did not stop" in n and "gpu:0.read" in n for n in m.notes)
    c = channel(m, "gpu:0")
    assert c.n_errors == 1 and "still hanging" in c.notes[0]
    assert hang.reads[-1][1] == "eco_magic-sampler"  # the caller never re-entered the hung sensor
    assert channel(m, "cpu:p").n_samples == 2  # boundary samples; the thread's late reading was discarded


# ------------------------------------------------------------------------------------------ idle baseline


def test_idle_baseline_with_fake_clock():
    power = FakeSensor("cpu:p", method="integrated", power_fn=lambda t: 42.0)
    counter = FakeSensor("gpu:0", energy_fn=lambda t: 30.0 * t)
    dead = AlwaysFailing("gpu:1")
    clock = FakeClock()
    idle = IdleBaseline([power, counter, dead], duration_s=3.0, clock=clock, wait=clock.wait)
    assert idle.result() is None  # not started
    idle.start()
    result = idle.result(timeout=30)
    assert result == {"cpu:p": pytest.approx(42.0), "gpu:0": pytest.approx(30.0)}
    assert not idle.running
    assert clock.t == pytest.approx(T0 + 3.0)
    assert {name for _, name in power.reads} == {"eco_magic-idle"}
    assert len(power.reads) == 1 + 14 + 1  # boundaries + 5 Hz ticks at 0.2 … 2.8 s
    assert idle.measurement is not None and channel(idle.measurement, "gpu:1").energy_j is None
    with pytest.raises(RuntimeError):
        idle.start()
    idle.cancel()  # harmless after completion
    assert idle.result() == result


def test_idle_baseline_cancel_joins_and_gives_no_result():
    s = FakeSensor("cpu:p", method="integrated", power_fn=lambda t: 5.0)
    idle = IdleBaseline([s], duration_s=60.0)
    idle.start()
    assert idle.running
    idle.cancel()
    assert not idle.running and not _eco_threads()
    assert idle.result() is None and idle.result(timeout=None) is None


def test_fixed_rate_label_says_what_was_achieved_and_estimates_are_capped():
    from eco_magic.sampler import ESTIMATE_MIN_INTERVAL_S

    class Est:
        def __init__(self):
            from eco_magic.sensors.base import DeviceInfo

            self.info = DeviceInfo("cpu:model", "cpu", "CPU", "estimated", "model", "process")
            self.reads = 0

        def read(self, t_s):
            from eco_magic.sensors.base import Sample

            self.reads += 1
            return Sample(t_s, energy_j=2.0 * t_s, power_w=2.0)

        def close(self):
            pass

    clock = {"t": 0.0}

    def wait(event, timeout):
        clock["t"] += timeout * 4      # a machine four times too slow: 50 Hz asked, ~12 Hz achieved
        return event.is_set() or clock["t"] >= 10.0

    sensor = Est()
    s = Sampler([sensor], rate_hz=50, clock=lambda: clock["t"], wait=wait)
    s.start()
    while clock["t"] < 10.0:
        pass
    m = s.stop()
    assert "requested" in m.rate and "achieved" in m.rate and "estimates read at ≤ 5 Hz" in m.rate
    assert sensor.reads <= 10.0 / ESTIMATE_MIN_INTERVAL_S + 3
    assert m.channels[0].energy_j == pytest.approx(2.0 * m.duration_s, rel=1e-9)   # cumulative: still exact
