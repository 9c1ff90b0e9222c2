"""The card's words and markup: number formatting, what each part says (and when), the optional sections of the
new result fields, escaping, the scoped theme CSS and its contrast, and that the text card says what the HTML says."""
from __future__ import annotations

import dataclasses
import re
from html import escape

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eco_magic.display import card, fmt, phrases, theme
from eco_magic.display.compare import ledger_bundle
from eco_magic.display.html import render_html
from eco_magic.display.text import render_text
from eco_magic.result import DeviceReading
from eco_magic.verdicts import pct_text
from helpers import make_result
from test_plot import traced_result

WATER_SOURCE = ("water: ML-EcoLyzer reference table 'global_average', global default (none for PL); "
                "WUE/EWIF: Li et al. U.S. average (no global figure published), global default (none for PL)")
HOSTILE = "<img src=x onerror=alert(1)>"


def traced(devices=None, **kw):
    """``traced_result`` (a power trace of cpu:model and gpu:0), with other devices when given."""
    r = traced_result(**kw)
    return dataclasses.replace(r, devices=devices) if devices is not None else r


def rich(**kw):
    """A result with every optional field of the shared contract filled."""
    base = dict(label="rich", duration_s=5.0, runs=7, group="g1", energy_j=5.99, energy_j_ci=(5.78, 6.20),
                energy_j_std=0.23, co2_g=0.0012, co2_g_ci=(0.0011, 0.0013), co2_g_std=0.0001, water_l=0.004,
                water_l_ci=(0.0039, 0.0041), duration_s_ci=(4.9, 5.1), duration_s_std=0.1, ess=1190.4,
                ess_ci=(1100.0, 1280.0), ess_std=95.0, effective_params_m=1.05, n_params=1.048576e6, qf=1.0,
                precision="fp32", precision_source="dtype census", model_variable="layer_fp32",
                recorded=(("accuracy", 0.934), ("loss", 0.1213)), tokens_in=512, tokens_out=2048, responses=16,
                token_source="transformers generate() hook", tokens_per_s=41.3, energy_per_token_j=0.0123,
                co2_per_token_g=1.2e-6, energy_per_response_j=1.57, energy_per_1k_responses_wh=0.436,
                energy_net_per_token_j=0.0098, energy_net_per_1k_responses_wh=0.35, embodied_co2_g=0.0123,
                embodied_source="Boavizta 2024, 4-year life", carbon_kind="hourly",
                carbon_time="2026-12-02T14:00Z", energy_net_j=4.1, idle_power_w=2.3, idle_baseline_s=12.0,
                idle_source="idle time between cells", items=2048, energy_per_item_j=5.99 / 2048,
                co2_per_item_g=0.0012 / 2048, energy_per_min_j=71.9, co2_per_min_g=0.0144)
    base.update(kw)
    return traced(**base)


# --- numbers ------------------------------------------------------------------------------------------------------

def test_energy_autoscale():
    assert fmt.energy(12.3456) == "12.3 J"
    assert fmt.energy(7200.0) == "2.00 Wh"
    assert fmt.energy(3.6e6 * 2.5) == "2.50 kWh"
    assert fmt.energy(3.6e9 * 4.2) == "4.20 MWh"
    assert fmt.energy(0.0042) == "4.20 mJ"
    assert fmt.energy(4.2e-7) == "420 nJ"
    assert fmt.energy(0.0) == "0 J"
    assert fmt.energy(None) == "n/a"


def test_mass_and_volume_autoscale():
    assert fmt.mass_g(6.0) == "6.00 g"
    assert fmt.mass_g(0.0016) == "1.60 mg"
    assert fmt.mass_g(2500.0) == "2.50 kg"
    assert fmt.mass_g(3.2e6) == "3.20 t"
    assert fmt.mass_g(2.97e-7) == "297 ng"
    assert fmt.volume_l(0.0041) == "4.10 mL"
    assert fmt.volume_l(3.2) == "3.20 L"
    assert fmt.volume_l(1.04e-7) == "104 nL"


