"""What-if regions and the annual projection: hand-checked arithmetic, real tables, and how the card shows them."""
from __future__ import annotations

import pytest

from eco_magic import regions, whatif
from eco_magic.display.html import render_html
from eco_magic.display.text import render_text
from helpers import make_result


def _region(code: str, name: str, ci: float) -> regions.Region:
    return regions.Region(code=code, name=name, carbon_intensity_g_per_kwh=ci, ci_source="test", ci_year=2023,
                          water_intensity_l_per_kwh=2.5, water_source="test", wue_site_l_per_kwh=0.55,
                          ewif_l_per_kwh=3.142)


@pytest.fixture
def fake_grids(monkeypatch):
    """Extremes and lookups with round numbers so that every figure can be checked by hand."""
    table = {"LOW": _region("LOW", "Lowland", 56.0), "HIGH": _region("HIGH", "Highland", 1000.0),
             "MID": _region("MID", "Midland", 560.0), "XTRA": _region("XTRA", "Extra", 200.0)}

    def lookup(query):
        try:
            return table[query.upper()]
        except KeyError:
            raise regions.UnknownRegionError(query, []) from None

    monkeypatch.setattr(regions, "extremes", lambda: (table["LOW"], table["HIGH"]))
    monkeypatch.setattr(regions, "lookup", lookup)
    return table


def test_hand_checked_co2_and_ratios(fake_grids):
    # 3.6e6 J = 1 kWh; × 56 g/kWh × PUE 1.1 = 61.6 g; the cell ran on a 560 g/kWh grid: 616 g
    rows = whatif.what_if(3.6e6, 1.1, "MID", ("XTRA",))
    assert [(r.code, r.role) for r in rows] == [("LOW", "lowest"), ("HIGH", "highest"), ("XTRA", "chosen")]
    low, high, extra = rows
    assert low.co2_g == pytest.approx(61.6)
    assert low.carbon_intensity_g_per_kwh == 56.0 and low.name == "Lowland"
    assert high.co2_g == pytest.approx(1100.0)
    assert extra.co2_g == pytest.approx(220.0)
    assert low.ratio_to_current == pytest.approx(0.1)
    assert high.ratio_to_current == pytest.approx(1000.0 / 560.0)


def test_ratio_follows_a_user_carbon_intensity(fake_grids):
    rows = whatif.what_if(3.6e6, 1.1, "MID", current_ci_g_per_kwh=112.0)   # --ci 112 overrode the table
    assert rows[0].ratio_to_current == pytest.approx(0.5)


def test_unknown_duplicate_and_own_region_extras_are_skipped(fake_grids):
    rows = whatif.what_if(1000.0, 1.2, "MID", ("nowhere", "LOW", "MID", "XTRA", "xtra"))
    assert [r.code for r in rows] == ["LOW", "HIGH", "XTRA"]
    assert whatif.unknown_codes(("nowhere", "LOW", "Atlantis")) == ["nowhere", "Atlantis"]


def test_zero_energy_gives_no_ratio(fake_grids):
    rows = whatif.what_if(0.0, 1.1, "MID")
    assert all(r.co2_g == 0.0 and r.ratio_to_current is None for r in rows)


def test_real_tables_extremes_bracket_the_current_grid():
    rows = whatif.what_if(3.6e6, 1.1, "FR", ("PL", "aws:us-east-1"))
    low, high, *extras = rows
    expected_low, expected_high = regions.extremes()
    assert (low.code, high.code) == (expected_low.code, expected_high.code)
    assert low.co2_g == pytest.approx(expected_low.carbon_intensity_g_per_kwh * 1.1)
    assert low.carbon_intensity_g_per_kwh < regions.lookup("FR").carbon_intensity_g_per_kwh < \
        high.carbon_intensity_g_per_kwh
    assert [r.code for r in extras] == ["PL", "aws:us-east-1"]
    pl = extras[0]
    assert pl.ratio_to_current == pytest.approx(pl.carbon_intensity_g_per_kwh
                                                / regions.lookup("FR").carbon_intensity_g_per_kwh)


def test_annual_projection_hand_checked():
    r = make_result(energy_j=3.6e6, co2_g=61.6, water_l=2.5)
    a = whatif.annual(r, 10)
    assert a == pytest.approx((3650.0, 224.84, 9125.0))       # kWh, kg, L per year
    energy_kwh, co2_kg, water_l = a                            # a plain 3-tuple as well
    assert a.co2_kg_per_year == co2_kg
    for bad in (0, -1, float("nan")):
        with pytest.raises(ValueError):
            whatif.annual(r, bad)


def test_card_shows_what_if_and_projection_in_html_and_text(fake_grids):
    r = make_result(energy_j=3.6e6, co2_g=616.0, water_l=2.5, region="MID", region_name="Midland")
    rows = whatif.what_if(r.energy_j, r.pue, r.region)
    html = render_html(r, what_if=rows, project_daily=10, unknown_regions=["Atlantis"])
    text = render_text(r, what_if=rows, project_daily=10, unknown_regions=["Atlantis"])
    assert 'class="eco-whatif"' in html and 'class="eco-projection"' in html
    for needle in ("Lowland", "61.6 g", "Highland", "1.10 kg", "0.1× this cell", "Atlantis",
                   "3.65 MWh", "2.25 t", "9.12 m³"):
        assert needle in html, needle
        assert needle in text, needle
    assert "per year" in text and "what-if" in text
    # defaults: the sections are absent, so old calls render as before
    assert "eco-whatif" not in render_html(r) and "eco-projection" not in render_html(r)
    assert "what-if" not in render_text(r) and "per year" not in render_text(r)


def test_region_names_in_what_if_are_escaped(fake_grids, monkeypatch):
    hostile = _region("EVIL", "<img src=x onerror=alert(1)>", 300.0)
    monkeypatch.setattr(regions, "extremes", lambda: (hostile, fake_grids["HIGH"]))
    r = make_result()
    html = render_html(r, what_if=whatif.what_if(r.energy_j, r.pue, "MID"), unknown_regions=["<script>x</script>"])
    assert "<img src=x" not in html and "<script>x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "&lt;script&gt;x&lt;/script&gt;" in html
