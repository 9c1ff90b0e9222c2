"""The :class:`Sampler`: boundary samples in the caller's thread, a named daemon thread in between."""
from __future__ import annotations

import threading
import time
from typing import Callable, Sequence

from ..sensors.base import Sensor
from .channel import _message
from .results import LiveStatus, Measurement
from .edges import POLL_S, EdgeAligner, aligners_for, settle
from .run import ESTIMATE_MIN_INTERVAL_S, _check_sensors, _Run, _schedule_loop
from .schedule import StopSignal, Wait, _check_rate, _event_wait, _rate_label, interval_s


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
    align_edges       place the cell's boundaries on the update instants of coarse counters (NVML; see
                      :mod:`.edges`); False keeps the plain counter delta (the benchmark compares both)
    sleep             ``sleep(seconds)`` for the polls after the cell (default ``time.sleep``; a simulated
                      clock passes one that advances it)

    Use as a context manager: ``__exit__`` stops even when the cell raised (``KeyboardInterrupt`` included);
    the result is then in :attr:`measurement` (and ``stop()`` returns it again).
    """

    def __init__(self, sensors: Sequence[Sensor], *, rate_hz: float | None = None,
                 clock: Callable[[], float] = time.perf_counter, wait: Wait | None = None,
                 sync: Callable[[], str | None] | None = None, max_trace_points: int = 1024,
                 thread_name: str = "eco_magic-sampler", align_edges: bool = True,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._sensors = _check_sensors(sensors)
        self._rate_hz = None if rate_hz is None else _check_rate(rate_hz)
        if isinstance(max_trace_points, bool) or not isinstance(max_trace_points, int) or max_trace_points < 2:
            raise ValueError(f"max_trace_points must be an integer ≥ 2, got {max_trace_points!r}")
        self._max_trace_points = max_trace_points
        self._clock = clock
        self._wait = wait or _event_wait
        self._sync = sync
        self._thread_name = thread_name
        self._event = StopSignal()
        self._stop_lock = threading.Lock()
        self._run: _Run | None = None
        self._thread: threading.Thread | None = None
        self._started_at = 0.0
        self._result: Measurement | None = None
        self._align = bool(align_edges)
        self._sleep = sleep
        self._aligners: list[EdgeAligner] = []
        self.edge_wait_s = 0.0  # seconds stop() waited for counter updates after the cell (diagnostics)

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
        if self._align:
            self._aligners = aligners_for(self._sensors)
            for a in self._aligners:
                e, p = self._run.boundary_values(a.index, t0)
                a.begin(t0, e, p)
        thread = threading.Thread(target=self._thread_main, name=self._thread_name, daemon=True)
        thread.start()
        self._thread = thread

    def _thread_main(self) -> None:
        run = self._run
        assert run is not None
        try:
            pending = [a for a in self._aligners if not a.head_done]
            while pending and not run.detached:  # poll coarse counters until their first update (edges.py)
                if self._wait(self._event, POLL_S):
                    return
                now = self._clock()
                pending = [a for a in pending if not a.poll_head(now)]
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
            aligned, edge_notes = {}, {}
            if self._aligners and hung is None:
                for a in self._aligners:
                    e, p = run.boundary_values(a.index, t_end)
                    a.finish(t_end, e, p, stopped_early=not a.head_done)
                try:
                    self.edge_wait_s = settle(self._aligners, self._clock, self._sleep)
                except KeyboardInterrupt as exc:  # Ctrl-C while waiting for the counter: plain counter rules
                    interrupted = interrupted or exc
                    for a in self._aligners:
                        a.result, a.note = None, a.note or "interrupted while aligning; boundaries not aligned"
                aligned = {a.index: a.result for a in self._aligners if a.result is not None}
                edge_notes = {a.index: a.note for a in self._aligners if a.note}
            self._result = run.measurement(t_end, self._achieved_label(run, t_end), notes, self._started_at,
                                           aligned, edge_notes)
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


