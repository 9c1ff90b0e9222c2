#!/usr/bin/env python3
"""Regenerate the region tables packaged in ``eco_magic/data/``.

This script is a maintainer tool. Nothing runs it at install or import time; the generated CSV files are
committed. It needs only the standard library.

Inputs
------
* The CodeCarbon wheel (MIT licence), which bundles Our World in Data's country carbon intensities,
  EPA eGRID state emission rates, Google Cloud's per-region grid intensities and the sub-national figures
  (Canadian provinces, Nordic bidding zones, Chinese provinces)::

      pip download --no-deps codecarbon==3.3.2 -d /tmp/cc

  Files read from it (inside the zip, nothing is unpacked), all under ``codecarbon/data/``:
  ``private_infra/global_energy_mix.json`` (OWID; lifecycle gCO2e/kWh and the generation mix),
  ``private_infra/2023/usa_emissions.json`` (eGRID2023; lb CO2e/MWh),
  ``private_infra/2023/canada_energy_mix.json`` (Canada Energy Regulator; % of generation by fuel),
  ``private_infra/nordic_emissions.json`` (ENTSO-E per bidding zone; gCO2eq/kWh),
  ``private_infra/2023/china_provincial_emissions.json`` (MEE/NBS 2023; gCO2/kWh),
  ``private_infra/carbon_intensity_per_source.json`` (per-fuel factors; used for the plausibility check),
  ``cloud/impact.csv`` (Google Cloud 2023 grid gCO2e/kWh).
* The IANA time zone database as installed by the OS (public domain): ``zone.tab`` maps each canonical
  zone to one ISO 3166 country; ``tzdata.zi`` supplies the backward-compatible link names
  (``US/Pacific``, ``Asia/Calcutta``, ...).
* Hand-written tables in ``tools/region_sources.py``: ISO3 -> ISO2 codes and name aliases, US state and
  province names, AWS/Azure/GCP region locations and the grid each sits on, the ML-EcoLyzer water-intensity
  table and the Li et al. WUE/EWIF rows, the PUE tiers, the time zones that name a sub-national grid.
  Every hand-written number carries its source next to it.

Figures CodeCarbon computes (US states from lb/MWh, Canadian provinces from the fuel mix) are written with full
float precision, computed exactly as CodeCarbon 3.3.2 computes them, so that they reproduce its numbers exactly.

Usage::

    python tools/build_region_tables.py --codecarbon-wheel /tmp/cc/codecarbon-3.3.2-py3-none-any.whl
    python tools/build_region_tables.py --codecarbon-wheel WHEEL --zoneinfo /usr/share/zoneinfo --out DIR

Then run ``pytest tests/test_regions.py tests/test_region_tables.py`` and update ``eco_magic/data/README.md``
if a source changed.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from region_sources import (  # noqa: E402  (the hand-written tables live beside this script)
    ALIASES, AWS_REGIONS, AZURE_REGIONS, CA_PROVINCES, CANADA_FOSSIL_KG_PER_KWH, CANADA_SOURCE, CHINA_SOURCE,
    GCP_GRID, GCP_REGION_FIXES, IMPLAUSIBLE_MARGIN, ISO3_TO_ISO2, LI_TABLE1, LI_TABLE_SOURCE, LI_US_AVERAGE,
    MIX_BOUND_FACTORS_G_PER_KWH, ML_ECOLYZER_WATER, MLECO, NORDIC_CODECARBON_KEY, NORDIC_FI_SOURCE,
    NORDIC_SOURCE, NORDIC_ZONES, NORDIC_ZONES_WITHOUT_FIGURE, PUE_BY_PROVIDER, PUE_TIERS, SPANNED, STATE_ALIASES,
    US_STATES, WATER_GLOBAL_DEFAULT, ZONE_SUBDIVISIONS, cloud_water,
)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "eco_magic" / "data"

LB_PER_MWH_TO_G_PER_KWH = 0.45359237  # 1 lb = 453.59237 g; 1 MWh = 1000 kWh

OWID_SOURCE = "Ember/Energy Institute via Our World in Data, lifecycle (CC BY 4.0); packaged by CodeCarbon 3.3.2"
WORLD_SOURCE = "Ember Global Electricity Review 2024, world 2023, lifecycle (CC BY 4.0; as reported by Statista)"
EGRID_SOURCE = (
    "EPA eGRID2023 state CO2e output rate (public domain) via CodeCarbon 3.3.2; direct plant emissions, "
    "NOT lifecycle: typically lower than the country table's basis"
)
GCP_SOURCE = (
    "Google Cloud region grid intensity 2023, location-based operational emissions, NOT lifecycle; "
    "via CodeCarbon 3.3.2"
)
CODECARBON_FILES = {
    "mix": "private_infra/global_energy_mix.json",
    "usa": "private_infra/2023/usa_emissions.json",
    "canada": "private_infra/2023/canada_energy_mix.json",
    "nordic": "private_infra/nordic_emissions.json",
    "china": "private_infra/2023/china_provincial_emissions.json",
    "per_source": "private_infra/carbon_intensity_per_source.json",
    "impact": "cloud/impact.csv",
}


# ---------------------------------------------------------------------------------------------------
def _fmt(x: float) -> str:
    """Short text for a hand-entered or published figure: rounded to 3 decimals, no float noise."""
    text = repr(round(float(x), 3))
    return text[:-2] if text.endswith(".0") else text


def _exact(x: float) -> str:
    """Round-trip text for a computed figure: ``float(_exact(x)) == x`` exactly."""
    text = repr(float(x))
    return text[:-2] if text.endswith(".0") else text


def _write(path: Path, header: list[str], rows: list[list]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")
    print(f"wrote {path.relative_to(REPO) if path.is_relative_to(REPO) else path} ({len(rows)} rows)")


# ---------------------------------------------------------------------------------------------------
# Countries
def mix_bound_g_per_kwh(rec: dict) -> float | None:
    """The most a country's own generation mix (OWID record) could emit per kWh, at the bound factors."""
    total = float(rec.get("total_TWh") or 0.0)
    if total <= 0:
        return None
    f = MIX_BOUND_FACTORS_G_PER_KWH
    coal, gas, oil = (float(rec.get(k) or 0.0) for k in ("coal_TWh", "gas_TWh", "oil_TWh"))
    other_fossil = max(float(rec.get("fossil_TWh") or 0.0) - coal - gas - oil, 0.0)
    low = float(rec.get("low_carbon_TWh") or 0.0)
    return (coal * f["coal"] + gas * f["gas"] + oil * f["oil"] + other_fossil * f["other_fossil"]
            + low * f["low_carbon"]) / total


