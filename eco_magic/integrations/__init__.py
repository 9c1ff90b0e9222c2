"""Send results to the experiment trackers people already use: MLflow, Weights & Biases, TensorBoard.

``log_result(result, targets=["mlflow", "wandb", "tensorboard"])`` logs one ``EcoResult`` to each
target's *active* run: the numbers as metrics (see ``eco_magic.integrations.fields``), how they were obtained
as tags / config / a text summary. Each tracker module is imported only when a target names it, so a missing
library costs nothing until it is asked for, and then gives a one-line hint.

A target is a name or an object:

| target | logs to |
|---|---|
| ``"mlflow"`` | the active MLflow run (``mlflow.start_run()``): metrics, provenance as run tags |
| ``"mlflow:RUN_ID"`` | that run, through ``MlflowClient`` on the current tracking URI |
| ``"wandb"`` | the active W&B run (``wandb.init()``): metrics on the ``eco/step`` axis, provenance in the config |
| ``"tensorboard"`` | event files in ``runs/eco_magic`` (``"tensorboard:DIR"``: in ``DIR``); provenance as text |
| a ``wandb`` Run, an ``mlflow`` ActiveRun | that run |
| a TensorBoard writer | anything with ``add_scalar`` (``torch.utils.tensorboard``, ``tensorboardX``) |
| a Lightning logger | the run ``MLFlowLogger``, ``WandbLogger`` or ``TensorBoardLogger`` writes to |

``log_result`` never raises: every target that cannot be logged to yields one line in the returned list of
notes (the magic appends them to the result's notes), and the other targets are still logged.
"""
from __future__ import annotations

import importlib
import threading
from typing import TYPE_CHECKING, Any

from .fields import DEFAULT_PREFIX, metrics, provenance

if TYPE_CHECKING:
    from ..result import EcoResult

__all__ = ["log_result", "check_targets", "metrics", "provenance", "TRACKERS"]

#: Tracker names a target string may start with, and the pip extra that installs each library.
TRACKERS = {"mlflow": "mlflow", "wandb": "wandb", "tensorboard": "tensorboard"}

_STEPS: dict[tuple, int] = {}
_STEPS_LOCK = threading.Lock()


class TargetError(ValueError):
    """A target that names no tracker eco_magic knows."""


def check_targets(targets: Any) -> list:
    """``targets`` as a list, every string checked against ``TRACKERS`` (for ``%config`` validation).

    Raises ``TargetError`` (a ``ValueError``) naming the first unknown tracker. Objects are not checked here;
    ``log_result`` says in a note when it cannot tell what an object is.
    """
    out = _as_list(targets)
    for t in out:
        if isinstance(t, str) and t.partition(":")[0].strip().lower() not in TRACKERS:
            raise TargetError(f"unknown tracker {t!r}: use one of {', '.join(TRACKERS)} "
                              "(or 'mlflow:RUN_ID', 'tensorboard:LOGDIR')")
    return out


def _as_list(targets: Any) -> list:
    if targets is None:
        return []
    if isinstance(targets, str) or not isinstance(targets, (list, tuple, set, frozenset)):
        return [targets]
    return list(targets)


def next_step(key: tuple, step: int | None) -> int:
    """The step to log at for the run ``key``: ``step`` when given, else one past the last step logged there."""
    with _STEPS_LOCK:
        if step is None:
            step = _STEPS.get(key, 0)
        _STEPS[key] = max(_STEPS.get(key, 0), int(step) + 1)
        return int(step)


def _describe(target: Any) -> str:
    return target if isinstance(target, str) else type(target).__name__


def _route(target: Any) -> tuple[str, Any]:
    """(tracker name, what its module's ``log`` takes) for a target, or raise TargetError."""
    if isinstance(target, str):
        name, _, arg = target.partition(":")
        name = name.strip().lower()
        if name not in TRACKERS:
            raise TargetError(f"unknown tracker {target!r} (use one of {', '.join(TRACKERS)})")
        return name, (arg.strip() or None)
    module = type(target).__module__ or ""
    cls = type(target).__name__
    if cls in ("MLFlowLogger", "WandbLogger", "TensorBoardLogger") and hasattr(target, "experiment"):
        if cls == "MLFlowLogger":  # a Lightning logger: its client (own tracking URI) and run
            return "mlflow", (target.experiment, target.run_id)
        return _route(target.experiment)
    if module.startswith("mlflow") and hasattr(target, "info"):  # mlflow.ActiveRun / mlflow.entities.Run
        return "mlflow", target.info.run_id
    if module.startswith("wandb") and hasattr(target, "log"):
        return "wandb", target
    if hasattr(target, "add_scalar"):
        return "tensorboard", target
    raise TargetError(f"cannot tell which tracker {cls} ({module}) belongs to")


def log_result(result: "EcoResult", targets: Any, step: int | None = None,
               prefix: str = DEFAULT_PREFIX) -> list[str]:
    """Log ``result`` to each of ``targets`` (names or objects, see the module docstring).

    ``step`` is the x-axis value (a training step or epoch); without it each run gets 0, 1, 2, … in the order
    results are logged to it. Metrics are named ``prefix + field`` (``eco/energy_j`` …).

    Returns the notes, one line per target that was not logged (library missing, no active run, the tracker
    failing); an empty list when every target got the result. Never raises.
    """
    notes: list[str] = []
    try:
        targets = _as_list(targets)
        values, tags = metrics(result, prefix), provenance(result, prefix)
    except Exception as exc:  # noqa: BLE001 - a bad target list or result never fails the caller
        return [f"not logged to trackers: {exc}"]
    for target in targets:
        what = _describe(target)
        try:
            name, arg = _route(target)
        except Exception as exc:  # noqa: BLE001
            notes.append(f"not logged to {what}: {exc}")
            continue
        try:
            note = importlib.import_module(f".{name}", __name__).log(arg, values, tags, step, prefix)
        except ImportError as exc:
            missing = getattr(exc, "name", None) or ""
            note = (f"{missing} is not installed (pip install 'eco_magic[{TRACKERS[name]}]')"
                    if missing.split(".")[0] == name else f"cannot import {missing or name}: {_first_line(exc)}")
        except Exception as exc:  # noqa: BLE001 - a tracker failing never fails the cell
            note = f"{type(exc).__name__}: {_first_line(exc)}"
        if note:
            notes.append(f"not logged to {what}: {note}")
    return notes


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else "no message"
