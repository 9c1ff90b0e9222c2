"""Live carbon intensity against a local server speaking the providers' documented formats: success, slow answer,
401, 429, malformed JSON, cached answer reused, stale cache refused; then the result card's fields."""
from __future__ import annotations

import datetime as dt
import json
import pytest

from eco_magic import live_carbon as lc
from eco_magic.assemble import Settings, build_result
from eco_magic.live_carbon import electricitymaps, series, watttime
from eco_magic.regions import lookup
from fake_providers import FakeProviders, Route, em_history, em_record, wt_series
from helpers import make_measurement

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 22, 14, 37, tzinfo=UTC)       # the clock of every test
LAST_HOUR = dt.datetime(2026, 11, 22, 13, 0, tzinfo=UTC)   # the newest hour Electricity Maps has published
HISTORY = [300.0 - 5 * i for i in range(23)] + [210.0]    # 24 h from 14:00 the day before; 190 at 12:00 is cleanest
CELL = (dt.datetime(2026, 11, 22, 13, 20, tzinfo=UTC), dt.datetime(2026, 11, 22, 13, 40, tzinfo=UTC))


@pytest.fixture
def fake():
    with FakeProviders() as server:
        yield server
    watttime.forget_tokens()


@pytest.fixture
def config(tmp_path):
    return lc.LiveConfig(timeout_s=2.0, budget_s=6.0, max_age_s=3600.0, cache_dir=tmp_path / "cache")


def em_routes(fake, zone="FR", history=HISTORY):
    fake.routes["/em/v3/carbon-intensity/history"] = lambda q: Route(em_history(q["zone"], LAST_HOUR, history))
    fake.routes["/em/v3/carbon-intensity/latest"] = lambda q: Route(em_record(q["zone"], LAST_HOUR + dt.timedelta(
        hours=1), 222.0, estimated=True))


def ask(fake, config, region="FR", start=CELL[0], end=CELL[1], provider="electricitymaps", now=NOW, **env):
    return lc.intensity_for(lookup(region), start, end, provider, fake.env(**env), config=config,
                            now=now.timestamp())


# ------------------------------------------------------------------------------------------ Electricity Maps
def test_em_hourly_value_for_the_cells_hour(fake, config):
    em_routes(fake)
    live = ask(fake, config)
    assert live.ok and live.kind == "hourly" and live.g_per_kwh == 210.0
    assert live.time == "2026-11-22T13:00:00Z" and live.zone == "FR"
    assert "Electricity Maps" in live.source and "zone FR" in live.source and "lifecycle" in live.source
    assert "grid average" in live.source
    # the day's cleanest hour: 300 - 5 * 22 = 190 at 12:00
    assert live.cleanest_g_per_kwh == 190.0 and live.cleanest_time == "2026-11-22T12:00:00Z (last 24 h)"
    (path, query, headers), = fake.requests
    assert path == "/em/v3/carbon-intensity/history" and query == {"zone": "FR"}  # nothing else is sent
    assert headers["auth-token"] == FakeProviders.EM_TOKEN


def test_em_cell_across_two_hours_is_weighted_by_overlap(fake, config):
    em_routes(fake)
    start, end = dt.datetime(2026, 11, 22, 11, 45, tzinfo=UTC), dt.datetime(2026, 11, 22, 12, 30, tzinfo=UTC)
    live = ask(fake, config, start=start, end=end)
    # 15 min at 11:00 (195) and 30 min at 12:00 (190)
    assert live.g_per_kwh == pytest.approx((195 * 15 + 190 * 30) / 45)
    assert live.time == "2026-11-22T11:00:00Z/2026-11-22T13:00:00Z"


def test_em_latest_reading_when_the_cells_hour_is_not_published(fake, config):
    em_routes(fake)
    start = dt.datetime(2026, 11, 22, 14, 30, tzinfo=UTC)
    live = ask(fake, config, start=start, end=NOW)
    assert live.kind == "live" and live.g_per_kwh == 222.0 and live.time == "2026-11-22T14:00:00Z"
    assert "latest reading" in live.source and "not the cell's own hour" in live.source
    assert any("estimated (TIME_SLICER_AVERAGE)" in n for n in live.notes)
    assert fake.count("/em/v3/carbon-intensity/latest") == 1
    assert live.cleanest_g_per_kwh == 190.0  # the history still gives the cleanest hour


