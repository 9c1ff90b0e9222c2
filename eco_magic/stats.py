"""Statistics for repeated measurements: pure functions on plain floats (no numpy or SciPy needed).

* :func:`summarize` — mean, sample standard deviation and the Student t confidence interval of the mean.
* :func:`ratio_of_means` — the ratio of two groups' means with a confidence interval: a Welch t-interval on the
  log of the ratio, its standard error by the delta method (the relative standard errors of the two means add in
  quadrature), with Welch–Satterthwaite degrees of freedom. Assumes independent runs, means roughly normal (runs
  roughly normal, or enough of them), positive means, and a spread well below the mean (relative standard error of
  each mean ≲ 30 %, where the log/delta approximation is accurate). Always positive, symmetric on a log scale, and
  the point estimate is the ratio of the arithmetic means (what "uses 54 % more energy" means for a total).
* :func:`classify` — the verdict: "higher" / "lower" only when the whole interval lies beyond a threshold (a noise
  threshold like criterion.rs's ±2 %, or what the sensors resolve, whichever is larger); otherwise "no detectable
  difference". Like criterion.rs, a significant change smaller than the threshold is not called a change.
* :func:`t_ppf` / :func:`t_cdf` — Student's t distribution for any real df > 0 (regularised incomplete beta by
  Lentz's continued fraction; quantiles by bisection), accurate to ~1e-10 relative (~1e-9 in the far tails above 1e5 df).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

#: Default noise threshold (fraction): differences within ±2 % are never called a difference (criterion.rs's default).
NOISE_THRESHOLD = 0.02

HIGHER = "higher"
LOWER = "lower"
SAME = "no detectable difference"


@dataclass(frozen=True)
class Summary:
    """A sample of ``n`` values: mean, sample standard deviation (n − 1) and the t interval of the mean.

    ``std``, ``ci_low`` and ``ci_high`` are ``None`` for one value (no error bar from one run).
    """

    n: int
    mean: float
    std: float | None
    ci_low: float | None
    ci_high: float | None
    confidence: float = 0.95

    @property
    def ci(self) -> tuple[float, float] | None:
        """``(ci_low, ci_high)``, or ``None`` for one value."""
        return None if self.ci_low is None or self.ci_high is None else (self.ci_low, self.ci_high)

    @property
    def sem(self) -> float | None:
        """Standard error of the mean, ``std / √n``."""
        return None if self.std is None else self.std / math.sqrt(self.n)

    @property
    def half_width(self) -> float | None:
        """Half the interval's width (the "± x" of ``mean ± x``)."""
        return None if self.ci_low is None or self.ci_high is None else (self.ci_high - self.ci_low) / 2


@dataclass(frozen=True)
class RatioInterval:
    """``ratio = mean(a) / mean(b)`` with its confidence interval (``low``/``high`` ``None`` when either group has
    fewer than two values). ``df`` is the Welch–Satterthwaite degrees of freedom (``inf`` when both spreads are 0)."""

    ratio: float
    low: float | None
    high: float | None
    df: float | None
    n_a: int
    n_b: int
    confidence: float = 0.95

    @property
    def pct(self) -> float:
        """The ratio as a % change: 1.54 → +54."""
        return 100.0 * (self.ratio - 1.0)

    @property
    def pct_interval(self) -> tuple[float, float] | None:
        if self.low is None or self.high is None:
            return None
        return 100.0 * (self.low - 1.0), 100.0 * (self.high - 1.0)


# --- samples -----------------------------------------------------------------------------------------------------
def _values(values: Iterable[float]) -> list[float]:
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise TypeError(f"statistics need numbers, not {type(v).__name__} ({v!r})")
        if not math.isfinite(v):
            raise ValueError(f"statistics need finite numbers, not {v!r}")
        out.append(float(v))
    return out


def mean(values: Sequence[float]) -> float:
    values = _values(values)
    if not values:
        raise ValueError("the mean of no values is undefined")
    return math.fsum(values) / len(values)


def sample_std(values: Sequence[float]) -> float | None:
    """Sample standard deviation (divisor n − 1), two-pass; ``None`` for fewer than two values."""
    values = _values(values)
    if len(values) < 2:
        return None
    m = math.fsum(values) / len(values)
    return math.sqrt(math.fsum((v - m) ** 2 for v in values) / (len(values) - 1))


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (e.g. 0.95), not {confidence!r}")


def summarize(values: Iterable[float], confidence: float = 0.95) -> Summary:
    """Mean, sample std and the Student t interval ``mean ± t(1 − α/2, n − 1) · std / √n`` of ``values``.

    Raises ``ValueError`` for no values or a non-finite value. One value: std and interval are ``None``.
    """
    _check_confidence(confidence)
    vals = _values(values)
    if not vals:
        raise ValueError("cannot summarize no values")
    n = len(vals)
    m = math.fsum(vals) / n
    if n == 1:
        return Summary(1, m, None, None, None, confidence)
    s = math.sqrt(math.fsum((v - m) ** 2 for v in vals) / (n - 1))
    half = t_ppf(0.5 + confidence / 2, n - 1) * s / math.sqrt(n)
    return Summary(n, m, s, m - half, m + half, confidence)


# --- two groups --------------------------------------------------------------------------------------------------
def welch_df(var_a: float, n_a: int, var_b: float, n_b: int) -> float:
    """Welch–Satterthwaite degrees of freedom for the sum of two independent variance-of-mean terms
    ``var_a / n_a + var_b / n_b`` (``var_*`` are sample variances). ``inf`` when both are 0; a term whose group has
    one value must be 0 (it contributes no variance estimate)."""
    ca, cb = var_a / n_a, var_b / n_b
    den = (ca * ca / (n_a - 1) if ca else 0.0) + (cb * cb / (n_b - 1) if cb else 0.0)
    if den == 0.0:
        return math.inf
    return (ca + cb) ** 2 / den


