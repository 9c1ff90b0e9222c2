"""Counter-aligned cell boundaries for energy counters that move in coarse steps (NVML: about every 100 ms).

A read of such a counter at time t shows the energy at its last update u ≤ t, up to one update period stale, so a
plain counter delta over a 1-s cell is off by up to ±10 % of the cell's energy (measurement.md §8.1; p95 12 % in
benchmarks/RESULTS.md §4). The fix places the cell's boundaries on update instants and attributes the two partial
intervals with instant power:

    start   after the start boundary sample (t0, counter E0), the sampler thread polls the counter and the instant
            power every :data:`POLL_S` until the counter changes, at u_a (taken as the midpoint of the last poll
            that saw E0 and the first that saw E_a). The cell runs meanwhile: nothing is added to its wall time.
    end     after the end boundary sample (t1, counter E1), the caller polls the same way until the next update u_c
            (E_c), for at most :data:`TAIL_WAIT_S` — the only time added to a GPU cell, 50 ms on average.

    E_cell = (E_c − E_a) + ∫[t0, u_a] P dt − ∫[t1, u_c] P dt

The counter delta covers [u_a, u_c] exactly; the integrals (trapezoid of the polled instant power, ≤ one update
period each) add the head and take away what ran after the cell. The error left is the power integral over two
sub-100-ms windows and the ±POLL_S/2 uncertainty of each update instant (benchmarks/bench_accuracy.py measures it
beside the unaligned delta).

A cell that ends before the first update is shorter than one update period: its energy is the trapezoid of the
polled instant power, labelled *integrated*, with no wait at the end. When no update is seen within
:data:`HEAD_LIMIT_PERIODS` periods at the start or :data:`TAIL_WAIT_S` at the end, the channel keeps the plain
counter rules of :mod:`.channel` and a note says so.

Only sensors that expose ``read_edge(t) -> (energy_j, power_w)`` and ``edge_period_s`` (not ``None``) take part;
every other channel, and every cell on a machine without such a sensor, is untouched.
"""
from __future__ import annotations

import math
import time
from typing import Callable, Sequence

from .channel import _message

POLL_S = 0.002
"""Seconds between two polls near a boundary: the update instant is known to ±1 ms."""
HEAD_LIMIT_PERIODS = 2.5
"""Polling at the start gives up after this many nominal update periods without an update."""
TAIL_WAIT_S = 0.14
"""Longest wait for the counter's next update after the cell (s); keeps the added wall time under 150 ms."""

_MAX_POLLS = 1000  # a clock that does not move (a test's fake) must not loop forever


def _trapezoid(points: Sequence[tuple[float, float]], a: float, b: float) -> float:
    """∫[a, b] of the piecewise-linear curve through ``points`` (t, P), held constant beyond its ends."""
    if b <= a or not points:
        return 0.0
    pts = sorted(points)

    def at(t: float) -> float:
        if t <= pts[0][0]:
            return pts[0][1]
        for (t0, p0), (t1, p1) in zip(pts, pts[1:]):
            if t <= t1:
                return p0 if t1 == t0 else p0 + (p1 - p0) * (t - t0) / (t1 - t0)
        return pts[-1][1]

    knots = [a] + [t for t, _ in pts if a < t < b] + [b]
    return sum(0.5 * (at(x0) + at(x1)) * (x1 - x0) for x0, x1 in zip(knots, knots[1:]))


class EdgeAligner:
    """The boundary alignment of one channel (see the module docstring). Used by one sampling run.

    The thread calls :meth:`poll_head` until it returns True; the caller then calls :meth:`finish` once, after
    the end boundary sample. ``result`` holds ``(energy_j, method, note)`` afterwards, or ``None`` when the
    channel keeps the plain counter rules (``note`` says why, if there is something to say).
    """

    def __init__(self, index: int, sensor, period_s: float) -> None:
        self.index = index
        self.sensor = sensor
        self.period_s = float(period_s)
        self.t0: float | None = None
        self.e0: float | None = None
        self.head: list[tuple[float, float]] = []   # (t, instant power) from t0 on
        self.last_poll_t: float | None = None
        self.u_a: float | None = None
        self.e_a: float | None = None
        self.head_gave_up = False
        self.failed: str | None = None
        self.result: tuple[float, str, str | None] | None = None
        self.note: str | None = None
        self.tail_wait_s = 0.0
        self.t1: float | None = None
        self.e1: float | None = None
        self.p1: float | None = None

    @property
    def head_done(self) -> bool:
        return self.u_a is not None or self.head_gave_up or self.failed is not None

    def begin(self, t0: float, energy_j: float | None, power_w: float | None) -> None:
        """The start boundary sample's values (from the channel, already read)."""
        if energy_j is None or power_w is None:
            self.failed = "start boundary sample had no counter or power"
            return
        self.t0, self.e0, self.last_poll_t = t0, energy_j, t0
        self.head.append((t0, power_w))

    def poll_head(self, t: float) -> bool:
        """One poll at time ``t`` (sampler thread). True once the head is settled (found, given up or failed)."""
        if self.head_done:
            return True
        if t - self.t0 > HEAD_LIMIT_PERIODS * self.period_s:
            self.head_gave_up = True
            return True
        try:
            energy, power = self.sensor.read_edge(t)
        except Exception as exc:  # noqa: BLE001 — degrade to the plain counter rules
            self.failed = _message(exc)
            return True
        if power is not None:
            self.head.append((t, float(power)))
        if energy != self.e0:
            self.u_a = 0.5 * (self.last_poll_t + t)
            self.e_a = float(energy)
        self.last_poll_t = t
        return self.head_done

    def finish(self, t1: float, e1: float | None, p1: float | None, stopped_early: bool) -> None:
        """Take the end boundary sample ``(t1, e1, p1)``; decide whether a tail wait is needed (:attr:`needs_tail`).

        ``stopped_early``: the thread was stopped while still polling for the first update.
        """
        self.t1, self.e1, self.p1 = t1, e1, p1
        if self.failed is not None or e1 is None or p1 is None:
            self.note = f"boundaries not aligned to counter updates ({self.failed or 'end boundary read failed'})"
            return
        if self.u_a is None and not self.head_gave_up and stopped_early:
            # the cell ended before the counter's first update: shorter than one update period
            points = [pt for pt in self.head if pt[0] <= t1] + [(t1, p1)]
            self.result = (_trapezoid(points, self.t0, t1), "integrated",
                           f"cell shorter than the counter's update period (~{self.period_s * 1000:.0f} ms): "
                           f"energy integrated from {len(points)} instant-power readings")
            return
        if self.u_a is None:
            self.note = (f"counter did not update within {HEAD_LIMIT_PERIODS * self.period_s:.2f} s of the start; "
                         "boundaries not aligned")

    @property
    def needs_tail(self) -> bool:
        return self.result is None and self.note is None and self.u_a is not None and self.e1 is not None


def settle(aligners: Sequence[EdgeAligner], clock: Callable[[], float], sleep: Callable[[float], None]) -> float:
    """After the end boundary samples (:meth:`EdgeAligner.finish`): poll every aligner that needs it until its
    counter updates again (at most :data:`TAIL_WAIT_S`), then set the aligned energies. Runs in the caller's
    thread; returns the seconds it waited (0 when no aligner needed a tail)."""
    pending = [a for a in aligners if a.needs_tail]
    if not pending:
        return 0.0
    t1 = min(a.t1 for a in pending)
    tails: dict[int, list[tuple[float, float]]] = {id(a): [(a.t1, a.p1)] for a in pending}
    last_t = {id(a): a.t1 for a in pending}
    found: dict[int, tuple[float, float]] = {}
    todo = list(pending)
    polls = 0
    wall_end = time.monotonic() + TAIL_WAIT_S  # also bounded in real time: an injected clock may stand still
    while todo and polls < _MAX_POLLS and time.monotonic() < wall_end:
        sleep(POLL_S)
        polls += 1
        now = clock()
        for a in list(todo):
            key = id(a)
            try:
                energy, power = a.sensor.read_edge(now)
            except Exception as exc:  # noqa: BLE001
                a.note = f"boundaries not aligned to counter updates ({_message(exc)})"
                todo.remove(a)
                continue
            if power is not None:
                tails[key].append((now, float(power)))
            if energy != a.e1:
                found[key] = (0.5 * (last_t[key] + now), float(energy))
                todo.remove(a)
            last_t[key] = now
        if now - t1 >= TAIL_WAIT_S:
            break
    waited = clock() - t1
    for a in pending:
        key = id(a)
        a.tail_wait_s = waited
        if a.note is not None:
            continue
        if key not in found:
            a.note = (f"counter did not update within {TAIL_WAIT_S * 1000:.0f} ms after the cell; "
                      "boundaries not aligned")
            continue
        u_c, e_c = found[key]
        energy = (e_c - a.e_a) + _trapezoid(a.head, a.t0, a.u_a) - _trapezoid(tails[key], a.t1, u_c)
        if not math.isfinite(energy) or energy < 0.0:
            a.note = "aligned counter energy was not plausible; boundaries not aligned"
            continue
        a.result = (energy, "counter", None)
    return waited


def aligners_for(sensors: Sequence) -> list[EdgeAligner]:
    """One :class:`EdgeAligner` per sensor that offers ``read_edge`` and an ``edge_period_s``."""
    out = []
    for i, sensor in enumerate(sensors):
        period = getattr(sensor, "edge_period_s", None)
        if period and callable(getattr(sensor, "read_edge", None)):
            out.append(EdgeAligner(i, sensor, period))
    return out