def test_durations_and_counts():
    assert fmt.duration(0.012) == "12 ms"
    assert fmt.duration(0.0021) == "2.1 ms"
    assert fmt.duration(2.014) == "2.01 s"
    assert fmt.duration(125) == "2 min 5 s"
    assert fmt.count(7e9) == "7 B"
    assert fmt.params_m(1750.0) == "1.75 B"
    assert fmt.params_m(1.048576) == "1.05 M"
    assert fmt.ess(None, "no model") == "n/a (no model)"


def test_dimensionless_numbers_never_in_scientific_notation():
    assert fmt.number(1190.4) == "1,190"
    assert fmt.number(0.934) == "0.934"
    assert fmt.number(12.3e6) == "12.3 million"
    assert fmt.number(4.56e9) == "4.56 billion"
    assert fmt.ess(1190.4) == "1,190 M params/g CO₂e"
    assert fmt.integer(2048) == "2,048"
    assert fmt._sig(999.7, 3) == "1,000"                         # noqa: SLF001 - a carry keeps 3 figures


def test_percentages_never_round_to_a_misleading_round_figure():
    assert fmt.pct(0.996) == "99.6 %" and fmt.pct(-0.996) == "-99.6 %"
    assert fmt.pct(0.453) == "45 %" and fmt.pct(0.052) == "5.2 %" and fmt.pct(1.0) == "100 %"
    assert fmt.pct(0.00004) == "0.004 %" and fmt.pct(0.0) == "0 %"
    assert pct_text(-99.6) == "−99.6 %" and pct_text(-99.96) == "−99.96 %" and pct_text(-100.0) == "−100 %"
    assert pct_text(-38.2) == "−38 %" and pct_text(5.2) == "+5.2 %" and pct_text(0.01) == "0 %"


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=1e-12, max_value=1e15, allow_nan=False), st.booleans())
def test_no_formatter_ever_writes_scientific_notation(value, negative):
    v = -value if negative else value
    for f in (fmt.energy, fmt.mass_g, fmt.volume_l, fmt.power, fmt.number):
        text = f(v)
        assert not re.search(r"\de[+-]?\d", text), (f.__name__, v, text)
        assert "nan" not in text and "inf" not in text


# --- what the card says, and when -----------------------------------------------------------------------------------

def test_tiles_show_five_figures_each_with_unit_method_and_note():
    r = make_result(ess=1190.4, effective_params_m=1.05, n_params=1.05e6, qf=1.0, precision="fp32")
    html = render_html(r)
    tiles = dict(re.findall(r'class="eco-tile (eco-\w+)">(.*?)</td>', html))
    assert set(tiles) == {"eco-energy", "eco-co2", "eco-water", "eco-thermal", "eco-ess"}
    assert ">100 J<" in tiles["eco-energy"] and "estimated" in tiles["eco-energy"]
    assert "g/kWh × PUE 1.1" in tiles["eco-co2"] and "France" in tiles["eco-co2"]
    assert "paper model" in tiles["eco-water"] and "on-site" in tiles["eco-water"]
    assert ">n/a<" in tiles["eco-thermal"] and "no temperature sensor readable" in tiles["eco-thermal"]
    assert ">1,190<" in tiles["eco-ess"] and "M params / g CO₂e" in tiles["eco-ess"]
    assert "e+" not in html


def test_every_na_tile_carries_its_reason():
    r = make_result(ess=None, ess_note="CO₂ below 10× what the sensors resolve (0.1 mg)")
    html = render_html(r)
    for cls, reason in (("eco-thermal", "no temperature sensor readable"), ("eco-ess", "CO₂ below 10×"),
                        ("eco-energy", "net of idle n/a (no idle baseline)")):
        tile = re.search(rf'class="eco-tile {cls}">(.*?)</td>', html).group(1)
        assert reason in tile, (cls, tile)
    text = render_text(r)
    assert "thermal   n/a: no temperature sensor readable" in text
    assert "ESS       n/a: CO₂ below 10×" in text
    assert f"net of idle n/a ({phrases.NO_IDLE_HINT})" in text