def country_flag(rec: dict) -> str:
    """Why a country's figure must not be used as a grid extreme ("" when it is plausible)."""
    ci = float(rec["carbon_intensity"])
    if ci <= 0:
        return f"no usable value: OWID gives {ci:g} g/kWh (a tiny, hydro-only series); world average used"
    bound = mix_bound_g_per_kwh(rec)
    if bound is not None and ci > bound * (1 + IMPLAUSIBLE_MARGIN):
        fossil = float(rec.get("fossil_TWh") or 0.0) / float(rec["total_TWh"])
        return (f"implausible: {ci:,.0f} g/kWh is {ci / bound - 1:.0%} above the most its own generation mix "
                f"({fossil:.0%} fossil) could emit at the highest per-fuel factors ({bound:,.0f} g/kWh)")
    return ""


def check_bound_factors(per_source: dict) -> None:
    """The bound factors written in region_sources.py must be CodeCarbon's per-fuel factors."""
    expected = {"coal": per_source["coal"], "oil": per_source["petroleum"], "gas": per_source["natural_gas"],
                "other_fossil": per_source["coal"], "low_carbon": per_source["biomass"]}
    if {k: float(v) for k, v in expected.items()} != MIX_BOUND_FACTORS_G_PER_KWH:
        raise SystemExit(f"MIX_BOUND_FACTORS_G_PER_KWH differs from carbon_intensity_per_source.json: {expected}")


