"""The comparison's verdicts as sentences: "fp64 uses 54 % more energy than fp32 (95 % CI +41 … +68 %, 7 runs each)"."""
from __future__ import annotations

import math

from . import stats
from .metrics import Metric
from .stats import RatioInterval, Summary

MINUS = "\u2212"


def pct_text(pct: float, digits: int | None = None) -> str:
    """'+54 %' / '−4.2 %' (typographic minus); ``digits`` default: 0 from 10 % up, else 1."""
    if digits is None:
        digits = 0 if abs(pct) >= 9.95 else 1
        while digits < 3 and abs(pct) != 100 and round(abs(pct), digits) == 100:  # −99.6 % is not −100 %
            digits += 1
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
