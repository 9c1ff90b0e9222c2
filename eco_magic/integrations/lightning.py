"""A PyTorch Lightning ``Callback``: energy per training epoch and per N optimizer steps.

```python
from eco_magic.integrations.lightning import EcoCallback

trainer = lightning.Trainer(max_epochs=10, callbacks=[EcoCallback(every_n_steps=100)])
trainer.fit(model, data)
```

Each row goes to ``eco_magic.ledger()`` and to the run of each of the trainer's loggers that eco_magic knows
(``MLFlowLogger``, ``WandbLogger``, ``TensorBoardLogger``), at the global step where it ended; ``log_to=[...]``
names other targets, ``log_to=()`` none. Only global rank 0 measures. A training epoch spans Lightning's
``on_train_epoch_start`` to ``on_train_epoch_end``, so validation run at the epoch's end is inside it. If training
raises, the open measurements are recorded with status ``error`` (``interrupted`` for Ctrl-C).

The callback subclasses ``lightning.pytorch.Callback`` when the ``lightning`` package is installed, else
``pytorch_lightning.Callback``. Imported only when used.
"""
from __future__ import annotations

from typing import Any, Sequence

try:
    from lightning.pytorch import Callback
except ImportError:  # the standalone package
    from pytorch_lightning import Callback

from .training import MeterCallback

__all__ = ["EcoCallback"]

_LOGGERS = ("MLFlowLogger", "WandbLogger", "TensorBoardLogger")


class EcoCallback(MeterCallback, Callback):
    """Measure each training epoch (and each ``every_n_steps`` optimizer steps) of ``Trainer.fit``.

    label           ledger label prefix: ``"train epoch 1"``, ``"train steps 1-100"``
    every_n_steps   also measure every run of this many optimizer steps
    log_to          ``"auto"``: the trainer's MLflow, W&B and TensorBoard loggers; or a list of targets (see
                    ``eco_magic.integrations``); ``()`` for the ledger only
    measure_options passed to every ``eco_magic.measure`` (``region=``, ``pue=``, ``rate_hz=`` …)

    After training, ``results`` holds the EcoResults and ``notes`` what could not be measured or logged.
    """

    def targets(self, trainer) -> Sequence[Any]:
        if self.log_to != "auto":
            return list(self.log_to or ())
        return [lg for lg in getattr(trainer, "loggers", None) or [] if type(lg).__name__ in _LOGGERS]

    # --- Callback hooks ---------------------------------------------------------------------------------------------
    def on_train_start(self, trainer, pl_module):
        if trainer.is_global_zero:
            self.meter.train_start(int(trainer.global_step), pl_module)

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.is_global_zero:
            self.meter.epoch_start(int(trainer.current_epoch), pl_module)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        # global_step counts optimizer steps, so with gradient accumulation an interval closes once per N steps
        if trainer.is_global_zero and trainer.global_step != getattr(self, "_last_step", None):
            self._last_step = trainer.global_step
            self.meter.step_end(int(trainer.global_step), self.targets(trainer), pl_module)

    def on_train_epoch_end(self, trainer, pl_module):
        if trainer.is_global_zero:
            self.meter.epoch_end(int(trainer.global_step), self.targets(trainer))

    def on_train_end(self, trainer, pl_module):
        if trainer.is_global_zero:
            self.meter.train_end(int(trainer.global_step), self.targets(trainer))

    def on_exception(self, trainer, pl_module, exception):
        if trainer.is_global_zero:
            self.meter.train_end(int(trainer.global_step), self.targets(trainer), exception)