def test_em_old_window_uses_past_range(fake, config):
    start = dt.datetime(2026, 11, 19, 8, 10, tzinfo=UTC)
    fake.routes["/em/v3/carbon-intensity/past-range"] = lambda q: Route(
        {"zone": q["zone"], "data": [em_record(q["zone"], dt.datetime(2026, 11, 19, 8, tzinfo=UTC), 161)]})
    live = ask(fake, config, region="DK2", start=start, end=start + dt.timedelta(minutes=5))
    assert live.kind == "hourly" and live.g_per_kwh == 161
    (path, query, _), = fake.requests
    assert path.endswith("/past-range")
    assert query == {"zone": "DK-DK2", "start": "2026-11-19T08:00:00Z", "end": "2026-11-19T08:15:00Z"}


@pytest.mark.parametrize("region, zone", [("SE3", "SE-SE3"), ("CA-QC", "CA-QC"), ("aws:eu-north-1", "SE-SE3"),
                                          ("FI-ZONE", "FI"), ("DE", "DE"), ("gcp:europe-west9", "FR")])
def test_em_zone_of_each_region(fake, config, region, zone):
    em_routes(fake)
    assert ask(fake, config, region=region).zone == zone
    assert fake.requests[0][1]["zone"] == zone


def test_em_chinese_province_uses_the_national_zone_and_says_so(fake, config):
    em_routes(fake)
    live = ask(fake, config, region="CN-BJ")
    assert live.ok and live.zone == "CN"
    assert any("national zone stands in for CN-BJ" in n for n in live.notes)


def test_em_us_needs_a_zone_named_by_the_user(fake, config):
    em_routes(fake)
    live = ask(fake, config, region="US-CA")
    assert not live.ok and fake.requests == []
    assert "balancing authority" in live.notes[-1] and "ECO_MAGIC_LIVE_CARBON_ZONE" in live.notes[-1]
    live = ask(fake, config, region="US-CA", ECO_MAGIC_LIVE_CARBON_ZONE="US-CAL-CISO")
    assert live.ok and live.zone == "US-CAL-CISO" and fake.requests[-1][1] == {"zone": "US-CAL-CISO"}


def test_em_slow_answer_times_out_and_falls_back(fake, tmp_path):
    fake.routes["/em/v3/carbon-intensity/history"] = Route(em_history("FR", LAST_HOUR, HISTORY), delay_s=5.0)
    config = lc.LiveConfig(timeout_s=0.3, budget_s=1.0, cache_dir=tmp_path)
    live = ask(fake, config)
    assert not live.ok and live.kind == "annual average" and live.g_per_kwh is None
    note = live.notes[-1]
    assert "no answer from Electricity Maps within 0.3 s" in note and "annual figure for FR" in note


@pytest.mark.parametrize("status, words", [(429, "rate-limiting these requests (HTTP 429)"),
                                           (500, "answered HTTP 500"), (404, "answered HTTP 404")])
def test_em_error_statuses_fall_back_with_the_reason(fake, config, status, words):
    fake.routes["/em/v3/carbon-intensity/history"] = Route({"message": "slow down", "status": "error"}, status)
    live = ask(fake, config)
    assert not live.ok and words in live.notes[-1]


def test_em_wrong_token_401_is_named_and_never_echoed(fake, config):
    em_routes(fake)
    live = ask(fake, config, ELECTRICITYMAPS_TOKEN="wrong-token-zzz")
    assert not live.ok
    assert "refused the credentials (HTTP 401): Invalid authentication credentials" in live.notes[-1]
    assert "wrong-token-zzz" not in repr(live)


@pytest.mark.parametrize("raw, words", [
    (b"<html>Bad gateway</html>", "not valid JSON"),
    (b'{"zone": "FR", "history": [{"datetime": "2026-11-22T13:00:00.000Z"}]}', "no usable 'carbonIntensity'"),
    (b'{"zone": "FR"}', "no 'history' list"),
    (b'{"zone": "FR", "history": [{"carbonIntensity": 50, "datetime": "yesterday"}]}', "unreadable 'datetime'"),
])
def test_em_malformed_answers_fall_back(fake, config, raw, words):
    fake.routes["/em/v3/carbon-intensity/history"] = Route(raw=raw)
    live = ask(fake, config)
    assert not live.ok and words in live.notes[-1]


def test_em_without_a_token_sends_nothing(fake, config):
    env = fake.env()
    del env["ELECTRICITYMAPS_TOKEN"]
    live = lc.intensity_for(lookup("FR"), *CELL, "electricitymaps", env, config=config, now=NOW.timestamp())
    assert not live.ok and "set ELECTRICITYMAPS_TOKEN" in live.notes[-1] and fake.requests == []


