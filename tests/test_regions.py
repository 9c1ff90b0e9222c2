"""Tests for eco_magic.regions and the packaged region tables."""
from __future__ import annotations

import dataclasses
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from eco_magic import regions
from eco_magic.regions import Region, UnknownRegionError, lookup, resolve

REPO = Path(__file__).resolve().parents[1]


def all_regions() -> list[Region]:
    return list(regions._tables().regions.values())


# --------------------------------------------------------------------------------------------------
# Tables


def test_at_least_200_countries_and_world_is_not_one_of_them():
    countries = regions.all_countries()
    assert len(countries) >= 200
    codes = [r.code for r in countries]
    assert "WORLD" not in codes
    assert len(set(codes)) == len(codes)
    assert [r.name for r in countries] == sorted(r.name for r in countries)


def test_every_region_has_positive_numbers_a_year_and_sources():
    rows = all_regions()
    assert len(rows) > 200 + 51 + 55 + 40
    for r in rows:
        assert r.carbon_intensity_g_per_kwh > 0, r.code
        assert 2000 <= r.ci_year <= 2030, r.code
        assert r.ci_source.strip(), r.code
        assert r.water_intensity_l_per_kwh > 0, r.code
        assert r.wue_site_l_per_kwh >= 0, r.code  # Li et al. list 0.00 on-site for India
        assert r.ewif_l_per_kwh > 0, r.code
        assert "ML-EcoLyzer" in r.water_source and "Li et al" not in r.water_source, r.code  # one model each
        assert "Li et al" in r.li_source and "ML-EcoLyzer" not in r.li_source, r.code
        assert r.li_pue is not None and 1.0 <= r.li_pue <= 1.5, r.code
        assert r.kind in regions.KINDS, r.code
        assert r.resolved_by == "argument"


def test_carbon_sources_state_their_basis():
    assert "lifecycle" in lookup("FR").ci_source
    assert "lifecycle" in regions.world().ci_source
    assert "NOT lifecycle" in lookup("US-CA").ci_source
    assert "NOT lifecycle" in lookup("gcp:europe-west9").ci_source


@pytest.mark.parametrize("code, expected", [("FR", 56.0), ("DE", 381.0), ("US", 369.5), ("IN", 713.4),
                                            ("NO", 30.1), ("GB", 237.6), ("CN", 582.3)])
def test_known_country_values_match_measurement_notes(code, expected):
    assert lookup(code).carbon_intensity_g_per_kwh == pytest.approx(expected, abs=0.5)


def test_world_average_is_481_ember_2023():
    w = regions.world()
    assert w.code == "WORLD"
    assert w.carbon_intensity_g_per_kwh == 481
    assert w.ci_year == 2023
    assert "Ember" in w.ci_source
    assert w.resolved_by == "default: world average"
    assert w.water_intensity_l_per_kwh == 2.5


def test_us_states_are_converted_from_lb_per_mwh():
    states = [r for r in all_regions() if r.code.startswith("US-")]
    assert len(states) == 51
    ca = lookup("US-CA")
    assert ca.name == "California, United States"
    assert ca.carbon_intensity_g_per_kwh == 394.769 * 0.45359237  # full precision: CodeCarbon's figure exactly
    # coal-heavy West Virginia far above hydro-heavy Vermont: a swapped or unconverted column would fail
    assert lookup("US-WV").carbon_intensity_g_per_kwh > 5 * lookup("US-VT").carbon_intensity_g_per_kwh