def test_per_minute_only_for_cells_of_a_second_or_more():
    short = make_result(duration_s=0.021, energy_per_min_j=5000.0, co2_per_min_g=0.1)
    long = make_result(duration_s=2.0, energy_per_min_j=3000.0, co2_per_min_g=0.05)
    assert "per minute" not in render_html(short) and "per minute" not in render_text(short)
    assert "3,000 J, 50.0 mg CO₂e" in render_html(long) and "per minute 3,000 J, 50.0 mg CO₂e" in render_text(long)


def test_each_source_is_said_once_and_only_the_water_source_of_the_model_used():
    kw = dict(carbon_source="Ember 2024", carbon_year=2023, pue_source="CPU-only tier (ML-EcoLyzer)",
              pue_tier="cpu_only", water_source=WATER_SOURCE, water_formula="E × WI × overhead (1.05)")
    paper = make_result(water_model="paper", **kw)
    li = make_result(water_model="li", **{**kw, "water_formula": "E_IT × (WUE_site + PUE × EWIF)",
                                          "water_source": f"WUE/EWIF for Poland: {WATER_SOURCE}"})
    for r in (paper, li):
        for out in (render_html(r), render_text(r)):
            assert out.count("Ember 2024") == 1 and out.count("CPU-only tier") == 1, out
            assert "cpu_only" not in out and "water: water" not in out and "tier cpu_only (" not in out
    assert "Li et al." not in render_html(paper) and "Li et al." not in render_text(paper)
    assert "ML-EcoLyzer reference table" in render_text(paper)
    assert "Li et al. U.S. average" in render_html(li) and "Li et al. U.S. average" in render_text(li)
    assert "reference table" not in render_text(li)


def test_net_of_idle_says_what_the_baseline_rests_on():
    r = make_result(energy_net_j=1.0, idle_power_w=2.0, idle_baseline_s=3.0, idle_source="%ecolyze_idle over 3 s")
    assert phrases.net_of_idle(r) == "1.00 J (baseline 2.00 W over 3.00 s of idle; %ecolyze_idle over 3 s)"
    bare = make_result(energy_net_j=1.0, idle_power_w=2.0)
    assert phrases.net_of_idle(bare) == "1.00 J (baseline 2.00 W)"


def test_the_year_is_added_to_a_source_only_when_it_does_not_say_it():
    assert phrases.carbon_source(make_result(carbon_source="Ember", carbon_year=2023)) == "Ember, 2023 data"
    said = make_result(carbon_source="Ember Review 2024, world 2023", carbon_year=2023)
    assert phrases.carbon_source(said) == "Ember Review 2024, world 2023"


def test_device_table_never_wraps_a_number_and_shows_only_columns_with_data():
    r = make_result(devices=(
        DeviceReading("cpu:0", "cpu", "AMD EPYC 7B13 64-Core Processor", 0.092, "counter", "RAPL package",
                      mean_power_w=41.0),
        DeviceReading("ram:model", "ram", "RAM 24 GB", 0.0031, "estimated", "DIMM model", "process")))
    html = render_html(r)
    table = re.search(r'<table class="eco-devices">.*?</table>', html).group(0)
    assert '<td class="eco-nw">AMD EPYC 7B13 64-Core Processor</td>' in table
    assert '<td class="eco-n">92.0 mJ</td>' in table and '<td class="eco-n">41.0 W</td>' in table
    assert "idle" not in table and "peak temp" not in table           # no device has them
    assert '<td class="eco-src">' in table                            # the one column that may wrap
    with_temp = render_html(traced(devices=(DeviceReading(
        "gpu:0", "gpu", "GPU", 5.0, "counter", "NVML", peak_temp_c=61.0, idle_power_w=20.0),)))
    assert "peak temp" in with_temp and "61 °C" in with_temp and ">idle<" in with_temp