def welch_interval(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Welch's t-interval for ``mean(a) − mean(b)``: ``(low, high, df)`` (as ``scipy.stats.ttest_ind(a, b,
    equal_var=False).confidence_interval()``). Both groups need at least two values."""
    _check_confidence(confidence)
    a, b = _values(a), _values(b)
    if len(a) < 2 or len(b) < 2:
        raise ValueError("Welch's interval needs at least two values in each group")
    va, vb = sample_std(a) ** 2, sample_std(b) ** 2
    diff = mean(a) - mean(b)
    se = math.sqrt(va / len(a) + vb / len(b))
    df = welch_df(va, len(a), vb, len(b))
    half = t_ppf(0.5 + confidence / 2, df) * se if se else 0.0
    return diff - half, diff + half, df


def ratio_of_means(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> RatioInterval:
    """``mean(a) / mean(b)`` with a confidence interval (see the module docstring for the method).

    log r̂ ± t(1 − α/2, ν) · √(c_a + c_b), with c = s² / (n · x̄²) per group and ν the Welch–Satterthwaite df of
    c_a + c_b. The interval is ``None`` when a group has one value; raises ``ValueError`` when a mean is not
    positive (a ratio of energies needs both) or a group is empty.
    """
    _check_confidence(confidence)
    a, b = _values(a), _values(b)
    if not a or not b:
        raise ValueError("a ratio of means needs values in both groups")
    ma, mb = mean(a), mean(b)
    if ma <= 0 or mb <= 0:
        raise ValueError(f"a ratio of means needs positive means (got {ma:g} and {mb:g})")
    ratio = ma / mb
    if len(a) < 2 or len(b) < 2:
        return RatioInterval(ratio, None, None, None, len(a), len(b), confidence)
    ca = (sample_std(a) / ma) ** 2 / len(a)  # relative variance of each mean (divided first: no underflow)
    cb = (sample_std(b) / mb) ** 2 / len(b)
    df = welch_df(ca * len(a), len(a), cb * len(b), len(b))
    se = math.sqrt(ca + cb)
    half = t_ppf(0.5 + confidence / 2, df) * se if se else 0.0
    return RatioInterval(ratio, ratio * math.exp(-half), ratio * math.exp(half), df, len(a), len(b), confidence)


def classify(low: float | None, high: float | None, threshold: float = NOISE_THRESHOLD) -> str | None:
    """The verdict for a ratio interval ``[low, high]`` against 1: "higher" when ``low > 1 + threshold``, "lower"
    when ``high < 1 − threshold``, else "no detectable difference". ``None`` when there is no interval."""
    if low is None or high is None:
        return None
    if threshold < 0:
        raise ValueError("the threshold is a fraction ≥ 0")
    if low > 1.0 + threshold:
        return HIGHER
    if high < 1.0 - threshold:
        return LOWER
    return SAME


# --- Student's t -------------------------------------------------------------------------------------------------
def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def _betainc_pair(a: float, b: float, x: float, y: float) -> tuple[float, float]:
    """``(I_x(a, b), 1 − I_x(a, b))`` with ``y = 1 − x`` given exactly; each side computed without cancellation
    where the continued fraction allows."""
    if x <= 0.0:
        return 0.0, 1.0
    if y <= 0.0:
        return 1.0, 0.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(y))
    if x < (a + 1.0) / (a + b + 2.0):
        lower = front * _betacf(a, b, x) / a
        return lower, 1.0 - lower
    upper = front * _betacf(b, a, y) / b
    return 1.0 - upper, upper


def betainc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b) for a, b > 0, 0 ≤ x ≤ 1."""
    return _betainc_pair(a, b, min(max(x, 0.0), 1.0), 1.0 - min(max(x, 0.0), 1.0))[0]


#: Above this many degrees of freedom :func:`t_cdf` uses a normal approximation (relative error ≲ 1e-9).
_LARGE_DF = 1e5


def _norm_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def t_cdf(t: float, df: float) -> float:
    """P(T ≤ t) for Student's t with ``df`` > 0 degrees of freedom (``inf``: the standard normal)."""
    if df <= 0 or math.isnan(df):
        raise ValueError(f"degrees of freedom must be > 0, not {df!r}")
    if math.isinf(df):
        return _norm_cdf(t)
    if df > _LARGE_DF:  # the continued fraction converges slowly here; this normal transform is within O(1/df²)
        return _norm_cdf(t * (1.0 - 1.0 / (4.0 * df)) / math.sqrt(1.0 + t * t / (2.0 * df)))
    if math.isinf(t):
        return 1.0 if t > 0 else 0.0
    x, y = df / (df + t * t), t * t / (df + t * t)  # y = 1 − x without cancellation near t = 0
    tail, rest = _betainc_pair(df / 2.0, 0.5, x, y)  # 2·P(T > |t|) and 2·P(0 < T ≤ |t|)
    return 0.5 + 0.5 * rest if t > 0 else 0.5 * tail


def t_ppf(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t with ``df`` > 0 degrees of freedom (``inf``: the standard normal)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"a quantile needs 0 < p < 1, not {p!r}")
    if p == 0.5:
        return 0.0
    upper = max(p, 1.0 - p)
    hi = 1.0
    while t_cdf(hi, df) < upper:
        hi *= 2.0
        if hi > 1e300:
            break
    lo = 0.0 if hi == 1.0 else hi / 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < upper:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-14 * hi:
            break
    q = 0.5 * (lo + hi)
    return q if p > 0.5 else -q
