"""The idle baseline: mean power per channel while nothing runs, measured in a background daemon thread."""
from __future__ import annotations

import math
import threading
import time
from typing import Callable, Sequence

from ..sensors.base import Sensor
from .results import Measurement
from .run import _check_sensors, _Run, _schedule_loop
from .schedule import StopSignal, ADAPTIVE_RATE, Wait, _event_wait, interval_s


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
        self._event = StopSignal()
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
