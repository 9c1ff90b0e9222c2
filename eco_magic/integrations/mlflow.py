"""MLflow: metrics on the run's step axis, provenance as run tags (tags, unlike params, may change between results).

Imported only when a target names MLflow. Works with any tracking store MLflow supports (a local SQLite file, a
server); nothing is sent anywhere but the tracking URI the user configured.
"""
from __future__ import annotations

from typing import Any


def log(arg: Any, values: dict[str, float], tags: dict[str, str], step: int | None, prefix: str) -> str | None:
    """Log to the active run (``arg`` None), a run id (str), or a ``(MlflowClient, run_id)`` pair.

    Returns a note instead of logging when there is no run to log to; MLflow's own errors propagate.
    """
    import mlflow
    from mlflow.entities import Metric, RunTag

    from . import next_step

    if isinstance(arg, tuple):
        client, run_id = arg
    else:
        if arg:
            run_id = arg
        else:
            active = mlflow.active_run()
            if active is None:  # checked before any client exists: no store is created for nothing
                return "no active MLflow run (call mlflow.start_run() first)"
            run_id = active.info.run_id
        client = mlflow.MlflowClient()
    store = getattr(client, "_tracking_client", None)
    where = getattr(store, "tracking_uri", None) or mlflow.get_tracking_uri()
    at = next_step(("mlflow", str(where), run_id), step)
    timestamp_ms = _now_ms()
    client.log_batch(run_id,
                     metrics=[Metric(key, value, timestamp_ms, at) for key, value in values.items()],
                     tags=[RunTag(key, value) for key, value in tags.items()])
    return None


def _now_ms() -> int:
    import time

    return int(time.time() * 1000)