def test_em_cached_answer_is_reused_with_its_timestamp(fake, config):
    em_routes(fake)
    first = ask(fake, config)
    later = NOW + dt.timedelta(minutes=10)
    second = ask(fake, config, start=CELL[0] + dt.timedelta(minutes=5), end=CELL[1] + dt.timedelta(minutes=5),
                 now=later)
    assert fake.count("/em/v3/carbon-intensity/history") == 1
    assert second.g_per_kwh == first.g_per_kwh == 210.0
    assert any("cached answer fetched at 14:37 UTC (10 min old) reused" in n for n in second.notes)
    files = list(config.cache_dir.glob("*.json"))
    assert len(files) == 1
    record = json.loads(files[0].read_text())
    assert record["fetched_at"] == NOW.timestamp() and record["payload"]["zone"] == "FR"
    assert FakeProviders.EM_TOKEN not in files[0].read_text()


def test_em_stale_cache_is_refused(fake, config):
    em_routes(fake)
    ask(fake, config)
    later = NOW + dt.timedelta(hours=2)  # older than max_age_s (1 h)
    fake.routes["/em/v3/carbon-intensity/history"] = Route({"message": "maintenance"}, 503)
    live = ask(fake, config, now=later)
    assert not live.ok
    assert "cached answer exists but is 2.0 h old, older than the 1 h allowed: refused" in live.notes[-1]
    em_routes(fake, history=[100.0] * 24)  # the provider is back: a fresh answer replaces the stale one
    live = ask(fake, config, now=later)
    assert live.ok and live.g_per_kwh == 100.0 and fake.count("/em/v3/carbon-intensity/history") == 3


# ------------------------------------------------------------------------------------------ WattTime
LB = 0.45359237


def wt_routes(fake, hist_status=200, fc_status=200):
    start = CELL[0] - dt.timedelta(minutes=20)
    fake.routes["/wt/v3/historical"] = Route(wt_series(start, [900.0] * 4 + [1000.0] * 4 + [800.0] * 4),
                                             hist_status)
    forecast = [700.0] * 5 + [400.0] * 12 + [650.0] * 271  # 24 h of 5-min points from 14:35; 15:00 is cleanest
    fake.routes["/wt/v3/forecast"] = Route(wt_series(dt.datetime(2026, 11, 22, 14, 35, tzinfo=UTC), forecast),
                                           fc_status)
    fake.routes["/wt/v3/signal-index"] = Route(wt_series(NOW, [37.0], units="percentile"))


def ask_wt(fake, config, **kw):
    kw.setdefault("ECO_MAGIC_LIVE_CARBON_ZONE", "CAISO_NORTH")
    return ask(fake, config, region="US-CA", provider="watttime", **kw)


def test_wt_login_then_marginal_moer_over_the_cell(fake, config):
    wt_routes(fake)
    live = ask_wt(fake, config)
    # 13:20-13:40 covers the four 1000 lb/MWh points (13:20..13:35)
    assert live.ok and live.kind == "marginal" and live.g_per_kwh == pytest.approx(1000 * LB)
    assert "co2_moer" in live.source and "marginal operating emissions rate" in live.source
    assert live.time == "2026-11-22T13:20:00Z/2026-11-22T13:40:00Z"
    assert live.cleanest_g_per_kwh == pytest.approx(400 * LB)
    assert live.cleanest_time == "2026-11-22T15:00:00Z (next 24 h, forecast)"
    login, hist, fc = fake.requests
    assert login[0] == "/wt/login" and login[2]["authorization"].startswith("Basic ")
    assert hist[0] == "/wt/v3/historical" and hist[2]["authorization"] == f"Bearer {FakeProviders.WT_TOKEN}"
    assert hist[1] == {"region": "CAISO_NORTH", "start": "2026-11-22T13:20:00Z", "end": "2026-11-22T13:40:00Z",
                       "signal_type": "co2_moer"}
    assert fc[1] == {"region": "CAISO_NORTH", "signal_type": "co2_moer", "horizon_hours": "24"}
    ask_wt(fake, config)
    assert fake.logins == 1  # the token is reused in memory


def test_wt_forecast_stands_in_when_history_is_not_in_the_plan(fake, config):
    wt_routes(fake, hist_status=403)
    start = dt.datetime(2026, 11, 22, 14, 36, tzinfo=UTC)
    live = ask_wt(fake, config, start=start)
    assert live.ok and live.kind == "marginal" and live.g_per_kwh == pytest.approx(700 * LB)
    assert "forecast for the cell's time" in live.source


