"""IPython glue: ``%%ecolyze`` / ``%ecolyze``. Parse options → sample around the cell → account → ledger → display.

Everything that can be tested without IPython lives elsewhere (options, engine, assemble, accounting, result).
"""
from __future__ import annotations

import ast
import os
import sys
import time
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class, needs_local_scope
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import Bool, Dict, Enum, Float, List, Unicode, observe

from . import options as opt
from .assemble import Settings, build_result
from .display import card
from .engine import Engine
from .session_ledger import Ledger, current_ledger, default_path, set_current_ledger


def _check(fn, *args):
    """Run a validator; its ValueError becomes the UsageError IPython shows without a traceback."""
    try:
        return fn(*args)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


@magics_class
class EcoMagics(Magics):
    """Measure the energy, CO₂, water, thermal state and ESS of notebook cells."""

    region = Unicode(None, allow_none=True,
                     help="Default region (ISO-2/ISO-3 code, country name, US state 'US-CA' or cloud region "
                          "'aws:us-east-1'). Else $ECO_MAGIC_REGION, else a timezone guess, else the world "
                          "average.").tag(config=True)
    pue = Float(None, allow_none=True, help="Default PUE; unset = hardware tier (1.1 / 1.2 / 1.4).").tag(config=True)
    carbon_intensity = Float(None, allow_none=True,
                             help="Default carbon intensity in g CO₂e/kWh; unset = region table.").tag(config=True)
    water_model = Enum(["paper", "li"], "paper", help="Water model: 'paper' (E × WI × overhead) or 'li' "
                       "(E_IT × (WUE_site + PUE × EWIF)).").tag(config=True)
    scope = Enum(["process", "machine"], "process",
                 help="Scope of estimated CPU/RAM energy: 'process' (this kernel and its children; right on "
                      "shared hosts) or 'machine'. Hardware counters are device-level.").tag(config=True)
    rate_hz = Float(None, allow_none=True, help="Fixed sampling rate in Hz; unset = adaptive 5→2→1 Hz.").tag(
        config=True)
    cpu_tdp_w = Float(None, allow_none=True,
                      help="Whole-machine CPU TDP in W (all sockets) for the estimate, overriding the packaged "
                           "table.").tag(config=True)
    gpu_temp_max_c = Float(80.0, help="GPU thermal flag threshold in °C (paper: 80).").tag(config=True)
    cpu_temp_max_c = Float(85.0, help="CPU thermal flag threshold in °C (paper: 85).").tag(config=True)
    idle_baseline_s = Float(3.0, help="Seconds of idle baseline measured in the background after loading "
                                      "(0 disables).").tag(config=True)
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
    what_if_regions = List(Unicode(), default_value=[],
                           help="Extra regions for the what-if view (e.g. ['FR', 'PL']).").tag(config=True)

    def __init__(self, shell=None, **kwargs):
        super().__init__(shell=shell, **kwargs)
        self.engine = Engine(scope=self.scope, cpu_tdp_w=self.cpu_tdp_w, idle_duration_s=self.idle_baseline_s)
        self._hints_shown = False
        self._auto: dict | None = None
        self._configure_ledger()

    # --- configuration ------------------------------------------------------------------------------------------
    def _configure_ledger(self) -> None:
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
        self.engine.close()
        self.engine = Engine(scope=self.scope, cpu_tdp_w=self.cpu_tdp_w, idle_duration_s=self.idle_baseline_s)
        self.engine.warm_up()

    @observe("idle_baseline_s")
    def _idle_changed(self, change) -> None:
        if "engine" not in self.__dict__:  # config applied during __init__: the engine reads it when created
            return
        self.engine.idle_duration_s = max(0.0, float(change["new"] or 0.0))
        if self.engine.idle_duration_s == 0:
            self.engine.cancel_idle_baseline()

    # every cell, measured or not: keep the idle baseline off busy periods
    def _pre_any_cell(self, info=None) -> None:
        try:
            self.engine.pause_for_cell()
        except Exception:  # noqa: BLE001
            pass

    def _post_any_cell(self, result=None) -> None:
        try:
            self.engine.after_cell()
        except Exception:  # noqa: BLE001
            pass

    @property
    def ledger(self) -> Ledger:
        return current_ledger()

    # --- the magic ----------------------------------------------------------------------------------------------
    @magic_arguments()
    @argument("-l", "--label", default="", help="Name of this measurement in the ledger and the card.")
    @argument("-r", "--region", default=None,
              help="Where the energy is drawn: ISO-2/ISO-3 code, country name, US state (US-CA) or cloud region.")
    @argument("--pue", default=None, help="Power usage effectiveness (1.0–5.0) instead of the hardware tier.")
    @argument("--ci", default=None, help="Carbon intensity in g CO₂e/kWh instead of the region's value.")
    @argument("-p", "--params", default=None, help="Model parameter count for ESS, e.g. 7e9 or 7B.")
    @argument("--precision", default=None, help="Model precision for ESS: fp32, fp16, bf16, int8, int4, ….")
    @argument("-m", "--model", default=None, help="Variable holding the model (else found among the cell's names).")
    @argument("-n", "--items", default=None, help="Items the cell processes (inferences, samples): per-item figures.")
    @argument("--rate", default=None, help="Fixed sampling rate in Hz (up to 100); default adaptive 5→2→1 Hz.")
    @argument("--water-model", default=None, choices=["paper", "li"], help="Water model: paper or li.")
    @argument("--project-daily", default=None, help="Project the cell to N runs per day for a year.")
    @argument("--dask", action="store_true",
              help="Also measure every worker of the active Dask distributed.Client (per-worker breakdown).")
    @argument("-o", "--return", dest="return_result", action="store_true",
              help="Return the EcoResult (like %%timeit -o).")
    @argument("--var", default=None, help="Store the EcoResult in this user variable.")
    @argument("-q", "--quiet", action="store_true", help="Show nothing; the result still goes to the ledger.")
    @needs_local_scope
    @line_cell_magic
    def ecolyze(self, line: str = "", cell: str | None = None, local_ns: Any = None):
        """Measure the energy of a cell (``%%ecolyze [options]``) or a statement (``%ecolyze [options] stmt``).

        While the code runs, a background sampler reads hardware energy counters (NVML, RAPL) or, where none is
        readable, estimates from CPU time × TDP; afterwards one output shows energy, CO₂e, water, thermal state
        and ESS with units and provenance, and the result is appended to ``eco_magic.ledger()``. The code runs
        exactly as without the magic: its output, its value as ``Out[n]``, its exceptions.
        """
        __tracebackhide__ = True  # noqa: F841 - IPython leaves this frame out of the cell's traceback
        if cell is None:
            option_text, code = _check(opt.split_line, line)
            if not code:
                raise UsageError("%ecolyze needs a statement to measure, e.g. %ecolyze model(x); "
                                 "use %%ecolyze for a whole cell")
        else:
            option_text, code = line, cell
        args = self._parse(option_text)
        settings, run = self._settings(args)
        region = self._region(args.region)
        namespace = self.shell.user_ns if cell is not None or local_ns is None else local_ns
        return self._measure(code, args, settings, region, run, namespace, is_cell=cell is not None)

    def _parse(self, option_text: str):
        try:
            args = parse_argstring(self.ecolyze, option_text)
            for name in ("label", "region", "model", "var", "precision", "params", "pue", "ci", "items", "rate",
                         "project_daily"):
                setattr(args, name, opt.unquote(getattr(args, name)))
            return args
        except UsageError:
            raise
        except (ValueError, SystemExit) as exc:  # shlex errors (unbalanced quotes) and argparse exits
            raise UsageError(f"could not read the options {option_text!r}: {exc}") from None

    def _settings(self, args) -> tuple[Settings, dict]:
        pue_value, pue_origin = self.pue, "%config EcoMagics.pue"
        if args.pue is not None:
            pue_value, pue_origin = _check(opt.pue, args.pue), "--pue"
        ci_value, ci_origin = self.carbon_intensity, "%config EcoMagics.carbon_intensity"
        if args.ci is not None:
            ci_value, ci_origin = _check(opt.carbon_intensity, args.ci), "--ci"
        settings = Settings(
            label=args.label or "", pue=pue_value, pue_origin=pue_origin, carbon_intensity_g_per_kwh=ci_value,
            ci_origin=ci_origin, water_model=args.water_model or self.water_model,
            items=_check(opt.items, args.items) if args.items is not None else None,
            gpu_temp_max_c=self.gpu_temp_max_c, cpu_temp_max_c=self.cpu_temp_max_c)
        run = {
            "rate_hz": _check(opt.rate_hz, args.rate) if args.rate is not None else self.rate_hz,
            "params": _check(opt.params, args.params) if args.params is not None else None,
            "precision": self._precision(args.precision),
            "model": _check(opt.identifier, "--model", args.model) if args.model is not None else None,
            "var": _check(opt.identifier, "--var", args.var) if args.var is not None else None,
            "project_daily": (_check(opt.project_daily, args.project_daily)
                              if args.project_daily is not None else None),
        }
        return settings, run

    @staticmethod
    def _precision(text: str | None) -> str | None:
        if text is None:
            return None
        from .models import normalise_precision

        return _check(normalise_precision, text)

    def _region(self, explicit: str | None):
        from . import regions

        if explicit is not None and not explicit.strip():
            raise UsageError('--region needs a value, e.g. --region FR, --region US-CA or --region aws:us-east-1')
        try:
            return regions.resolve(explicit=explicit, configured=self.region)
        except regions.UnknownRegionError as exc:
            raise UsageError(str(exc)) from None

    def _model(self, code: str, run: dict, namespace):
        """``(ModelInfo or None, note or None)``: --params/--precision, else the model the cell refers to."""
        from . import models

        if run["params"] is not None:
            return models.from_user_args(run["params"], run["precision"] or "fp32"), None
        try:
            info = models.find_in_namespace(code, namespace, explicit=run["model"])
        except ValueError as exc:
            return None, f"--model: {exc}"
        except Exception as exc:  # noqa: BLE001 - detection must never fail the cell
            return None, f"model detection failed ({type(exc).__name__}: {exc})"
        if info is not None and run["precision"] is not None:
            import dataclasses

            forced = models.from_user_args(info.n_params, run["precision"])
            info = dataclasses.replace(forced, variable=info.variable,
                                       source=f"{info.source}; precision from --precision")
        return info, None

    # --- running the code ---------------------------------------------------------------------------------------
    def _compile(self, code: str):
        """Compile like ``%%time``: all statements, then the last expression separately (it becomes Out[n])."""
        shell = self.shell
        source = shell.transform_cell(code)
        running = getattr(shell.displayhook, "exec_result", None)  # the cell being run: tracebacks say In[n]
        filename = shell.compile.cache(source, getattr(running, "execution_count", None) or shell.execution_count)
        tree = shell.transform_ast(shell.compile.ast_parse(source, filename=filename))
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = shell.compile(ast.Expression(tree.body.pop().value), filename, "eval")
        body = shell.compile(ast.Module(tree.body, type_ignores=[]), filename, "exec")
        quiet = shell.displayhook.semicolon_at_end_of_expression(source)
        return body, last, quiet

    def _measure(self, code, args, settings: Settings, region, run: dict, namespace, is_cell: bool):
        __tracebackhide__ = True  # noqa: F841 - IPython leaves this frame out of the cell's traceback
        body, last, suppress = self._compile(code)  # a SyntaxError is raised before anything is measured
        glob = self.shell.user_global_ns
        cluster_run = None
        try:
            engine = self.engine
            engine.before_cell()
            cluster_run = self._cluster_start("on" if args.dask else self.dask, run["rate_hz"])
            sampler = engine.sampler(run["rate_hz"])
            sampler.start()
        except Exception as exc:  # noqa: BLE001 - the cell comes first: run it unmeasured, say why in one line
            print(f"eco_magic could not measure this cell ({type(exc).__name__}: {exc}); it ran unmeasured.",
                  file=sys.stderr)
            from . import cluster

            cluster.stop_cell(cluster_run)
            exec(body, glob, namespace)
            value = eval(last, glob, namespace) if last is not None else None
            return None if suppress else value
        status, error, value, pending = "ok", None, None, None
        quiet = args.quiet or self.quiet
        handle = None if quiet else self._begin(settings.label, sampler)
        try:
            exec(body, glob, namespace)
            if last is not None:
                value = eval(last, glob, namespace)
        except KeyboardInterrupt as exc:
            status, error, pending = "interrupted", "KeyboardInterrupt", exc
        except SystemExit as exc:
            status, error, pending = "error", f"SystemExit({exc.code!r})", exc
        except BaseException as exc:  # noqa: BLE001 - recorded, then re-raised unchanged
            status, error, pending = "error", f"{type(exc).__name__}: {exc}", exc
        finally:
            from . import cluster

            try:
                measurement = sampler.stop()
            except KeyboardInterrupt as exc:  # Ctrl-C while stop() waited for CUDA: the sampler has finished
                measurement = sampler.measurement
                if measurement is None:
                    cluster.stop_cell(cluster_run)
                    raise
                if pending is None:
                    status, error, pending = "interrupted", "KeyboardInterrupt", exc
            cluster_measurement = cluster.stop_cell(cluster_run)
        model, model_note = self._model(code, run, namespace)  # after the cell: it may create the model
        try:
            result = self._finish(measurement, region, settings, status, error, model,
                                  [model_note] if model_note else [], cluster=cluster_measurement)
        except Exception as exc:  # noqa: BLE001 - a bug in eco_magic must not change the cell's outcome
            card.cancel(handle)
            print(f"eco_magic could not record this cell ({type(exc).__name__}: {exc}); the cell itself ran "
                  "as usual.", file=sys.stderr)
            result = None
        except BaseException:
            card.cancel(handle)
            raise
        if result is not None and run["var"]:
            self.shell.user_ns[run["var"]] = result
        # a cell magic with -o returns the result as Out[n], which displays it: show it once, not twice
        if result is not None and not quiet and not (args.return_result and is_cell):
            self._present(result, handle, run)
        else:
            card.cancel(handle)
        if pending is not None:
            raise pending.with_traceback(pending.__traceback__)
        if args.return_result:
            return result
        return None if suppress else value

    @line_magic
    def ecolyze_idle(self, line: str = ""):
        """Measure the idle baseline now: ``%ecolyze_idle [SECONDS]`` (default 3; keep the machine idle meanwhile).

        Results then show energy net of idle. A baseline is also measured in the background after loading, but a
        cell that starts meanwhile interrupts it (it must see an idle machine), so under "Run All" use this.
        """
        text = line.strip() or "3"
        seconds = _check(opt.positive_float, "%ecolyze_idle SECONDS", text, 600.0)
        idle = self.engine.measure_idle_now(seconds)
        from .display import fmt

        parts = ", ".join(f"{key} {fmt.power(w)}" for key, w in idle.items()) or "no channel gave a reading"
        print(f"idle baseline over {seconds:g} s: {parts}")

    # --- automatic mode -----------------------------------------------------------------------------------------
    @line_magic
    def ecolyze_auto(self, line: str = ""):
        """Measure every cell without writing the magic: ``%ecolyze_auto on`` / ``off`` / ``status``.

        Like ``%load_ext autotime``: each executed cell is measured with the default settings and recorded in the
        ledger, labelled by its execution count ("cell 12"). Cells that already use ``%%ecolyze`` are skipped.
        """
        word = line.strip().lower() or "status"
        if word not in ("on", "off", "status"):
            raise UsageError("usage: %ecolyze_auto on|off|status")
        if word == "on":
            self._auto_on()
        elif word == "off":
            self._auto_off()
        print(f"ecolyze_auto is {'on' if self._auto is not None else 'off'}")

    def _auto_on(self) -> None:
        if self._auto is None:
            self._auto = {"sampler": None}
            self.shell.events.register("pre_run_cell", self._auto_pre)
            self.shell.events.register("post_run_cell", self._auto_post)

    def _auto_off(self) -> None:
        if self._auto is not None:
            for name, fn in (("pre_run_cell", self._auto_pre), ("post_run_cell", self._auto_post)):
                try:
                    self.shell.events.unregister(name, fn)
                except ValueError:
                    pass
            sampler = self._auto.get("sampler")
            self._auto = None
            if sampler is not None:
                sampler.stop()

    def _auto_pre(self, info) -> None:
        raw = (getattr(info, "raw_cell", "") or "").lstrip()
        if self._auto is None or raw.startswith(("%%ecolyze", "%ecolyze", "%ecoledger")) or not raw:
            return
        try:
            self.engine.before_cell()
            self._auto["cluster"] = self._cluster_start(self.dask, self.rate_hz)
            sampler = self.engine.sampler(self.rate_hz)
            sampler.start()
            self._auto["sampler"] = sampler
        except Exception:  # noqa: BLE001 - auto mode never breaks a cell
            from . import cluster

            cluster.stop_cell(self._auto.pop("cluster", None))
            self._auto["sampler"] = None

    def _auto_post(self, result) -> None:
        if self._auto is None or self._auto.get("sampler") is None:
            return
        sampler, self._auto["sampler"] = self._auto["sampler"], None
        try:
            measurement = sampler.stop()
            from . import cluster

            cluster_measurement = cluster.stop_cell(self._auto.pop("cluster", None))
            err = result.error_in_exec or result.error_before_exec
            status = "ok" if err is None else "interrupted" if isinstance(err, KeyboardInterrupt) else "error"
            error = None if err is None else f"{type(err).__name__}: {err}"
            count = getattr(result.info, "cell_id", None) and result.execution_count or result.execution_count
            settings = Settings(label=f"cell {count}", pue=self.pue, pue_origin="%config EcoMagics.pue",
                                carbon_intensity_g_per_kwh=self.carbon_intensity,
                                ci_origin="%config EcoMagics.carbon_intensity", water_model=self.water_model,
                                gpu_temp_max_c=self.gpu_temp_max_c, cpu_temp_max_c=self.cpu_temp_max_c)
            res = self._finish(measurement, self._region(None), settings, status, error, None,
                               cluster=cluster_measurement)
            if not self.quiet:
                card.present(res, None, what_if_regions=self.what_if_regions)
        except Exception as exc:  # noqa: BLE001
            print(f"eco_magic: automatic measurement failed ({type(exc).__name__}: {exc})", file=sys.stderr)

    def _begin(self, label: str, sampler):
        try:
            return card.begin(label, sampler, [s.info for s in self.engine.sensors])
        except Exception:  # noqa: BLE001 - the display must never break the cell
            return None

    def _present(self, result, handle, run: dict) -> None:
        try:
            card.present(result, handle, project_daily=run["project_daily"], what_if_regions=self.what_if_regions)
        except Exception as exc:  # noqa: BLE001 - the display must never break the cell: fall back to one line
            card.cancel(handle)
            print(f"{result}  [card could not be drawn: {type(exc).__name__}: {exc}]")

    def _cluster_start(self, mode, rate_hz):
        from . import cluster

        return cluster.start_cell(mode, scope=self.scope, rate_hz=rate_hz, cpu_tdp_w=self.cpu_tdp_w,
                                  hosts=self.dask_hosts)

    def _finish(self, measurement, region, settings, status, error, model, extra_notes=(), cluster=None):
        notes = list(extra_notes)
        if not self._hints_shown:
            notes.extend(str(n) for n in self.engine.discovery().notes if n.hint)
            self._hints_shown = True
        idle = self.engine.idle_power_w()
        result = build_result(measurement, region, settings, status=status, error=error, model=model,
                              idle_power_w=idle, notes=notes, cluster=cluster)
        led = self.ledger
        led.append(result)
        if led.note:
            result = _with_note(result, led.note)
            led.note = None
        return result


