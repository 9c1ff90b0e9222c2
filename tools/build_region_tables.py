#!/usr/bin/env python3
"""Regenerate the region tables packaged in ``eco_magic/data/``.

This script is a maintainer tool. Nothing runs it at install or import time; the generated CSV files are
committed. It needs only the standard library.

Inputs
------
* The CodeCarbon wheel (MIT licence), which bundles Our World in Data's country carbon intensities,
  EPA eGRID state emission rates and Google Cloud's per-region grid intensities::

      pip download --no-deps codecarbon==3.3.2 -d /tmp/cc

  Files read from it (inside the zip, nothing is unpacked):
  ``codecarbon/data/private_infra/global_energy_mix.json`` (OWID; lifecycle gCO2e/kWh),
  ``codecarbon/data/private_infra/2023/usa_emissions.json`` (eGRID2023; lb CO2e/MWh),
  ``codecarbon/data/cloud/impact.csv`` (Google Cloud 2023 grid gCO2e/kWh).
* The IANA time zone database as installed by the OS (public domain): ``zone.tab`` maps each canonical
  zone to one ISO 3166 country; ``tzdata.zi`` supplies the backward-compatible link names
  (``US/Pacific``, ``Asia/Calcutta``, ...).
* Hand-written tables below: ISO3 -> ISO2 codes and name aliases, US state names, AWS and Azure region
  locations, the ML-EcoLyzer water-intensity table and the Li et al. WUE/EWIF rows, the PUE tiers.
  Every hand-written number carries its source next to it.

Usage::

    python tools/build_region_tables.py --codecarbon-wheel /tmp/cc/codecarbon-3.3.2-py3-none-any.whl
    python tools/build_region_tables.py --codecarbon-wheel WHEEL --zoneinfo /usr/share/zoneinfo --out DIR

Then run ``pytest tests/test_regions.py`` and update ``eco_magic/data/README.md`` if a source changed.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import zipfile
from pathlib import Path

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

# ---------------------------------------------------------------------------------------------------
# ISO 3166 codes for the 213 OWID entries (ISO3 as OWID keys them -> ISO2), written by hand.
ISO3_TO_ISO2 = {
    "ABW": "AW", "AFG": "AF", "AGO": "AO", "ALB": "AL", "ARE": "AE", "ARG": "AR", "ARM": "AM", "ASM": "AS",
    "ATG": "AG", "AUS": "AU", "AUT": "AT", "AZE": "AZ", "BDI": "BI", "BEL": "BE", "BEN": "BJ", "BFA": "BF",
    "BGD": "BD", "BGR": "BG", "BHR": "BH", "BHS": "BS", "BIH": "BA", "BLR": "BY", "BLZ": "BZ", "BMU": "BM",
    "BOL": "BO", "BRA": "BR", "BRB": "BB", "BRN": "BN", "BTN": "BT", "BWA": "BW", "CAF": "CF", "CAN": "CA",
    "CHE": "CH", "CHL": "CL", "CHN": "CN", "CIV": "CI", "CMR": "CM", "COD": "CD", "COG": "CG", "COK": "CK",
    "COL": "CO", "COM": "KM", "CPV": "CV", "CRI": "CR", "CUB": "CU", "CYM": "KY", "CYP": "CY", "CZE": "CZ",
    "DEU": "DE", "DJI": "DJ", "DMA": "DM", "DNK": "DK", "DOM": "DO", "DZA": "DZ", "ECU": "EC", "EGY": "EG",
    "ERI": "ER", "ESH": "EH", "ESP": "ES", "EST": "EE", "ETH": "ET", "FIN": "FI", "FJI": "FJ", "FLK": "FK",
    "FRA": "FR", "FRO": "FO", "GAB": "GA", "GBR": "GB", "GEO": "GE", "GHA": "GH", "GIB": "GI", "GIN": "GN",
    "GLP": "GP", "GMB": "GM", "GNB": "GW", "GNQ": "GQ", "GRC": "GR", "GRD": "GD", "GRL": "GL", "GTM": "GT",
    "GUF": "GF", "GUM": "GU", "GUY": "GY", "HKG": "HK", "HND": "HN", "HRV": "HR", "HTI": "HT", "HUN": "HU",
    "IDN": "ID", "IND": "IN", "IRL": "IE", "IRN": "IR", "IRQ": "IQ", "ISL": "IS", "ISR": "IL", "ITA": "IT",
    "JAM": "JM", "JOR": "JO", "JPN": "JP", "KAZ": "KZ", "KEN": "KE", "KGZ": "KG", "KHM": "KH", "KIR": "KI",
    "KNA": "KN", "KOR": "KR", "KWT": "KW", "LAO": "LA", "LBN": "LB", "LBR": "LR", "LBY": "LY", "LCA": "LC",
    "LKA": "LK", "LSO": "LS", "LTU": "LT", "LUX": "LU", "LVA": "LV", "MAC": "MO", "MAR": "MA", "MDA": "MD",
    "MDG": "MG", "MDV": "MV", "MEX": "MX", "MKD": "MK", "MLI": "ML", "MLT": "MT", "MMR": "MM", "MNE": "ME",
    "MNG": "MN", "MOZ": "MZ", "MRT": "MR", "MSR": "MS", "MTQ": "MQ", "MUS": "MU", "MWI": "MW", "MYS": "MY",
    "NAM": "NA", "NCL": "NC", "NER": "NE", "NGA": "NG", "NIC": "NI", "NLD": "NL", "NOR": "NO", "NPL": "NP",
    "NRU": "NR", "NZL": "NZ", "OMN": "OM", "PAK": "PK", "PAN": "PA", "PER": "PE", "PHL": "PH", "PNG": "PG",
    "POL": "PL", "PRI": "PR", "PRK": "KP", "PRT": "PT", "PRY": "PY", "PSE": "PS", "PYF": "PF", "QAT": "QA",
    "REU": "RE", "ROU": "RO", "RUS": "RU", "RWA": "RW", "SAU": "SA", "SDN": "SD", "SEN": "SN", "SGP": "SG",
    "SHN": "SH", "SLB": "SB", "SLE": "SL", "SLV": "SV", "SOM": "SO", "SPM": "PM", "SRB": "RS", "SSD": "SS",
    "STP": "ST", "SUR": "SR", "SVK": "SK", "SVN": "SI", "SWE": "SE", "SWZ": "SZ", "SYC": "SC", "SYR": "SY",
    "TCA": "TC", "TCD": "TD", "TGO": "TG", "THA": "TH", "TJK": "TJ", "TKM": "TM", "TLS": "TL", "TON": "TO",
    "TTO": "TT", "TUN": "TN", "TUR": "TR", "TWN": "TW", "TZA": "TZ", "UGA": "UG", "UKR": "UA", "URY": "UY",
    "USA": "US", "UZB": "UZ", "VCT": "VC", "VEN": "VE", "VGB": "VG", "VIR": "VI", "VNM": "VN", "VUT": "VU",
    "WSM": "WS", "YEM": "YE", "ZAF": "ZA", "ZMB": "ZM", "ZWE": "ZW",
}

# Other names people type (official names, former names, endonyms, common abbreviations), by ISO2.
ALIASES = {
    "AE": ["UAE", "Emirates"],
    "BA": ["Bosnia"],
    "BN": ["Brunei Darussalam"],
    "BO": ["Plurinational State of Bolivia"],
    "BS": ["The Bahamas"],
    "CD": ["DR Congo", "DRC", "Democratic Republic of the Congo", "Congo-Kinshasa"],
    "CG": ["Republic of the Congo", "Congo-Brazzaville", "Congo Republic"],
    "CH": ["Schweiz", "Suisse", "Svizzera"],
    "CI": ["Côte d'Ivoire", "Ivory Coast"],
    "CN": ["People's Republic of China", "PRC", "Mainland China"],
    "CV": ["Cabo Verde"],
    "CZ": ["Czech Republic"],
    "DE": ["Deutschland"],
    "DK": ["Danmark"],
    "ES": ["España"],
    "FI": ["Suomi"],
    "FK": ["Falklands"],
    "GB": ["UK", "U.K.", "Great Britain", "Britain", "United Kingdom of Great Britain and Northern Ireland",
           "England", "Scotland", "Wales", "Northern Ireland"],
    "GM": ["The Gambia"],
    "HK": ["Hong Kong SAR"],
    "IR": ["Islamic Republic of Iran"],
    "IT": ["Italia"],
    "KP": ["DPRK", "Democratic People's Republic of Korea"],
    "KR": ["Korea", "Republic of Korea", "Korea, Republic of", "ROK"],
    "LA": ["Lao PDR", "Lao People's Democratic Republic"],
    "MD": ["Republic of Moldova"],
    "MK": ["Macedonia"],
    "MM": ["Burma"],
    "MO": ["Macau"],
    "NL": ["Holland", "The Netherlands", "Nederland"],
    "NO": ["Norge"],
    "PL": ["Polska"],
    "PS": ["State of Palestine", "Palestinian Territories"],
    "RE": ["Réunion"],
    "RU": ["Russian Federation"],
    "SE": ["Sverige"],
    "ST": ["São Tomé and Príncipe"],
    "SY": ["Syrian Arab Republic"],
    "SZ": ["Swaziland"],
    "TL": ["Timor-Leste"],
    "TR": ["Türkiye", "Turkiye"],
    "TW": ["Chinese Taipei"],
    "TZ": ["United Republic of Tanzania"],
    "US": ["USA", "U.S.", "U.S.A.", "United States of America", "America"],
    "VE": ["Bolivarian Republic of Venezuela"],
    "VI": ["US Virgin Islands"],
    "VN": ["Viet Nam"],
    "AT": ["Österreich"],
}

# ---------------------------------------------------------------------------------------------------
US_STATES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia",
    "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana",
    "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland",
    "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri",
    "MT": "Montana", "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey",
    "NM": "New Mexico", "NY": "New York", "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio",
    "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina",
    "SD": "South Dakota", "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont",
    "VA": "Virginia", "WA": "Washington", "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming",
}
STATE_ALIASES = {"DC": ["Washington DC", "Washington, D.C.", "D.C."]}

# ---------------------------------------------------------------------------------------------------
# Cloud regions. Locations are the providers' published region locations; grid_code is the grid whose
# carbon intensity stands in for AWS and Azure (they publish no per-region figure).
PUE_BY_PROVIDER = {
    "aws": (1.15, "AWS global PUE 2024 (via ComputerWeekly summary, third-party)"),
    "gcp": (1.10, "Google fleet PUE ~1.10 (2021, via CNBC 2022, third-party)"),
    "azure": (1.17, "Microsoft owned data centres PUE FY2025 (via ComputerWeekly summary, third-party)"),
}
AWS_REGIONS = [
    ("us-east-1", "N. Virginia", "US-VA"), ("us-east-2", "Ohio", "US-OH"),
    ("us-west-1", "N. California", "US-CA"), ("us-west-2", "Oregon", "US-OR"),
    ("ca-central-1", "Canada Central, Montreal", "CA"), ("ca-west-1", "Calgary", "CA"),
    ("eu-west-1", "Ireland", "IE"), ("eu-west-2", "London", "GB"), ("eu-west-3", "Paris", "FR"),
    ("eu-central-1", "Frankfurt", "DE"), ("eu-central-2", "Zurich", "CH"), ("eu-north-1", "Stockholm", "SE"),
    ("eu-south-1", "Milan", "IT"), ("eu-south-2", "Spain, Aragon", "ES"),
    ("ap-south-1", "Mumbai", "IN"), ("ap-south-2", "Hyderabad", "IN"),
    ("ap-northeast-1", "Tokyo", "JP"), ("ap-northeast-2", "Seoul", "KR"), ("ap-northeast-3", "Osaka", "JP"),
    ("ap-southeast-1", "Singapore", "SG"), ("ap-southeast-2", "Sydney", "AU"),
    ("ap-southeast-3", "Jakarta", "ID"), ("ap-southeast-4", "Melbourne", "AU"),
    ("ap-east-1", "Hong Kong", "HK"), ("sa-east-1", "Sao Paulo", "BR"),
    ("me-south-1", "Bahrain", "BH"), ("me-central-1", "UAE", "AE"), ("af-south-1", "Cape Town", "ZA"),
    ("il-central-1", "Tel Aviv", "IL"), ("mx-central-1", "Mexico, Queretaro", "MX"),
]
AZURE_REGIONS = [
    ("eastus", "Virginia", "US-VA"), ("eastus2", "Virginia", "US-VA"), ("centralus", "Iowa", "US-IA"),
    ("northcentralus", "Illinois", "US-IL"), ("southcentralus", "Texas", "US-TX"),
    ("westcentralus", "Wyoming", "US-WY"), ("westus", "California", "US-CA"),
    ("westus2", "Washington", "US-WA"), ("westus3", "Arizona", "US-AZ"),
    ("canadacentral", "Toronto", "CA"), ("canadaeast", "Quebec City", "CA"),
    ("brazilsouth", "Sao Paulo State", "BR"), ("northeurope", "Ireland", "IE"),
    ("westeurope", "Netherlands", "NL"), ("uksouth", "London", "GB"), ("ukwest", "Cardiff", "GB"),
    ("francecentral", "Paris", "FR"), ("germanywestcentral", "Frankfurt", "DE"),
    ("switzerlandnorth", "Zurich", "CH"), ("norwayeast", "Oslo", "NO"), ("swedencentral", "Gavle", "SE"),
    ("polandcentral", "Warsaw", "PL"), ("italynorth", "Milan", "IT"), ("spaincentral", "Madrid", "ES"),
    ("eastasia", "Hong Kong", "HK"), ("southeastasia", "Singapore", "SG"), ("japaneast", "Tokyo", "JP"),
    ("japanwest", "Osaka", "JP"), ("koreacentral", "Seoul", "KR"), ("centralindia", "Pune", "IN"),
    ("southindia", "Chennai", "IN"), ("westindia", "Mumbai", "IN"),
    ("australiaeast", "New South Wales", "AU"), ("australiasoutheast", "Victoria", "AU"),
    ("uaenorth", "Dubai", "AE"), ("southafricanorth", "Johannesburg", "ZA"), ("qatarcentral", "Doha", "QA"),
    ("israelcentral", "Israel", "IL"), ("mexicocentral", "Queretaro", "MX"),
]
# GCP location -> grid code, for the regions CodeCarbon's impact.csv lists (its state column is sparse).
GCP_GRID = {
    "us-central1": "US-IA", "us-east1": "US-SC", "us-east4": "US-VA", "us-east5": "US-OH",
    "us-south1": "US-TX", "us-west1": "US-OR", "us-west2": "US-CA", "us-west3": "US-UT", "us-west4": "US-NV",
    "asia-east2": "HK",  # CodeCarbon files Hong Kong under CHN; the grid is Hong Kong's own
}
GCP_REGION_FIXES = {"me-cenrtal1": "me-central1"}  # a typo in CodeCarbon's impact.csv

# ---------------------------------------------------------------------------------------------------
# Water, the paper's model: ML-EcoLyzer reference table (JomaMinoza/ml-ecolyzer@b430c47,
# mlecolyzer/monitoring/hardware.py `_detect_water_intensity_factor`), L/kWh. The reference code gives no
# primary citation for these values. Region -> codes is eco_magic's mapping.
MLECO = "ML-EcoLyzer reference table"
ML_ECOLYZER_WATER = [
    ("iceland", 1.2, ["IS"]),
    ("norway", 1.4, ["NO"]),
    ("costa_rica", 1.4, ["CR"]),
    ("scandinavia", 1.5, ["SE", "DK"]),  # its comment: "Norway, Sweden, Denmark"; Norway has its own row
    ("new_zealand", 1.6, ["NZ"]),
    ("switzerland", 1.8, ["CH"]),
    ("brazil", 2.0, ["BR"]),
    ("canada", 2.1, ["CA"]),
    ("france", 2.2, ["FR"]),
    ("uk", 2.5, ["GB"]),
    ("germany", 2.8, ["DE"]),
    ("japan", 3.1, ["JP"]),
    ("south_korea", 3.3, ["KR"]),
    ("india", 3.9, ["IN"]),
    ("australia", 4.1, ["AU"]),
    ("china_north", 4.5, ["CN"]),  # applied to the whole country: the only Chinese row
    ("middle_east", 4.8, ["AE", "BH", "IL", "IQ", "IR", "JO", "KW", "LB", "OM", "PS", "QA", "SA", "SY", "YE"]),
    ("us_east", 3.2, ["US"]),  # the reference code picks us_east for any en_US locale
    ("us_east", 3.2, ["US-" + s for s in ("ME", "NH", "MA", "RI", "CT", "NY", "NJ", "DE", "MD", "DC", "VA",
                                          "NC", "SC", "GA", "FL")]),  # "US East Coast": Atlantic states
    ("us_central", 3.0, ["US-" + s for s in ("AL", "AR", "IL", "IA", "KS", "LA", "MN", "MS", "MO", "NE",
                                             "ND", "OK", "SD", "TN", "WI")]),  # "US Central states"
    ("us_texas", 3.8, ["US-TX"]),
    ("us_southwest", 4.2, ["US-AZ", "US-NV", "US-CA"]),  # its comment: "Arizona, Nevada, California"
]
WATER_GLOBAL_DEFAULT = 2.5  # ML-EcoLyzer "global_average"


def _cloud_water(provider: str, region: str) -> tuple[str, float] | None:
    """ML-EcoLyzer's cloud rows, matched the way its `_detect_cloud_region` matches region names."""
    if provider == "aws":
        if region.startswith("us-west"):
            return "aws_us_west", 3.5
        if region.startswith("us-east"):
            return "aws_us_east", 3.0
        if region.startswith("eu-"):
            return "aws_eu_west", 2.3
    if provider == "azure" and "europe" in region:
        return "azure_europe", 2.4
    if provider == "gcp":
        if region.startswith("us-"):
            return "gcp_us", 3.2
        if region.startswith("europe-"):
            return "gcp_europe", 2.2
    return None


