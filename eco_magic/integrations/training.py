"""Energy per epoch and per N-step interval of a training loop, on ``eco_magic.measure()``: the part the
transformers and Lightning callbacks share. No framework is imported here.

Each epoch is one ``measure`` span (label ``"<label> epoch <n>"``, from 1); with ``every_n_steps`` a second, nested
span covers each run of N optimizer steps (``"<label> steps <a>-<b>"``, global steps from 1; the last interval may
be shorter). Every span is one ledger row, appended as it ends, and is logged to the trackers at the global step
where it ended. Whatever goes wrong while measuring or logging becomes a note (one line on stderr, once per
distinct note): the training itself never fails because of eco_magic.
"""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Callable, Sequence

if TYPE_CHECKING:
    from ..api import measure
    from ..result import EcoResult


class TrainingMeter:
    """Opens and closes the epoch and interval measurements; keeps their results and notes.

    label           prefix of the ledger labels
    every_n_steps   also measure each run of this many steps (``None``: epochs only)
    measure_options keyword arguments for every ``eco_magic.measure`` (``region``, ``pue``, ``rate_hz`` …)
    """

    def __init__(self, label: str = "train", every_n_steps: int | None = None,
                 measure_options: dict[str, Any] | None = None) -> None:
        if every_n_steps is not None and (isinstance(every_n_steps, bool) or int(every_n_steps) != every_n_steps
                                          or every_n_steps < 1):
            raise ValueError(f"every_n_steps must be a whole number ≥ 1, not {every_n_steps!r}")
        options = dict(measure_options or {})
        for reserved in ("label", "ledger", "log_to"):
            if reserved in options:
                raise ValueError(f"{reserved!r} is set by the callback, not through measure_options")
        from ..api import measure

        measure(label, **options)  # bad options raise ValueError now, not in the middle of training
        self.label = label
        self.every_n_steps = int(every_n_steps) if every_n_steps is not None else None
        self.options = options
        self.results: list[EcoResult] = []
        self.notes: list[str] = []
        self._epoch: measure | None = None
        self._interval: measure | None = None
        self._interval_first_step = 1

    # --- spans ---------------------------------------------------------------------------------------------------
    def _start(self, label: str, model: Any) -> "measure | None":
        from ..api import measure

        options = dict(self.options)
        if model is not None and "model" not in options and "params" not in options:
            options["model"] = model  # parameters and precision counted after the span: ESS per epoch
        m = measure(label, ledger=True, log_to=(), **options)  # trackers: logged here, at the training step
        m.start()
        return m if m.running else None

    def _stop(self, m: "measure | None", step: int, targets: Sequence[Any], exc: BaseException | None = None
              ) -> "EcoResult | None":
        if m is None:
            return None
        result = m.stop(exc)
        if result is None:
            return None
        self.results.append(result)
        if targets:
            from . import log_result

            for note in log_result(result, targets, step=step):
                self.note(note)
        return result

    # --- the loop's events ---------------------------------------------------------------------------------------
    def train_start(self, step: int, model: Any = None) -> None:
        self.guard(self._open_interval, step, model)

    def epoch_start(self, epoch: int, model: Any = None) -> None:
        """``epoch`` counts from 0, as both frameworks do; the label counts from 1."""
        def run():
            self._stop(self._epoch, 0, ())  # an epoch left open (a loop that skipped epoch_end): closed, kept
            self._epoch = self._start(f"{self.label} epoch {int(epoch) + 1}", model)
        self.guard(run)

    def step_end(self, step: int, targets: Sequence[Any], model: Any = None) -> None:
        """After optimizer step ``step`` (global, from 1): close the interval every N steps and open the next."""
        if self.every_n_steps is None or step < 1 or step % self.every_n_steps:
            return

        def run():
            self._stop(self._interval, step, targets)
            self._interval = None
            self._open_interval(step, model)
        self.guard(run)

    def epoch_end(self, step: int, targets: Sequence[Any]) -> "EcoResult | None":
        def run():
            m, self._epoch = self._epoch, None
            return self._stop(m, step, targets)
        return self.guard(run)

    def train_end(self, step: int, targets: Sequence[Any], exc: BaseException | None = None) -> None:
        """Close whatever is open: the last (partial) interval, and an epoch the loop left open."""
        def run():
            interval, self._interval = self._interval, None
            if interval is not None and step >= self._interval_first_step:  # the last, partial interval
                interval.settings = _relabel(interval.settings,
                                             f"{self.label} steps {self._interval_first_step}-{step}")
                self._stop(interval, step, targets, exc)
            elif interval is not None:  # opened after the last step: nothing to record
                interval.ledger = False
                interval.stop()
            epoch, self._epoch = self._epoch, None
            self._stop(epoch, step, targets, exc)
        self.guard(run)

    def _open_interval(self, step: int, model: Any) -> None:
        if self.every_n_steps is None or self._interval is not None:
            return
        self._interval_first_step = step + 1
        last = step + self.every_n_steps
        self._interval = self._start(f"{self.label} steps {step + 1}-{last}", model)

    # --- never fail the loop -------------------------------------------------------------------------------------
    def guard(self, fn: Callable, *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception as exc:  # noqa: BLE001 - eco_magic never stops a training run
            text = str(exc).strip().splitlines()
            self.note(f"eco_magic: {type(exc).__name__}: {text[0] if text else 'no message'} (training goes on)")
            return None

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)
            print(text if text.startswith("eco_magic") else f"eco_magic: {text}", file=sys.stderr)


class MeterCallback:
    """What both training callbacks share: a :class:`TrainingMeter`, the tracker choice, and their results/notes."""

    def __init__(self, label: str = "train", every_n_steps: int | None = None, log_to: Any = "auto",
                 **measure_options: Any) -> None:
        super().__init__()
        self.meter = TrainingMeter(label, every_n_steps, measure_options)
        self.log_to = log_to

    @property
    def results(self):
        return self.meter.results

    @property
    def notes(self):
        return self.meter.notes


def _relabel(settings, label: str):
    import dataclasses

    return dataclasses.replace(settings, label=label)
