"""The planner (issue 17): MLCarbon's model against a published figure and hand-computed values, plans calibrated by
a measured cell, and the plan cards."""
from __future__ import annotations

import math

import pytest

import eco_magic
from eco_magic import accelerators, planner
from eco_magic.planner import Plan, compare, inference_flops, plan, scale, training_flops
from helpers import make_result

YEAR_S = 365 * 86400.0


# --- the published figure -----------------------------------------------------------------------------------------
# MLCarbon's GPT-3 row (LLMCarbon database.csv; Patterson et al. 2021 Table 4): 175 B parameters, 300 B tokens,
# 10,000 V100 at 24.6 achieved TFLOP/s, 330 W average system power, PUE 1.1, 0.429 kg/kWh -> 1,287 MWh, 552.1 t.
GPT3 = dict(params=175e9, tokens=300e9, devices=10_000, achieved_tflops=24.6, power_w=330, pue=1.1,
            ci_g_per_kwh=429)


def test_gpt3_row_reproduced_within_one_percent():
    p = plan(**GPT3)
    assert p.facility_energy_kwh / 1000 == pytest.approx(1287, rel=0.01)
    assert p.co2_kg / 1000 == pytest.approx(552.1, rel=0.01)
    assert p.days == pytest.approx(14.8, rel=0.01)  # the row's training days
    # 6·N·D with N = 175 B is 315 ZFLOPs, the published 314 (3.14e23, GPT-3 paper) is 6 × 174.6 B × 300 B: +0.3 %
    assert p.flops == pytest.approx(3.15e23)
    assert p.facility_energy_kwh / 1000 == pytest.approx(1291.16, abs=0.01)


def test_gpt3_row_exact_with_the_papers_own_flop_count():
    p = plan(**{**GPT3, "params": None, "tokens": None}, flops=3.14e23)
    assert p.facility_energy_kwh / 1000 == pytest.approx(1287, rel=0.0005)
    assert p.co2_kg / 1000 == pytest.approx(552.1, rel=0.0005)


def test_gpt3_row_through_the_device_table_and_llmcarbons_efficiency():
    # LLMCarbon's own route: peak 125 TFLOP/s × hardware efficiency 0.197; V100's table power is the row's 330 W
    p = plan(params=175e9, tokens=300e9, devices=10_000, device="V100", hardware_efficiency=0.197, pue=1.1,
             ci_g_per_kwh=429)
    assert p.power_w == 330 and "Patterson" in p.power_source
    assert p.achieved_tflops == pytest.approx(24.625)
    assert p.co2_kg / 1000 == pytest.approx(552.1, rel=0.01)


# --- FLOP model, hand-computed ------------------------------------------------------------------------------------
def test_training_and_inference_flop_counts():
    assert training_flops(7e9, 1e12) == pytest.approx(4.2e22)      # 6 × 7e9 × 1e12
    assert inference_flops(7e9, 1e12) == pytest.approx(1.4e22)     # 2 × 7e9 × 1e12
    t = plan(params=7e9, tokens=1e12, devices=8, achieved_tflops=100, power_w=500, ci_g_per_kwh=0)
    i = plan(params=7e9, tokens=1000, phase="inference", devices=1, achieved_tflops=100, power_w=500,
             ci_g_per_kwh=0)
    assert t.flops == pytest.approx(4.2e22) and "6·N·D" in t.flops_source
    assert i.flops == pytest.approx(1.4e13) and "2·N" in i.flops_source
    assert t.flops / training_flops(7e9, 1000) == pytest.approx(1e9)


def test_duration_energy_co2_water_by_hand():
    p = plan(params=1e9, tokens=1e10, devices=4, achieved_tflops=50, power_w=250, pue=1.2, region="FR")
    from eco_magic import regions

    fr = regions.lookup("FR")
    seconds = 6e19 / (4 * 50e12)
    energy_kwh = 4 * 250 * seconds / 3.6e6
    assert p.duration_s == pytest.approx(seconds)
    assert p.energy_kwh == pytest.approx(energy_kwh)
    assert p.facility_energy_kwh == pytest.approx(energy_kwh * 1.2)
    assert p.co2_kg == pytest.approx(energy_kwh * 1.2 * fr.carbon_intensity_g_per_kwh / 1000)
    assert p.water_l == pytest.approx(energy_kwh * fr.water_intensity_l_per_kwh * 1.68)  # datacenter overhead
    assert p.region == "FR" and p.carbon_year == fr.ci_year