# Water, the Li et al. model ("Making AI Less Thirsty", CACM 68(7) 2025, Table 1): PUE, WUE_site (L/kWh),
# EWIF (L/kWh). Transcribed by a third party (EcoGenAI app.py comments); not yet checked against the paper.
LI_TABLE_SOURCE = "Li et al. 2025 Table 1 '{}' (third-party transcription, unverified)"
LI_TABLE1 = [
    ("US-VA", "Virginia", 1.14, 0.14, 2.385),
    ("US-TX", "Texas", 1.28, 0.25, 1.287),
    ("US-GA", "Georgia", 1.12, 0.06, 2.309),
    ("US-IL", "Illinois", 1.35, 0.74, 2.233),
    ("US-IA", "Iowa", 1.16, 0.14, 3.104),
    ("US-AZ", "Arizona", 1.18, 1.63, 4.959),
    ("US-WY", "Wyoming", 1.11, 0.13, 2.574),
    ("IE", "Ireland", 1.19, 0.02, 1.476),
    ("NL", "Netherlands", 1.14, 0.06, 3.445),
    ("SE", "Sweden", 1.16, 0.09, 6.019),
    ("DK", "Denmark", 1.16, 0.01, 3.180),
    ("FI", "Finland", 1.12, 0.01, 4.542),
    ("IN", "India", 1.43, 0.00, 3.445),
    ("ID", "Indonesia", 1.32, 1.90, 2.271),
    ("MX", "Mexico", 1.12, 0.056, 5.300),
]
LI_US_AVERAGE = (1.17, 0.55, 3.142)  # Microsoft U.S. data centres, Li et al. (arXiv 2304.03271)

