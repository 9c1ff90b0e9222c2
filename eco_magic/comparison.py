"""Comparing groups of measured cells: each group's mean with its interval, each against a baseline with a verdict.

Pure (no pandas until :meth:`Comparison.to_frame`): ledger records (the dicts of ``Ledger.records``) in, a
:class:`Comparison` out. Rows are grouped by a field (``label`` by default): every row of a label forms its sample,
so the runs of a ``--repeat`` group and cells measured again under the same label pool together. Only finished
runs (status "ok") count; failed or interrupted ones are left out and counted in a note.

The statistics (:mod:`eco_magic.stats`): each group's mean with its Student t interval; each group against the
baseline as the ratio of means with a Welch interval on the log ratio (delta-method standard error, Welch–
Satterthwaite df). A difference is called "higher" or "lower" only when the whole interval lies beyond a threshold:
the larger of the noise threshold (±2 %, as criterion.rs) and what the sensors resolve (the rows'
``energy_resolution_j``, converted to the metric). Groups with fewer than two runs (or a baseline with fewer) are
"too few runs": their point ratio is shown, never a verdict.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Mapping, Sequence

from . import stats
from .stats import RatioInterval, Summary

NONE_GROUP = "(none)"
BASELINE = "baseline"
TOO_FEW = "too few runs"
VERDICTS = (stats.LOWER, stats.HIGHER, stats.SAME, BASELINE, TOO_FEW)
#: More comparisons than this against one baseline get a multiple-comparisons note.
MANY_COMPARISONS = 5
#: Names of recorded quality variables for which lower is better (when not said explicitly).
_LOWER_IS_BETTER_HINTS = ("loss", "err", "perplexity", "ppl", "mse", "mae", "rmse", "wer", "cer", "latency")

METHOD = ("means with Student t 95 % intervals; ratio to the baseline = ratio of means, interval by Welch's t on "
          "the log ratio (delta-method standard error, Welch–Satterthwaite df); assumes independent runs, roughly "
          "normal means and positive values. A difference counts only when the whole interval lies beyond the "
          "noise threshold and what the sensors resolve.")


@dataclass(frozen=True)
class Metric:
    """A figure groups can be compared on.

    ``field`` is the record key (SI unit ``unit``); ``units`` the display ladder (factor, name). ``scales_with_energy``:
    the sensors' energy resolution applies proportionally (energy, CO₂e, water, per-token/item figures, ESS).
    ``more`` / ``less`` / ``times`` are the verdict sentences ({g} group, {b} baseline, {p} percent, {r} ratio).
    """

    name: str
    field: str
    title: str
    unit: str
    units: tuple[tuple[float, str], ...]
    more: str
    less: str
    times: str
    noun: str
    higher_is_better: bool = False
    scales_with_energy: bool = True


_ENERGY_UNITS = ((3.6e6, "kWh"), (3600.0, "Wh"), (1.0, "J"), (1e-3, "mJ"), (1e-6, "µJ"))
_MASS_UNITS = ((1000.0, "kg"), (1.0, "g"), (1e-3, "mg"), (1e-6, "µg"))

METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("energy", "energy_j", "Energy", "J", _ENERGY_UNITS, "{g} uses {p} more energy than {b}",
           "{g} uses {p} less energy than {b}", "{g} uses {r} the energy of {b}", "energy"),
    Metric("co2", "co2_g", "CO₂e", "g", _MASS_UNITS, "{g} emits {p} more CO₂e than {b}",
           "{g} emits {p} less CO₂e than {b}", "{g} emits {r} the CO₂e of {b}", "CO₂e"),
    Metric("water", "water_l", "Water", "L", ((1.0, "L"), (1e-3, "mL"), (1e-6, "µL"), (1e-9, "nL")),
           "{g} uses {p} more water than {b}", "{g} uses {p} less water than {b}", "{g} uses {r} the water of {b}",
           "water"),
    Metric("ess", "ess", "ESS", "M params/g CO₂e", ((1.0, "M params/g CO₂e"),),
           "{g} scores {p} higher on ESS than {b}", "{g} scores {p} lower on ESS than {b}",
           "{g} scores {r} the ESS of {b}", "ESS", higher_is_better=True),
    Metric("duration", "duration_s", "Duration", "s", ((3600.0, "h"), (60.0, "min"), (1.0, "s"), (1e-3, "ms")),
           "{g} takes {p} longer than {b}", "{g} takes {p} less time than {b}", "{g} takes {r} as long as {b}",
           "duration", scales_with_energy=False),
    Metric("energy_per_token", "energy_per_token_j", "Energy per token", "J", _ENERGY_UNITS,
           "{g} uses {p} more energy per token than {b}", "{g} uses {p} less energy per token than {b}",
           "{g} uses {r} the energy per token of {b}", "energy per token"),
    Metric("energy_per_item", "energy_per_item_j", "Energy per item", "J", _ENERGY_UNITS,
           "{g} uses {p} more energy per item than {b}", "{g} uses {p} less energy per item than {b}",
           "{g} uses {r} the energy per item of {b}", "energy per item"),
    Metric("embodied", "embodied_co2_g", "Embodied CO₂e", "g", _MASS_UNITS,
           "{g} carries {p} more embodied CO₂e than {b}", "{g} carries {p} less embodied CO₂e than {b}",
           "{g} carries {r} the embodied CO₂e of {b}", "embodied CO₂e", scales_with_energy=False),
)}


@dataclass(frozen=True)
class Group:
    """One group of runs: its sample of the metric, and how it compares with the baseline.

    ``summary`` is ``None`` when no run has a value. ``resolution`` is the largest resolution of its runs in the
    metric's unit (0 when unknown or not applicable). ``ratio`` is ``None`` for the baseline or when there is
    nothing to divide. ``threshold`` is the relative threshold the verdict used (fraction).
    """

    group: str
    n_rows: int
    summary: Summary | None
    resolution: float
    is_baseline: bool
    verdict: str
    statement: str
    ratio: RatioInterval | None = None
    threshold: float | None = None
    first_started: str | None = None
    last_started: str | None = None
    quality: Summary | None = None
    retention: RatioInterval | None = None
    pareto: bool | None = None

    @property
    def n(self) -> int:
        return 0 if self.summary is None else self.summary.n


@dataclass(frozen=True)
class Comparison:
    """The groups of a comparison, in first-seen order, and everything needed to say how they were compared."""

    groups: tuple[Group, ...]
    metric: Metric
    by: str
    baseline: str | None
    confidence: float
    noise: float
    n_records: int
    quality: str | None = None
    quality_higher_is_better: bool = True
    notes: tuple[str, ...] = ()
    method: str = METHOD

    def group(self, name: str) -> Group:
        return next(g for g in self.groups if g.group == name)

    @property
    def statements(self) -> list[str]:
        return [g.statement for g in self.groups]

    def to_frame(self):
        """A pandas DataFrame, one row per group; ``attrs`` hold metric, unit, baseline, confidence, notes."""
        import pandas as pd

        rows = []
        for g in self.groups:
            s, r = g.summary, g.ratio
            row: dict[str, Any] = {
                "group": g.group, "n": g.n, "mean": s.mean if s else None, "std": s.std if s else None,
                "ci_low": s.ci_low if s else None, "ci_high": s.ci_high if s else None, "unit": self.metric.unit,
                "ratio": r.ratio if r else (1.0 if g.is_baseline and s else None),
                "ratio_ci_low": r.low if r else None, "ratio_ci_high": r.high if r else None,
                "verdict": g.verdict, "statement": g.statement,
                "threshold_pct": None if g.threshold is None else 100.0 * g.threshold,
                "resolution": g.resolution, "rows": g.n_rows,
                "first_run": g.first_started, "last_run": g.last_started}
            if self.quality is not None:
                q, t = g.quality, g.retention
                row.update({
                    "quality": self.quality, "quality_n": q.n if q else 0, "quality_mean": q.mean if q else None,
                    "quality_ci_low": q.ci_low if q else None, "quality_ci_high": q.ci_high if q else None,
                    "retention": t.ratio if t else (1.0 if g.is_baseline and q else None),
                    "retention_ci_low": t.low if t else None, "retention_ci_high": t.high if t else None,
                    "pareto": g.pareto})
            rows.append(row)
        df = pd.DataFrame(rows, columns=list(rows[0]) if rows else ["group", "n", "mean", "ci_low", "ci_high",
                                                                     "ratio", "ratio_ci_low", "ratio_ci_high",
                                                                     "verdict"])
        df.attrs.update(metric=self.metric.name, field=self.metric.field, unit=self.metric.unit, by=self.by,
                        baseline=self.baseline, confidence=self.confidence, noise_threshold=self.noise,
                        quality=self.quality, notes=list(self.notes), method=self.method)
        return df


# --- building ----------------------------------------------------------------------------------------------------
def get_metric(name: str) -> Metric:
    """The :class:`Metric` called ``name``; ``ValueError`` naming the choices otherwise."""
    try:
        return METRICS[name]
    except KeyError:
        raise ValueError(f"unknown metric {name!r}: use one of {', '.join(METRICS)}") from None


def group_key(value: Any) -> str:
    """The text a field value groups under: ``None``/empty → "(none)", 16.0 → "16"."""
    if value is None or value == "":
        return NONE_GROUP
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def recorded_value(record: Mapping[str, Any], name: str) -> float | None:
    """A ``--record``-ed variable of a row: under ``recorded`` (records()) or as a column of that name."""
    rec = record.get("recorded")
    if isinstance(rec, Mapping) and name in rec:
        return _num(rec[name])
    return _num(record.get(name))


def recorded_names(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every variable recorded with ``--record`` in ``records`` (first-seen order)."""
    names: dict[str, None] = {}
    for r in records:
        rec = r.get("recorded")
        if isinstance(rec, Mapping):
            names.update((k, None) for k, v in rec.items() if _num(v) is not None)
    return list(names)


