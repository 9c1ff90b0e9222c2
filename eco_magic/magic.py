"""IPython glue: ``%%ecolyze`` / ``%ecolyze``, ``%ecolyze_idle``, ``%ecolyze_auto`` and their ``%config``.

The magic parses and validates its options, then hands the cell to :class:`eco_magic.magic_cell.CellJob`, which
measures each run with :func:`eco_magic.measure` — the same path as the Python API. Nothing here does arithmetic.
"""
from __future__ import annotations

import builtins
import re
import sys
import types
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import (Magics, line_cell_magic, line_magic, magics_class, needs_local_scope,
                                no_var_expand)
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import Bool, Dict, Enum, Float, List, TraitError, Unicode, observe, validate

from . import api
from .user_values import describe_exception
from . import magics_registry
from . import options as opt
from .display import card
from .engine import Engine
from .session_ledger import Ledger, current_ledger, default_path, set_current_ledger


def _check(fn, *args):
    """Run a validator; its ValueError becomes the UsageError IPython shows without a traceback."""
    try:
        return fn(*args)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _sanitize_config(config) -> None:
    """Drop out-of-range ``EcoMagics`` values from the shell's config (set before loading), saying so once."""
    section = config.get("EcoMagics") if "EcoMagics" in config else None
    if not section:
        return
    for name in list(section):
        if name in opt.CONFIG_RANGES:
            why = opt.out_of_range(name, section[name])
            if why is not None:
                del section[name]
                print(f"eco_magic: {why}; ignored", file=sys.stderr)


