"""Opt-in live grid carbon intensity from Electricity Maps or WattTime, with an honest fallback.

Off by default: nothing here runs at import or at ``%load_ext``; the measuring path calls :func:`intensity_for`
after a cell only when ``%config EcoMagics.live_carbon`` names a provider. It returns a :class:`LiveIntensity`:

* ``kind="hourly"``: Electricity Maps' hourly grid-average intensity for the hours the cell overlapped;
* ``kind="live"``: Electricity Maps' latest reading, when the cell's hour is not published yet (labelled so);
* ``kind="marginal"``: WattTime's marginal operating emissions rate (``co2_moer``) over the cell, or its
  forecast for the cell's time;
* ``g_per_kwh=None``: no live figure (no token, timeout, HTTP 401/403/429, malformed answer, stale cache, ...);
  ``notes`` says why, and :func:`eco_magic.assemble.build_result` keeps the packaged annual figure.

Credentials come from the environment only, are sent only to their provider, and are never written anywhere
(not in the cache, the result, the ledger or a message): ``ELECTRICITYMAPS_TOKEN`` (or
``ELECTRICITYMAPS_API_TOKEN``); ``WATTTIME_USERNAME`` (or ``WATTTIME_USER``) + ``WATTTIME_PASSWORD``, or a
``WATTTIME_TOKEN`` already issued by WattTime's ``/login``. Answers are cached on disk with their fetch time
(:mod:`.cache`); a cached answer older than ``max_age_s`` is refused. Each request times out after
``timeout_s`` and all requests of one cell share ``budget_s``. ``ECO_MAGIC_ELECTRICITYMAPS_URL`` and
``ECO_MAGIC_WATTTIME_URL`` replace the providers' base URLs (tests point them at a local server).

Wiring (one call after the cell; see :func:`for_cell`)::

    live = live_carbon.for_cell(region, measurement.started_at, measurement.duration_s, "electricitymaps")
    result = build_result(measurement, region, settings, live=live)
"""
from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from .transport import LiveError, scrub

if TYPE_CHECKING:
    from ..regions import Region

__all__ = ["PROVIDERS", "ZONE_ENV", "LiveConfig", "LiveIntensity", "LiveError", "intensity_for", "for_cell"]

PROVIDERS = ("electricitymaps", "watttime")
LABELS = {"electricitymaps": "Electricity Maps", "watttime": "WattTime"}
ZONE_ENV = "ECO_MAGIC_LIVE_CARBON_ZONE"
_ALIASES = {"electricitymaps": "electricitymaps", "electricity maps": "electricitymaps",
            "electricitymap": "electricitymaps", "em": "electricitymaps", "co2signal": "electricitymaps",
            "watttime": "watttime", "watt time": "watttime", "wt": "watttime"}


@dataclass(frozen=True)
class LiveIntensity:
    """A live carbon intensity for one cell, or the reason there is none.

    g_per_kwh            gCO2(e)/kWh for the cell (``None``: unavailable, the annual figure applies)
    kind                 ``"hourly"``, ``"live"`` (latest reading) or ``"marginal"``; ``"annual average"`` when
                         unavailable
    time                 the time the value is for: ISO 8601 UTC instant, or ``start/end`` interval
    source               provider, zone, signal and basis, as the provider names them
    notes                one line each: estimated values, cached answers, why nothing live was available
    cleanest_g_per_kwh   the lowest hourly value the provider gave around the cell (last 24 h of history, or
                         the next 24 h of forecast), for the "same cell at the day's cleanest hour" line
    cleanest_time        that hour's start (ISO 8601 UTC) and which series it came from, e.g.
                         ``"2026-11-22T13:00Z (last 24 h)"``
    """

    g_per_kwh: float | None
    kind: str
    time: str | None
    source: str
    notes: tuple[str, ...] = ()
    cleanest_g_per_kwh: float | None = None
    cleanest_time: str | None = None
    provider: str = ""
    zone: str = ""

    @property
    def ok(self) -> bool:
        return self.g_per_kwh is not None


@dataclass(frozen=True)
class LiveConfig:
    """How to ask. ``zone``: the provider's own zone or region id (``"DE"``, ``"US-CAL-CISO"``,
    ``"CAISO_NORTH"``), else ``$ECO_MAGIC_LIVE_CARBON_ZONE``, else mapped from the eco_magic region (Electricity
    Maps only). ``cache_dir``: default :func:`.cache.default_dir`."""

    timeout_s: float = 4.0
    budget_s: float = 8.0
    max_age_s: float = 900.0
    cache_dir: Path | None = None
    zone: str | None = None


