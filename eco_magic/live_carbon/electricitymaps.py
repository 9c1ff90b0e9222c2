"""Electricity Maps API v3: the grid-average carbon intensity of the electricity consumed in a zone.

Requests (header ``auth-token: $ELECTRICITYMAPS_TOKEN``; base ``https://api.electricitymaps.com/v3`` or
``$ECO_MAGIC_ELECTRICITYMAPS_URL``):

* ``GET /carbon-intensity/history?zone=Z``: the last 24 hours, hourly: ``{"zone", "history": [{"zone",
  "carbonIntensity", "datetime", "updatedAt", "createdAt", "emissionFactorType", "isEstimated",
  "estimationMethod"}, ...]}``; used when the cell ended within the last 24 h (it also gives the cleanest hour);
* ``GET /carbon-intensity/past-range?zone=Z&start=ISO&end=ISO``: older windows, ``{"zone", "data": [...]}``;
* ``GET /carbon-intensity/latest?zone=Z``: one such record at the root, when the cell's hour is not published
  yet; labelled "latest reading", not the cell's own hour.

``carbonIntensity`` is gCO2eq/kWh; ``emissionFactorType`` ("lifecycle" by default, or "direct") is named in the
source. What is sent: the zone key and, for past-range, the cell's start and end hour. Nothing else.
"""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Mapping

from . import LABELS, LiveIntensity
from .series import cleanest_hour, iso, parse_time, window_mean
from .transport import LiveError

if TYPE_CHECKING:
    from ..regions import Region
    from . import Context

PROVIDER = "electricitymaps"
BASE_URL = "https://api.electricitymaps.com/v3"
URL_ENV = "ECO_MAGIC_ELECTRICITYMAPS_URL"
TOKEN_ENVS = ("ELECTRICITYMAPS_TOKEN", "ELECTRICITYMAPS_API_TOKEN")
HOUR_S = 3600.0

# eco_magic codes whose Electricity Maps zone key differs from the code itself.
ZONE_KEYS = {**{f"SE{i}": f"SE-SE{i}" for i in range(1, 5)}, **{f"NO{i}": f"NO-NO{i}" for i in range(1, 6)},
             "DK1": "DK-DK1", "DK2": "DK-DK2", "FI-ZONE": "FI"}
# Grids Electricity Maps does not publish as one zone: the parent is tried, or the user names the zone.
NO_ZONE = {
    "us_state": "Electricity Maps divides the U.S. by balancing authority, not by state",
    "cn_province": "Electricity Maps has no Chinese provincial zones",
}
US_NOTE = ("Electricity Maps divides the U.S. by balancing authority, not by state: name the zone yourself "
           "(for example US-CAL-CISO, in $ECO_MAGIC_LIVE_CARBON_ZONE)")


def secrets(env: Mapping[str, str]) -> list[str]:
    return [env[name] for name in TOKEN_ENVS if env.get(name)]


def zone_for(region: "Region") -> tuple[str, str]:
    """The Electricity Maps zone key for ``region`` and a note when it is coarser than the region.

    Bidding zones and Canadian provinces have zones of their own (``SE3`` -> ``SE-SE3``, ``CA-QC``); cloud
    regions use the grid they sit on; Chinese provinces use ``CN``. The U.S. (a state or the country) raises:
    its zones are balancing authorities, which only the user can name.
    """
    from .. import regions

    current, coarser = region, []
    while True:
        code = current.code
        if code in ZONE_KEYS:
            return ZONE_KEYS[code], _coarser_note(region, coarser)
        if code == "US" or code.startswith("US-"):
            raise LiveError(US_NOTE)
        if current.kind in ("country", "ca_province") and code != "CA-NL":
            return code, _coarser_note(region, coarser)
        if current.kind in NO_ZONE:
            coarser.append(NO_ZONE[current.kind])
        if not current.parent:
            raise LiveError(f"no Electricity Maps zone is known for {region.code}: set the zone yourself "
                            f"($ECO_MAGIC_LIVE_CARBON_ZONE)")
        current = regions.lookup(current.parent)


def _coarser_note(region: "Region", why: list[str]) -> str:
    return f"{why[0]}: the national zone stands in for {region.code}" if why else ""


