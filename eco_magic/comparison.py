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

from dataclasses import dataclass, replace
from typing import Any, Mapping, Sequence

from . import stats
from .metrics import METRICS, Metric, _num, get_metric, resolution_of
from .stats import RatioInterval, Summary
from .verdicts import (MINUS, baseline_statement, ci_text, pct_text, runs_text, statement, times_text,
                       too_few_statement)

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
def group_key(value: Any) -> str:
    """The text a field value groups under: ``None``/empty → "(none)", 16.0 → "16"."""
    if value is None or value == "":
        return NONE_GROUP
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


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
        verdict, sentence = _against_zero(key, base, values, base_values, max(resolution, base_res), m,
                                          confidence)
        return Group(key, len(rows), summary, resolution, False, verdict, sentence, **common)
    if ratio.low is None:
        return Group(key, len(rows), summary, resolution, False, TOO_FEW,
                     too_few_statement(key, base, ratio), ratio, **common)
    base_mean = stats.mean(base_values)
    threshold = max(noise, max(resolution, base_res) / base_mean)
    verdict = stats.classify(ratio.low, ratio.high, threshold)
    return Group(key, len(rows), summary, resolution, False, verdict,
                 statement(key, base, m, ratio, verdict, threshold, noise), ratio, threshold, **common)


def _against_zero(key: str, base: str, values: Sequence[float], base_values: Sequence[float], floor: float,
                  m: Metric, confidence: float) -> tuple[str, str]:
    """Verdict and sentence when one side's mean is 0 (its runs read nothing the sensors resolve): no ratio, but a
    side whose whole interval lies above what the sensors resolve is still detectably higher."""
    zero_is_base = stats.mean(base_values) <= 0
    if zero_is_base and stats.mean(values) <= 0:
        return stats.SAME, (f"{key}: no detectable difference in {m.noun} from {base} (both read 0: below what the "
                            "sensors resolve)")
    zero, other, other_values = (base, key, values) if zero_is_base else (key, base, base_values)
    s = stats.summarize(other_values, confidence)
    res = f", {floor:.3g} {m.unit}" if floor > 0 else ""
    why = f"{zero}'s runs read 0: below what the sensors resolve{res}; no ratio"
    if s.ci_low is None:
        return TOO_FEW, (f"{key}: too few runs to compare with {base} ({why}; {other} has {s.n} run, with no "
                         "interval: %%ecolyze --repeat 3 or more gives one)")
    conf = f"{100 * confidence:g} % CI of {other} {s.ci_low:.3g} … {s.ci_high:.3g} {m.unit}"
    if s.ci_low > floor:
        verdict = stats.HIGHER if zero_is_base else stats.LOWER
        sentence = (m.more if zero_is_base else m.less).format(g=key, b=base, p="").replace("  ", " ")
        return verdict, f"{sentence} ({why}; {conf})"
    return stats.SAME, f"{key}: no detectable difference in {m.noun} from {base} ({why}; {conf})"


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


__all__ = ["BASELINE", "METHOD", "METRICS", "MINUS", "TOO_FEW", "VERDICTS", "Comparison", "Group", "Metric",
           "baseline_statement", "ci_text", "compare", "compare_ledger", "get_metric", "group_key", "ledger_fields",
           "pct_text", "recorded_names", "recorded_value", "resolution_of", "runs_text", "statement", "times_text",
           "too_few_statement"]