def test_wt_signal_index_only_is_not_an_intensity(fake, config):
    wt_routes(fake, hist_status=403, fc_status=403)
    live = ask_wt(fake, config)
    assert not live.ok
    assert "only the signal index for CAISO_NORTH: 37 (a 0-100 percentile" in live.notes[-1]
    assert fake.count("/wt/v3/signal-index") == 1


def test_wt_expired_token_logs_in_again(fake, config):
    wt_routes(fake)
    ask_wt(fake, config)
    fake.expired_tokens.add(FakeProviders.WT_TOKEN)
    live = ask_wt(fake, config, now=NOW + dt.timedelta(hours=2))
    assert live.ok and fake.logins == 2


def test_wt_issued_token_skips_login(fake, config):
    wt_routes(fake)
    env = {"WATTTIME_TOKEN": FakeProviders.WT_TOKEN, "WATTTIME_USERNAME": "", "WATTTIME_PASSWORD": ""}
    live = ask_wt(fake, config, **env)
    assert live.ok and fake.count("/wt/login") == 0


@pytest.mark.parametrize("env, words", [
    ({"ECO_MAGIC_LIVE_CARBON_ZONE": ""}, "WattTime needs its own region name"),
    ({"WATTTIME_PASSWORD": ""}, "no WattTime credentials"),
    ({"WATTTIME_PASSWORD": "wrong-password-qqq"}, "WattTime's /login refused the credentials (HTTP 401)"),
])
def test_wt_missing_or_wrong_settings_fall_back(fake, config, env, words):
    wt_routes(fake)
    live = ask_wt(fake, config, **env)
    assert not live.ok and words in live.notes[-1] and "wrong-password-qqq" not in repr(live)


def test_wt_slow_and_rate_limited(fake, tmp_path):
    wt_routes(fake)
    fake.routes["/wt/v3/historical"] = Route(wt_series(CELL[0], [900.0]), 429)
    live = ask_wt(fake, lc.LiveConfig(cache_dir=tmp_path))
    assert not live.ok and "rate-limiting" in live.notes[-1]
    fake.routes["/wt/v3/historical"] = Route(wt_series(CELL[0], [900.0]), delay_s=5.0)
    live = ask_wt(fake, lc.LiveConfig(timeout_s=0.3, budget_s=1.0, cache_dir=tmp_path / "b"))
    assert not live.ok and "no answer from WattTime's /v3/historical within 0.3 s" in live.notes[-1]


def test_wt_unknown_units_are_refused(fake, config):
    wt_routes(fake)
    fake.routes["/wt/v3/historical"] = Route(wt_series(CELL[0], [900.0], units="kg_co2_per_mwh"))
    live = ask_wt(fake, config)
    assert not live.ok and "not lbs_co2_per_mwh" in live.notes[-1]


# ------------------------------------------------------------------------------------------ pure parts, wiring
def test_series_helpers():
    t = dt.datetime(2026, 1, 1, 10, tzinfo=UTC)
    pts = [(t, 100.0), (t + dt.timedelta(hours=1), 200.0)]
    assert series.window_mean(pts, 3600, t + dt.timedelta(minutes=30), t + dt.timedelta(minutes=90))[0] == 150.0
    assert series.window_mean(pts, 3600, t + dt.timedelta(hours=3), t + dt.timedelta(hours=4)) is None
    assert series.window_mean(pts, 3600, t, t)[0] == 100.0  # a zero-length cell takes its hour
    hour = [(t, 5.0), (t + dt.timedelta(minutes=5), 7.0), (t + dt.timedelta(hours=1), 5.5)]
    assert series.hourly_means(hour) == [(t, 6.0), (t + dt.timedelta(hours=1), 5.5)]
    assert series.cleanest_hour(hour) == (t + dt.timedelta(hours=1), 5.5)
    assert series.cleanest_hour([]) is None
    assert series.parse_time("2024-03-18T02:00:00.000Z") == series.parse_time("2024-03-18T02:00:00+00:00")


def test_provider_names_and_off():
    assert lc.normalize_provider("Electricity Maps") == "electricitymaps"
    assert lc.normalize_provider("WattTime") == "watttime"
    for off in (None, "", "off", "None"):
        assert lc.normalize_provider(off) is None
        assert lc.for_cell(lookup("FR"), NOW.timestamp(), 1.0, off) is None
    live = lc.intensity_for(lookup("FR"), *CELL, "carbonsignal", {})
    assert not live.ok and "unknown provider 'carbonsignal'" in live.notes[-1]


