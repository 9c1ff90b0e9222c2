"""Shared state of one sampling run: the sensors, their channels, the trace and the lock that guards them."""
from __future__ import annotations

import threading
from typing import Callable, Mapping, Sequence

from ..sensors.base import Sensor
from .channel import _Channel, _extract, _message
from .results import LiveStatus, Measurement, Trace
from .schedule import Wait, _next_deadline
from .trace import _TraceBuffer

#: Shortest interval between two thread reads of an *estimated* channel (s): 5 Hz at most.
ESTIMATE_MIN_INTERVAL_S = 0.2
_HOLD = object()  # "not read this tick": the channel keeps its state, the trace its last power


class _Run:
    """Shared state of one sampling run: sensors, accumulators, trace, and the lock that guards them."""

    def __init__(self, sensors: Sequence[Sensor], t0: float, max_trace_points: int, with_trace: bool) -> None:
        self.sensors = tuple(sensors)
        self.t0 = t0
        self.channels = [_Channel(s.info) for s in self.sensors]
        self.trace = _TraceBuffer([c.key for c in self.channels], max_trace_points) if with_trace else None
        self.lock = threading.Lock()
        self.n_ticks = 0
        self.last_t = t0
        self.detached = False  # set when the thread would not stop: its later readings are discarded
        self.reading: int | None = None  # index of the sensor the thread is reading right now
        self.thread_failure: str | None = None
        self.last_read_t: list[float | None] = [None] * len(self.sensors)

    def tick(self, t: float, *, from_thread: bool = False, skip: int | None = None) -> None:
        """Read every sensor at tick time ``t`` (outside the lock), then record the readings (inside it).

        Estimated channels are read at most every :data:`ESTIMATE_MIN_INTERVAL_S` by the thread (boundary reads
        always happen): their power comes from CPU time counted in 10-ms ticks, so faster reads add only
        quantisation noise, and each read costs the cell GIL hand-offs. Their energy is cumulative, so it stays
        exact; between reads the trace holds their last power.
        """
        values: list = []
        for i, sensor in enumerate(self.sensors):
            if from_thread:
                if self.detached:
                    return
                self.reading = i
            if i == skip:
                values.append("read skipped: an earlier read of this sensor was still hanging")
                continue
            last = self.last_read_t[i]
            if (from_thread and last is not None and sensor.info.method == "estimated"
                    and t - last < 0.9 * ESTIMATE_MIN_INTERVAL_S):  # 10 % slack: 5 Hz ticks jitter
                values.append(_HOLD)
                continue
            self.last_read_t[i] = t
            try:
                if not from_thread:
                    refresh = getattr(sensor, "refresh", None)
                    if refresh is not None:  # boundary read: cached state (the process tree) is renewed first
                        refresh()
                values.append(_extract(sensor.read(t)))
            except Exception as exc:  # noqa: BLE001 — a sensor must never break the cell
                values.append(_message(exc))
        if from_thread:
            self.reading = None
        with self.lock:
            if from_thread and self.detached:
                return
            powers = []
            for channel, value in zip(self.channels, values):
                if value is _HOLD:
                    powers.append(channel.latest_power_w)
                    continue
                if isinstance(value, str):
                    channel.fail(value)
                    powers.append(None)
                else:
                    channel.add(t, value)
                    powers.append(value[1])
            if self.trace is not None:
                self.trace.add(t - self.t0, powers)
            self.n_ticks += 1
            self.last_t = t

    def boundary_values(self, index: int, t: float) -> tuple[float | None, float | None]:
        """``(energy_j, power_w)`` that channel ``index`` recorded at tick time ``t``; ``None`` for a value the
        read did not give (or when that read failed)."""
        with self.lock:
            c = self.channels[index]
            energy = c.e_last if c.e_n and c.e_last_t == t else None
            power = c.p_last if c.p_n and c.p_last_t == t else None
        return energy, power

    def detach(self) -> int | None:
        """Stop accepting readings from the thread; return the sensor index it is stuck in, if any."""
        with self.lock:
            self.detached = True
        return self.reading

    def live(self, elapsed_s: float) -> LiveStatus:
        with self.lock:
            power = {c.key: c.latest_power_w for c in self.channels}
            energy = {}
            for c in self.channels:
                e = c.energy(self.t0, self.last_t)[0]
                if e is not None:
                    energy[c.key] = e
        return LiveStatus(elapsed_s=elapsed_s, power_w=power, energy_j=energy)

    def measurement(self, t_end: float, rate: str, notes: Sequence[str], started_at: float,
                    aligned: Mapping[int, tuple] | None = None,
                    edge_notes: Mapping[int, str] | None = None) -> Measurement:
        aligned, edge_notes = aligned or {}, edge_notes or {}
        with self.lock:
            channels = tuple(c.result(self.t0, t_end, aligned.get(i), edge_notes.get(i))
                             for i, c in enumerate(self.channels))
            trace = self.trace.finish() if self.trace is not None else Trace((), {}, 1)
            n_ticks = self.n_ticks
        all_notes = list(notes)
        if self.thread_failure:
            all_notes.insert(0, f"sampler thread stopped early ({self.thread_failure}); "
                                "energy from the readings taken until then and the end boundary sample")
        return Measurement(duration_s=t_end - self.t0, channels=channels, trace=trace, n_ticks=n_ticks,
                           rate=rate, notes=tuple(all_notes), started_at=started_at)


def _schedule_loop(run: _Run, event, wait: Wait, clock: Callable[[], float],
                   rate_hz: float | None, until_s: float | None = None) -> None:
    """Tick on absolute deadlines until ``wait`` reports the event set (or ``until_s`` elapsed seconds pass)."""
    t0 = run.t0
    nxt = _next_deadline(0.0, 0.0, rate_hz)
    while True:
        if until_s is not None and nxt > until_s:
            nxt = until_s
        if wait(event, max(0.0, t0 + nxt - clock())):
            return
        now = clock()
        if until_s is not None and now - t0 >= until_s - 1e-9:
            return
        run.tick(now, from_thread=True)
        if run.detached:
            return
        nxt = _next_deadline(nxt, clock() - t0, rate_hz)  # measured after the reads: a slow read counts


def _check_sensors(sensors: Sequence[Sensor]) -> tuple[Sensor, ...]:
    sensors = tuple(sensors)
    keys = [s.info.key for s in sensors]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise ValueError(f"sensor keys must be unique, repeated: {', '.join(duplicates)}")
    return sensors