def _with_note(result, note: str):
    import dataclasses

    return dataclasses.replace(result, notes=result.notes + (note,))


_LOADED: dict[int, EcoMagics] = {}


def load(ipython) -> None:
    key = id(ipython)
    if key in _LOADED:
        return
    from . import ledger_magics, plan_magics

    magics = EcoMagics(shell=ipython)
    ipython.register_magics(magics)
    ledger_magics.register(ipython)
    plan_magics.register(ipython)
    ipython.events.register("pre_run_cell", magics._pre_any_cell)
    ipython.events.register("post_run_cell", magics._post_any_cell)
    _LOADED[key] = magics
    magics.engine.warm_up()
    if getattr(ipython, "kernel", None) is not None:  # a notebook: pre-import matplotlib for the first plot
        from .display import plot

        plot.warm_up()


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
    magics.engine.close()
    try:  # else %config EcoMagics.… still reaches (and restarts) the unloaded instance
        ipython.configurables.remove(magics)
    except (AttributeError, ValueError):
        pass
    ledger_magics.unregister(ipython)
    plan_magics.unregister(ipython)
    mm = ipython.magics_manager
    for kind in ("line", "cell"):
        for name in list(magics.magics.get(kind, {})):
            mm.magics[kind].pop(name, None)
    mm.registry.pop(type(magics).__name__, None)
