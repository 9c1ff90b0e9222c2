"""WattTime API v3: the marginal operating emissions rate (MOER, ``signal_type=co2_moer``) of a grid region.

Requests (base ``https://api.watttime.org`` or ``$ECO_MAGIC_WATTTIME_URL``):

* ``GET /login`` with HTTP basic auth (``WATTTIME_USERNAME``/``WATTTIME_USER`` + ``WATTTIME_PASSWORD``) ->
  ``{"token": "..."}``, a bearer token valid 30 minutes; kept in memory only (never on disk), skipped when
  ``WATTTIME_TOKEN`` holds one already;
* ``GET /v3/historical?region=R&start=ISO&end=ISO&signal_type=co2_moer`` -> ``{"data": [{"point_time",
  "value"}, ...], "meta": {"units": "lbs_co2_per_mwh", "data_point_period_seconds": 300, ...}}``: the MOER over
  the cell (subscribers, or the free ``CAISO_NORTH`` region);
* ``GET /v3/forecast?region=R&signal_type=co2_moer&horizon_hours=24``: same shape, the next 24 h; gives the
  value for a cell too recent for the history, and the cleanest hour ahead;
* ``GET /v3/signal-index?region=R&signal_type=co2_moer``: a 0-100 percentile, all a free plan gets elsewhere. It
  is not an intensity: it is reported in the note and the annual figure is used.

The region ``R`` is WattTime's own name (``CAISO_NORTH``, ``PJM_DC``): eco_magic's regions do not map to it, so
it comes from the zone setting (``$ECO_MAGIC_LIVE_CARBON_ZONE``). What is sent: the credentials (to
``/login`` only), the region name, the cell's start and end. MOER is CO2 only, marginal: what one more kWh
emits now, not the grid average.
"""
from __future__ import annotations

import base64
import datetime as dt
import threading
import time
from typing import TYPE_CHECKING, Mapping

from . import LABELS, LiveIntensity
from .series import cleanest_hour, iso, parse_time, window_mean
from .transport import LiveError, get_json

if TYPE_CHECKING:
    from ..regions import Region
    from . import Context

PROVIDER = "watttime"
BASE_URL = "https://api.watttime.org"
URL_ENV = "ECO_MAGIC_WATTTIME_URL"
USER_ENVS = ("WATTTIME_USERNAME", "WATTTIME_USER")
PASSWORD_ENV = "WATTTIME_PASSWORD"
TOKEN_ENV = "WATTTIME_TOKEN"
SIGNAL = "co2_moer"
LB_PER_MWH_TO_G_PER_KWH = 0.45359237
TOKEN_LIFETIME_S = 25 * 60  # WattTime tokens last 30 minutes; renew a little early

# (base URL, username) -> (token, monotonic expiry). In memory only, never written anywhere.
_tokens: dict[tuple[str, str], tuple[str, float]] = {}
_lock = threading.Lock()


def secrets(env: Mapping[str, str]) -> list[str]:
    return [env[name] for name in (PASSWORD_ENV, TOKEN_ENV) if env.get(name)]


def forget_tokens() -> None:
    """Drop every in-memory WattTime token (tests; or after changing credentials)."""
    with _lock:
        _tokens.clear()


def _token(base: str, ctx: "Context", *, renew: bool = False) -> str:
    issued = ctx.env.get(TOKEN_ENV, "").strip()
    if issued:
        return issued
    user = next((ctx.env[name].strip() for name in USER_ENVS if ctx.env.get(name, "").strip()), "")
    password = ctx.env.get(PASSWORD_ENV, "")
    if not user or not password:
        raise LiveError("no WattTime credentials: set WATTTIME_USERNAME and WATTTIME_PASSWORD (or WATTTIME_TOKEN)")
    key = (base, user)
    with _lock:
        cached = _tokens.get(key)
    if cached and not renew and cached[1] > time.monotonic():
        return cached[0]
    basic = base64.b64encode(f"{user}:{password}".encode("utf-8")).decode("ascii")
    ctx.secrets.append(basic)
    answer = get_json(f"{base}/login", None, {"Authorization": f"Basic {basic}"}, timeout_s=ctx.config.timeout_s,
                      deadline=ctx.deadline, secrets=ctx.secrets, what="WattTime's /login")
    token = answer.get("token") if isinstance(answer, dict) else None
    if not isinstance(token, str) or not token:
        raise LiveError("WattTime's /login answered without a token")
    ctx.secrets.append(token)
    with _lock:
        _tokens[key] = (token, time.monotonic() + TOKEN_LIFETIME_S)
    return token


def _get(base: str, path: str, params: dict, ctx: "Context") -> dict:
    """A data request with the bearer token; one fresh login if WattTime says the token expired (401)."""
    what = f"WattTime's {path}"
    for attempt in range(2):
        token = _token(base, ctx, renew=attempt > 0)
        ctx.secrets.append(token)
        try:
            payload = ctx.fetch(PROVIDER, base, path, params, {"Authorization": f"Bearer {token}"}, what)
        except LiveError as exc:
            if exc.status == 401 and attempt == 0 and not ctx.env.get(TOKEN_ENV, "").strip():
                continue
            raise
        if not isinstance(payload, dict):
            raise LiveError(f"{what} sent an answer that is not a JSON object")
        return payload
    raise LiveError(f"{what} refused the credentials (HTTP 401)")  # pragma: no cover - loop returns or raises


