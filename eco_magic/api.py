"""``eco_magic.measure()``: the one measuring path. The ``%%ecolyze`` magic is a thin layer over it.

Three forms, one object::

    with eco_magic.measure(label="int8", items=64) as m:      # a block
        model(batch)
    m.result                                                  # the EcoResult, already in the ledger

    @eco_magic.measure(label="step")                          # a function: every call is measured
    def train_step(batch): ...

    m = eco_magic.measure(label="epoch 3"); m.start(); ...; result = m.stop()   # training-loop callbacks

It works without IPython (a plain script, a thread, a worker), nests (each level has its own sampler), and records
every result in ``eco_magic.ledger()``. Hardware counters (NVML, RAPL) see the whole device, and the process-scope
estimates see the whole process, so two blocks running at the same time in two threads both include each other's
work: a measurement says what the machine or the process drew while the block ran, not what one thread caused.

Nothing here imports IPython; the magic registers its engine and its ``%config`` defaults with :func:`attach`.
"""
from __future__ import annotations

import dataclasses
import functools
import numbers
import os
import sys
import threading
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from . import options as opt
from .defaults import Defaults, attach, current_defaults, current_engine, detach, plain_python_ledger
from .user_values import describe_exception, number_value, status_of, storable

if TYPE_CHECKING:
    from .engine import Engine
    from .result import EcoResult

__all__ = ["Defaults", "measure", "attach", "detach", "describe_exception"]




def _short(value: Any) -> str:
    """A number for a note, however long its digits (``10**400``): at most 24 characters."""
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001
        return "?"
    return text if len(text) <= 24 else f"{text[:10]}…({len(text)} characters)"


