"""A Hugging Face ``transformers`` ``TrainerCallback``: energy per epoch and per N optimizer steps.

```python
from eco_magic.integrations.transformers import EcoCallback

trainer = Trainer(model=model, args=args, train_dataset=data, callbacks=[EcoCallback(every_n_steps=100)])
trainer.train()
eco_magic.ledger().to_dataframe()       # one row per epoch ("train epoch 1", …) and per 100 steps
```

Each row is logged to the trackers of ``args.report_to`` (``"mlflow"``, ``"wandb"``, ``"tensorboard"``: see
``tensorboard_logdir``) at the global step where it ended; ``log_to=[...]`` names other targets, ``log_to=()`` none.
Only the main process (``state.is_world_process_zero``) measures: hardware counters already see every device of
the machine. An epoch includes what the Trainer does inside it (evaluation with ``eval_strategy="epoch"`` runs
after the epoch's measurement ends). Imported only when used; it imports ``transformers``.
"""
from __future__ import annotations

import os
from typing import Any, Sequence

from transformers import TrainerCallback

from .training import MeterCallback

__all__ = ["EcoCallback"]

#: ``report_to`` names whose runs eco_magic can log to.
_TRACKERS = ("mlflow", "wandb", "tensorboard")


class EcoCallback(MeterCallback, TrainerCallback):
    """Measure each epoch (and each ``every_n_steps`` optimizer steps) of ``Trainer.train()``.

    label           ledger label prefix: ``"train epoch 1"``, ``"train steps 1-100"``
    every_n_steps   also measure every run of this many optimizer steps
    log_to          ``"auto"``: the trackers of ``args.report_to``; or a list of targets (see
                    ``eco_magic.integrations``); ``()`` for the ledger only
    measure_options passed to every ``eco_magic.measure`` (``region=``, ``pue=``, ``rate_hz=`` …)

    After training, ``results`` holds the EcoResults (also in ``eco_magic.ledger()``) and ``notes`` what could not
    be measured or logged.
    """

    def targets(self, args) -> Sequence[Any]:
        if self.log_to != "auto":
            return list(self.log_to or ())
        report_to = getattr(args, "report_to", None) or []
        report_to = [report_to] if isinstance(report_to, str) else list(report_to)
        if "all" in report_to:
            report_to = list(_TRACKERS)
        out = []
        for name in report_to:
            if name == "tensorboard":
                out.append(f"tensorboard:{tensorboard_logdir(args)}")
            elif name in _TRACKERS:
                out.append(name)
        return out

    # --- TrainerCallback hooks -------------------------------------------------------------------------------------
    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self.meter.train_start(int(state.global_step), kwargs.get("model"))

    def on_epoch_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self.meter.epoch_start(_epoch_index(state), kwargs.get("model"))

    def on_step_end(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self.meter.step_end(int(state.global_step), self.targets(args), kwargs.get("model"))

    def on_epoch_end(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self.meter.epoch_end(int(state.global_step), self.targets(args))

    def on_train_end(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self.meter.train_end(int(state.global_step), self.targets(args))


def tensorboard_logdir(args) -> str:
    """Where the rows go for ``report_to=["tensorboard"]``: the Trainer's own log directory when it can be known
    (``$TENSORBOARD_LOGGING_DIR``, or ``args.logging_dir`` in transformers 4), else ``<output_dir>/runs/eco_magic``,
    a run of its own beside the Trainer's time-stamped one (``tensorboard --logdir <output_dir>/runs`` shows both)."""
    return (os.environ.get("TENSORBOARD_LOGGING_DIR") or getattr(args, "logging_dir", None)
            or os.path.join(args.output_dir, "runs", "eco_magic"))


def _epoch_index(state) -> int:
    """The epoch about to run, from 0 (``state.epoch`` is a float: whole epochs done so far, when it begins)."""
    epoch = getattr(state, "epoch", None) or 0.0
    return int(round(float(epoch)))
