"""The background sampler: reads every sensor on a schedule while a cell runs, and turns readings into energy.

Timeline of one measurement (``Sampler``):

1. ``start()`` reads every sensor once in the caller's thread (the *start boundary sample*), then starts a
   named daemon thread (``eco_magic-sampler``).
2. The thread reads every sensor on an absolute-deadline schedule (:func:`interval_s`): 5 Hz for the first
   10 s, 2 Hz until 60 s, then 1 Hz (or a fixed ``rate_hz``). It waits with ``Event.wait`` so that ``stop()``
   wakes it at once; a late tick skips the missed deadlines instead of drifting.
3. ``stop()`` signals and joins the thread, calls the optional ``sync`` hook (CUDA is asynchronous: queued
   kernels must finish before the last counter read), then reads every sensor once more in the caller's
   thread (the *end boundary sample*) and returns a :class:`Measurement`.

Energy per channel (joules), from the successful reads only:

* channels whose samples carry a cumulative ``energy_j`` (hardware counter or model): the sum of the positive
  deltas between successive reads. A negative delta (counter reset, unhandled wrap) is ignored and noted.
  A counter that did not advance at all while power read above 0 W over a window shorter than 0.5 s (NVML
  updates its counter about every 100 ms, measurement.md §1.3) gives mean power × duration instead, and a
  counter stuck over a longer window gives the trapezoid of the power samples; both say so in a note.
* channels without ``energy_j``: the trapezoid of ``power_w`` over the tick times, boundary samples included.
* a channel that fails degrades instead of breaking: counter → integrated from whatever power samples exist;
  fewer than two usable readings → ``energy_j`` is ``None`` with a note. Never a silent zero.

Times are the sampler's tick times (``clock()``, seconds), not ``Sample.t_s``, so a sensor with its own clock
cannot skew the integration. Memory stays bounded for cells of any length: energy and statistics are running
accumulators, and the power :class:`Trace` halves its resolution whenever it fills up.

Nothing here prints, logs or displays, and nothing is imported beyond the standard library and
``eco_magic.sensors.base``.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from .sensors.base import METHODS, DeviceInfo, Sensor, SensorError

__all__ = [
    "MAX_RATE_HZ",
    "ChannelResult",
    "IdleBaseline",
    "LiveStatus",
    "Measurement",
    "Sampler",
    "Trace",
    "interval_s",
]

MAX_RATE_HZ = 100.0
"""Highest fixed sampling rate accepted (Hz). Faster polling costs CPU and adds nothing once counters exist."""

ADAPTIVE_RATE = "adaptive 5→2→1 Hz"
STUCK_COUNTER_WINDOW_S = 0.5
"""Below this window a counter that did not move is trusted less than power × duration (measurement.md §1.6)."""

_MAX_DISTINCT_ERRORS = 4  # distinct error messages remembered per channel; further ones are only counted
_MAX_THROTTLE_REASONS = 32
_MAX_MESSAGE_CHARS = 120
_SCHEDULE_DECIMALS = 9  # deadlines are kept on a 1-ns grid so that 50 × 0.2 s is exactly 10 s


Wait = Callable[[threading.Event, float], bool]


def _event_wait(event: threading.Event, timeout: float) -> bool:
    return event.wait(timeout)


def _check_rate(rate_hz: float) -> float:
    """Validate a fixed sampling rate in Hz; raise ``ValueError`` unless 0 < rate ≤ :data:`MAX_RATE_HZ`."""
    if isinstance(rate_hz, bool):
        raise ValueError(f"rate must be a number of Hz, got {rate_hz!r}")
    try:
        rate = float(rate_hz)
    except (TypeError, ValueError):
        raise ValueError(f"rate must be a number of Hz, got {rate_hz!r}") from None
    if not (0.0 < rate <= MAX_RATE_HZ):  # also rejects NaN
        raise ValueError(f"rate must be above 0 Hz and at most {MAX_RATE_HZ:g} Hz, got {rate_hz!r}")
    return rate


def interval_s(elapsed_s: float, rate_hz: float | None = None) -> float:
    """Seconds from the tick at ``elapsed_s`` (seconds since the cell started) to the next one.

    Adaptive by default: 0.2 s (5 Hz) for the first 10 s, 0.5 s (2 Hz) until 60 s, then 1.0 s (1 Hz) — the
    paper's 1–5 Hz range, fast where short cells need it (measurement.md §8). ``rate_hz`` fixes the interval
    at ``1 / rate_hz``; it must satisfy 0 < rate_hz ≤ :data:`MAX_RATE_HZ` (``ValueError`` otherwise).
    """
    if rate_hz is not None:
        return 1.0 / _check_rate(rate_hz)
    if elapsed_s < 10.0:
        return 0.2
    if elapsed_s < 60.0:
        return 0.5
    return 1.0


def _rate_label(rate_hz: float | None) -> str:
    return ADAPTIVE_RATE if rate_hz is None else f"fixed {rate_hz:g} Hz"


def _next_deadline(previous_s: float, now_s: float, rate_hz: float | None) -> float:
    """The next deadline (elapsed seconds) after the one at ``previous_s``; skips deadlines already past ``now_s``."""
    fixed = None if rate_hz is None else 1.0 / rate_hz
    nxt = round(previous_s + (fixed or interval_s(previous_s)), _SCHEDULE_DECIMALS)
    while nxt <= now_s:  # late: skip ahead on the same grid, never drift
        step = fixed or interval_s(nxt)
        if fixed is not None or nxt >= 60.0:  # constant step: jump in one go (a suspended laptop, a long stall)
            step *= math.floor((now_s - nxt) / step) + 1
        nxt = round(nxt + step, _SCHEDULE_DECIMALS)
    return nxt


# --------------------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ChannelResult:
    """What one sensor channel measured over the cell (SI units).

    energy_j       joules; ``None`` only when nothing usable was read
    method         ``"counter"``, ``"integrated"`` or ``"estimated"``: how ``energy_j`` was obtained this time;
                   differs from ``info.method`` when the channel degraded (``notes`` say why)
    mean_power_w   ``energy_j`` over the seconds the energy covers, else the mean of the power samples
    peak_power_w, peak_temp_c, mean_util_pct   running statistics of the successful reads
    throttle_events  distinct slowdown reasons seen, in first-seen order
    n_samples      successful reads; ``n_errors`` failed ones
    notes          one line per degradation, each said once
    """

    info: DeviceInfo
    energy_j: float | None
    method: str
    mean_power_w: float | None
    peak_power_w: float | None
    peak_temp_c: float | None
    mean_util_pct: float | None
    throttle_events: tuple[str, ...]
    n_samples: int
    n_errors: int
    notes: tuple[str, ...]


@dataclass(frozen=True)
class Trace:
    """Bounded power timeline for plots.

    t_s         seconds since the cell started, one per point (the time of the first tick a point averages)
    power_w     per channel key, watts aligned with ``t_s``; ``None`` where no power was read
    decimation  raw ticks each point averages (1 = raw); the last point may average fewer
    """

    t_s: tuple[float, ...]
    power_w: Mapping[str, tuple[float | None, ...]]
    decimation: int


@dataclass(frozen=True)
class Measurement:
    """Everything the sampler saw during one cell.

    duration_s  seconds between the start and end boundary samples (the sampler's clock)
    channels    one :class:`ChannelResult` per sensor, in the order the sensors were given
    n_ticks     reads of the whole sensor set, boundary samples included
    rate        ``"adaptive 5→2→1 Hz"`` or ``"fixed 50 Hz"``
    notes       sampler-level notes (CUDA sync, a thread that would not stop, ...)
    started_at  wall-clock epoch seconds (``time.time()``) at the start, for the ledger
    """

    duration_s: float
    channels: tuple[ChannelResult, ...]
    trace: Trace
    n_ticks: int
    rate: str
    notes: tuple[str, ...]
    started_at: float


@dataclass(frozen=True)
class LiveStatus:
    """A cheap, thread-safe snapshot for the live widget.

    elapsed_s  seconds since the start boundary sample
    power_w    latest power per channel key (``None`` when the latest read failed or had no power)
    energy_j   joules so far per channel key, by the same rules as the final result; channels whose energy
               is not known yet are absent (never a made-up zero)
    """

    elapsed_s: float
    power_w: Mapping[str, float | None]
    energy_j: Mapping[str, float]


# ------------------------------------------------------------------------------------------- accumulators


def _message(exc: BaseException) -> str:
    """One short line for a failed read."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if not isinstance(exc, SensorError):
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= _MAX_MESSAGE_CHARS else text[: _MAX_MESSAGE_CHARS - 1] + "…"


def _value(x: object, *, non_negative: bool = False) -> tuple[float | None, bool]:
    """``(float or None, was_invalid)``: non-numeric and non-finite values (and negatives if asked) are dropped."""
    if x is None:
        return None, False
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None, True
    if not math.isfinite(v) or (non_negative and v < 0.0):
        return None, True
    return v, False


def _extract(sample: object) -> tuple:
    """Pull the numbers out of a :class:`Sample` (done outside the lock; raises on a malformed sample)."""
    energy, bad_e = _value(sample.energy_j)  # type: ignore[attr-defined]
    power, bad_p = _value(sample.power_w, non_negative=True)  # type: ignore[attr-defined]
    temp, bad_t = _value(sample.temp_c)  # type: ignore[attr-defined]
    util, bad_u = _value(sample.util_pct, non_negative=True)  # type: ignore[attr-defined]
    throttle = tuple(str(r) for r in (sample.throttle or ()))  # type: ignore[attr-defined]
    return energy, power, temp, util, throttle, bad_e + bad_p + bad_t + bad_u


def _fmt_s(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds < 100.0 else f"{seconds:.0f} s"


def _fmt_part(span: float, duration: float) -> str:
    """``"0.20 of 5.00 s"``."""
    return f"{_fmt_s(span)[:-2]} of {_fmt_s(duration)}"


class _Channel:
    """Running accumulators for one channel: O(1) memory whatever the cell length."""

    def __init__(self, info: DeviceInfo) -> None:
        self.info = info
        self.key = info.key
        self.n_samples = 0
        self.n_errors = 0
        self.errors: dict[str, int] = {}  # first message of each distinct error → count
        self.n_other_errors = 0
        self.n_invalid = 0
        self.latest_power_w: float | None = None
        # cumulative energy (counter or model)
        self.e_n = 0
        self.e_first_t = self.e_last_t = 0.0
        self.e_last = 0.0
        self.e_sum = 0.0
        self.e_backwards = 0
        # power samples
        self.p_n = 0
        self.p_first_t = self.p_last_t = 0.0
        self.p_last = 0.0
        self.p_trap = 0.0
        self.p_sum = 0.0
        self.p_peak: float | None = None
        # other statistics
        self.temp_peak: float | None = None
        self.util_sum = 0.0
        self.util_n = 0
        self.throttle: list[str] = []

    def add(self, t: float, values: tuple) -> None:
        energy, power, temp, util, throttle, n_invalid = values
        self.n_samples += 1
        self.n_invalid += n_invalid
        self.latest_power_w = power
        if energy is not None:
            if self.e_n == 0:
                self.e_first_t = t
            else:
                delta = energy - self.e_last
                if delta >= 0.0:
                    self.e_sum += delta
                else:
                    self.e_backwards += 1
            self.e_last, self.e_last_t = energy, t
            self.e_n += 1
        if power is not None:
            if self.p_n == 0:
                self.p_first_t = t
            else:
                self.p_trap += 0.5 * (power + self.p_last) * (t - self.p_last_t)
            self.p_last, self.p_last_t = power, t
            self.p_sum += power
            self.p_n += 1
            if self.p_peak is None or power > self.p_peak:
                self.p_peak = power
        if temp is not None and (self.temp_peak is None or temp > self.temp_peak):
            self.temp_peak = temp
        if util is not None:
            self.util_sum += util
            self.util_n += 1
        for reason in throttle:
            if reason not in self.throttle and len(self.throttle) < _MAX_THROTTLE_REASONS:
                self.throttle.append(reason)

    def fail(self, message: str) -> None:
        self.n_errors += 1
        self.latest_power_w = None
        if message in self.errors:
            self.errors[message] += 1
        elif len(self.errors) < _MAX_DISTINCT_ERRORS:
            self.errors[message] = 1
        else:
            self.n_other_errors += 1

    def energy(self, t_start: float, t_end: float) -> tuple[float | None, str, float, float, str | None]:
        """``(energy_j, method, first_t, last_t, basis)`` by the rules in the module docstring.

        ``basis`` is ``"counter"``, ``"power"``, ``"stuck-short"``, ``"stuck-long"`` or ``None`` (unknown).
        """
        duration = t_end - t_start
        if self.e_n >= 2:
            method = self.info.method if self.info.method in ("counter", "estimated") else "counter"
            if self.e_sum == 0.0 and method == "counter" and self.p_sum > 0.0:
                if duration < STUCK_COUNTER_WINDOW_S:
                    return self.p_sum / self.p_n * duration, "integrated", t_start, t_end, "stuck-short"
                if self.p_n >= 2:
                    return self.p_trap, "integrated", self.p_first_t, self.p_last_t, "stuck-long"
            return self.e_sum, method, self.e_first_t, self.e_last_t, "counter"
        if self.p_n >= 2:
            return self.p_trap, "integrated", self.p_first_t, self.p_last_t, "power"
        return None, self.info.method if self.info.method in METHODS else "integrated", t_start, t_start, None

    def result(self, t_start: float, t_end: float) -> ChannelResult:
        energy, method, first_t, last_t, basis = self.energy(t_start, t_end)
        duration = t_end - t_start
        span = last_t - first_t
        key = self.key
        notes: list[str] = []

        # what the energy figure covers, said once, attached to the failure note when there is one
        tol = 1e-9 * max(1.0, abs(t_end))
        head_lost = energy is not None and first_t > t_start + tol
        tail_lost = energy is not None and last_t < t_end - tol
        if energy is None:
            coverage = "energy unknown"
        elif tail_lost and not head_lost:
            coverage = f"energy from readings before the failure ({_fmt_part(span, duration)})"
        elif head_lost and not tail_lost:
            coverage = f"energy from readings after the failure ({_fmt_part(span, duration)})"
        elif head_lost and tail_lost:
            coverage = f"energy from {_fmt_part(span, duration)} of readings"
        else:
            coverage = ""

        if self.n_errors:
            parts = [m if len(self.errors) == 1 and not self.n_other_errors else f"{m} ×{c}"
                     for m, c in self.errors.items()]
            if self.n_other_errors:
                parts.append(f"{self.n_other_errors} other")
            if not coverage:
                coverage = ("energy unaffected (the counter spans the gaps)" if basis == "counter"
                            else "power interpolated across the gaps")
            notes.append(f"{key}: read failed {self.n_errors}× ({'; '.join(parts)}); {coverage}")
        elif energy is not None and (head_lost or tail_lost):
            notes.append(f"{key}: energy covers {_fmt_part(span, duration)} "
                         "(the other readings carried no usable energy or power)")

        expects_energy = self.info.method in ("counter", "estimated")
        if basis == "stuck-short":
            notes.append(f"{key}: counter did not advance in {_fmt_s(duration)} (update period ~100 ms); "
                         "energy = power × duration")
        elif basis == "stuck-long":
            notes.append(f"{key}: counter did not advance in {_fmt_s(duration)} although power read "
                         f"{self.p_sum / self.p_n:.3g} W on average; energy integrated from power samples")
        elif basis == "power" and expects_energy:
            why = "no reading carried" if self.e_n == 0 else "only one reading carried"
            notes.append(f"{key}: {why} a cumulative energy value; energy integrated from power samples")
        elif basis is None and not self.n_errors:
            what = "no readings" if self.n_samples == 0 else "fewer than two readings with energy or power"
            notes.append(f"{key}: {what}; energy unknown")
        if self.e_backwards:
            notes.append(f"{key}: energy counter went backwards {self.e_backwards}× (reset or wrap); "
                         "those intervals are left out")
        if self.n_invalid:
            notes.append(f"{key}: {self.n_invalid} non-numeric, non-finite or negative values ignored")

        if energy is not None and span > 0.0:
            mean_power = energy / span
        else:
            mean_power = self.p_sum / self.p_n if self.p_n else None
        return ChannelResult(
            info=self.info,
            energy_j=energy,
            method=method,
            mean_power_w=mean_power,
            peak_power_w=self.p_peak,
            peak_temp_c=self.temp_peak,
            mean_util_pct=self.util_sum / self.util_n if self.util_n else None,
            throttle_events=tuple(self.throttle),
            n_samples=self.n_samples,
            n_errors=self.n_errors,
            notes=tuple(notes),
        )


class _TraceBuffer:
    """Power timeline holding at most ``max_points`` points; when full, adjacent pairs merge.

    Points keep per-channel sums and counts, so merged averages are exact averages of the raw ticks.
    """

    def __init__(self, keys: Sequence[str], max_points: int) -> None:
        self.keys = tuple(keys)
        self.max_points = max_points
        self.decimation = 1
        self.t: list[float] = []
        self.sums: list[list[float]] = [[] for _ in self.keys]
        self.counts: list[list[int]] = [[] for _ in self.keys]
        self._bucket_t = 0.0
        self._bucket_ticks = 0
        self._bucket_sum = [0.0] * len(self.keys)
        self._bucket_n = [0] * len(self.keys)

    def add(self, t: float, powers: Sequence[float | None]) -> None:
        if self._bucket_ticks == 0:
            self._bucket_t = t
        self._bucket_ticks += 1
        for i, p in enumerate(powers):
            if p is not None:
                self._bucket_sum[i] += p
                self._bucket_n[i] += 1
        if self._bucket_ticks >= self.decimation:
            self._flush()
            if len(self.t) >= self.max_points:
                self._halve()

    def _flush(self) -> None:
        if not self._bucket_ticks:
            return
        self.t.append(self._bucket_t)
        for i in range(len(self.keys)):
            self.sums[i].append(self._bucket_sum[i])
            self.counts[i].append(self._bucket_n[i])
            self._bucket_sum[i] = 0.0
            self._bucket_n[i] = 0
        self._bucket_ticks = 0

    def _halve(self) -> None:
        self.t = self.t[::2]
        for i in range(len(self.keys)):
            s, n = self.sums[i], self.counts[i]
            self.sums[i] = [sum(s[j:j + 2]) for j in range(0, len(s), 2)]
            self.counts[i] = [sum(n[j:j + 2]) for j in range(0, len(n), 2)]
        self.decimation *= 2

    def finish(self) -> Trace:
        """Flush the partial bucket (room is always left for it) and freeze."""
        self._flush()
        power = {
            key: tuple(s / n if n else None for s, n in zip(self.sums[i], self.counts[i]))
            for i, key in enumerate(self.keys)
        }
        return Trace(t_s=tuple(self.t), power_w=power, decimation=self.decimation)


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

    def measurement(self, t_end: float, rate: str, notes: Sequence[str], started_at: float) -> Measurement:
        with self.lock:
            channels = tuple(c.result(self.t0, t_end) for c in self.channels)
            trace = self.trace.finish() if self.trace is not None else Trace((), {}, 1)
            n_ticks = self.n_ticks
        all_notes = list(notes)
        if self.thread_failure:
            all_notes.insert(0, f"sampler thread stopped early ({self.thread_failure}); "
                                "energy from the readings taken until then and the end boundary sample")
        return Measurement(duration_s=t_end - self.t0, channels=channels, trace=trace, n_ticks=n_ticks,
                           rate=rate, notes=tuple(all_notes), started_at=started_at)


def _schedule_loop(run: _Run, event: threading.Event, wait: Wait, clock: Callable[[], float],
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


# ------------------------------------------------------------------------------------------------ Sampler


class Sampler:
    """Samples every sensor while a cell runs. Single-use: one ``start()``, then ``stop()``.

    sensors           the channels to read (keys must be unique)
    rate_hz           fixed rate in Hz (0 < rate ≤ :data:`MAX_RATE_HZ`); ``None`` = adaptive 5→2→1 Hz
    clock             monotonic seconds; injectable for tests
    wait              ``wait(event, timeout_s) -> bool`` (True = stop requested); default ``event.wait``;
                      a test can pass one that advances a fake clock instead of sleeping
    sync              called after the thread stopped and before the end boundary sample; returns the name
                      of the framework it synchronised (``"torch"``) or ``None``; must not create a CUDA context
    max_trace_points  upper bound on :class:`Trace` points (≥ 2)
    thread_name       name of the daemon thread

    Use as a context manager: ``__exit__`` stops even when the cell raised (``KeyboardInterrupt`` included);
    the result is then in :attr:`measurement` (and ``stop()`` returns it again).
    """

    def __init__(self, sensors: Sequence[Sensor], *, rate_hz: float | None = None,
                 clock: Callable[[], float] = time.perf_counter, wait: Wait | None = None,
                 sync: Callable[[], str | None] | None = None, max_trace_points: int = 1024,
                 thread_name: str = "eco_magic-sampler") -> None:
        self._sensors = _check_sensors(sensors)
        self._rate_hz = None if rate_hz is None else _check_rate(rate_hz)
        if isinstance(max_trace_points, bool) or not isinstance(max_trace_points, int) or max_trace_points < 2:
            raise ValueError(f"max_trace_points must be an integer ≥ 2, got {max_trace_points!r}")
        self._max_trace_points = max_trace_points
        self._clock = clock
        self._wait = wait or _event_wait
        self._sync = sync
        self._thread_name = thread_name
        self._event = threading.Event()
        self._stop_lock = threading.Lock()
        self._run: _Run | None = None
        self._thread: threading.Thread | None = None
        self._started_at = 0.0
        self._result: Measurement | None = None

    @property
    def rate(self) -> str:
        """``"adaptive 5→2→1 Hz"`` or ``"fixed N Hz"``."""
        return _rate_label(self._rate_hz)

    @property
    def measurement(self) -> Measurement | None:
        """The result once stopped, else ``None``."""
        return self._result

    def start(self) -> None:
        """Take the start boundary sample in the caller's thread, then start the sampling thread."""
        if self._run is not None:
            raise RuntimeError("a Sampler is single-use: create a new one for each measurement")
        self._started_at = time.time()
        t0 = self._clock()
        self._run = _Run(self._sensors, t0, self._max_trace_points, with_trace=True)
        self._run.tick(t0)
        thread = threading.Thread(target=self._thread_main, name=self._thread_name, daemon=True)
        thread.start()
        self._thread = thread

    def _thread_main(self) -> None:
        run = self._run
        assert run is not None
        try:
            _schedule_loop(run, self._event, self._wait, self._clock, self._rate_hz)
        except Exception as exc:  # noqa: BLE001 — a thread must never print a traceback into the notebook
            run.thread_failure = _message(exc)

    def _join_timeout_s(self) -> float:
        """About two ticks plus a second of slack: a healthy thread wakes at once, a stuck one is abandoned."""
        run = self._run
        elapsed = self._clock() - run.t0 if run is not None else 0.0
        return 2.0 * interval_s(elapsed, self._rate_hz) + 1.0

    def stop(self) -> Measurement:
        """Stop the thread, sync, take the end boundary sample in the caller's thread; return the result.

        Safe to call again (returns the same :class:`Measurement`). Raises ``RuntimeError`` before ``start()``.
        """
        with self._stop_lock:
            if self._result is not None:
                return self._result
            run = self._run
            if run is None:
                raise RuntimeError("stop() called before start()")
            self._event.set()
            notes: list[str] = []
            hung: int | None = None
            thread = self._thread
            if thread is not None:
                timeout = self._join_timeout_s()
                thread.join(timeout)
                if thread.is_alive():
                    hung = run.detach()
                    who = f" (in {run.sensors[hung].info.key}.read)" if hung is not None else ""
                    notes.append(f"sampler thread did not stop within {timeout:.1f} s{who}; it was abandoned "
                                 "as a daemon and its later readings are discarded")
            interrupted: KeyboardInterrupt | None = None
            if self._sync is not None:
                try:
                    framework = self._sync()
                except KeyboardInterrupt as exc:  # Ctrl-C while waiting for the GPU: finish without it
                    interrupted = exc
                    notes.append("interrupted while waiting for CUDA to finish; work still queued on the GPU may "
                                 "be missing from its energy")
                except Exception as exc:  # noqa: BLE001
                    notes.append(f"CUDA synchronisation before the final read failed ({_message(exc)}); "
                                 "work still queued on the GPU may be missing from its energy")
                else:
                    if framework:
                        notes.append(f"CUDA synchronised ({framework}) before the final read")
            t_end = self._clock()
            run.tick(t_end, skip=hung)
            self._result = run.measurement(t_end, self._achieved_label(run, t_end), notes, self._started_at)
            if interrupted is not None:
                raise interrupted  # the measurement is complete; the caller sees the interruption
            return self._result

    def _achieved_label(self, run: "_Run", t_end: float) -> str:
        """The rate label, saying so when a fixed rate was not reached (a busy machine, slow sensors)."""
        label = self.rate
        if self._rate_hz is None:
            return label
        duration = t_end - run.t0
        if duration >= 1.0 and run.n_ticks > 2:
            achieved = (run.n_ticks - 1) / duration
            if achieved < 0.9 * self._rate_hz:
                label = f"{label} requested, {achieved:.0f} Hz achieved"
        if any(s.info.method == "estimated" for s in run.sensors) and self._rate_hz > 1 / ESTIMATE_MIN_INTERVAL_S:
            label += f"; estimates read at ≤ {1 / ESTIMATE_MIN_INTERVAL_S:g} Hz"
        return label

    def live(self) -> LiveStatus:
        """Latest power and energy so far per channel; cheap, callable from any thread at any time."""
        run = self._run
        if run is None:
            return LiveStatus(elapsed_s=0.0, power_w={}, energy_j={})
        end = self._clock() if self._result is None else run.last_t
        return run.live(max(0.0, end - run.t0))

    def __enter__(self) -> "Sampler":
        self.start()
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        self.stop()
        return False


# ------------------------------------------------------------------------------------------- IdleBaseline


class IdleBaseline:
    """Mean power per channel while nothing runs, measured in a background daemon thread.

    Started once after ``%load_ext`` (and on demand), it samples for ``duration_s`` seconds on the adaptive
    schedule, with boundary samples, and keeps each channel's ``mean_power_w`` (energy over the covered time
    when energy is known). Device-level sensors include other processes, so this is the machine's idle draw
    as seen by each sensor. It reads the same sensors as a :class:`Sampler`: cancel it (or wait for it)
    before measuring a cell, so that two threads never read one sensor at once.
    """

    def __init__(self, sensors: Sequence[Sensor], duration_s: float = 3.0,
                 clock: Callable[[], float] = time.perf_counter, wait: Wait | None = None, *,
                 thread_name: str = "eco_magic-idle") -> None:
        self._sensors = _check_sensors(sensors)
        duration = float(duration_s)
        if not (0.0 < duration < math.inf):
            raise ValueError(f"duration_s must be a positive number of seconds, got {duration_s!r}")
        self._duration_s = duration
        self._clock = clock
        self._wait = wait or _event_wait
        self._thread_name = thread_name
        self._event = threading.Event()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._result: dict[str, float] | None = None
        self._measurement: Measurement | None = None

    @property
    def running(self) -> bool:
        """True while the background thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def measurement(self) -> Measurement | None:
        """The full idle :class:`Measurement` (notes included) once finished, else ``None``."""
        return self._measurement

    def start(self) -> None:
        """Start the background thread (single-use)."""
        if self._thread is not None:
            raise RuntimeError("an IdleBaseline is single-use: create a new one to measure again")
        thread = threading.Thread(target=self._thread_main, name=self._thread_name, daemon=True)
        self._thread = thread
        thread.start()

    def _thread_main(self) -> None:
        try:
            started_at = time.time()
            t0 = self._clock()
            run = _Run(self._sensors, t0, 2, with_trace=False)
            run.tick(t0)
            _schedule_loop(run, self._event, self._wait, self._clock, None, until_s=self._duration_s)
            if self._event.is_set():
                return  # cancelled: no result
            t_end = self._clock()
            run.tick(t_end)
            m = run.measurement(t_end, ADAPTIVE_RATE, (), started_at)
            self._measurement = m
            self._result = {c.info.key: c.mean_power_w for c in m.channels if c.mean_power_w is not None}
        except Exception:  # noqa: BLE001 — never a traceback from a background thread; result stays None
            self._result = None
        finally:
            self._done.set()

    def result(self, timeout: float | None = 0) -> dict[str, float] | None:
        """Mean power (W) per channel key; ``None`` if not finished within ``timeout`` s (None = wait), or cancelled."""
        thread = self._thread
        if thread is None:
            return None
        if not self._done.wait(timeout):
            return None
        thread.join(1.0)  # it is past its last statement; reap it so no idle thread outlives the result
        return dict(self._result) if self._result is not None else None

    def cancel(self) -> None:
        """Stop now and join (used at unload). The result stays ``None`` unless it had already finished."""
        self._event.set()
        thread = self._thread
        if thread is not None:
            thread.join(2.0 * interval_s(0.0) + 1.0)