def resolution_of(record: Mapping[str, Any], m: Metric) -> float:
    """What the sensors resolve for this row's value of ``m`` (its unit): the energy resolution, converted."""
    if not m.scales_with_energy:
        return 0.0
    value, energy, res = _num(record.get(m.field)), _num(record.get("energy_j")), _num(
        record.get("energy_resolution_j"))
    if value is None or energy is None or res is None or energy <= 0 or res <= 0:
        return 0.0
    return abs(value) * res / energy  # every energy-derived figure is proportional to the energy


def quality_lower_is_better(name: str) -> bool:
    low = name.casefold()
    return any(h in low for h in _LOWER_IS_BETTER_HINTS)


def compare(records: Sequence[Mapping[str, Any]], metric: str = "energy", by: str = "label",
            baseline: str | None = None, quality: str | None = None, *, confidence: float = 0.95,
            noise: float = stats.NOISE_THRESHOLD, quality_higher_is_better: bool | None = None) -> Comparison:
    """Compare the groups of ``records`` (grouped by the field ``by``) on ``metric`` against ``baseline``.

    ``baseline`` is a group name (exact, else case-insensitive; default: the first group with a value).
    ``quality`` names a ``--record``-ed variable shown next to the cost (retention vs the baseline, Pareto front);
    whether higher quality is better is guessed from the name (loss, error, perplexity… are lower-is-better)
    unless ``quality_higher_is_better`` says so. Raises ``ValueError`` for an unknown metric, a field or quality
    no record has, or a baseline that is not a group.
    """
    m = get_metric(metric)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1 (e.g. 0.95), not {confidence!r}")
    if noise < 0:
        raise ValueError("the noise threshold is a fraction ≥ 0 (0.02 is ±2 %)")
    if quality_higher_is_better is None:
        quality_higher_is_better = not (quality and quality_lower_is_better(quality))
    if not records:
        return Comparison((), m, by, None, confidence, noise, 0, quality, quality_higher_is_better)
    if not any(r.get(by) not in (None, "") for r in records):
        raise ValueError(f"no cell has a value for {by!r} to group by; try label, group, precision, region, "
                         "status, session_id or notebook")
    if quality is not None and not any(recorded_value(r, quality) is not None for r in records):
        known = recorded_names(records)
        hint = f"recorded: {', '.join(known)}" if known else "record it with %%ecolyze --record " + quality
        raise ValueError(f"no cell recorded a number for {quality!r} ({hint})")
    buckets: dict[str, list[Mapping[str, Any]]] = {}
    failed = 0
    for r in records:
        if r.get("status", "ok") != "ok":
            failed += 1
            continue
        buckets.setdefault(group_key(r.get(by)), []).append(r)
    samples = {k: [v for v in (_num(r.get(m.field)) for r in rows) if v is not None] for k, rows in buckets.items()}
    notes = []
    if failed:
        notes.append(f"{failed} failed or interrupted run{'s' if failed != 1 else ''} left out")
    if not buckets:
        return Comparison((), m, by, None, confidence, noise, len(records), quality, quality_higher_is_better,
                          tuple(notes))
    base = _pick_baseline(list(buckets), samples, baseline, by)
    groups = [_group(k, rows, samples[k], base, buckets[base], samples[base], m, confidence, noise, quality)
              for k, rows in buckets.items()]
    if quality is not None:
        groups = _with_pareto(groups, m, quality_higher_is_better)
    notes.extend(_notes(groups, m, confidence, noise, quality, quality_higher_is_better))
    return Comparison(tuple(groups), m, by, base, confidence, noise, len(records), quality,
                      quality_higher_is_better, tuple(notes))