def test_em_zone_table_covers_every_bidding_zone():
    for code in ("SE1", "SE2", "SE3", "SE4", "NO1", "NO2", "NO3", "NO4", "NO5", "DK1", "DK2", "FI-ZONE"):
        zone, _ = electricitymaps.zone_for(lookup(code))
        assert zone.endswith(code[-3:] if code != "FI-ZONE" else "FI"), code


def measurement(energy_j=3.6e6, started_at=CELL[0].timestamp(), duration_s=1200.0):
    return make_measurement(energy_j, started_at=started_at, duration_s=duration_s)


def test_card_fields_from_a_live_value(fake, config):
    em_routes(fake)
    m = measurement()
    live = lc.for_cell(lookup("FR"), m.started_at, m.duration_s, "electricitymaps", fake.env(), config=config,
                       now=NOW.timestamp())
    r = build_result(m, lookup("FR"), Settings(), live=live)
    assert (r.carbon_kind, r.carbon_time, r.carbon_intensity_g_per_kwh) == ("hourly", "2026-11-22T13:00:00Z", 210.0)
    assert r.carbon_source.startswith("Electricity Maps carbon intensity, zone FR") and r.carbon_year is None
    assert r.co2_g == pytest.approx(1.0 * 210.0 * r.pue)
    assert r.cleanest_hour_co2_g == pytest.approx(1.0 * 190.0 * r.pue)
    assert r.cleanest_hour_time == "2026-11-22T12:00:00Z (last 24 h)"
    json.dumps(r.to_dict(), allow_nan=False)


def test_card_fields_when_live_is_unavailable(fake, config):
    fake.routes["/em/v3/carbon-intensity/history"] = Route({"message": "too many"}, 429)
    m = measurement()
    live = lc.for_cell(lookup("FR"), m.started_at, m.duration_s, "electricitymaps", fake.env(), config=config,
                       now=NOW.timestamp())
    r = build_result(m, lookup("FR"), Settings(), live=live)
    fr = lookup("FR")
    assert (r.carbon_kind, r.carbon_time) == ("annual average", None)
    assert (r.carbon_intensity_g_per_kwh, r.carbon_source, r.carbon_year) == (fr.carbon_intensity_g_per_kwh,
                                                                                fr.ci_source, fr.ci_year)
    assert r.cleanest_hour_co2_g is None
    assert any("Electricity Maps unavailable" in n and "HTTP 429" in n and "annual figure for FR" in n
               for n in r.notes)


def test_a_ci_you_set_wins_over_live(fake, config):
    em_routes(fake)
    live = ask(fake, config)
    r = build_result(measurement(), lookup("FR"), Settings(carbon_intensity_g_per_kwh=100.0), live=live)
    assert r.carbon_intensity_g_per_kwh == 100.0 and r.carbon_kind == "user value"
    assert "live carbon intensity not used: --ci sets it" in r.notes and r.cleanest_hour_co2_g is None


def test_default_result_is_annual(fake):
    r = build_result(measurement(), lookup("FR"), Settings())
    assert (r.carbon_kind, r.carbon_time, r.cleanest_hour_co2_g, r.cleanest_hour_time) == \
        ("annual average", None, None, None)


# ---------------------------------------------------------------------------------- through the magic and the API
def test_magic_uses_the_live_provider_when_configured(fake, ip, monkeypatch, tmp_path):
    from IPython.utils.capture import capture_output

    em_routes(fake)
    for key, value in fake.env(ECO_MAGIC_CACHE_DIR=str(tmp_path / "cache")).items():
        monkeypatch.setenv(key, value)
    ip.run_line_magic("config", "EcoMagics.live_carbon = 'Electricity Maps'")
    try:
        with capture_output():
            r = ip.run_cell_magic("ecolyze", "-o -q", "sum(range(1000))")
        assert r.carbon_kind == "live" and r.carbon_intensity_g_per_kwh == 222.0
        assert "Electricity Maps" in r.carbon_source and "FR" in r.carbon_source
        assert any(path.startswith("/em/") for path, _, _ in fake.requests)
        import eco_magic

        with eco_magic.measure(live_carbon="off") as m:   # the API can switch it off for one block
            pass
        assert m.result.carbon_kind == "annual average"
    finally:
        ip.run_line_magic("config", "EcoMagics.live_carbon = None")
