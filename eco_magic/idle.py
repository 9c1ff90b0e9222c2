"""Idle power from the real idle time between cells: two sensor reads per gap, no thread.

Every gap between two cells (from the end of one cell to the start of the next, and from ``%load_ext`` to the
first cell) is a stretch in which the kernel does nothing for the user. :class:`IdleMeter` reads each sensor when a
gap opens and when it closes, and keeps the energy each channel used over the most recent ``window_s`` seconds of
such gaps. Idle power = that energy / that time. Under "Run All" the gaps are a few milliseconds each; they add up,
and the result says how many seconds it rests on, so the reader can judge it. ``%ecolyze_idle`` adds a dedicated
foreground measurement (:meth:`IdleMeter.replace`).

Counter and estimated channels report cumulative energy: the difference of two reads is exact. Channels that only
report power (``integrated``) get the mean of the two readings times the gap.
"""
from __future__ import annotations

import collections
import math
import time
from typing import Callable, Mapping, Sequence

#: most recent idle time kept: idle draw drifts (a model loaded on the GPU raises it), so old gaps age out
WINDOW_S = 120.0
#: below this much idle time the card calls the baseline provisional
FIRM_S = 1.0


def _num(x) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


class IdleMeter:
    """Accumulates per-channel idle energy over the gaps between cells (see module docstring)."""

    def __init__(self, sensors: Sequence, *, window_s: float = WINDOW_S,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self._sensors = tuple(sensors)
        self._window_s = float(window_s)
        self._clock = clock
        self._open: tuple[float, list] | None = None
        self._keys = tuple(s.info.key for s in self._sensors)
        self._gaps: collections.deque = collections.deque()  # (seconds, {key: joules}), oldest first
        self._seconds = 0.0
        self._energy_j = dict.fromkeys(self._keys, 0.0)
        self.source = "idle time between cells"

    def _read(self, t: float) -> list:
        out = []
        for s in self._sensors:
            try:
                sample = s.read(t)
                out.append((_num(sample.energy_j), _num(sample.power_w)))
            except Exception:  # noqa: BLE001 - a failed read leaves this channel out of this gap
                out.append((None, None))
        return out

    @property
    def is_open(self) -> bool:
        return self._open is not None

    def open(self) -> None:
        """A gap begins (a cell ended, or the extension was loaded). Idempotent."""
        if self._open is None and self._sensors:
            t = self._clock()
            self._open = (t, self._read(t))

    def close(self) -> None:
        """The gap ends (a cell starts): add its energy per channel. Idempotent."""
        if self._open is None:
            return
        t0, first = self._open
        self._open = None
        t1 = self._clock()
        seconds = t1 - t0
        if seconds <= 0:
            return
        energies = {}
        for sensor, (e0, p0), (e1, p1) in zip(self._sensors, first, self._read(t1)):
            if e0 is not None and e1 is not None and e1 >= e0:
                energies[sensor.info.key] = e1 - e0
            elif sensor.info.method == "integrated" and p0 is not None and p1 is not None:
                energies[sensor.info.key] = (p0 + p1) / 2 * seconds
        self._add(seconds, energies)

    def _add(self, seconds: float, energies: Mapping[str, float]) -> None:
        """Keep a gap; only gaps in which every channel gave a reading count (running sums: O(1) per gap)."""
        if not all(k in energies for k in self._keys):
            return
        gap = (seconds, {k: energies[k] for k in self._keys})
        self._gaps.append(gap)
        self._seconds += seconds
        for k in self._keys:
            self._energy_j[k] += gap[1][k]
        while len(self._gaps) > 1 and self._seconds - self._gaps[0][0] >= self._window_s:
            old_s, old_e = self._gaps.popleft()
            self._seconds -= old_s
            for k in self._keys:
                self._energy_j[k] -= old_e[k]

    def replace(self, seconds: float, power_w: Mapping[str, float], source: str) -> None:
        """Start over from a dedicated idle measurement of ``seconds`` (``%ecolyze_idle``)."""
        self._gaps.clear()
        self._seconds = 0.0
        self._energy_j = dict.fromkeys(self._keys, 0.0)
        self.source = source
        self._add(seconds, {k: p * seconds for k, p in power_w.items()})

    @property
    def seconds(self) -> float:
        """Seconds of idle the baseline rests on."""
        return self._seconds

    def power_w(self) -> dict[str, float] | None:
        """Mean idle power per channel key over the kept gaps; ``None`` before any idle time was seen."""
        if self._seconds <= 0:
            return None
        return {k: max(0.0, e) / self._seconds for k, e in self._energy_j.items()}