def test_trace_is_inside_the_card_as_svg():
    html = render_html(traced_result())
    inside = html[html.index('class="eco eco-card"'):]
    assert '<div class="eco-plot">' in inside
    assert inside.index("<svg") < inside.index('<table class="eco-provenance">')
    assert "data:image" not in html and html.count("<svg") == 1 + 2   # the trace + one legend swatch per device
    assert 'class="i"' in html                                         # the cpu's idle baseline, dashed
    assert render_html(traced_result(), plot=False).count("<svg") == 0


def test_repeats_show_ci_half_width_and_a_single_run_says_so():
    r = rich()
    html, text = render_html(r), render_text(r)
    for out in (html, text):
        assert "± 210 mJ (95 % CI, 7 runs)" in out
        assert "sd 230 mJ" in out and "mean of 7 runs (group g1)" in out
        assert "ESS 1,190 ± 90.0 (95 % CI half-width), sd 95.0" in out
    single = make_result()
    assert "1 run: no error bar (use --repeat N)" in render_html(single)
    assert "1 run: no error bar (use --repeat N)" in render_text(single)
    assert "±" not in render_html(single)


def test_new_fields_render_when_present_and_nothing_when_absent():
    r = rich()
    html, text = render_html(r), render_text(r)
    for needle in ("accuracy 0.934", "loss 0.121", "512 in, 2,048 out, 16 responses · 41.3 tokens/s",
                   "12.3 mJ (net of idle 9.80 mJ) · 1.20 µg CO₂e",
                   "0.436 Wh per 1,000 responses (AI Energy Score unit; net of idle 0.350 Wh)",
                   "transformers generate() hook", "12.3 mg CO₂e (Boavizta 2024, 4-year life)",
                   "not included in the 1.20 mg operational CO₂e", "hourly at 2026-12-02T14:00Z",
                   "4.10 J (baseline 2.30 W over 12.00 s of idle time between cells)", "fp32 from dtype census"):
        assert needle in html, needle
        assert needle in text, needle
    assert "+ 12.3 mg embodied (separate)" in html                    # beside the operational CO₂e, not in it
    plain = make_result()
    for absent in ("tokens", "per token", "embodied", "recorded", "AI Energy Score"):
        assert absent not in render_html(plain) and absent not in render_text(plain)


def test_text_card_is_as_complete_as_the_html_card():
    r = rich(devices=(DeviceReading("gpu:0", "gpu", "Test GPU", 5.99, "counter", "NVML total-energy counter",
                                    peak_temp_c=61.0, mean_power_w=1.2),))
    bundle = card.bundle(r, project_daily=10, what_if_regions=["PL"])
    html, text = bundle["text/html"], bundle["text/plain"]
    facts = ["5.99 J", "1.20 mg", "4.00 mL", "peak 61 °C", "1,190", "Test GPU", "NVML total-energy counter",
             "counter", "per item", "per minute", "Poland", "per year", "carbon intensity", "PUE 1.1",
             "paper model", "adaptive", *(label for label, _ in phrases.sources(r))]
    for fact in facts:
        assert fact in html, fact
        assert fact in text, fact


@pytest.mark.parametrize("field", ["label", "token_source", "embodied_source", "idle_source", "precision_source",
                                   "carbon_time", "recorded", "device", "carbon_source", "region_name", "notes"])
def test_every_user_string_is_escaped(field):
    kw = {"recorded": ((HOSTILE, 1.0),), "device": None, "notes": (HOSTILE,)}.get(field, HOSTILE)
    r = rich(**({field: kw} if field not in ("device",) else {}))
    if field == "device":
        r = rich(devices=(DeviceReading("cpu:0", "cpu", HOSTILE, 1.0, "counter", HOSTILE),))
    html = render_html(r)
    assert HOSTILE not in html and escape(HOSTILE) in html
    assert HOSTILE in render_text(r)                                   # plain text keeps it as typed