class measure:
    """Measure the energy, CO₂e, water, thermal state and ESS of a block, a function call, or a start/stop span.

    label        name in the ledger and on the card
    items        items the block processes (inferences, samples): per-item figures, and ``scale_to``
    region       ISO code, country name, US state ``"US-CA"`` or cloud region ``"aws:us-east-1"``
    pue          power usage effectiveness (1.0–5.0) instead of the hardware tier
    ci_g_per_kwh carbon intensity instead of the region's value
    water_model  ``"paper"`` or ``"li"``
    params, precision   the model's parameter count and precision for ESS (``7e9`` / ``"7B"``, ``"int8"``)
    model        the model object (its parameters and precision are counted after the block)
    rate_hz      fixed sampling rate (0.01–100 Hz); default adaptive 5→2→1 Hz
    dask         ``"auto"`` / ``"on"`` / ``"off"``: also measure the workers of the active Dask client
    ledger       append the result to ``eco_magic.ledger()`` (default ``True``)
    log_to       experiment trackers to log the result to (``["mlflow", "wandb", "tensorboard"]``)
    live_carbon  ``"electricitymaps"`` or ``"watttime"``: the grid's intensity for the block's time window from
                 that provider (token from the environment; see the README's "Live carbon intensity"); off by default
    live_carbon_zone   the provider's zone name where the region does not map to one (U.S. balancing areas)

    Bad values raise ``ValueError`` at once, before anything runs. After the block, ``result`` holds the
    :class:`~eco_magic.result.EcoResult`; a block that raised is recorded with status ``"error"`` (or
    ``"interrupted"`` for Ctrl-C) and its exception propagates unchanged.
    """

    def __init__(self, label: str = "", *, items: int | None = None, region: str | None = None,
                 pue: float | None = None, ci_g_per_kwh: float | None = None, water_model: str | None = None,
                 params: float | str | None = None, precision: str | None = None, model: Any = None,
                 rate_hz: float | None = None, dask: str | bool | None = None, ledger: bool = True,
                 log_to: Sequence[str] | None = None, live_carbon: str | None = None,
                 live_carbon_zone: str | None = None, _engine: "Engine | None" = None,
                 _defaults: Defaults | None = None, _find_model: Callable[[], tuple] | None = None,
                 _group: str | None = None, _run_index: int | None = None, _origins: Mapping[str, str] | None = None
                 ) -> None:
        from .assemble import Settings

        d = _defaults or current_defaults()
        origins = dict(_origins or {})
        if not isinstance(label, str):
            raise ValueError(f"label must be a string, got {type(label).__name__}")
        label = storable(label)
        pue_value, pue_origin = d.pue, d.pue_origin
        if pue is not None:
            pue_value, pue_origin = opt.pue(pue), origins.get("pue", "pue=")
        ci_value, ci_origin = d.carbon_intensity_g_per_kwh, d.ci_origin
        if ci_g_per_kwh is not None:
            ci_value, ci_origin = opt.carbon_intensity(ci_g_per_kwh), origins.get("ci", "ci_g_per_kwh=")
        water = water_model or d.water_model
        if water not in ("paper", "li"):
            raise ValueError(f"water_model is 'paper' or 'li', got {water_model!r}")
        self.settings = Settings(
            label=label, pue=pue_value, pue_origin=pue_origin, carbon_intensity_g_per_kwh=ci_value,
            ci_origin=ci_origin, water_model=water, items=opt.items(items) if items is not None else None,
            gpu_temp_max_c=d.gpu_temp_max_c, cpu_temp_max_c=d.cpu_temp_max_c)
        self.region = _resolve_region(region, d.region)
        self.rate_hz = opt.rate_hz(rate_hz) if rate_hz is not None else d.rate_hz
        self.params = opt.params(params) if params is not None else None
        if precision is not None:
            from .models import normalise_precision

            precision = normalise_precision(str(precision))
        self.precision = precision
        self.model = model
        self.dask = ("on" if dask is True else "off" if dask is False else (dask or d.dask))
        if self.dask not in ("on", "off", "auto"):
            raise ValueError(f"dask is 'auto', 'on' or 'off', got {dask!r}")
        self.dask_hosts = dict(d.dask_hosts)
        self.ledger = bool(ledger)
        if log_to is not None:
            from .integrations import check_targets

            log_to = check_targets(log_to)
        self.log_to = tuple(d.log_to if log_to is None else log_to)
        self.live_carbon, self.live_carbon_zone = d.live_carbon, d.live_carbon_zone
        if live_carbon is not None:
            from .live_carbon import PROVIDERS, normalize_provider

            name = normalize_provider(live_carbon)
            if name is not None and name not in PROVIDERS:
                raise ValueError(f"live_carbon is 'electricitymaps', 'watttime' or None, got {live_carbon!r}")
            self.live_carbon = name
        if live_carbon_zone is not None:
            self.live_carbon_zone = str(live_carbon_zone)
        self.group, self.run_index = _group, _run_index
        self._engine = _engine
        self._find_model = _find_model
        self._recorded: dict[str, float] = {}
        self._notes: list[str] = []
        self._sampler = None
        self._cluster = None
        self._tokens = None
        self._state = "new"
        self._waits_interrupted: KeyboardInterrupt | None = None  # a Ctrl-C during the waits after the block
        self.result: "EcoResult | None" = None

    # --- the three forms -------------------------------------------------------------------------------------------
    def __enter__(self) -> "measure":
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> bool:
        self.stop(exc)
        return False  # the block's exception propagates unchanged

    def __call__(self, fn: Callable) -> Callable:
        """Decorator: each call of ``fn`` is measured by a fresh copy of this measurement (threads safe; a recursive
        call is part of its outermost call, measured once); the wrapper's ``last_result`` holds the latest result. An ``async def`` is measured while it is
        awaited (a coroutine function, not the creation of its coroutine). A generator function is refused: its
        work happens while the caller iterates, interleaved with the caller's own; measure that loop with a
        ``with`` block instead."""
        import inspect

        if not callable(fn):
            raise TypeError("measure(...) decorates a function")
        if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
            raise TypeError(f"measure(...) cannot decorate the generator function {getattr(fn, '__name__', fn)!r}: "
                            "its work runs while the caller iterates, mixed with the caller's own; measure the "
                            "loop that consumes it with `with eco_magic.measure(...):` instead")
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def awaited(*args, **kwargs):
                m = self._fresh()
                with m:
                    out = await fn(*args, **kwargs)
                awaited.last_result = m.result
                return out

            awaited.last_result = None
            return awaited

        depth = threading.local()  # a recursive call runs inside the outer call's measurement: measured once

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if getattr(depth, "n", 0):
                return fn(*args, **kwargs)
            m = self._fresh()
            depth.n = 1
            try:
                with m:
                    out = fn(*args, **kwargs)
            finally:
                depth.n = 0
            wrapper.last_result = m.result
            return out

        wrapper.last_result = None
        return wrapper

    def _fresh(self, **changes) -> "measure":
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new._recorded, new._notes = {}, []
        new._sampler = new._cluster = new._tokens = None
        new._state, new.result, new._waits_interrupted = "new", None, None
        new.__dict__.update(changes)
        return new

    # --- start / stop -------------------------------------------------------------------------------------------------
    def start(self) -> "measure":
        """Begin measuring (sensors are discovered on first use). A measurement is single-use.

        If measuring cannot start (no sensor can be read, a broken install), one line on stderr says why, the code
        runs unmeasured, and :meth:`stop` returns ``None``: the measured code comes first.
        """
        if self._state != "new":
            raise RuntimeError("a measurement is single-use: create a new eco_magic.measure(...) for each block")
        from . import cluster

        self._state = "starting"
        why = None
        try:
            engine = self._engine or current_engine()
            self._engine = engine
            engine.before_cell()
            if self.dask != "off":
                self._cluster = cluster.start_cell(self.dask, scope=engine.scope, rate_hz=self.rate_hz,
                                                   cpu_tdp_w=engine.cpu_tdp_w, hosts=self.dask_hosts)
            sampler = engine.sampler(self.rate_hz)
            sampler.start()
        except Exception as exc:  # noqa: BLE001 - the code runs unmeasured; said below, outside this block
            why = describe_exception(exc)
        if why is not None:
            cluster.stop_cell(self._cluster)
            self._cluster, self._state = None, "failed"
            print(f"eco_magic could not measure this {self._what} ({why}); it ran unmeasured.", file=sys.stderr)
            return self
        self._sampler = sampler
        from .frameworks import tokens

        self._tokens = tokens.start()  # LLM tokens generated meanwhile (hooks only libraries already imported)
        self._state = "running"
        return self

    _what = "block"
    _shows_notes = False  # the magic sets it when a card will show the result's notes

    @property
    def running(self) -> bool:
        return self._state == "running"

    def live(self):
        """Power and energy so far (:class:`~eco_magic.sampler.LiveStatus`), for live readouts."""
        from .sampler import LiveStatus

        if self._sampler is None:
            return LiveStatus(elapsed_s=0.0, power_w={}, energy_j={})
        return self._sampler.live()

    @property
    def channels(self) -> list:
        """The sensors' :class:`~eco_magic.sensors.base.DeviceInfo` (names, order) for live readouts."""
        engine = self._engine or current_engine()
        return [s.info for s in engine.sensors]

    def record(self, **values: Any) -> dict[str, str]:
        """Keep quality figures beside the cost (``m.record(accuracy=0.93)``): numbers only.

        Returns ``{name: reason}`` for values that were left out (not a number); those are also noted on the result.
        """
        skipped = {}
        for name, value in values.items():
            number = number_value(value)
            if number is None:
                numeric = isinstance(value, numbers.Number) and not isinstance(value, bool)
                reason = (f"not a finite real number ({type(value).__name__} {_short(value)})" if numeric else
                          f"not a number ({type(value).__name__})")
                skipped[name] = reason
                self._notes.append(f"recorded {name!r} left out: {reason}")
            else:
                self._recorded[name] = number
        return skipped

    def note(self, text: str) -> None:
        """Add a note to the result (shown on the card, kept in the ledger)."""
        self._notes.append(str(text))

    def stop(self, exc: BaseException | None = None) -> "EcoResult | None":
        """Stop measuring, build the result, append it to the ledger; returns it (also in :attr:`result`).

        ``exc`` is the exception the block raised, if any: it sets the status. Never raises because of the block;
        a Ctrl-C while stopping is re-raised after the result has been recorded.
        """
        if self._state in ("done", "failed"):
            return self.result
        if self._state != "running":
            raise RuntimeError("stop() called before start()")
        self._state = "done"
        from . import cluster

        status, error = status_of(exc)
        pending: BaseException | None = None
        measurement = None
        token_counts = self._tokens.stop() if self._tokens is not None else None  # originals restored here
        try:
            measurement = self._sampler.stop()
        except KeyboardInterrupt as kbd:  # Ctrl-C while waiting for CUDA: the sampler has finished anyway
            measurement = self._sampler.measurement
            pending = kbd
            if exc is None:
                status, error = "interrupted", "KeyboardInterrupt"
        finally:
            cluster_measurement = cluster.stop_cell(self._cluster)
        if measurement is None:  # the sampler could not finish: nothing to record
            if pending is not None:
                raise pending
            return None
        model, interrupted = self._model()
        if interrupted is not None and pending is None:
            pending = interrupted
        try:
            self.result = self._finish(measurement, cluster_measurement, status, error, model, token_counts)
        except Exception as bug:  # noqa: BLE001 - a bug in eco_magic must not change the block's outcome
            print(f"eco_magic could not record this measurement ({describe_exception(bug)}); the code itself ran "
                  "as usual.", file=sys.stderr)
            self.result = None
        if pending is None:
            pending = self._waits_interrupted
        if pending is not None:
            raise pending
        return self.result

    def _model(self) -> tuple[Any, KeyboardInterrupt | None]:
        """``(ModelInfo | None, KeyboardInterrupt | None)``: after the block, never raising because of it."""
        from . import models

        if self.params is not None:
            return models.from_user_args(self.params, self.precision or "fp32"), None
        info = None
        try:
            if self._find_model is not None:
                info, note = self._find_model()
                if note:
                    self._notes.append(note)
            elif self.model is not None:
                from .frameworks.base import Budget, DetectionTimeout
                from .frameworks.detect import EXPLICIT_BUDGET_S

                try:  # bounded as --model is: model= may be a huge container passed by mistake
                    info = models.describe(self.model, budget=Budget(EXPLICIT_BUDGET_S))
                except DetectionTimeout:
                    self._notes.append(f"model: counting the parameters of a {type(self.model).__name__} took more "
                                       f"than {EXPLICIT_BUDGET_S:g} s; give params= and precision= for ESS")
                    return None, None
                if info is None:
                    self._notes.append(f"model: a {type(self.model).__name__} is not a model eco_magic can count; "
                                       "give params= and precision=")
        except KeyboardInterrupt as kbd:
            self._notes.append("model detection interrupted (Ctrl-C): ESS not computed")
            return None, kbd
        except Exception as err:  # noqa: BLE001 - detection never fails the block
            self._notes.append(f"model detection failed ({describe_exception(err)})")
            return None, None
        if info is not None and self.precision is not None:
            forced = models.from_user_args(info.n_params, self.precision)
            info = dataclasses.replace(forced, variable=info.variable,
                                       source=f"{info.source}; precision from --precision")
        return info, None

    def _finish(self, measurement, cluster_measurement, status, error, model, tokens=None) -> "EcoResult":
        from .assemble import build_result
        engine = self._engine
        notes = list(self._notes)
        notes.extend(engine.hints_once())
        live = None
        if self.live_carbon:  # opt-in only: the default path opens no socket
            from . import live_carbon

            try:  # up to 8 s of waiting after the block: a Ctrl-C then cuts the wait, not the record
                live = live_carbon.for_cell(self.region, measurement.started_at, measurement.duration_s,
                                            self.live_carbon, zone=self.live_carbon_zone)
            except KeyboardInterrupt as kbd:
                self._waits_interrupted = kbd
                notes.append("live carbon intensity lookup interrupted (Ctrl-C): the annual figure was used")
        result = build_result(measurement, self.region, self.settings, status=status, error=error, model=model,
                              idle_power_w=engine.idle_power_w(), notes=notes, cluster=cluster_measurement,
                              live=live, tokens=tokens)
        changes: dict[str, Any] = {}
        idle_s = engine.idle_seconds()
        if result.energy_net_j is not None and idle_s is not None:
            changes.update(idle_baseline_s=idle_s, idle_source=engine.idle_source())
        if self._recorded:
            changes["recorded"] = tuple(self._recorded.items())
        if self.group is not None:
            changes.update(group=self.group, run_index=self.run_index)
        if changes:
            result = dataclasses.replace(result, **changes)
        if self.log_to:  # experiment trackers: a failure is a note on the result, never an exception
            from .integrations import log_result

            try:
                logged = log_result(result, self.log_to)
            except KeyboardInterrupt as kbd:  # a slow tracker server: the row is still written
                self._waits_interrupted = kbd
                logged = ["not logged to the trackers: interrupted (Ctrl-C)"]
            if logged:
                result = dataclasses.replace(result, notes=result.notes + tuple(logged))
        if self.ledger:
            led = plain_python_ledger()
            led.append(result)
            note = led.take_note()
            if note:  # durability lost (rows now in memory only): on the result, and on stderr unless a card shows it
                result = dataclasses.replace(result, notes=result.notes + (note,))
                if not self._shows_notes:
                    _say_once(note)
        return result


_durability_said: set[str] = set()


def _say_once(note: str) -> None:
    """Durability lost (rows only in memory): said once on stderr, even in quiet mode."""
    if note not in _durability_said:
        _durability_said.add(note)
        print(f"eco_magic: {note}", file=sys.stderr)


def _resolve_region(explicit: str | None, configured: str | None):
    if explicit is not None and not str(explicit).strip():
        raise ValueError("region needs a value, e.g. FR, US-CA or aws:us-east-1")
    return _region_for(None if explicit is None else str(explicit), configured, os.environ.get("ECO_MAGIC_REGION"),
                       os.environ.get("TZ"))


@functools.lru_cache(maxsize=64)
def _region_for(explicit, configured, env_region, tz):
    """Regions are frozen: the same inputs (options, config, environment, time zone) give the same one, so every
    cell after the first skips the lookup. An unknown region raises each time (errors are not cached)."""
    from . import regions

    return regions.resolve(explicit=explicit, configured=configured)