@dataclass
class Context:
    """What a provider module needs for one lookup (built by :func:`intensity_for`)."""

    config: LiveConfig
    env: Mapping[str, str]
    now: float                      # wall clock, UTC epoch seconds
    deadline: float                 # time.monotonic() instant
    cache: object                   # DiskCache
    secrets: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def fetch(self, provider: str, base: str, path: str, params: dict, headers: dict, what: str):
        """A cached answer younger than ``max_age_s``, else a fresh one (then cached). A stale cached answer is
        never used; when the fresh request fails the error says a stale one was refused."""
        from .transport import get_json

        key = {"provider": provider, "url": base + path, "params": {k: str(v) for k, v in params.items()}}
        hit = self.cache.get(key, now=self.now)
        if hit is not None and hit.age_s <= self.config.max_age_s:
            when = dt.datetime.fromtimestamp(hit.fetched_at, dt.timezone.utc).strftime("%H:%M UTC")
            self.notes.append(f"{what}: cached answer fetched at {when} ({hit.age_s / 60:.0f} min old) reused")
            return hit.payload
        try:
            payload = get_json(base + path, params, headers, timeout_s=self.config.timeout_s,
                               deadline=self.deadline, secrets=self.secrets, what=what)
        except LiveError as exc:
            if hit is not None:
                exc.reason += (f"; a cached answer exists but is {hit.age_s / 3600:.1f} h old, older than the "
                               f"{self.config.max_age_s / 3600:g} h allowed: refused")
                exc.args = (exc.reason,)
            raise
        self.cache.put(key, payload, now=self.now)
        return payload


def normalize_provider(provider: str | None) -> str | None:
    """``"Electricity Maps"`` -> ``"electricitymaps"``; None/""/"off"/"none" -> None; unknown names unchanged."""
    if provider is None:
        return None
    text = str(provider).strip().casefold()
    if text in ("", "off", "none", "false", "0"):
        return None
    return _ALIASES.get(text, text)


def unavailable(region: "Region", provider: str, reason: str, notes: tuple[str, ...] = ()) -> LiveIntensity:
    """The fallback: no live value, the packaged annual figure applies, and the note says why."""
    label = LABELS.get(provider, provider)
    note = (f"live carbon intensity from {label} unavailable: {reason}; the annual figure for {region.code} "
            f"({region.carbon_intensity_g_per_kwh:.4g} g/kWh) was used")
    return LiveIntensity(None, "annual average", None, region.ci_source, (*notes, note), provider=provider)


def intensity_for(region: "Region", start_utc: dt.datetime, end_utc: dt.datetime, provider: str,
                  env: Mapping[str, str] | None = None, *, zone: str | None = None,
                  config: LiveConfig | None = None, now: float | None = None) -> LiveIntensity:
    """The carbon intensity of ``region``'s grid over ``[start_utc, end_utc]`` from ``provider``.

    Never raises and never takes longer than ``config.budget_s`` (plus one request's ``timeout_s`` at most):
    any failure gives ``LiveIntensity(g_per_kwh=None, notes=(why,))``. ``env`` defaults to ``os.environ``;
    ``now`` (UTC epoch seconds) to the clock. Secrets found in ``env`` are masked in every message.
    """
    environ = os.environ if env is None else env
    name = normalize_provider(provider)
    if name not in PROVIDERS:
        return unavailable(region, str(provider), f"unknown provider {provider!r} (use 'electricitymaps' or "
                                                  "'watttime')")
    from . import cache, electricitymaps, watttime

    config = config or LiveConfig()
    if zone is None and config.zone is None and environ.get(ZONE_ENV, "").strip():
        zone = environ[ZONE_ENV].strip()
    config = config if zone is None else LiveConfig(config.timeout_s, config.budget_s, config.max_age_s,
                                                    config.cache_dir, zone)
    ctx = Context(config=config, env=environ, now=time.time() if now is None else now,
                  deadline=time.monotonic() + config.budget_s,
                  cache=cache.DiskCache(config.cache_dir or cache.default_dir(environ)))
    module = electricitymaps if name == "electricitymaps" else watttime
    ctx.secrets = module.secrets(environ)
    start, end = _utc(start_utc), _utc(end_utc)
    try:
        result = module.lookup(region, start, end, ctx)
    except LiveError as exc:
        return unavailable(region, name, scrub(exc.reason, ctx.secrets), tuple(ctx.notes))
    except Exception as exc:  # noqa: BLE001 - a provider surprise must never break the cell
        return unavailable(region, name, f"unexpected {type(exc).__name__} while reading the answer",
                           tuple(ctx.notes))
    return LiveIntensity(result.g_per_kwh, result.kind, result.time, scrub(result.source, ctx.secrets),
                         tuple(scrub(n, ctx.secrets) for n in (*ctx.notes, *result.notes)),
                         result.cleanest_g_per_kwh, result.cleanest_time, name, result.zone)


def for_cell(region: "Region", started_at: float, duration_s: float, provider: str | None,
             env: Mapping[str, str] | None = None, **kwargs) -> LiveIntensity | None:
    """:func:`intensity_for` for a cell that started at ``started_at`` (epoch s) and lasted ``duration_s``;
    None when ``provider`` is off (None, "", "off"), so the default path does nothing at all."""
    if normalize_provider(provider) is None:
        return None
    start = dt.datetime.fromtimestamp(started_at, dt.timezone.utc)
    return intensity_for(region, start, start + dt.timedelta(seconds=max(duration_s, 0.0)), str(provider), env,
                         **kwargs)


def _utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc)