@magics_class
class EcoMagics(Magics):
    """Measure the energy, CO₂, water, thermal state and ESS of notebook cells."""

    region = Unicode(None, allow_none=True,
                     help="Default region (ISO-2/ISO-3 code, country name, US state 'US-CA' or cloud region "
                          "'aws:us-east-1'). Else $ECO_MAGIC_REGION, else a timezone guess, else the world "
                          "average.").tag(config=True)
    pue = Float(None, allow_none=True, help="Default PUE (1.0–5.0); unset = hardware tier (1.1 / 1.2 / 1.4).").tag(
        config=True)
    carbon_intensity = Float(None, allow_none=True,
                             help="Default carbon intensity in g CO₂e/kWh (0–2000); unset = region table.").tag(
        config=True)
    water_model = Enum(["paper", "li"], "paper", help="Water model: 'paper' (E × WI × overhead) or 'li' "
                       "(E_IT × (WUE_site + PUE × EWIF)).").tag(config=True)
    scope = Enum(["process", "machine"], "process",
                 help="Scope of estimated CPU/RAM energy: 'process' (this kernel and its children; right on "
                      "shared hosts) or 'machine'. Hardware counters are device-level.").tag(config=True)
    rate_hz = Float(None, allow_none=True, help="Fixed sampling rate in Hz (0.01–100); unset = adaptive 5→2→1 "
                                                "Hz.").tag(config=True)
    cpu_tdp_w = Float(None, allow_none=True,
                      help="Whole-machine CPU TDP in W (all sockets, 1–10000) for the estimate, overriding the "
                           "packaged table.").tag(config=True)
    gpu_temp_max_c = Float(80.0, help="GPU thermal flag threshold in °C (paper: 80).").tag(config=True)
    cpu_temp_max_c = Float(85.0, help="CPU thermal flag threshold in °C (paper: 85).").tag(config=True)
    idle_baseline_s = Float(120.0, help="Seconds of recent idle time between cells that the idle baseline keeps "
                                        "(0 disables it and the net-of-idle figures).").tag(config=True)
    ledger_path = Unicode(None, allow_none=True,
                          help="SQLite file of the persistent ledger; unset = .eco_magic/ledger.sqlite next to "
                               "the notebook.").tag(config=True)
    persist = Bool(True, help="Persist the ledger on disk (False: this session's memory only).").tag(config=True)
    quiet = Bool(False, help="Show nothing after measured cells (results still go to the ledger).").tag(config=True)
    dask = Enum(["off", "auto", "on"], "auto",
                help="Measure Dask workers: 'auto' (whenever a distributed.Client is active), 'on' (always try, "
                     "say when there is no client) or 'off'. --dask forces 'on' for one cell.").tag(config=True)
    dask_hosts = Dict(default_value={}, help="Per-host region/PUE for Dask workers, by host name or IP: "
                                             "{'node-17': {'region': 'FR', 'pue': 1.2}}.").tag(config=True)
    live_carbon = Unicode(None, allow_none=True,
                          help="Live grid carbon intensity for each cell's time window: 'electricitymaps' or "
                               "'watttime' (token from the environment; cached on disk; falls back to the annual "
                               "figure and says why). Unset = the packaged annual figure, no network.").tag(config=True)
    live_carbon_zone = Unicode(None, allow_none=True,
                               help="The live provider's zone name where the region does not map to one (e.g. "
                                    "'US-CAL-CISO' or a WattTime region).").tag(config=True)
    log_to = List(default_value=[], help="Experiment trackers each result is logged to: 'mlflow', 'wandb', "
                                           "'tensorboard' (or 'mlflow:RUN_ID', 'tensorboard:LOGDIR').").tag(config=True)
    what_if_regions = List(Unicode(), default_value=[],
                           help="Extra regions for the what-if view (e.g. ['FR', 'PL']).").tag(config=True)

    @validate("live_carbon")
    def _v_live(self, proposal):
        from .live_carbon import PROVIDERS, normalize_provider

        name = normalize_provider(proposal["value"])
        if name is not None and name not in PROVIDERS:
            raise TraitError(f"EcoMagics.live_carbon is 'electricitymaps', 'watttime' or None, got "
                             f"{proposal['value']!r}")
        return name

    @validate("log_to")
    def _v_log_to(self, proposal):
        from .integrations import check_targets

        try:
            return check_targets(proposal["value"])
        except ValueError as exc:
            raise TraitError(f"EcoMagics.log_to: {exc}") from None

    @validate(*opt.CONFIG_RANGES)
    def _v_range(self, proposal):
        why = opt.out_of_range(proposal["trait"].name, proposal["value"])
        if why is not None:
            raise TraitError(why)
        return proposal["value"]

    def __init__(self, shell=None, **kwargs):
        super().__init__(shell=shell, **kwargs)
        self.engine = self._new_engine()
        self._auto: dict | None = None
        self._configure_ledger()

    def _new_engine(self) -> Engine:
        return Engine(scope=self.scope, cpu_tdp_w=self.cpu_tdp_w, idle_duration_s=self.idle_baseline_s)

    # --- configuration ------------------------------------------------------------------------------------------
    def _configure_ledger(self) -> None:
        import os

        path = None
        if self.persist:
            path = self.ledger_path or os.environ.get("ECO_MAGIC_LEDGER") or default_path()
        led = current_ledger()
        if led.path is None and not len(led) and path is None:
            return
        if led.path != (None if path is None else os.fspath(path)):
            led.set_path(path)
        set_current_ledger(led)

    @observe("ledger_path", "persist")
    def _ledger_changed(self, change) -> None:
        self._configure_ledger()

    @observe("scope", "cpu_tdp_w")
    def _engine_changed(self, change) -> None:
        if "engine" not in self.__dict__:
            return
        old = self.engine
        self.engine = self._new_engine()
        api.detach(old)
        api.attach(self.engine, self.defaults)
        old.close()
        self.engine.warm_up()

    @observe("idle_baseline_s")
    def _idle_changed(self, change) -> None:
        if "engine" in self.__dict__:  # config applied during __init__: the engine reads it when created
            self.engine.set_idle_window(change["new"])

    def defaults(self) -> api.Defaults:
        """What ``%config EcoMagics.…`` sets, for the magic and for ``eco_magic.measure()`` in this kernel."""
        return api.Defaults(region=self.region, pue=self.pue, pue_origin="%config EcoMagics.pue",
                            carbon_intensity_g_per_kwh=self.carbon_intensity,
                            ci_origin="%config EcoMagics.carbon_intensity", water_model=self.water_model,
                            rate_hz=self.rate_hz, gpu_temp_max_c=self.gpu_temp_max_c,
                            cpu_temp_max_c=self.cpu_temp_max_c, dask=self.dask, dask_hosts=dict(self.dask_hosts),
                            live_carbon=self.live_carbon, live_carbon_zone=self.live_carbon_zone,
                            log_to=tuple(self.log_to))

    @property
    def ledger(self) -> Ledger:
        return current_ledger()

    # every cell, measured or not: idle time is the time between cells; automatic mode measures the cell
    def _pre_any_cell(self, info=None) -> None:
        try:
            self.engine.gap_closes()
        except Exception:  # noqa: BLE001
            pass
        if self._auto is not None:
            self._auto_pre(info)

    def _post_any_cell(self, result=None) -> None:
        if self._auto is not None:
            self._auto_post(result)
        try:
            self.engine.gap_opens()
        except Exception:  # noqa: BLE001
            pass

    # --- the magic ----------------------------------------------------------------------------------------------
    @magic_arguments()
    @argument("-l", "--label", default="", help="Name of this measurement in the ledger and the card.")
    @argument("-r", "--region", default=None,
              help="Where the energy is drawn: ISO-2/ISO-3 code, country name, US state (US-CA) or cloud region.")
    @argument("--pue", default=None, help="Power usage effectiveness (1.0–5.0) instead of the hardware tier.")
    @argument("--ci", default=None, help="Carbon intensity in g CO₂e/kWh (0–2000) instead of the region's value.")
    @argument("-p", "--params", default=None, help="Model parameter count for ESS, e.g. 7e9 or 7B.")
    @argument("--precision", default=None, help="Model precision for ESS: fp32, fp16, bf16, int8, int4, ….")
    @argument("-m", "--model", default=None,
              help="Variable holding the model, or a dotted path such as pipe.model (else found among the cell's "
                   "names).")
    @argument("-n", "--items", default=None, help="Items the cell processes (inferences, samples): per-item figures.")
    @argument("--repeat", default=None,
              help="Run the cell N times (1–10,000) and measure each run: means with standard deviation and 95 %% "
                   "confidence interval; Out[n] is the last run's value.")
    @argument("--warmup", default=None,
              help="Run the cell K times unmeasured first (model loading, caches, JIT); side effects happen K+N "
                   "times, as with %%timeit.")
    @argument("--record", default=None,
              help="Variables to keep beside the cost after each run, e.g. --record accuracy,loss (numbers only).")
    @argument("--rate", default=None, help="Fixed sampling rate in Hz (0.01–100); default adaptive 5→2→1 Hz.")
    @argument("--water-model", default=None, choices=["paper", "li"], help="Water model: paper or li.")
    @argument("--project-daily", default=None, help="Project the cell to N runs per day for a year.")
    @argument("--dask", action="store_true",
              help="Also measure every worker of the active Dask distributed.Client (per-worker breakdown).")
    @argument("-o", "--return", dest="return_result", action="store_true",
              help="Return the EcoResult (like %%timeit -o).")
    @argument("--var", default=None, help="Store the EcoResult in this user variable.")
    @argument("--force-var", action="store_true",
              help="Let --var replace a variable that holds a module or a builtin (refused otherwise).")
    @argument("-q", "--quiet", action="store_true", help="Show nothing; the result still goes to the ledger.")
    @no_var_expand
    @needs_local_scope
    @line_cell_magic
    def ecolyze(self, line: str = "", cell: str | None = None, local_ns: Any = None):
        """Measure the energy of a cell (``%%ecolyze [options]``) or a statement (``%ecolyze [options] stmt``).

        While the code runs, a background sampler reads hardware energy counters (NVML, RAPL) or, where none is
        readable, estimates from CPU time × TDP; afterwards one output shows energy, CO₂e, water, thermal state
        and ESS with units and provenance, and the result is appended to ``eco_magic.ledger()``. The code runs
        exactly as without the magic: its output, its value as ``Out[n]``, its exceptions, top-level ``await``.
        """
        __tracebackhide__ = True  # noqa: F841 - IPython leaves this frame out of the cell's traceback
        return self.job(line, cell, local_ns).run()

    def job(self, line: str, cell: str | None, local_ns: Any = None):
        """Parse and validate everything (``UsageError`` before anything runs) → a :class:`CellJob`."""
        from .magic_cell import CellJob

        if cell is None:
            option_text, code = _check(opt.split_line, line)
            if not code:
                raise UsageError("%ecolyze needs a statement to measure, e.g. %ecolyze model(x); "
                                 "use %%ecolyze for a whole cell")
        else:
            option_text, code = line, cell
        option_text = self._expand(option_text, local_ns)
        args = self._parse(option_text)
        namespace = self.shell.user_ns if cell is not None or local_ns is None else local_ns
        runs = _check(opt.count, "--repeat", args.repeat, 1) if args.repeat is not None else 1
        warmup = _check(opt.count, "--warmup", args.warmup, 0) if args.warmup is not None else 0
        record = _check(opt.record_names, args.record) if args.record is not None else ()
        var = self._var(args.var, args.force_var) if args.var is not None else None
        model_path = _check(opt.model_path, args.model) if args.model is not None else None
        project = _check(opt.project_daily, args.project_daily) if args.project_daily is not None else None
        if args.region is not None and not args.region.strip():
            raise UsageError('--region needs a value, e.g. --region FR, --region US-CA or --region aws:us-east-1')
        try:
            proto = api.measure(
                args.label or "", items=args.items, region=args.region, pue=args.pue, ci_g_per_kwh=args.ci,
                water_model=args.water_model, params=args.params, precision=args.precision, rate_hz=args.rate,
                dask="on" if args.dask else None, _engine=self.engine, _defaults=self.defaults(),
                _origins={"pue": "--pue", "ci": "--ci"},
                _find_model=None if args.params is not None else
                (lambda: _find_model(code, namespace, model_path)))
        except ValueError as exc:
            raise UsageError(str(exc)) from None

        proto._what = "cell"
        proto._shows_notes = not (args.quiet or self.quiet)

        def make(index, group):
            return proto._fresh(group=group, run_index=index)

        def show(result, handle):
            try:
                card.present(result, handle, project_daily=project, what_if_regions=self.what_if_regions)
            except Exception as exc:  # noqa: BLE001 - the display must never break the cell: one line instead
                card.cancel(handle)
                print(f"{result}  [card could not be drawn: {describe_exception(exc)}]")

        return CellJob(self, code, make=make, label=args.label or "", runs=runs, warmup=warmup, record=record,
                       var=var, quiet=args.quiet or self.quiet, return_result=args.return_result,
                       is_cell=cell is not None, namespace=namespace, show=show)

    def _expand(self, option_text: str, local_ns) -> str:
        """``{expr}`` and ``$name`` in the *options* expand as IPython expands any magic line (``--items
        {len(data)}``); the measured statement never does (the magic opts out with ``no_var_expand``)."""
        if "{" not in option_text and "$" not in option_text:
            return option_text
        from IPython.utils.text import DollarFormatter

        ns = dict(self.shell.user_ns)
        if local_ns:
            ns.update(local_ns)
        try:
            return DollarFormatter().vformat(option_text, args=[], kwargs=ns)
        except Exception:  # noqa: BLE001 - as IPython: a line that cannot be expanded is used as written
            return option_text

    def _parse(self, option_text: str):
        _check(opt.check_flags, option_text)
        try:
            args = parse_argstring(self.ecolyze, option_text)
        except UsageError:
            raise
        except (ValueError, SystemExit) as exc:  # shlex errors (unbalanced quotes) and argparse exits
            raise UsageError(f"could not read the options {option_text!r}: {exc}") from None
        for name in ("label", "region", "model", "var", "precision", "params", "pue", "ci", "items", "rate",
                     "project_daily", "repeat", "warmup", "record"):
            setattr(args, name, opt.unquote(getattr(args, name)))
        return args

    def _var(self, name: str, force: bool) -> str:
        name = _check(opt.identifier, "--var", name)
        current = self.shell.user_ns.get(name, None)
        if not force and (isinstance(current, types.ModuleType) or
                          (name not in self.shell.user_ns and hasattr(builtins, name))):
            what = "the module" if isinstance(current, types.ModuleType) else "the builtin"
            raise UsageError(f"--var {name} would replace {what} {name!r}; choose another name, or add --force-var")
        return name

    @line_magic
    def ecolyze_idle(self, line: str = ""):
        """Measure the idle baseline now: ``%ecolyze_idle [SECONDS]`` (default 3; keep the machine idle meanwhile).

        Results then show energy net of idle. Without it the baseline comes from the idle time between cells
        (the card says on how many seconds it rests); this gives a firmer one in one go.
        """
        text = line.strip() or "3"
        seconds = _check(opt.idle_seconds, text)
        idle = self.engine.measure_idle_now(seconds)
        from .display import fmt

        parts = ", ".join(f"{key} {fmt.power(w)}" for key, w in idle.items()) or "no channel gave a reading"
        print(f"idle baseline over {seconds:g} s: {parts}")

    # --- automatic mode -----------------------------------------------------------------------------------------
    @line_magic
    def ecolyze_auto(self, line: str = ""):
        """Measure every cell without writing the magic: ``%ecolyze_auto on`` / ``off`` / ``status``.

        Like ``%load_ext autotime``: each executed cell is measured with the default settings and recorded in the
        ledger, labelled by its execution count ("cell 12"). Cells that already use ``%%ecolyze`` are skipped. In a
        notebook each cell gets the card; in a terminal, one summary line.
        """
        word = line.strip().lower() or "status"
        if word not in ("on", "off", "status"):
            raise UsageError("usage: %ecolyze_auto on|off|status")
        if word == "on" and self._auto is None:
            self._auto = {"m": None}
        elif word == "off":
            self._auto_off()
        print(f"ecolyze_auto is {'on' if self._auto is not None else 'off'}")

    def _auto_off(self) -> None:
        auto, self._auto = self._auto, None
        if auto is not None and auto.get("m") is not None:
            try:
                auto["m"].stop()
            except Exception:  # noqa: BLE001
                pass

    def _auto_pre(self, info) -> None:
        raw = (getattr(info, "raw_cell", "") or "").lstrip()
        if not raw or raw.startswith("%ecoledger") or _MEASURES_ITSELF.search(raw):
            return  # a cell that measures itself (anywhere) is not measured twice
        try:
            m = api.measure(f"cell {self.shell.execution_count}", _engine=self.engine, _defaults=self.defaults())
            m.start()
            self._auto["m"] = m
        except Exception as exc:  # noqa: BLE001 - auto mode never breaks a cell
            print(f"eco_magic: automatic measurement could not start ({describe_exception(exc)})",
                  file=sys.stderr)

    def _auto_post(self, result) -> None:
        m, self._auto["m"] = self._auto.get("m"), None
        if m is None:
            return
        try:
            err = getattr(result, "error_in_exec", None) or getattr(result, "error_before_exec", None)
            res = m.stop(err)
            if res is not None and not self.quiet:
                if card.in_kernel():
                    card.present(res, None, what_if_regions=self.what_if_regions)
                else:
                    print(res)
        except Exception as exc:  # noqa: BLE001
            print(f"eco_magic: automatic measurement failed ({describe_exception(exc)})", file=sys.stderr)


