"""The paper's equations against hand-computed numbers."""
import math

import pytest

from eco_magic import accounting as acc


def test_paper_worked_example_co2():
    # 0.01 kWh × 0.5 kg/kWh × PUE 1.2 = 6 g
    assert acc.co2_g(0.01 * 3.6e6, 500.0, 1.2) == pytest.approx(6.0, rel=1e-12)


def test_paper_worked_example_effective_params():
    # 7B at INT8 (QF 0.25) → 1,750 M effective parameters
    assert acc.effective_params_m(7e9, 0.25) == pytest.approx(1750.0)
    assert acc.effective_params_m(7e9, 1.0) == pytest.approx(7000.0)
    assert acc.effective_params_m(7e9, 0.125) == pytest.approx(875.0)


def test_pue_tiers_follow_hardware():
    assert acc.pue_tier([]) == "cpu_only" and acc.PUE_TIERS["cpu_only"] == 1.1
    assert acc.pue_tier([False]) == "consumer_gpu" and acc.PUE_TIERS["consumer_gpu"] == 1.2
    assert acc.pue_tier([False, True]) == "datacenter_gpu" and acc.PUE_TIERS["datacenter_gpu"] == 1.4


def test_water_paper_splits_overhead_onsite():
    w = acc.water_paper(3.6e6, 2.5, 1.05)  # 1 kWh, 2.5 L/kWh, overhead 1.05
    assert w.offsite_l == pytest.approx(2.5)
    assert w.onsite_l == pytest.approx(0.125)
    assert w.total_l == pytest.approx(2.625)


def test_water_li_us_average():
    # Li et al. US average: WUE 0.55, PUE 1.17, EWIF 3.142 → 4.226 L per IT kWh
    w = acc.water_li(3.6e6, 0.55, 1.17, 3.142)
    assert w.onsite_l == pytest.approx(0.55)
    assert w.offsite_l == pytest.approx(1.17 * 3.142)
    assert w.total_l == pytest.approx(4.22614)


def test_ess_value_and_na_below_resolution():
    assert acc.ess(1750.0, 6.0, 0.001) == pytest.approx(1750.0 / 6.0)
    assert acc.ess(1750.0, 0.001, 0.001) is None          # below 2× resolution
    assert acc.ess(1750.0, 0.0, 0.0) is None              # never infinity
    assert acc.ess(None, 6.0, 0.0) is None                # no model
    assert acc.ess(1750.0, math.nan, 0.0) is None


def test_energy_resolution_by_method():
    assert acc.energy_resolution_j("counter", 300.0, 10.0, 50, counter_update_s=0.1) == pytest.approx(60.0)
    assert acc.energy_resolution_j("counter", 50.0, 10.0, 50, counter_update_s=0.001) == pytest.approx(0.1)
    assert acc.energy_resolution_j("integrated", 100.0, 10.0, 51) == pytest.approx(20.0)
    assert acc.energy_resolution_j("estimated", 8.0, 1.0, 5, quantum_j=0.04) == pytest.approx(0.04)


def test_net_of_idle_and_rates():
    assert acc.net_of_idle_j(100.0, 5.0, 10.0) == pytest.approx(50.0)
    assert acc.net_of_idle_j(10.0, 5.0, 10.0) == 0.0
    assert acc.net_of_idle_j(10.0, None, 10.0) is None
    assert acc.per_item(64.0, 64) == pytest.approx(1.0)
    assert acc.per_item(64.0, None) is None
    assert acc.per_minute(30.0, 30.0) == pytest.approx(60.0)
    assert acc.annual_projection(2.0, 1000) == pytest.approx(730_000.0)


def test_thermal_flags():
    flags = acc.thermal_flags([
        ("gpu:0", "gpu", 83.0, 87.0, ("hw_thermal_slowdown",)),
        ("cpu:rapl", "cpu", 84.0, None, ()),
        ("cpu:rapl", "cpu", 90.0, None, ()),
        ("ram:model", "ram", None, None, ()),
    ])
    kinds = [(f.device_key, f.kind) for f in flags]
    assert ("gpu:0", "over_threshold") in kinds
    assert ("gpu:0", "near_slowdown") in kinds
    assert ("gpu:0", "throttled") in kinds
    assert kinds.count(("cpu:rapl", "over_threshold")) == 1   # 84 °C is below 85, 90 is above
    custom = acc.thermal_flags([("gpu:0", "gpu", 75.0, None, ())], gpu_temp_max_c=70.0)
    assert [f.kind for f in custom] == ["over_threshold"]


# --- LLM token figures ------------------------------------------------------------------------------------------

def test_per_token_figures_are_plain_ratios():
    assert acc.per_token(120.0, 40) == 3.0
    assert acc.per_token(120.0, 0) is None and acc.per_token(None, 40) is None
    assert acc.tokens_per_s(50, 2.0) == 25.0
    assert acc.tokens_per_s(0, 2.0) is None and acc.tokens_per_s(50, 0.0) is None
    assert acc.per_1k_responses_wh(36.0, 10) == pytest.approx(1.0)   # 3.6 J per response = 1 Wh per 1,000
    assert acc.per_1k_responses_wh(36.0, 0) is None


def test_token_fields_from_counts():
    from eco_magic.assemble import token_fields
    from eco_magic.frameworks.tokens import TokenCounts

    assert token_fields(None, energy_j=10.0, energy_net_j=None, co2_g=1.0, duration_s=2.0) == {}
    f = token_fields(TokenCounts(30, 80, 4, "count_tokens() × 1"), energy_j=10.0, energy_net_j=6.0, co2_g=0.5,
                     duration_s=2.0)
    assert f["energy_per_token_j"] == 10.0 / 80 and f["co2_per_token_g"] == 0.5 / 80
    assert f["energy_net_per_token_j"] == 6.0 / 80 and f["tokens_per_s"] == 40.0
    assert f["energy_per_response_j"] == 2.5
    assert f["energy_net_per_1k_responses_wh"] == pytest.approx(6.0 / 4 * 1000 / 3600)
    assert (f["tokens_in"], f["tokens_out"], f["responses"], f["token_source"]) == (30, 80, 4, "count_tokens() × 1")
    none_out = token_fields(TokenCounts(30, 0, 1, "x"), energy_j=10.0, energy_net_j=None, co2_g=0.5, duration_s=2.0)
    assert none_out["energy_per_token_j"] is None and none_out["energy_net_per_1k_responses_wh"] is None