def test_device_default_efficiency_tdp_and_embodied_are_stated():
    p = plan(params=30e9, tokens=600e9, device="A100", devices=256, region="US-CA")
    a100 = accelerators.lookup("A100")
    assert p.hardware_efficiency == planner.DEFAULT_HARDWARE_EFFICIENCY
    assert p.achieved_tflops == pytest.approx(312 * 0.28)
    assert p.power_w == a100.tdp_w == 400
    assert any("0.28 assumed" in n for n in p.notes) and any("TDP" in n for n in p.notes)
    assert p.pue == 1.4 and "datacenter" in p.pue_source
    assert p.embodied_co2_kg == pytest.approx(256 * 567.7 * p.duration_s / (5 * YEAR_S))
    assert "Boavizta" in p.embodied_source and p.embodied_co2_kg not in (None, 0)
    assert p.total_co2_kg == pytest.approx(p.co2_kg + p.embodied_co2_kg)


def test_days_override_and_implied_efficiency():
    p = plan(params=30e9, tokens=600e9, device="A100", devices=256, days=30, ci_g_per_kwh=350)
    assert p.duration_s == 30 * 86400 and p.duration_source == "given (days)"
    assert p.achieved_tflops == pytest.approx(1.08e23 / (256 * 30 * 86400) / 1e12)
    assert any("imply" in n for n in p.notes)
    fast = plan(params=30e9, tokens=600e9, device="A100", devices=8, days=1, ci_g_per_kwh=350)
    assert any("not feasible" in n for n in fast.notes)


def test_cloud_region_uses_the_providers_pue_and_no_region_says_world():
    assert plan(flops=1e21, achieved_tflops=100, power_w=300, region="aws:us-east-1").pue == 1.15
    p = plan(flops=1e21, achieved_tflops=100, power_w=300)
    assert p.region == "WORLD" and any("world-average" in n for n in p.notes)
    assert any("embodied carbon unknown" in n for n in p.notes) and p.embodied_co2_kg is None


@pytest.mark.parametrize("kwargs, message", [
    (dict(params=1e9, tokens=1e9), "cannot derive the duration"),
    (dict(params=1e9, tokens=1e9, achieved_tflops=10), "power_w"),
    (dict(params=1e9, tokens=1e9, device="Z9000"), "unknown device"),
    (dict(params=1e9, tokens=1e9, device="V100", precision="bf16", power_w=1), "no bf16 peak"),
    (dict(params=1e9, tokens=1e9, device="A100", hardware_efficiency=1.5), "at most 1"),
    (dict(params=-1, tokens=1e9, achieved_tflops=1, power_w=1), "positive"),
    (dict(params=1e9, tokens=1e9, achieved_tflops=1, power_w=1, phase="serving"), "phase"),
    (dict(params=1e9, tokens=1e9, achieved_tflops=1, power_w=1, devices=2.5), "whole number"),
    (dict(params=1e9, tokens=1e9, achieved_tflops=1, power_w=1, pue=0.5), "between 1.0 and 5.0"),
    (dict(params=1e9, tokens=1e9, achieved_tflops=1, power_w=1, region="Atlantis"), "unknown region"),
])
def test_bad_inputs_raise_one_sentence(kwargs, message):
    with pytest.raises(ValueError, match=message) as exc:
        plan(**kwargs)
    assert "\n" not in str(exc.value)


def test_accelerator_lookup_by_alias_and_table_sources():
    assert accelerators.lookup("a100-sxm4-80gb").key == "A100-SXM4-80GB"
    assert accelerators.lookup("H100 PCIe").tdp_w == 350
    assert accelerators.lookup("tpu v3").peak("bf16") == (123, "bf16")
    assert accelerators.lookup("V100").peak() == (125, "fp16")
    for a in accelerators.table():
        assert a.spec_source and a.year and a.tdp_w and a.peak_tflops and a.lifetime_source
        assert (a.typical_power_w is None) == (not a.typical_power_source)
        assert (a.embodied_kg_co2e is None) == (not a.embodied_source)


# --- representations ----------------------------------------------------------------------------------------------
def test_plan_text_and_html_are_theme_aware_and_escaped():
    p = plan(**GPT3, device="V100", label="<b>GPT-3</b>")
    assert isinstance(p, Plan)
    assert "1.29 GWh at the meter" in str(p) and "CO₂e" in str(p)
    bundle = p._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}
    html = bundle["text/html"]
    assert "&lt;b&gt;GPT-3&lt;/b&gt;" in html and "<b>GPT-3</b>" not in html
    assert "var(--jp-ui-font-color0, #1f2328)" in html and "eco-plan" in html
    assert "embodied" in bundle["text/plain"] and "method:" in bundle["text/plain"]
    assert p.to_dict()["facility_energy_kwh"] == pytest.approx(p.facility_energy_kwh)