_MEASURES_ITSELF = re.compile(r"^[ \t]*(%%?ecolyze\b|.*=\s*%ecolyze\b)", re.M)


def _find_model(code: str, namespace, explicit: str | None):
    """``(ModelInfo | None, note | None)`` for the cell: ``--model`` path, else the names the cell mentions."""
    from . import models

    try:  # bounded by the cell's names and a time budget; a Ctrl-C keeps what was found and says so
        found = models.detect(code, namespace, explicit=explicit)
        return found.info, found.note
    except ValueError as exc:
        return None, f"--model: {exc}" if not str(exc).startswith("--model") else str(exc)


_LOADED: dict[int, EcoMagics] = {}


def load(ipython) -> None:
    key = id(ipython)
    if key in _LOADED:
        return
    from . import ledger_magics, plan_magics
    from .magic_cell import Transformer

    _sanitize_config(ipython.config)
    magics = EcoMagics(shell=ipython)
    ipython.register_magics(magics)
    ledger_magics.register(ipython)
    plan_magics.register(ipython)
    ipython.events.register("pre_run_cell", magics._pre_any_cell)
    ipython.events.register("post_run_cell", magics._post_any_cell)
    magics._transformer = Transformer(ipython)
    ipython.input_transformers_post.append(magics._transformer)
    _LOADED[key] = magics
    api.attach(magics.engine, magics.defaults)
    magics.engine.warm_up()


def unload(ipython) -> None:
    magics = _LOADED.pop(id(ipython), None)
    if magics is None:
        return
    from . import ledger_magics, plan_magics

    magics._auto_off()
    for name, fn in (("pre_run_cell", magics._pre_any_cell), ("post_run_cell", magics._post_any_cell)):
        try:
            ipython.events.unregister(name, fn)
        except ValueError:
            pass
    try:
        ipython.input_transformers_post.remove(magics._transformer)
    except (AttributeError, ValueError):
        pass
    api.detach(magics.engine)
    magics.engine.close()
    try:  # else %config EcoMagics.… still reaches (and restarts) the unloaded instance
        ipython.configurables.remove(magics)
    except (AttributeError, ValueError):
        pass
    ledger_magics.unregister(ipython)
    plan_magics.unregister(ipython)
    magics_registry.remove(ipython, magics)