def _pick_baseline(keys: list[str], samples: Mapping[str, list[float]], wanted: str | None, by: str) -> str:
    if wanted is None:
        return next((k for k in keys if samples[k]), keys[0])
    if wanted in samples:
        return wanted
    folded = [k for k in keys if k.casefold() == wanted.casefold()]
    if len(folded) == 1:
        return folded[0]
    shown = ", ".join(keys[:8]) + (", …" if len(keys) > 8 else "")
    raise ValueError(f"no group {wanted!r} when grouping by {by}; groups: {shown}")


def _span(rows: Sequence[Mapping[str, Any]]) -> tuple[str | None, str | None]:
    times = sorted(str(r.get("started_at")) for r in rows if r.get("started_at"))
    return (times[0], times[-1]) if times else (None, None)


def _quality_summary(rows, quality, confidence) -> tuple[Summary | None, list[float]]:
    values = [v for v in (recorded_value(r, quality) for r in rows) if v is not None]
    return (stats.summarize(values, confidence) if values else None), values


def _group(key, rows, values, base, base_rows, base_values, m: Metric, confidence, noise, quality) -> Group:
    summary = stats.summarize(values, confidence) if values else None
    resolution = max((resolution_of(r, m) for r in rows), default=0.0)
    first, last = _span(rows)
    q_summary = retention = None
    if quality is not None:
        q_summary, q_values = _quality_summary(rows, quality, confidence)
        if key != base:
            _, q_base = _quality_summary(base_rows, quality, confidence)
            retention = _safe_ratio(q_values, q_base, confidence)
    common = dict(first_started=first, last_started=last, quality=q_summary, retention=retention)
    if key == base:
        return Group(key, len(rows), summary, resolution, True, BASELINE,
                     baseline_statement(key, summary, m), **common)
    base_res = max((resolution_of(r, m) for r in base_rows), default=0.0)
    if not values or not base_values:
        who = key if not values else base
        return Group(key, len(rows), summary, resolution, False, TOO_FEW,
                     f"{key}: no run of {who} has a value for {m.noun}; nothing to compare", **common)
    ratio = _safe_ratio(values, base_values, confidence)
    if ratio is None:  # a mean of 0 or less: nothing the sensors resolved to divide by
        return Group(key, len(rows), summary, resolution, False, stats.SAME,
                     f"{key}: no detectable difference in {m.noun} from {base} (a mean of 0: below what the "
                     "sensors resolve)", **common)
    if ratio.low is None:
        return Group(key, len(rows), summary, resolution, False, TOO_FEW,
                     too_few_statement(key, base, ratio), ratio, **common)
    base_mean = stats.mean(base_values)
    threshold = max(noise, max(resolution, base_res) / base_mean)
    verdict = stats.classify(ratio.low, ratio.high, threshold)
    return Group(key, len(rows), summary, resolution, False, verdict,
                 statement(key, base, m, ratio, verdict, threshold, noise), ratio, threshold, **common)