def test_compare_side_by_side():
    a = plan(params=30e9, tokens=600e9, device="A100", devices=256, days=30, pue=1.15, ci_g_per_kwh=350,
             label="30B")
    b = plan(params=100e9, tokens=600e9, device="A100", devices=256, days=60, pue=1.15, ci_g_per_kwh=350,
             label="100B")
    c = compare([a, b])
    text = str(c)
    assert "30B" in text and "100B" in text and "2.00×" in text
    assert set(c._repr_mimebundle_()) == {"text/plain", "text/html"}
    with pytest.raises(ValueError):
        compare([])


def test_lazy_public_name():
    assert eco_magic.plan is plan and eco_magic.Plan is Plan


# --- calibrated by measurement ------------------------------------------------------------------------------------
def _repeated(**kw):
    base = dict(items=64, runs=5, group="g1", energy_j=200.0, energy_j_ci=(180.0, 220.0), co2_g=0.02,
                co2_g_ci=(0.018, 0.022), water_l=0.004, water_l_ci=(0.0035, 0.0045), embodied_co2_g=0.001,
                embodied_source="cpu rows", duration_s=3.0)
    base.update(kw)
    return make_result(label="int8", **base)


def test_scale_to_items_gives_100x_with_the_same_relative_interval():
    r = _repeated()
    p = r.scale_to(items=6400)
    assert p.energy_j == pytest.approx(100 * r.energy_j)
    assert p.co2_kg * 1000 == pytest.approx(100 * r.co2_g)
    assert p.water_l == pytest.approx(100 * r.water_l)
    assert p.embodied_co2_kg * 1000 == pytest.approx(100 * r.embodied_co2_g)
    assert p.duration_s == pytest.approx(300.0)
    lo, hi = p.energy_kwh_ci
    assert (lo * 3.6e6 / p.energy_j, hi * 3.6e6 / p.energy_j) == pytest.approx((0.9, 1.1))
    assert p.co2_kg_ci[0] / p.co2_kg == pytest.approx(r.co2_g_ci[0] / r.co2_g)
    assert p.water_l_ci[1] / p.water_l == pytest.approx(r.water_l_ci[1] / r.water_l)
    assert p.calibrated_from and "'int8'" in p.calibrated_from and "5 runs" in p.calibrated_from
    assert p.method == planner.CALIBRATED and p.scale_factor == 100 and p.runs == 5
    assert "calibrated" in p._repr_mimebundle_()["text/html"]


def test_scale_to_generated_tokens_and_single_runs():
    r = make_result(tokens_out=500, energy_j=50.0)
    p = r.scale_to(tokens=1e9)
    assert p.energy_j == pytest.approx(50.0 * 2e6)
    assert p.energy_kwh_ci is None and any("no interval" in n for n in p.notes)
    assert any("no embodied" in n for n in p.notes) and p.embodied_co2_kg is None


def test_scale_to_refuses_what_the_cell_did_not_count():
    with pytest.raises(ValueError, match="without --items"):
        make_result().scale_to(items=10)
    with pytest.raises(ValueError, match="use tokens=N"):
        make_result(tokens_out=10).scale_to(items=10)
    with pytest.raises(ValueError, match="tokens_out"):
        make_result(items=3).scale_to(tokens=10)
    with pytest.raises(ValueError, match="exactly one"):
        make_result(items=3).scale_to()
    with pytest.raises(ValueError, match="positive"):
        make_result(items=3).scale_to(items=0)


def test_scale_a_ledger_record_names_its_row():
    record = dict(_repeated().to_dict(), row_id=42, session_id="abc")
    p = scale(record, items=640)
    assert p.calibrated_from.startswith("ledger row 42")
    assert p.energy_kwh_ci[1] / p.energy_kwh == pytest.approx(1.1)
    assert math.isclose(p.energy_j, 2000.0)


def test_a_year_of_a_cluster_needs_no_flops():
    p = plan(device="H100", devices=64, days=365, region="WORLD")
    assert p.flops is None and p.achieved_tflops is None and p.throughput_source == ""
    assert p.energy_kwh == pytest.approx(64 * 700 * 365 * 24 / 1000)
    assert p.embodied_co2_kg == pytest.approx(64 * 575.1 / 5)  # one year of a 5-year lifetime
    assert "FLOPs not given" in str(p._repr_mimebundle_()["text/plain"])


def test_importing_the_planner_stays_light():
    import subprocess
    import sys

    code = ("import sys, eco_magic; p = eco_magic.plan(flops=1e21, achieved_tflops=100, power_w=300); "
            "print(sorted(m for m in ('IPython', 'pandas', 'matplotlib', 'pynvml') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr
