"""Where a measurement takes its engine and settings from: the magic's while it is loaded, else the process's own.

The magic registers its :class:`~eco_magic.engine.Engine` and a function giving its ``%config`` settings with
:func:`attach`; :func:`eco_magic.measure` then shares the sensors and idle baseline of the notebook. Outside a
notebook a measurement creates one engine for the process (no idle baseline) and the ledger persists where the
magic's would.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

if TYPE_CHECKING:
    from .engine import Engine

__all__ = ["Defaults", "attach", "detach", "current_engine", "current_defaults", "plain_python_ledger"]


@dataclass(frozen=True)
class Defaults:
    """Settings that apply when a measurement does not give its own (``%config EcoMagics.…`` in a notebook)."""

    region: str | None = None
    pue: float | None = None
    pue_origin: str = "default"
    carbon_intensity_g_per_kwh: float | None = None
    ci_origin: str = "default"
    water_model: str = "paper"
    rate_hz: float | None = None
    gpu_temp_max_c: float = 80.0
    cpu_temp_max_c: float = 85.0
    dask: str = "auto"
    dask_hosts: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    log_to: tuple[str, ...] = ()
    live_carbon: str | None = None
    live_carbon_zone: str | None = None


_lock = threading.Lock()
_engine: "Engine | None" = None          # the magic's engine while the extension is loaded
_own_engine: "Engine | None" = None      # created on first use in plain Python
_defaults: Callable[[], Defaults] | None = None


def attach(engine: "Engine", defaults: Callable[[], Defaults]) -> None:
    """Let ``measure()`` use the magic's engine (sensors discovered once, shared idle baseline) and settings."""
    global _engine, _defaults
    with _lock:
        _engine, _defaults = engine, defaults


def detach(engine: "Engine") -> None:
    global _engine, _defaults
    with _lock:
        if _engine is engine:
            _engine, _defaults = None, None


def current_engine() -> "Engine":
    """The magic's engine when the extension is loaded, else one for this process (no idle baseline thread)."""
    global _own_engine
    with _lock:
        if _engine is not None:
            return _engine
        if _own_engine is None:
            from .engine import Engine

            _own_engine = Engine(idle_duration_s=0.0)
        return _own_engine


def current_defaults() -> Defaults:
    with _lock:
        provider = _defaults
    if provider is None:
        return Defaults()
    try:
        return provider()
    except Exception:  # noqa: BLE001 - a broken config must not stop a measurement; plain defaults then
        return Defaults()


_ledger_set_up = False


def plain_python_ledger():
    """Outside a notebook the ledger persists where the magic's would: ``$ECO_MAGIC_LEDGER``, else
    ``.eco_magic/ledger.sqlite`` in the working directory (set up once; ``eco_magic.ledger().set_path(None)``
    keeps rows in memory only)."""
    global _ledger_set_up
    from .session_ledger import current_ledger, default_path

    led = current_ledger()
    with _lock:
        if _engine is not None:  # the magic configured the ledger (%config EcoMagics.ledger_path)
            return led
        if not _ledger_set_up:
            _ledger_set_up = True
            if led.path is None and not len(led):
                led.set_path(os.environ.get("ECO_MAGIC_LEDGER") or default_path())
    return led