def _safe_ratio(a: Sequence[float], b: Sequence[float], confidence: float) -> RatioInterval | None:
    if not a or not b:
        return None
    try:
        return stats.ratio_of_means(a, b, confidence)
    except ValueError:
        return None


def _with_pareto(groups: list[Group], m: Metric, quality_higher: bool) -> list[Group]:
    """Mark the groups no other group beats on both cost (the metric) and quality (means)."""
    points = {g.group: (g.summary.mean, g.quality.mean) for g in groups if g.summary and g.quality}

    def better_or_equal(a, b):  # a at least as good as b on both axes
        cost_ok = a[0] >= b[0] if m.higher_is_better else a[0] <= b[0]
        quality_ok = a[1] >= b[1] if quality_higher else a[1] <= b[1]
        return cost_ok and quality_ok

    out = []
    for g in groups:
        front = None
        if g.group in points:
            p = points[g.group]
            front = not any(better_or_equal(q, p) and q != p for k, q in points.items() if k != g.group)
        out.append(replace(g, pareto=front))
    return out


def _notes(groups, m, confidence, noise, quality, quality_higher) -> list[str]:
    notes = []
    compared = [g for g in groups if g.ratio is not None and g.ratio.low is not None]
    if len(compared) > MANY_COMPARISONS:
        k = len(compared)
        level = f"{100 * confidence:g} %"
        notes.append(f"{k} comparisons at {level} each: about 1 interval in {1 / (1 - confidence):.0f} misses by "
                     f"chance, so expect ~{k * (1 - confidence):.1f} false 'differences' among them; for {level} "
                     f"over the whole family use confidence {1 - (1 - confidence) / k:.4g} (Bonferroni)")
    small = [g for g in compared if min(g.ratio.n_a, g.ratio.n_b) < 5]
    if small:
        notes.append("groups with fewer than 5 runs have wide intervals (a t interval with few degrees of "
                     "freedom); more runs narrow them")
    base = next((g for g in groups if g.is_baseline), None)
    if base and base.first_started and any(
            g.first_started and g.n >= 2 and (g.first_started > base.last_started or g.last_started <
                                              base.first_started) for g in compared):
        notes.append("some groups were measured after one another, not interleaved: a slow drift of the machine "
                     "(heat, other load) between them would show as a difference")
    if quality is not None:
        notes.append(f"quality {quality}: {'higher' if quality_higher else 'lower'} is better; retention = "
                     "its mean over the baseline's")
    return notes