def _series(payload: dict, what: str) -> tuple[list[tuple[dt.datetime, float]], float, str]:
    """Points in g/kWh, their period (s) and the signal's name, from a /historical or /forecast answer."""
    data, meta = payload.get("data"), payload.get("meta") or {}
    if not isinstance(data, list) or not isinstance(meta, dict):
        raise LiveError(f"{what}'s answer has no 'data' list")
    units = str(meta.get("units", "lbs_co2_per_mwh"))
    if units != "lbs_co2_per_mwh":
        raise LiveError(f"{what} answered in {units!r}, not lbs_co2_per_mwh")
    points = []
    for item in data:
        try:
            value = item["value"]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 20000:
                raise ValueError
            points.append((parse_time(item["point_time"]), float(value) * LB_PER_MWH_TO_G_PER_KWH))
        except (KeyError, TypeError, ValueError, AttributeError):
            raise LiveError(f"{what}'s answer has a point without a usable 'point_time' and 'value'") from None
    period = meta.get("data_point_period_seconds", 300)
    period = float(period) if isinstance(period, (int, float)) and period > 0 else 300.0
    return points, period, str(meta.get("signal_type") or SIGNAL)


def lookup(region: "Region", start: dt.datetime, end: dt.datetime, ctx: "Context") -> LiveIntensity:
    zone = ctx.config.zone
    if not zone:
        raise LiveError("WattTime needs its own region name (for example CAISO_NORTH): set "
                        "$ECO_MAGIC_LIVE_CARBON_ZONE; eco_magic's regions do not map onto WattTime's")
    base = (ctx.env.get(URL_ENV) or BASE_URL).rstrip("/")
    label = f"WattTime {SIGNAL} (marginal operating emissions rate, CO2 only), region {zone}"
    refused: list[str] = []
    value = when = source = None
    try:
        t0 = start.replace(second=0, microsecond=0) - dt.timedelta(minutes=start.minute % 5)
        hist = _get(base, "/v3/historical", {"region": zone, "start": iso(t0), "end": iso(end),
                                             "signal_type": SIGNAL}, ctx)
        points, period, _ = _series(hist, "WattTime's /v3/historical")
        hit = window_mean(points, period, start, end)
        if hit is not None:
            value, used = hit
            last_end = used[-1][0] + dt.timedelta(seconds=period)
            when = iso(used[0][0]) if len(used) == 1 else f"{iso(used[0][0])}/{iso(last_end)}"
            source = f"{label}: {period / 60:g}-minute values over the cell"
    except LiveError as exc:
        if exc.status not in (403, 404):
            raise
        refused.append(exc.reason)

    cleanest_g = cleanest_time = None
    try:
        fc = _get(base, "/v3/forecast", {"region": zone, "signal_type": SIGNAL, "horizon_hours": 24}, ctx)
        points, period, _ = _series(fc, "WattTime's /v3/forecast")
        generated = (fc.get("meta") or {}).get("generated_at")
        best = cleanest_hour(points)
        if best is not None:
            cleanest_g, cleanest_time = best[1], f"{iso(best[0])} (next 24 h, forecast)"
        if value is None:
            hit = window_mean(points, period, start, end)
            if hit is None and points and dt.timedelta(0) <= min(points)[0] - end <= dt.timedelta(seconds=period):
                hit = (min(points)[1], [min(points)])  # the cell ended just before the forecast's first point
            if hit is not None:
                value, used = hit
                when = iso(used[0][0])
                source = (f"{label}: WattTime's forecast for the cell's time"
                          + (f" (generated {generated})" if isinstance(generated, str) else ""))
    except LiveError as exc:
        if value is not None:
            ctx.notes.append(f"no cleanest-hour line: {exc.reason}")
        elif exc.status in (403, 404):
            refused.append(exc.reason)
        else:
            raise

    if value is None:
        raise LiveError(_no_value_reason(base, zone, refused, ctx))
    return LiveIntensity(value, "marginal", when, source, (), cleanest_g, cleanest_time, PROVIDER, zone)


def _no_value_reason(base: str, zone: str, refused: list[str], ctx: "Context") -> str:
    """Why there is no MOER for the cell; with the signal index when that is all the plan gives."""
    if not refused:
        return f"WattTime has no {SIGNAL} value for {zone} at the cell's time"
    try:
        index = _get(base, "/v3/signal-index", {"region": zone, "signal_type": SIGNAL}, ctx)
        point = (index.get("data") or [{}])[0]
        pct = float(point["value"])
        return (f"this WattTime plan gives only the signal index for {zone}: {pct:.0f} (a 0-100 percentile of "
                f"the MOER over the next day at {point.get('point_time', '?')}), not an intensity in g/kWh")
    except (LiveError, KeyError, TypeError, ValueError, IndexError, AttributeError):
        return f"{LABELS[PROVIDER]}: {refused[0]}"
