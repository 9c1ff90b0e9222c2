"""Weights & Biases: metrics on their own ``eco/step`` axis, provenance in the run config under ``eco_magic``.

Imported only when a target names W&B. The ``eco/*`` metrics are declared with ``define_metric`` to use
``eco/step`` as their x-axis, so logging a result never moves the training curves of the run. In offline mode
(``WANDB_MODE=offline``) everything stays in the local run directory until ``wandb sync``.
"""
from __future__ import annotations

from typing import Any

_DECLARED: set[tuple[str, str]] = set()


def log(arg: Any, values: dict[str, float], tags: dict[str, str], step: int | None, prefix: str) -> str | None:
    """Log to ``arg`` (a wandb Run) or, when ``arg`` is None, to the active run ``wandb.run``."""
    if arg is None or isinstance(arg, str):
        import wandb

        run = wandb.run
        if run is None:
            return "no active W&B run (call wandb.init() first)"
    else:
        run = arg
    from . import next_step

    run_id = str(getattr(run, "id", id(run)))
    key = (run_id, prefix)
    step_name = f"{prefix}step"
    if key not in _DECLARED:
        run.define_metric(step_name)
        run.define_metric(f"{prefix}*", step_metric=step_name)
        _DECLARED.add(key)
    at = next_step(("wandb", run_id, prefix), step)
    run.config.update({"eco_magic": {k[len(prefix):] if k.startswith(prefix) else k: v for k, v in tags.items()}},
                      allow_val_change=True)
    run.log({**values, step_name: at})
    return None
