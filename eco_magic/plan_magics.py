"""IPython glue for ``%ecoplan``: estimate a training or inference job before running it, as a card.

The model lives in :mod:`eco_magic.planner`, the option checks in :mod:`eco_magic.plan_options`, the card in
:mod:`eco_magic.plan_card`; this module parses the line and shows one bundle. No network.
"""
from __future__ import annotations

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from . import magics_registry
from . import options as opt
from . import plan_options as po
from .ledger_magics import split_line

EXAMPLE = "e.g. %ecoplan --params 30B --tokens 600B --device A100 --devices 256 --region US-CA"


@magics_class
class PlanMagics(Magics):
    """``%ecoplan``: what a training or inference job would cost, before it runs (MLCarbon's method)."""

    @magic_arguments()
    @argument("--params", default=None, help="Model parameters N, e.g. 30B, 175e9 or 350M.")
    @argument("--tokens", default=None, help="Tokens D: training tokens, or tokens processed in inference "
                                             "(e.g. 600B, 1.4T).")
    @argument("--phase", default=None, choices=["training", "inference"],
              help="training: about 6·N·D FLOPs (default); inference: about 2·N FLOPs per token.")
    @argument("--flops", default=None, help="Total FLOPs instead of the N·D rule, e.g. 3.14e23.")
    @argument("--device", default=None, help="Accelerator from the packaged table (A100, H100, V100, …; "
                                             "--list shows them): peak TFLOP/s, power, embodied carbon.")
    @argument("--devices", default=None, help="Number of accelerators (default 1).")
    @argument("--achieved-tflops", dest="achieved_tflops", default=None,
              help="Sustained TFLOP/s per device, instead of the device's peak × --efficiency.")
    @argument("--efficiency", default=None, help="Hardware efficiency: achieved ÷ dense peak, 0–1 or a "
                                                 "percentage (default 0.28, LLMCarbon's median).")
    @argument("--precision", default=None, choices=["fp64", "fp32", "tf32", "fp16", "bf16", "fp8", "int8"],
              help="Which peak of the device table to use (default bf16, else fp16).")
    @argument("--power", default=None, help="Average power per device in W (default the table's typical "
                                            "average, else its TDP).")
    @argument("--days", default=None, help="Wall time in days, overriding the one derived from FLOPs.")
    @argument("--pue", default=None, help="Power usage effectiveness 1.0–5.0 (default the datacenter-GPU tier "
                                          "1.4, or a cloud region's fleet PUE).")
    @argument("-r", "--region", default=None, help="Grid: ISO country code, US state (US-CA) or cloud region "
                                                   "(default the world average).")
    @argument("--ci", default=None, help="Carbon intensity in g CO₂e/kWh instead of the region's value.")
    @argument("--water-model", dest="water_model", default=None, choices=["paper", "li"],
              help="Water model: paper (E × WI × overhead) or li (E_IT × (WUE_site + PUE × EWIF)).")
    @argument("--lifetime", default=None, help="Years over which embodied carbon is amortised (default the "
                                               "device row's, 5).")
    @argument("-l", "--label", default=None, help="Name of the plan on its card.")
    @argument("--compare", nargs="+", default=None, metavar="NAME=V1,V2",
              help="Plans side by side: each term varies one option, plan i takes the i-th values, e.g. "
                   "--compare params=30B,100B days=30,60.")
    @argument("--list", dest="list_devices", action="store_true",
              help="Show the accelerator table (peaks, power, embodied carbon, sources) and stop.")
    @argument("-o", "--return", dest="return_plan", action="store_true",
              help="Return the Plan (or the comparison) instead of displaying it.")
    @argument("--var", default=None, help="Store the Plan (or the comparison) in this user variable.")
    @line_magic
    def ecoplan(self, line: str = ""):
        """Estimate a training or inference job before running it (MLCarbon / LLMCarbon's method).

        FLOPs ≈ 6·N·D for training (2·N per token for inference); time = FLOPs ÷ (devices × achieved FLOP/s);
        IT energy = devices × average power × time; CO₂e = energy × PUE × carbon intensity; embodied carbon =
        devices × the device's manufacturing footprint × time ÷ lifetime, shown apart. Example:
        ``%ecoplan --params 30B --tokens 600B --device A100 --devices 256 --region US-CA``; side by side:
        ``%ecoplan --tokens 600B --device A100 --devices 256 --compare params=30B,100B days=30,60``. The same
        model is ``eco_magic.plan(...)``; a measured cell scales with ``result.scale_to(items=N)``.
        """
        args = self._parse(line)
        if args.list_devices:
            from .plan_card import accelerators_bundle

            return _display(accelerators_bundle())
        var = _check(opt.identifier, "--var", opt.unquote(args.var)) if args.var is not None else None
        base = {k: opt.unquote(getattr(args, k)) for k in po.COMPARABLE.values()}
        if args.compare:
            from .planner import compare

            variants = _check(po.parse_compare, [opt.unquote(t) for t in args.compare])
            plans = []
            for over in variants:
                label = ", ".join(f"{k.replace('_', '-')}={v}" for k, v in over.items()
                                  if len({o[k] for o in variants}) > 1)
                plans.append(self._plan({**base, **over}, label))
            result = compare(plans)
        else:
            result = self._plan(base, opt.unquote(args.label) or "")
        if var:
            self.shell.user_ns[var] = result
        if args.return_plan:
            return result
        _display(result._repr_mimebundle_())
        return None

    def _parse(self, line: str):
        try:
            return self.ecoplan.parser.parse_args(split_line(line))  # quotes removed: --phase 'inference'
        except UsageError as exc:
            raise UsageError(f"{exc}; {EXAMPLE}") from None
        except (ValueError, SystemExit) as exc:  # shlex errors (unbalanced quotes), argparse exits
            raise UsageError(f"could not read {line!r}: {exc}; {EXAMPLE}") from None

    @staticmethod
    def _plan(values: dict, label: str):
        """One plan from option strings (validated here, one-line UsageError on a bad value)."""
        from .planner import plan

        def get(name, fn, *extra):
            text = values.get(name)
            return None if text is None else _check(fn, f"--{name.replace('_', '-')}", text, *extra)

        kwargs = dict(
            params=get("params", po.amount, 1e16), tokens=get("tokens", po.amount), flops=get("flops", po.amount),
            devices=get("devices", po.whole) or 1, achieved_tflops=get("achieved_tflops", po.amount, 1e6),
            hardware_efficiency=get("efficiency", po.fraction), power_w=get("power", po.amount, 1e6),
            days=get("days", po.amount, 36500.0), pue=get("pue", po.number, 1.0, 5.0),
            ci_g_per_kwh=get("ci", po.number, 0.0, 2000.0), lifetime_years=get("lifetime", po.amount, 100.0))
        phase, precision, water = values.get("phase"), values.get("precision"), values.get("water_model")
        for name, value, allowed in (("phase", phase, ("training", "inference")),
                                     ("precision", precision, ("fp64", "fp32", "tf32", "fp16", "bf16", "fp8", "int8")),
                                     ("water-model", water, ("paper", "li"))):
            if value is not None and value not in allowed:
                raise UsageError(f"--{name} must be one of {', '.join(allowed)}, got {value!r}")
        if values.get("region") is not None and not str(values["region"]).strip():
            raise UsageError("--region needs a value, e.g. --region FR, --region US-CA or --region aws:us-east-1")
        try:
            return plan(**kwargs, phase=phase or "training", device=values.get("device"), precision=precision,
                        region=values.get("region"), water_model=water or "paper", label=label)
        except ValueError as exc:  # unknown device or region, missing inputs: one line
            raise UsageError(f"{exc}; {EXAMPLE}" if "cannot derive" in str(exc) else str(exc)) from None


def _check(fn, *args):
    try:
        return fn(*args)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _display(bundle: dict) -> None:
    from IPython.display import display

    display(bundle, raw=True)


_REGISTERED: dict[int, PlanMagics] = {}


def register(ipython) -> None:
    """Add ``%ecoplan`` to ``ipython`` (idempotent)."""
    magics_registry.register(ipython, PlanMagics, _REGISTERED)


def unregister(ipython) -> None:
    """Remove ``%ecoplan`` from ``ipython`` again (no-op when it was not registered)."""
    magics_registry.unregister(ipython, _REGISTERED)
