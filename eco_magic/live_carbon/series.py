"""Pure arithmetic over a provider's time series: the value for a cell's window, and the cleanest hour.

A series is a list of ``(start, value)`` points, each point covering ``[start, start + period)``; times are
timezone-aware UTC ``datetime`` objects.
"""
from __future__ import annotations

import datetime as dt
from typing import Sequence

UTC = dt.timezone.utc
Point = tuple[dt.datetime, float]


def parse_time(text: str) -> dt.datetime:
    """ISO 8601 text (``2024-03-18T02:00:00.000Z``, ``2022-07-15T00:00:00+00:00``) as an aware UTC datetime."""
    value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def iso(moment: dt.datetime) -> str:
    """``2026-11-22T10:00:00Z``: seconds precision, UTC, ``Z`` suffix."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def window_mean(points: Sequence[Point], period_s: float, start: dt.datetime,
                end: dt.datetime) -> tuple[float, list[Point]] | None:
    """Mean of the values over ``[start, end]``, each weighted by how long its interval overlaps the window.

    Returns ``(mean, points used)``, or None when no point's interval overlaps the window. A zero-length window
    takes the point whose interval contains it.
    """
    period = dt.timedelta(seconds=period_s)
    used: list[tuple[Point, float]] = []
    for t0, value in sorted(points):
        t1 = t0 + period
        if end <= start:
            weight = 1.0 if t0 <= start < t1 else 0.0
        else:
            weight = (min(end, t1) - max(start, t0)).total_seconds()
        if weight > 0:
            used.append(((t0, value), weight))
    if not used:
        return None
    total = sum(w for _, w in used)
    return sum(p[1] * w for p, w in used) / total, [p for p, _ in used]


def hourly_means(points: Sequence[Point]) -> list[Point]:
    """Points grouped by UTC clock hour: ``(hour start, mean of the points starting in that hour)``."""
    buckets: dict[dt.datetime, list[float]] = {}
    for t0, value in points:
        buckets.setdefault(t0.replace(minute=0, second=0, microsecond=0), []).append(value)
    return sorted((hour, sum(v) / len(v)) for hour, v in buckets.items())


def cleanest_hour(points: Sequence[Point]) -> Point | None:
    """The clock hour with the lowest mean value (the earliest of ties), or None for an empty series."""
    hours = hourly_means(points)
    return min(hours, key=lambda p: (p[1], p[0])) if hours else None