def build_countries(mix: dict) -> list[list]:
    rows = []
    missing = sorted(set(mix) - set(ISO3_TO_ISO2))
    if missing:
        raise SystemExit(f"no ISO2 code written for: {', '.join(missing)}")
    for iso3, rec in sorted(mix.items(), key=lambda kv: ISO3_TO_ISO2[kv[0]]):
        ci = float(rec["carbon_intensity"])
        iso2 = ISO3_TO_ISO2[iso3]
        flag = country_flag(rec)
        if flag:
            print(f"flagged {iso3} {rec['country_name']}: {flag}", file=sys.stderr)
        rows.append([iso2, iso3, rec["country_name"], _fmt(ci) if ci > 0 else "", int(rec["year"]),
                     _fmt(float(rec.get("total_TWh") or 0.0)), ";".join(ALIASES.get(iso2, [])), OWID_SOURCE,
                     flag])
    rows.append(["WORLD", "WLD", "World", "481", 2023, "", "global;world average;global average;earth",
                 WORLD_SOURCE, ""])
    return rows


def build_states(usa: dict) -> list[list]:
    year = int(usa["_source"]["year"])
    by_code = {v["regionCode"]: v["emissions"] for k, v in usa.items()
               if not k.startswith("_") and v.get("regionCode") in US_STATES}
    missing = sorted(set(US_STATES) - set(by_code))
    if missing:
        raise SystemExit(f"states missing from usa_emissions.json: {missing}")
    rows = []
    for code, name in sorted(US_STATES.items()):
        lb = float(by_code[code])
        rows.append([f"US-{code}", name, _exact(lb * LB_PER_MWH_TO_G_PER_KWH), _fmt(lb), year,
                     ";".join(STATE_ALIASES.get(code, [])), EGRID_SOURCE])
    return rows


# ---------------------------------------------------------------------------------------------------
# Sub-national grids
def canada_g_per_kwh(mix: dict) -> float:
    """CodeCarbon 3.3.2's `_region_energy_mix_to_emissions_rate`, step for step, in g/kWh."""
    shares = {k: v / mix["total"] for k, v in mix.items() if k not in ("total", "isoCode", "country_name")}
    kg_per_kwh = sum([shares[fuel] * kg for fuel, kg in CANADA_FOSSIL_KG_PER_KWH])
    return kg_per_kwh * 1000.0


def build_subnational(canada: dict, nordic: dict, china: dict) -> list[list]:
    rows: list[list] = []
    if set(canada) != set(CA_PROVINCES):
        raise SystemExit(f"Canadian provinces differ: {sorted(set(canada) ^ set(CA_PROVINCES))}")
    for key, (code, name, aliases) in sorted(CA_PROVINCES.items(), key=lambda kv: kv[1][0]):
        rows.append([code, "CA", "ca_province", name, _exact(canada_g_per_kwh(canada[key])), 2023,
                     ";".join(aliases), CANADA_SOURCE, key])
    data = nordic["data"]
    if set(data) != set(NORDIC_CODECARBON_KEY.values()):
        raise SystemExit(f"Nordic zones differ: {sorted(set(data) ^ set(NORDIC_CODECARBON_KEY.values()))}")
    for code, (country, name, aliases) in NORDIC_ZONES.items():
        rec = data[NORDIC_CODECARBON_KEY[code]]
        source = NORDIC_FI_SOURCE if code == "FI-ZONE" else NORDIC_SOURCE.format(zone=code)
        if rec.get("coverage"):
            source += f"; coverage {rec['coverage']}"
        if rec.get("note", "").startswith("Lower bound"):
            source += "; a lower bound (generation without a factor counted at 0)"
        rows.append([code, country, "bidding_zone", name, _exact(rec["emission_factor"]), int(rec["year"]),
                     ";".join(aliases), source, NORDIC_CODECARBON_KEY[code]])
    for code, (country, name, aliases) in NORDIC_ZONES_WITHOUT_FIGURE.items():
        rows.append([code, country, "bidding_zone", name, "", "", ";".join(aliases),
                     f"no annual figure for {code} is packaged (CodeCarbon 3.3.2 has none)", ""])
    for code, rec in sorted(china["data"].items()):
        names = [n for n in rec["names"] if n != rec["description"].lower()]
        rows.append([code, "CN", "cn_province", rec["description"], _exact(rec["emission_factor"]),
                     int(rec["year"]), ";".join(names), CHINA_SOURCE, rec["names"][0]])
    return rows