# --- sentences ---------------------------------------------------------------------------------------------------
MINUS = "\u2212"


def pct_text(pct: float, digits: int | None = None) -> str:
    """'+54 %' / '−4.2 %' (typographic minus); ``digits`` default: 0 from 10 % up, else 1."""
    if digits is None:
        digits = 0 if abs(pct) >= 9.95 else 1
    if round(abs(pct), digits) == 0:
        return "0 %"
    sign = MINUS if pct < 0 else "+"
    return f"{sign}{abs(pct):.{digits}f} %"


def times_text(ratio: float) -> str:
    """'123×', '12.3×', '2.00×', '0.398×', '0.0412×': three significant figures, trailing zeros kept."""
    if ratio <= 0 or not math.isfinite(ratio):
        return f"{ratio:g}×"
    decimals = max(0, 2 - math.floor(math.log10(ratio)))
    return f"{ratio:.{decimals}f}×"


def ci_text(r: RatioInterval) -> str:
    """The ratio's interval: '+41 … +68 %', or '3.6× … 4.4×' for large or small ratios."""
    if r.ratio >= 2 or r.ratio <= 0.5:
        return f"{times_text(r.low)} … {times_text(r.high)}"
    low, high = r.pct_interval
    digits = 0 if max(abs(low), abs(high)) >= 9.95 else 1
    return f"{pct_text(low, digits).replace(' %', '')} … {pct_text(high, digits)}"