# --- markup: one scoped style, small, theme-aware ------------------------------------------------------------------

def _style(html: str) -> str:
    (css,) = re.findall(r"<style>(.*?)</style>", html, flags=re.S)
    return css


def test_card_has_one_scoped_style_and_no_inline_styles():
    html = render_html(traced_result())
    css = _style(html)
    selectors = [sel.strip() for block in css.split("}") if "{" in block
                 for sel in block.split("{", 1)[0].split(",")]
    assert selectors and all(re.match(r'(body\[data-jp-theme-light="false"\] |body\.vscode-dark )?\.eco', s)
                             for s in selectors), [s for s in selectors if not s.startswith(".eco")]
    assert ' style="' not in html and " style='" not in html
    assert len(render_html(make_result()).encode()) < 8000             # small: shared rules, not inline CSS


def _rgb(hex_: str) -> tuple[float, float, float]:
    h = hex_.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    return tuple(int(h[i:i + 2], 16) / 255 for i in (0, 2, 4))


def _contrast(a, b) -> float:
    def lum(c):
        f = [(v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4) for v in c]
        return 0.2126 * f[0] + 0.7152 * f[1] + 0.0722 * f[2]

    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _mix(fg, alpha, bg):
    return tuple(f * alpha + b * (1 - alpha) for f, b in zip(fg, bg))


def _fallback(value: str) -> str:
    m = re.search(r"#[0-9a-fA-F]{3,6}", value)
    return m.group(0)


def test_text_colours_reach_4_5_to_1_in_light_and_dark():
    """Light fallbacks (no JupyterLab: nbconvert, a browser) on white; the dark values on JupyterLab's dark
    backgrounds with its dark text colours (rgba white .87 / .54 over #111 and #212121)."""
    white = _rgb("#fff")
    for key in ("fg", "strong", "muted", "good", "bad", "warn"):
        assert _contrast(_rgb(_fallback(theme.LIGHT[key])), white) >= 4.5, key
    for bg in ("#111111", "#212121"):
        for alpha in (0.87, 0.54):                                     # --jp-ui-font-color1 / color2
            assert _contrast(_mix((1, 1, 1), alpha, _rgb(bg)), _rgb(bg)) >= 4.5
        for key in ("good", "bad", "warn"):
            assert _contrast(_rgb(theme.DARK[key]), _rgb(bg)) >= 4.5, (key, bg)
    for key in ("fg", "muted"):
        assert _contrast(_rgb(_fallback(theme.VSCODE_DARK[key])), _rgb("#1e1e1e")) >= 4.5


def test_light_jupyterlab_muted_text_reaches_4_5_to_1():
    """--jp-ui-font-color2 is black at 54 % over white in JupyterLab's light theme."""
    assert _contrast(_mix((0, 0, 0), 0.54, (1, 1, 1)), (1, 1, 1)) >= 4.5


def test_ledger_table_aligns_labels_left_and_numbers_right():
    records = [dict(label="fp32", status="ok", duration_s=0.5, energy_j=3.0, co2_g=0.001, water_l=1e-6,
                    started_at="2026-01-01T00:00:00+00:00", devices=[], session_id="s")]
    html = ledger_bundle(records)["text/html"]
    heads = re.findall(r"<th style='([^']*)'>([^<]*)</th>", html)
    align = {h: ("right" if "text-align:right" in s else "left") for s, h in heads}
    assert align["label"] == "left" and align["status"] == "left"
    assert align["duration (s)"] == "right" and align["energy (J)"] == "right"
    assert re.search(r"text-align:left'>fp32</td>", html)           # JupyterLab right-aligns cells that don't say