# ---------------------------------------------------------------------------------------------------
# Cloud regions and water
def build_cloud(impact_csv: str) -> list[list]:
    rows = []
    for provider, table in (("aws", AWS_REGIONS), ("azure", AZURE_REGIONS)):
        pue, pue_src = PUE_BY_PROVIDER[provider]
        for region, location, grid in table:
            rows.append([provider, region, location, grid, "", "", "", _fmt(pue), pue_src])
    pue, pue_src = PUE_BY_PROVIDER["gcp"]
    reader = csv.DictReader(io.StringIO(impact_csv.lstrip("\ufeff")))
    for rec in reader:
        if rec["provider"] != "gcp":
            continue
        region = GCP_REGION_FIXES.get(rec["region"], rec["region"])
        grid = GCP_GRID.get(region) or ISO3_TO_ISO2[rec["countryIsoCode"]]
        rows.append(["gcp", region, rec["city"], grid, _fmt(float(rec["impact"])), 2023, GCP_SOURCE,
                     _fmt(pue), pue_src])
    rows.sort(key=lambda r: (r[0], r[1]))
    return rows


def build_water(cloud_rows: list[list], known_codes: set[str]) -> list[list]:
    paper: dict[str, tuple[float, str]] = {}
    for name, value, codes in ML_ECOLYZER_WATER:
        for code in codes:
            paper[code] = (value, f"{MLECO} '{name}'")
    for r in cloud_rows:
        hit = cloud_water(r[0], r[1])
        if hit:
            paper[f"{r[0]}:{r[1]}"] = (hit[1], f"{MLECO} '{hit[0]}'")
    li = {code: (pue, wue, ewif, LI_TABLE_SOURCE.format(label)) for code, label, pue, wue, ewif in LI_TABLE1}
    li["US"] = (*LI_US_AVERAGE, "Li et al. U.S. average (Microsoft U.S. data centres)")
    # The world row is the fallback for every place without a value of its own. Li et al. publish no
    # global figure, so their U.S. average stands in; regions.py says so wherever it is used outside the U.S.
    rows = [["WORLD", _fmt(WATER_GLOBAL_DEFAULT), f"{MLECO} 'global_average'",
             _fmt(LI_US_AVERAGE[1]), _fmt(LI_US_AVERAGE[2]), _fmt(LI_US_AVERAGE[0]),
             "Li et al. U.S. average (Microsoft U.S. data centres; no global figure published)"]]
    for code in sorted(set(paper) | set(li)):
        if code not in known_codes:
            raise SystemExit(f"water row for unknown region code {code}")
        p = paper.get(code)
        q = li.get(code)
        rows.append([code, _fmt(p[0]) if p else "", p[1] if p else "",
                     _fmt(q[1]) if q else "", _fmt(q[2]) if q else "", _fmt(q[0]) if q else "",
                     q[3] if q else ""])
    return rows