def runs_text(n_a: int, n_b: int) -> str:
    if n_a == n_b:
        return f"{n_a} runs each"
    return f"{n_a} and {n_b} runs"


def statement(g: str, b: str, m: Metric, r: RatioInterval, verdict: str, threshold: float, noise: float) -> str:
    """The verdict as a sentence: 'fp64 uses 54 % more energy than fp32 (95 % CI +41 … +68 %, 7 runs each)'."""
    conf = f"{100 * r.confidence:g} % CI"
    runs = runs_text(r.n_a, r.n_b)
    if verdict == stats.SAME:
        why = ""
        if r.low > 1 or r.high < 1:  # the interval excludes 1 but not the threshold
            why = (f"; within the ±{100 * noise:g} % noise threshold" if threshold <= noise
                   else f"; within what the sensors resolve (±{100 * threshold:.2g} %)")
        return f"{g}: no detectable difference in {m.noun} from {b} ({conf} {ci_text(r)}, {runs}{why})"
    if r.ratio >= 2 or r.ratio <= 0.5:
        return f"{m.times.format(g=g, b=b, r=times_text(r.ratio))} ({conf} {ci_text(r)}, {runs})"
    template = m.more if verdict == stats.HIGHER else m.less
    return f"{template.format(g=g, b=b, p=pct_text(abs(r.pct)).lstrip('+'))} ({conf} {ci_text(r)}, {runs})"


def too_few_statement(g: str, b: str, r: RatioInterval) -> str:
    single = " and ".join(f"{n} run{'s' if n != 1 else ''}" for n in (r.n_a, r.n_b))
    point = times_text(r.ratio) if r.ratio >= 2 or r.ratio <= 0.5 else pct_text(r.pct)
    return (f"{g}: too few runs to compare with {b} ({single}): {point} from these alone, with no interval "
            "(%%ecolyze --repeat 3 or more gives one)")


def baseline_statement(g: str, summary: Summary | None, m: Metric) -> str:
    if summary is None:
        return f"{g}: the baseline, but no run of it has a value for {m.noun}"
    return f"{g}: the baseline ({summary.n} run{'s' if summary.n != 1 else ''})"


def ledger_fields(m: Metric, by: str, quality: str | None) -> tuple[str, ...]:
    """The record fields a comparison reads."""
    names = [by, m.field, "energy_j", "energy_resolution_j", "status", "started_at"]
    if quality is not None:
        names += ["recorded", quality]
    return tuple(dict.fromkeys(names))


def compare_ledger(ledger, metric: str = "energy", by: str = "label", baseline: str | None = None,
                   quality: str | None = None, all_sessions: bool = False, **options) -> Comparison:
    """:func:`compare` over a :class:`~eco_magic.session_ledger.Ledger`'s rows (this session's, or every one)."""
    m = get_metric(metric)
    return compare(ledger.fields(ledger_fields(m, by, quality), all_sessions=all_sessions), metric, by, baseline,
                   quality, **options)
