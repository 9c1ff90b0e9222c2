"""The sampling schedule: adaptive 5→2→1 Hz or a fixed rate, on absolute deadlines that never drift."""
from __future__ import annotations

import math
import threading
from typing import Callable

MAX_RATE_HZ = 100.0
"""Highest fixed sampling rate accepted (Hz). Faster polling costs CPU and adds nothing once counters exist."""

ADAPTIVE_RATE = "adaptive 5→2→1 Hz"
_SCHEDULE_DECIMALS = 9  # deadlines are kept on a 1-ns grid so that 50 × 0.2 s is exactly 10 s

class StopSignal:
    """What the sampling thread sleeps on between ticks; ``set()`` wakes it at once.

    The ``threading.Event`` interface (``set``, ``is_set``, ``wait``) on one pre-acquired lock: a wait is a single
    ``lock.acquire(timeout=…)``, where ``Event.wait`` allocates a lock and goes through a Condition. Measured on a
    2-core VM, a thread wake-up costs ~35 µs of CPU this way against ~65 µs (issue 16: the wake-up is most of a
    tick once the sensors are cheap).
    """

    __slots__ = ("_lock", "_set")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()
        self._set = False

    def set(self) -> None:
        if self._set:
            return
        self._set = True
        try:
            self._lock.release()
        except RuntimeError:  # a concurrent set() released it first
            pass

    def is_set(self) -> bool:
        return self._set

    def wait(self, timeout: float | None = None) -> bool:
        """True once set (returns at once then), False after ``timeout`` seconds."""
        if self._set:
            return True
        if self._lock.acquire(True, -1 if timeout is None else max(0.0, timeout)):
            self._lock.release()  # stays released: every later wait returns at once
            return True
        return self._set


Wait = Callable[[StopSignal, float], bool]


def _event_wait(event: StopSignal, timeout: float) -> bool:
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


