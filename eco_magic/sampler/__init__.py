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
* counters that move in coarse steps (NVML, about every 100 ms: sensors with ``edge_period_s`` and
  ``read_edge``) get counter-aligned boundaries (:mod:`.edges`): the thread polls counter and instant power every
  2 ms after the start until the counter updates, ``stop()`` does the same after the end boundary sample (at most
  140 ms), and the energy is the counter delta between those two updates plus the head and minus the tail,
  both integrated from instant power. A cell that ends before the first update is integrated from the polls.
* channels without ``energy_j``: the trapezoid of ``power_w`` over the tick times, boundary samples included.
* a channel that fails degrades instead of breaking: counter → integrated from whatever power samples exist;
  fewer than two usable readings → ``energy_j`` is ``None`` with a note. Never a silent zero.

Times are the sampler's tick times (``clock()``, seconds), not ``Sample.t_s``, so a sensor with its own clock
cannot skew the integration. Memory stays bounded for cells of any length: energy and statistics are running
accumulators, and the power :class:`Trace` halves its resolution whenever it fills up.

Nothing here prints, logs or displays, and nothing is imported beyond the standard library and
``eco_magic.sensors.base``.

One idea per module: ``schedule`` (rates, deadlines, the stop signal), ``channel`` (one channel's energy accounting),
``edges`` (counter-aligned boundaries),
``trace`` (the bounded power trace), ``run`` (shared state of one run and the tick loop), ``thread`` (the
:class:`Sampler`), ``idle`` (the :class:`IdleBaseline`), ``results`` (the frozen result types).
"""
from __future__ import annotations

from .channel import STUCK_COUNTER_WINDOW_S
from .idle import IdleBaseline
from .results import ChannelResult, LiveStatus, Measurement, Trace
from .run import ESTIMATE_MIN_INTERVAL_S
from .schedule import ADAPTIVE_RATE, MAX_RATE_HZ, interval_s
from .thread import Sampler

__all__ = [
    "ADAPTIVE_RATE",
    "ESTIMATE_MIN_INTERVAL_S",
    "MAX_RATE_HZ",
    "STUCK_COUNTER_WINDOW_S",
    "ChannelResult",
    "IdleBaseline",
    "LiveStatus",
    "Measurement",
    "Sampler",
    "Trace",
    "interval_s",
]