def test_build_script_iso_mapping_agrees_with_csv():
    spec = importlib.util.spec_from_file_location("build_region_tables", REPO / "tools" / "build_region_tables.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    iso2s = list(mod.ISO3_TO_ISO2.values())
    assert len(set(iso2s)) == len(iso2s)
    assert all(len(c) == 2 and c.isupper() for c in iso2s)
    for row in regions._read_csv("carbon_intensity_countries.csv"):
        if row["iso2"] != "WORLD":
            assert mod.ISO3_TO_ISO2[row["iso3"]] == row["iso2"]


def test_timezone_table_maps_zones_to_iso2():
    rows = regions._read_csv("timezones.csv")
    assert len(rows) >= 400
    assert all(len(r["iso2"]) == 2 and r["iso2"].isupper() for r in rows)
    zones = {r["zone"] for r in rows}
    assert "Europe/Paris" in zones and "UTC" not in zones and "Etc/UTC" not in zones


def test_pue_presets():
    p = regions.pue_presets()
    assert {k: v.pue for k, v in p.items()} == {"cpu_only": 1.1, "consumer_gpu": 1.2, "datacenter_gpu": 1.4,
                                               "hyperscale": 1.1, "industry": 1.56}
    assert p["datacenter_gpu"].kind == "tier" and p["industry"].kind == "preset"
    assert all(v.source for v in p.values())


# --------------------------------------------------------------------------------------------------
# lookup


@pytest.mark.parametrize("query, code", [
    ("FR", "FR"), ("fr", "FR"), (" Fr ", "FR"), ("FRA", "FR"), ("fra", "FR"),
    ("France", "FR"), ("FRANCE", "FR"), ("france", "FR"),
    ("USA", "US"), ("United States", "US"), ("United States of America", "US"), ("U.S.A.", "US"),
    ("UK", "GB"), ("United Kingdom", "GB"), ("Great Britain", "GB"), ("GBR", "GB"),
    ("Czechia", "CZ"), ("Czech Republic", "CZ"),
    ("South Korea", "KR"), ("Korea", "KR"), ("Russia", "RU"), ("Russian Federation", "RU"),
    ("Côte d'Ivoire", "CI"), ("cote d\u2019ivoire", "CI"), ("Ivory Coast", "CI"),
    ("Türkiye", "TR"), ("Turkey", "TR"), ("Réunion", "RE"), ("REUNION", "RE"), ("España", "ES"),
    ("Guinea-Bissau", "GW"), ("guinea bissau", "GW"),
    ("US-CA", "US-CA"), ("us-ca", "US-CA"), ("California", "US-CA"), ("california, usa", "US-CA"),
    ("Georgia", "GE"), ("US-GA", "US-GA"), ("Georgia, US", "US-GA"),
    ("Washington", "US-WA"), ("Washington DC", "US-DC"),
    ("aws:us-east-1", "aws:us-east-1"), ("AWS:US-EAST-1", "aws:us-east-1"), ("us-east-1", "aws:us-east-1"),
    ("amazon:eu-west-3", "aws:eu-west-3"),
    ("gcp:europe-west9", "gcp:europe-west9"), ("europe-west9", "gcp:europe-west9"),
    ("google:us-central1", "gcp:us-central1"),
    ("azure:westeurope", "azure:westeurope"), ("westeurope", "azure:westeurope"), ("East US", "azure:eastus"),
    ("world", "WORLD"), ("World", "WORLD"), ("global", "WORLD"), ("WORLD", "WORLD"),
])
def test_lookup_forms(query, code):
    assert lookup(query).code == code


def test_lookup_returns_argument_resolution():
    assert lookup("de").resolved_by == "argument"


def test_unknown_region_suggests_close_matches():
    with pytest.raises(UnknownRegionError) as info:
        lookup("Frnace")
    err = info.value
    assert isinstance(err, ValueError)
    assert err.suggestions[0] == "France (FR)"
    assert 1 <= len(err.suggestions) <= 3
    assert str(err).startswith('unknown region "Frnace"; did you mean France (FR)')


def test_unknown_region_suggestions_for_states_and_clouds():
    with pytest.raises(UnknownRegionError) as info:
        lookup("Californa")
    assert any("US-CA" in s for s in info.value.suggestions)
    with pytest.raises(UnknownRegionError) as info:
        lookup("aws:us-east-9")
    assert any("aws:us-east-1" in s for s in info.value.suggestions)


@pytest.mark.parametrize("query", ["", "   ", "qqqzzz", "CA-XX"])
def test_unknown_region_without_good_match_explains_forms(query):
    with pytest.raises(UnknownRegionError) as info:
        lookup(query)
    if not info.value.suggestions:
        assert "aws:us-east-1" in str(info.value)


def test_ambiguous_compact_form_is_not_guessed():
    # "useast1" could be AWS us-east-1 or GCP us-east1: refuse rather than pick one.
    with pytest.raises(UnknownRegionError):
        lookup("useast1")


# --------------------------------------------------------------------------------------------------
# Cloud regions


def test_cloud_region_count_and_providers():
    clouds = [r for r in all_regions() if ":" in r.code]
    providers = {r.code.split(":")[0] for r in clouds}
    assert providers == {"aws", "gcp", "azure"}
    assert len(clouds) >= 40


def test_aws_region_uses_its_grid():
    r = lookup("aws:us-east-1")
    va = lookup("US-VA")
    assert r.name == "AWS us-east-1 (N. Virginia)"
    assert r.carbon_intensity_g_per_kwh == va.carbon_intensity_g_per_kwh
    assert r.ci_source.startswith("grid of US-VA")
    assert r.provider_pue == 1.15
    eu = lookup("aws:eu-west-3")
    assert eu.carbon_intensity_g_per_kwh == lookup("FR").carbon_intensity_g_per_kwh
    assert eu.ci_source.startswith("grid of FR")


def test_azure_region_uses_its_grid():
    r = lookup("azure:westeurope")
    assert r.carbon_intensity_g_per_kwh == lookup("NL").carbon_intensity_g_per_kwh
    assert r.provider_pue == 1.17
    assert lookup("azure:northeurope").ci_source.startswith("grid of IE")


def test_gcp_region_uses_google_figures():
    r = lookup("gcp:europe-west9")
    assert r.carbon_intensity_g_per_kwh == 34
    assert r.ci_year == 2023
    assert r.provider_pue == 1.1
    assert "Google" in r.ci_source
    assert lookup("gcp:us-central1").carbon_intensity_g_per_kwh == 430
    assert lookup("gcp:me-central1").code == "gcp:me-central1"  # CodeCarbon's "me-cenrtal1" typo fixed


def test_countries_and_states_have_no_provider_pue():
    assert lookup("FR").provider_pue is None
    assert lookup("US-TX").provider_pue is None


# --------------------------------------------------------------------------------------------------
# Water


def test_paper_water_values_and_fallbacks():
    assert lookup("FR").water_intensity_l_per_kwh == 2.2
    assert lookup("IS").water_intensity_l_per_kwh == 1.2
    assert lookup("US-TX").water_intensity_l_per_kwh == 3.8
    assert lookup("aws:us-west-2").water_intensity_l_per_kwh == 3.5
    peru = lookup("PE")
    assert peru.water_intensity_l_per_kwh == 2.5
    assert "global default" in peru.water_source
    wa = lookup("US-WA")  # no state value: the US row
    assert wa.water_intensity_l_per_kwh == lookup("US").water_intensity_l_per_kwh
    assert "value for US" in wa.water_source


def test_li_water_values_and_fallbacks():
    va = lookup("US-VA")
    assert (va.wue_site_l_per_kwh, va.ewif_l_per_kwh) == (0.14, 2.385)
    assert "third-party" in va.li_source and va.li_pue == 1.14
    us = lookup("US")
    assert (us.wue_site_l_per_kwh, us.ewif_l_per_kwh, us.li_pue) == (0.55, 3.142, 1.17)
    aws = lookup("aws:us-east-1")  # falls back to the Virginia grid row
    assert (aws.wue_site_l_per_kwh, aws.ewif_l_per_kwh, aws.li_pue) == (0.14, 2.385, 1.14)
    assert "value for US-VA" in aws.li_source
    wa = lookup("US-WA")  # a U.S. state without a row: the U.S. average, which is a U.S. figure
    assert "value for US (none for US-WA)" in wa.li_source and "outside the U.S." not in wa.li_source
    fr = lookup("FR")  # outside the U.S. the U.S. average stands in, and says so
    assert (fr.wue_site_l_per_kwh, fr.ewif_l_per_kwh) == (0.55, 3.142)
    assert "U.S. figures used outside the U.S." in fr.li_source and "FR" in fr.li_source


# --------------------------------------------------------------------------------------------------
# extremes


def test_extremes_are_sane():
    low, high = regions.extremes()
    assert low.carbon_intensity_g_per_kwh < 100 < high.carbon_intensity_g_per_kwh
    values = [r.carbon_intensity_g_per_kwh for r in regions.all_countries()]
    assert min(values) <= low.carbon_intensity_g_per_kwh
    assert high.carbon_intensity_g_per_kwh <= max(values)
    plausible = [r.carbon_intensity_g_per_kwh for r in regions.all_countries() if not r.ci_flag]
    low0, high0 = regions.extremes(0)
    assert low0.carbon_intensity_g_per_kwh == min(plausible)
    assert high0.carbon_intensity_g_per_kwh == max(plausible)
    assert low.code != "WORLD" and high.code != "WORLD"


# --------------------------------------------------------------------------------------------------
# resolve


@pytest.fixture
def no_system_tz(monkeypatch, tmp_path):
    """Point the system time zone files at nothing, so results do not depend on this machine."""
    monkeypatch.setattr(regions, "_TIMEZONE_FILE", tmp_path / "missing-timezone")
    monkeypatch.setattr(regions, "_LOCALTIME", tmp_path / "missing-localtime")
    return tmp_path


@pytest.mark.parametrize("zone, code", [
    ("Europe/Paris", "FR"), ("America/Los_Angeles", "US"), ("America/New_York", "US"),
    ("Asia/Kolkata", "IN"), ("Asia/Calcutta", "IN"), ("US/Pacific", "US"), ("Europe/Kiev", "UA"),
    (":Europe/Berlin", "DE"), ("/usr/share/zoneinfo/Europe/Oslo", "NO"), ("europe/paris", "FR"),
])
def test_timezone_guess(zone, code, no_system_tz):
    r = resolve(env={}, timezone=zone)
    assert r.code == code
    assert r.resolved_by.startswith("timezone guess (")


@pytest.mark.parametrize("zone, code, note", [
    ("America/Toronto", "CA-ON", "the zone also covers most of Quebec: --region CA-QC there"),
    ("Canada/Eastern", "CA-ON", "most of Quebec"),
    ("America/Montreal", "CA-QC", None), ("America/Vancouver", "CA-BC", None), ("America/Regina", "CA-SK", None),
    ("America/Halifax", "CA-NS", "Prince Edward Island"), ("America/Edmonton", "CA-AB", "BC, NT and SK"),
    ("America/St_Johns", "CA-NL", None), ("America/Whitehorse", "CA-YT", None),
    ("America/Phoenix", "US-AZ", None), ("Pacific/Honolulu", "US-HI", None), ("US/Alaska", "US-AK", None),
    ("America/Indiana/Indianapolis", "US-IN", None), ("America/Detroit", "US-MI", None),
    ("Asia/Urumqi", "CN-XJ", None), ("Asia/Harbin", "CN-HL", None),
    ("America/New_York", "US", "the zone spans several US states"),
    ("America/Los_Angeles", "US", "the zone spans several US states"),
    ("Europe/Stockholm", "SE", "bidding zones SE1-SE4"), ("Europe/Oslo", "NO", "bidding zones NO1-NO5"),
    ("Asia/Shanghai", "CN", "every Chinese province"), ("Europe/Paris", "FR", None), ("Europe/Helsinki", "FI", None),
])
def test_timezone_guess_reaches_provinces_where_the_zone_says_so(zone, code, note, no_system_tz):
    r = resolve(env={}, timezone=zone)
    assert r.code == code
    if note is None:
        assert r.resolved_by == f"timezone guess ({zone})"
    else:
        assert r.resolved_by.startswith(f"timezone guess ({zone}; ") and note in r.resolved_by


def test_every_timezone_subdivision_is_a_grid_of_its_country():
    for row in regions._read_csv("timezones.csv"):
        if row["subdivision"]:
            region = lookup(row["subdivision"])
            assert region.code == row["subdivision"] and region.parent == row["iso2"], row
            assert region.kind in ("us_state", "ca_province", "cn_province"), row


def test_timezone_guess_names_the_zone(no_system_tz):
    assert resolve(env={}, timezone="Europe/Paris").resolved_by == "timezone guess (Europe/Paris)"


@pytest.mark.parametrize("zone", ["UTC", "Etc/UTC", "Etc/GMT+3", "Mars/Olympus", "CET-1CEST"])
def test_timezone_without_country_gives_world(zone, no_system_tz):
    r = resolve(env={}, timezone=zone)
    assert r.code == "WORLD"
    assert r.resolved_by.startswith("default: world average")
    assert zone.lstrip(":") in r.resolved_by


def test_timezone_country_without_carbon_data_gives_its_world_average_fallback(no_system_tz):
    r = resolve(env={}, timezone="Africa/Bangui")  # Central African Republic: no usable OWID value
    assert r.code == "CF" and r.resolved_by == "timezone guess (Africa/Bangui)"
    assert r.carbon_intensity_g_per_kwh == regions.world().carbon_intensity_g_per_kwh
    assert "world" in r.ci_source.lower() and r.ci_flag


def test_no_information_at_all_gives_world(no_system_tz):
    r = resolve(env={})
    assert r.code == "WORLD"
    assert r.resolved_by == "default: world average"
    assert resolve(env={"TZ": "Europe/Paris"}, timezone="").code == "WORLD"  # "" disables the guess


def test_resolution_order(no_system_tz):
    env = {"ECO_MAGIC_REGION": "NO", "TZ": "Europe/Paris"}
    r = resolve("DE", "SE", env, "Asia/Tokyo")
    assert (r.code, r.resolved_by) == ("DE", "--region")
    r = resolve(None, "SE", env, "Asia/Tokyo")
    assert (r.code, r.resolved_by) == ("SE", "config")
    r = resolve(None, None, env, "Asia/Tokyo")
    assert (r.code, r.resolved_by) == ("NO", "ECO_MAGIC_REGION")
    r = resolve(None, None, {"TZ": "Europe/Paris"}, "Asia/Tokyo")
    assert (r.code, r.resolved_by) == ("JP", "timezone guess (Asia/Tokyo)")
    r = resolve(None, None, {"TZ": "Europe/Paris"})
    assert (r.code, r.resolved_by) == ("FR", "timezone guess (Europe/Paris)")


def test_blank_values_are_skipped(no_system_tz):
    r = resolve("  ", "", {"ECO_MAGIC_REGION": ""}, "Europe/Rome")
    assert r.code == "IT"


@pytest.mark.parametrize("kwargs", [
    {"explicit": "Frnace"}, {"configured": "nowhere"}, {"env": {"ECO_MAGIC_REGION": "atlantis"}},
])
def test_unknown_explicit_values_raise(kwargs, no_system_tz):
    kwargs.setdefault("env", {})
    with pytest.raises(UnknownRegionError):
        resolve(timezone="Europe/Paris", **kwargs)


def test_env_none_reads_os_environ(monkeypatch, no_system_tz):
    monkeypatch.setenv("ECO_MAGIC_REGION", "aws:eu-west-1")
    r = resolve()
    assert (r.code, r.resolved_by) == ("aws:eu-west-1", "ECO_MAGIC_REGION")
    monkeypatch.delenv("ECO_MAGIC_REGION")
    monkeypatch.setenv("TZ", "Europe/Madrid")
    assert resolve().code == "ES"


def test_etc_timezone_file_is_read(no_system_tz):
    (no_system_tz / "missing-timezone").write_text("Europe/Lisbon\n")
    r = resolve(env={})
    assert (r.code, r.resolved_by) == ("PT", "timezone guess (Europe/Lisbon)")


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_localtime_symlink_is_read(no_system_tz):
    target = no_system_tz / "zoneinfo" / "Asia" / "Tokyo"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"TZif")
    try:
        (no_system_tz / "missing-localtime").symlink_to(target)
    except OSError:
        pytest.skip("cannot create symlinks here")
    r = resolve(env={})
    assert (r.code, r.resolved_by) == ("JP", "timezone guess (Asia/Tokyo)")


def test_resolve_returns_a_copy_not_the_cached_region(no_system_tz):
    resolve("FR", env={})
    assert lookup("FR").resolved_by == "argument"
    with pytest.raises(dataclasses.FrozenInstanceError):
        lookup("FR").code = "DE"  # type: ignore[misc]


# --------------------------------------------------------------------------------------------------
# Import weight


def test_regions_import_is_light():
    code = ("import sys, eco_magic.regions as r; r.lookup('FR'); "
            "bad = [m for m in ('pandas', 'IPython', 'matplotlib', 'ipywidgets', 'pynvml', 'torch') "
            "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