# ---------------------------------------------------------------------------------------------------
PUE_TIERS = [
    ("cpu_only", "tier", 1.1, 2025, "ML-EcoLyzer paper (arXiv 2511.06694), Eq. 2 tier: CPU-only"),
    ("consumer_gpu", "tier", 1.2, 2025, "ML-EcoLyzer paper (arXiv 2511.06694), Eq. 2 tier: consumer GPU"),
    ("datacenter_gpu", "tier", 1.4, 2025, "ML-EcoLyzer paper (arXiv 2511.06694), Eq. 2 tier: datacenter GPU"),
    ("hyperscale", "preset", 1.1, 2024,
     "hyperscaler fleet averages 1.09-1.17 (Google ~1.10, AWS 1.15 in 2024, Microsoft 1.17 FY2025)"),
    ("industry", "preset", 1.56, 2024,
     "Uptime Institute Global Data Center Survey 2024, average annual PUE (via Statista summary)"),
]


# ---------------------------------------------------------------------------------------------------
def _fmt(x: float) -> str:
    """Shortest round-trip text for a float, without float noise (3 decimals at most)."""
    text = repr(round(float(x), 3))
    return text[:-2] if text.endswith(".0") else text


def _write(path: Path, header: list[str], rows: list[list]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")
    print(f"wrote {path.relative_to(REPO) if path.is_relative_to(REPO) else path} ({len(rows)} rows)")


def build_countries(mix: dict) -> list[list]:
    rows = []
    missing = sorted(set(mix) - set(ISO3_TO_ISO2))
    if missing:
        raise SystemExit(f"no ISO2 code written for: {', '.join(missing)}")
    for iso3, rec in sorted(mix.items(), key=lambda kv: ISO3_TO_ISO2[kv[0]]):
        ci = float(rec["carbon_intensity"])
        iso2 = ISO3_TO_ISO2[iso3]
        if ci <= 0:  # OWID has no usable value (e.g. CAF: 0.0 from a tiny hydro-only series)
            print(f"skipped {iso3} {rec['country_name']}: carbon intensity {ci}", file=sys.stderr)
            continue
        rows.append([iso2, iso3, rec["country_name"], _fmt(ci), int(rec["year"]),
                     _fmt(float(rec.get("total_TWh") or 0.0)), ";".join(ALIASES.get(iso2, [])), OWID_SOURCE])
    rows.append(["WORLD", "WLD", "World", "481", 2023, "", "global;world average;global average;earth",
                 WORLD_SOURCE])
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
        rows.append([f"US-{code}", name, _fmt(lb * LB_PER_MWH_TO_G_PER_KWH), _fmt(lb), year,
                     ";".join(STATE_ALIASES.get(code, [])), EGRID_SOURCE])
    return rows


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
        hit = _cloud_water(r[0], r[1])
        if hit:
            paper[f"{r[0]}:{r[1]}"] = (hit[1], f"{MLECO} '{hit[0]}'")
    li = {code: (pue, wue, ewif, LI_TABLE_SOURCE.format(label)) for code, label, pue, wue, ewif in LI_TABLE1}
    li["US"] = (*LI_US_AVERAGE, "Li et al. U.S. average (Microsoft U.S. data centres)")
    # The world row is the fallback for every place without a value of its own. Li et al. publish no
    # global figure, so their U.S. average stands in; regions.py labels its use "global default".
    rows = [["WORLD", _fmt(WATER_GLOBAL_DEFAULT), f"{MLECO} 'global_average'",
             _fmt(LI_US_AVERAGE[1]), _fmt(LI_US_AVERAGE[2]), _fmt(LI_US_AVERAGE[0]),
             "Li et al. U.S. average (no global figure published)"]]
    for code in sorted(set(paper) | set(li)):
        if code not in known_codes:
            raise SystemExit(f"water row for unknown region code {code}")
        p = paper.get(code)
        q = li.get(code)
        rows.append([code, _fmt(p[0]) if p else "", p[1] if p else "",
                     _fmt(q[1]) if q else "", _fmt(q[2]) if q else "", _fmt(q[0]) if q else "",
                     q[3] if q else ""])
    return rows


def build_timezones(zoneinfo: Path) -> tuple[list[list], str]:
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
    rows = [[z, cc, "zone.tab"] for z, cc in sorted(zones.items())]
    rows += [[alias, zones[target], f"link to {target}"] for alias, target in sorted(links.items())]
    return rows, version


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--codecarbon-wheel", type=Path, required=True, help="codecarbon-*.whl (3.3.2 tested)")
    ap.add_argument("--zoneinfo", type=Path, default=Path("/usr/share/zoneinfo"),
                    help="directory holding zone.tab and tzdata.zi (default: %(default)s)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory (default: eco_magic/data)")
    args = ap.parse_args(argv)

    with zipfile.ZipFile(args.codecarbon_wheel) as whl:
        def member(name: str) -> str:
            return whl.read(f"codecarbon/data/{name}").decode("utf-8")
        mix = json.loads(member("private_infra/global_energy_mix.json"))
        usa = json.loads(member("private_infra/2023/usa_emissions.json"))
        impact = member("cloud/impact.csv")

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    countries = build_countries(mix)
    _write(out / "carbon_intensity_countries.csv",
           ["iso2", "iso3", "name", "carbon_intensity_g_per_kwh", "year", "generation_twh", "aliases",
            "source"], countries)
    states = build_states(usa)
    _write(out / "carbon_intensity_us_states.csv",
           ["code", "name", "carbon_intensity_g_per_kwh", "egrid_lb_per_mwh", "year", "aliases", "source"],
           states)
    cloud = build_cloud(impact)
    _write(out / "cloud_regions.csv",
           ["provider", "region", "location", "grid_code", "carbon_intensity_g_per_kwh", "year", "source",
            "pue", "pue_source"], cloud)
    known = {r[0] for r in countries} | {r[0] for r in states} | {f"{r[0]}:{r[1]}" for r in cloud}
    _write(out / "water_intensity.csv",
           ["code", "water_intensity_l_per_kwh", "water_source", "wue_site_l_per_kwh", "ewif_l_per_kwh",
            "li_pue", "li_source"], build_water(cloud, known))
    _write(out / "pue_tiers.csv", ["name", "kind", "pue", "year", "source"], [list(t) for t in PUE_TIERS])
    tz_rows, tz_version = build_timezones(args.zoneinfo)
    _write(out / "timezones.csv", ["zone", "iso2", "origin"], tz_rows)
    print(f"tz database version {tz_version}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