# ---------------------------------------------------------------------------------------------------
# Time zones
def build_timezones(zoneinfo: Path, known_codes: set[str]) -> tuple[list[list], str]:
    zones: dict[str, str] = {}
    for line in (zoneinfo / "zone.tab").read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        cc, _coords, zone = line.split("\t")[:3]
        zones[zone] = cc
    version = "unknown"
    links: dict[str, str] = {}
    zi = zoneinfo / "tzdata.zi"
    if zi.exists():
        for line in zi.read_text(encoding="utf-8").splitlines():
            if line.startswith("# version"):
                version = line.split()[-1]
            parts = line.split()
            if len(parts) == 3 and parts[0] == "L" and parts[1] in zones and parts[2] not in zones:
                links[parts[2]] = parts[1]
    entries = [(z, cc, "zone.tab") for z, cc in sorted(zones.items())]
    entries += [(alias, zones[target], f"link to {target}") for alias, target in sorted(links.items())]
    unknown = sorted(set(ZONE_SUBDIVISIONS) - {z for z, _, _ in entries})
    if unknown:
        raise SystemExit(f"ZONE_SUBDIVISIONS names zones the tz database lacks: {unknown}")
    rows = []
    for zone, cc, origin in entries:
        sub, note = ZONE_SUBDIVISIONS.get(zone, ("", ""))
        if sub and (sub not in known_codes or not sub.startswith(cc + "-")):
            raise SystemExit(f"time zone {zone} ({cc}) maps to {sub}, which is not a known grid of {cc}")
        if not sub and cc in SPANNED:
            note = f"the zone spans {SPANNED[cc]}"
        rows.append([zone, cc, origin, sub, note])
    return rows, version


# ---------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--codecarbon-wheel", type=Path, required=True, help="codecarbon-*.whl (3.3.2 tested)")
    ap.add_argument("--zoneinfo", type=Path, default=Path("/usr/share/zoneinfo"),
                    help="directory holding zone.tab and tzdata.zi (default: %(default)s)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory (default: eco_magic/data)")
    args = ap.parse_args(argv)

    with zipfile.ZipFile(args.codecarbon_wheel) as whl:
        raw = {key: whl.read(f"codecarbon/data/{name}").decode("utf-8") for key, name in CODECARBON_FILES.items()}
    cc = {key: json.loads(text) for key, text in raw.items() if key != "impact"}
    check_bound_factors(cc["per_source"])

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    countries = build_countries(cc["mix"])
    _write(out / "carbon_intensity_countries.csv",
           ["iso2", "iso3", "name", "carbon_intensity_g_per_kwh", "year", "generation_twh", "aliases",
            "source", "flag"], countries)
    states = build_states(cc["usa"])
    _write(out / "carbon_intensity_us_states.csv",
           ["code", "name", "carbon_intensity_g_per_kwh", "egrid_lb_per_mwh", "year", "aliases", "source"],
           states)
    subnational = build_subnational(cc["canada"], cc["nordic"], cc["china"])
    _write(out / "carbon_intensity_subnational.csv",
           ["code", "country", "kind", "name", "carbon_intensity_g_per_kwh", "year", "aliases", "source",
            "codecarbon_key"], subnational)
    known = {r[0] for r in countries} | {r[0] for r in states} | {r[0] for r in subnational}
    cloud = build_cloud(raw["impact"])
    bad = sorted({r[3] for r in cloud} - known)
    if bad:
        raise SystemExit(f"cloud regions sit on unknown grids: {bad}")
    _write(out / "cloud_regions.csv",
           ["provider", "region", "location", "grid_code", "carbon_intensity_g_per_kwh", "year", "source",
            "pue", "pue_source"], cloud)
    known |= {f"{r[0]}:{r[1]}" for r in cloud}
    _write(out / "water_intensity.csv",
           ["code", "water_intensity_l_per_kwh", "water_source", "wue_site_l_per_kwh", "ewif_l_per_kwh",
            "li_pue", "li_source"], build_water(cloud, known))
    _write(out / "pue_tiers.csv", ["name", "kind", "pue", "year", "source"], [list(t) for t in PUE_TIERS])
    tz_rows, tz_version = build_timezones(args.zoneinfo, known)
    _write(out / "timezones.csv", ["zone", "iso2", "origin", "subdivision", "note"], tz_rows)
    print(f"tz database version {tz_version}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