def lookup(region: "Region", start: dt.datetime, end: dt.datetime, ctx: "Context") -> LiveIntensity:
    token = next((ctx.env[name] for name in TOKEN_ENVS if ctx.env.get(name, "").strip()), "")
    if not token:
        raise LiveError("no Electricity Maps token: set ELECTRICITYMAPS_TOKEN in the environment")
    token = token.strip()
    ctx.secrets.append(token)
    if ctx.config.zone:
        zone, note = ctx.config.zone, ""
    else:
        zone, note = zone_for(region)
    if note:
        ctx.notes.append(note)
    base = (ctx.env.get(URL_ENV) or BASE_URL).rstrip("/")
    headers = {"auth-token": token}
    what = LABELS[PROVIDER]
    now = dt.datetime.fromtimestamp(ctx.now, dt.timezone.utc)

    if end >= now - dt.timedelta(hours=23):
        payload = ctx.fetch(PROVIDER, base, "/carbon-intensity/history", {"zone": zone}, headers, what)
        records, series_label = _records(payload, "history"), "last 24 h"
    else:
        hour = start.replace(minute=0, second=0, microsecond=0)
        params = {"zone": zone, "start": iso(hour), "end": iso(end)}
        payload = ctx.fetch(PROVIDER, base, "/carbon-intensity/past-range", params, headers, what)
        records, series_label = _records(payload, "data"), ""
    points = [(parse_time(r["datetime"]), float(r["carbonIntensity"])) for r in records]
    factor = next((r.get("emissionFactorType") for r in records if r.get("emissionFactorType")), "lifecycle")
    cleanest = cleanest_hour(points) if series_label else None
    cleanest_g = cleanest[1] if cleanest else None
    cleanest_time = f"{iso(cleanest[0])} ({series_label})" if cleanest else None

    hit = window_mean(points, HOUR_S, start, end)
    if hit is not None:
        value, used = hit
        estimated = [r for r in records if parse_time(r["datetime"]) in {t for t, _ in used} and r.get("isEstimated")]
        notes = _estimated_note(estimated, len(used))
        t0, t1 = used[0][0], used[-1][0] + dt.timedelta(seconds=HOUR_S)
        when = iso(t0) if len(used) == 1 else f"{iso(t0)}/{iso(t1)}"
        source = (f"Electricity Maps carbon intensity, zone {zone}: hourly grid average of the electricity "
                  f"consumed, {factor} emission factors, for the hour(s) the cell ran")
        return LiveIntensity(value, "hourly", when, source, notes, cleanest_g, cleanest_time, PROVIDER, zone)

    latest = ctx.fetch(PROVIDER, base, "/carbon-intensity/latest", {"zone": zone}, headers, what)
    if not isinstance(latest, dict):
        raise LiveError("Electricity Maps' latest answer is not a record")
    record = _records({"latest": [latest]}, "latest")[0]
    factor = record.get("emissionFactorType") or factor
    source = (f"Electricity Maps carbon intensity, zone {zone}: latest reading (not the cell's own hour, which is "
              f"not published yet), grid average of the electricity consumed, {factor} emission factors")
    notes = _estimated_note([record] if record.get("isEstimated") else [], 1)
    return LiveIntensity(float(record["carbonIntensity"]), "live", iso(parse_time(record["datetime"])), source,
                         notes, cleanest_g, cleanest_time, PROVIDER, zone)


def _records(payload, key: str) -> list[dict]:
    """The list of intensity records under ``key``, each checked for the two fields used."""
    items = payload.get(key) if isinstance(payload, dict) else None
    if not isinstance(items, list):
        raise LiveError(f"Electricity Maps' answer has no '{key}' list")
    out = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("datetime"), str):
            raise LiveError("Electricity Maps' answer has a record without a 'datetime'")
        value = item.get("carbonIntensity")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 5000:
            raise LiveError(f"Electricity Maps' answer has no usable 'carbonIntensity' ({value!r})"[:120])
        try:
            parse_time(item["datetime"])
        except ValueError:
            raise LiveError("Electricity Maps' answer has an unreadable 'datetime'") from None
        out.append(item)
    return out


def _estimated_note(estimated: list[dict], n: int) -> tuple[str, ...]:
    if not estimated:
        return ()
    methods = sorted({str(r.get("estimationMethod")) for r in estimated if r.get("estimationMethod")})
    how = f" ({', '.join(methods)})" if methods else ""
    return (f"Electricity Maps marks {len(estimated)} of {n} value(s) used as estimated{how}",)
