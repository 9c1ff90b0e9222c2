"""Repeated runs (``--repeat N --warmup K`` and :func:`repeat`): one loop, shared by the magic and the Python API.

:func:`series` is the loop, written as a generator so that one copy serves a plain call (:func:`drive`), a cell
run by the magic, and a cell with top-level ``await`` that the magic runs in the kernel's event loop.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from . import options as opt
from .api import measure

__all__ = ["Outcome", "series", "drive", "repeat", "new_group_id"]


def new_group_id() -> str:
    return uuid.uuid4().hex[:12]


@dataclass
class Outcome:
    """What a series of runs gave: the last run's value, every run's result, and the exception that ended it."""

    value: Any = None
    results: list = field(default_factory=list)
    error: BaseException | None = None

    def aggregate(self):
        """The summary of the runs. A run that failed or was interrupted ended the series: its partial energy is
        left out of the means (as ``%ecoledger compare`` leaves it out), and the summary carries its status."""
        import dataclasses

        from .aggregate import aggregate

        if not self.results:
            return None
        done = [r for r in self.results if r.status == "ok"]
        last = self.results[-1]
        if last.status == "ok" or not done:
            return aggregate(self.results)
        summary = aggregate(done)
        note = (f"run {last.run_index} {last.status} ({last.error}): left out of the means, which rest on the "
                f"{len(done)} completed run{'s' if len(done) != 1 else ''} before it")
        return dataclasses.replace(summary, status=last.status, error=last.error, notes=summary.notes + (note,))


def series(make: Callable[[int | None, str | None], measure], *, runs: int = 1, warmup: int = 0,
           on_start: Callable[[measure, int], None] | None = None,
           before_stop: Callable[[measure, int], None] | None = None):
    """The repeat loop, as a generator, shared by ``%%ecolyze --repeat`` (sync or ``await``) and :func:`repeat`.

    It yields once per execution of the code (``"warmup"``, then ``"run"``); the driver runs the code and sends its
    value back, or throws its exception in. Warm-up runs are not measured; each of the ``runs`` runs is measured by
    ``make(run_index, group)`` (both ``None`` for a single run), so every run is its own ledger row and one
    ``group`` id ties them. An exception ends the series: that run is recorded, and the exception is returned in
    :class:`Outcome` for the caller to re-raise. Returns the :class:`Outcome`.
    """
    __tracebackhide__ = True  # noqa: F841
    for _ in range(warmup):
        yield "warmup"
    group = new_group_id() if runs > 1 else None
    out = Outcome()
    measuring = True
    for index in range(1, runs + 1):
        m = make(index if group else None, group)
        if measuring:
            m.start()
            measuring = m.running  # could not start: said once; the remaining runs go unmeasured
        if m.running and on_start is not None:
            _quietly(on_start, m, index)
        try:
            out.value = yield "run"
        except BaseException as exc:  # noqa: BLE001 - recorded, then handed back to be re-raised unchanged
            out.error = exc
        if m.running:
            if before_stop is not None:
                _quietly(before_stop, m, index)
            try:
                m.stop(out.error)
            except KeyboardInterrupt as kbd:  # Ctrl-C while stopping: recorded; the caller sees an interruption
                out.error = out.error or kbd
            if m.result is not None:
                out.results.append(m.result)
        if out.error is not None:
            break
    return out


def drive(steps, call: Callable[[], Any]):
    """Run a :func:`series` generator synchronously: ``call()`` once per request; returns the generator's value."""
    __tracebackhide__ = True  # noqa: F841
    try:
        next(steps)
        while True:
            try:
                value = call()
            except BaseException as exc:  # noqa: BLE001 - handed to the generator
                steps.throw(exc)
            else:
                steps.send(value)
    except StopIteration as stop:
        return stop.value


def repeat(fn: Callable[[], Any], *, runs: int, warmup: int = 0, **options: Any):
    """Call ``fn()`` ``warmup`` times unmeasured, then ``runs`` times, each measured with ``measure(**options)``.

    Returns the summary :class:`~eco_magic.result.EcoResult` (means, standard deviations, 95 % confidence intervals;
    every run is also its own ledger row). An exception from ``fn`` ends the series and propagates after the run
    was recorded. Like ``%%ecolyze --repeat N --warmup K``.
    """
    import inspect

    if inspect.iscoroutinefunction(fn):  # fn() would only create the coroutine: nothing would be measured
        raise TypeError("repeat() calls fn() and measures the call; an async function only returns a coroutine "
                        "then: pass lambda: asyncio.run(fn()), or measure the awaited call with `with "
                        "eco_magic.measure():` inside your event loop")
    runs, warmup = opt.count("runs", runs, 1), opt.count("warmup", warmup, 0)
    proto = measure(**options)
    out = drive(series(lambda i, g: proto._fresh(group=g, run_index=i), runs=runs, warmup=warmup), fn)
    if out.error is not None:
        raise out.error
    return out.aggregate()


def _quietly(fn: Callable, *args) -> None:
    try:
        fn(*args)
    except Exception:  # noqa: BLE001
        pass
