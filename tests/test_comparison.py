"""eco_magic.comparison: groups, ratios with intervals, verdicts, thresholds, quality and the Pareto front."""
from __future__ import annotations

import math
import random
import re

import pytest

from eco_magic import comparison as cmp
from eco_magic import stats
from helpers import make_result


def rows(label, energies, **kw):
    return [make_result(label, e, **kw).to_dict() for e in energies]


def noisy(label, mean, n, cv=0.03, seed=0, **kw):
    rng = random.Random(f"{label}-{seed}")
    return rows(label, [mean * rng.gauss(1.0, cv) for _ in range(n)], **kw)


# --- the verdicts the issue asks for -----------------------------------------------------------------------------
def test_doubled_energy_is_higher_with_an_interval_containing_two():
    recs = noisy("a", 10.0, 5) + noisy("b", 20.0, 5)
    c = cmp.compare(recs, "energy", baseline="a")
    b = c.group("b")
    assert b.verdict == "higher"
    assert b.ratio.low < 2.0 < b.ratio.high
    assert re.fullmatch(r"b uses 2\.\d\d× the energy of a \(95 % CI [12]\.\d\d× … 2\.\d\d×, 5 runs each\)",
                        b.statement), b.statement
    assert "the energy of a (95 % CI" in b.statement and "5 runs each" in b.statement
    assert c.group("a").verdict == "baseline" and c.group("a").is_baseline


def test_a_a_comparison_is_no_detectable_difference():
    rng = random.Random(3)
    same = [10.0 * rng.gauss(1.0, 0.03) for _ in range(10)]
    recs = rows("a", same[:5]) + rows("a-again", same[5:])
    g = cmp.compare(recs, "energy", baseline="a").group("a-again")
    assert g.verdict == "no detectable difference"
    assert g.ratio.low < 1.0 < g.ratio.high
    assert g.statement.startswith("a-again: no detectable difference in energy from a (95 % CI ")


def test_one_run_is_too_few_runs_with_a_point_ratio_and_no_interval():
    recs = noisy("a", 10.0, 5) + rows("single", [15.0])
    g = cmp.compare(recs, "energy").group("single")
    assert g.verdict == "too few runs" and g.ratio.low is None and g.threshold is None
    assert g.ratio.ratio == pytest.approx(15.0 / stats.mean([r["energy_j"] for r in recs[:5]]))
    assert "too few runs to compare with a (1 run and 5 runs)" in g.statement and "--repeat" in g.statement
    # a one-run baseline makes every other group "too few runs" as well
    c = cmp.compare(rows("base", [10.0]) + noisy("b", 20.0, 5), "energy")
    assert c.group("b").verdict == "too few runs"


def test_hand_checked_ratio_interval_and_sentence():
    # same samples as tests/test_stats.py: ratio 2, 95 % interval 2·exp(±t(0.975, 4)·√(2/108))
    c = cmp.compare(rows("fast", [5.0, 6.0, 7.0]) + rows("slow", [10.0, 12.0, 14.0]), "energy", baseline="fast")
    g = c.group("slow")
    half = 2.7764451051977987 * math.sqrt(2 / 108)
    assert (g.ratio.ratio, g.ratio.low, g.ratio.high) == (2.0, pytest.approx(2 * math.exp(-half)),
                                                          pytest.approx(2 * math.exp(half)))
    assert g.statement == "slow uses 2.00× the energy of fast (95 % CI 1.37× … 2.92×, 3 runs each)"
    assert c.group("fast").summary.mean == 6.0


def test_percent_sentence_like_the_issue():
    base = [6.0, 6.1, 5.9, 6.05, 5.95, 6.0, 6.0]
    recs = rows("fp32", base) + rows("fp64", [1.54 * v for v in base[::-1]])
    g = cmp.compare(recs, "energy", baseline="fp32").group("fp64")
    assert g.verdict == "higher"
    lo, hi = g.ratio.pct_interval
    assert g.statement == (f"fp64 uses 54 % more energy than fp32 (95 % CI +{lo:.0f} … +{hi:.0f} %, 7 runs each)")
    less = cmp.compare(recs, "energy", baseline="fp64").group("fp32")
    assert less.verdict == "lower" and less.statement.startswith("fp32 uses 35 % less energy than fp64 (95 % CI −")


# --- thresholds --------------------------------------------------------------------------------------------------
def test_a_significant_change_inside_the_noise_threshold_is_no_difference():
    base = [100.0, 100.2, 99.8, 100.1, 99.9, 100.0]
    recs = rows("a", base) + rows("b", [1.01 * v for v in base])  # +1 %, a very tight interval
    g = cmp.compare(recs, "energy", baseline="a").group("b")
    assert g.ratio.low > 1.0  # significant...
    assert g.verdict == "no detectable difference"  # ...but inside ±2 %
    assert g.threshold == 0.02 and "within the ±2 % noise threshold" in g.statement
    assert cmp.compare(recs, "energy", baseline="a", noise=0.0).group("b").verdict == "higher"


def test_a_difference_below_the_sensor_resolution_is_never_a_difference():
    base = [100.0, 100.5, 99.5, 100.2, 99.8]
    recs = rows("a", base, energy_resolution_j=10.0) + rows("b", [1.06 * v for v in base], energy_resolution_j=10.0)
    g = cmp.compare(recs, "energy", baseline="a").group("b")
    assert g.ratio.low > 1.04  # clearly 6 % more, by the interval
    assert g.threshold == pytest.approx(10.0 / stats.mean(base))  # 10 J of 100 J
    assert g.verdict == "no detectable difference" and "within what the sensors resolve" in g.statement
    # the same resolution, converted, applies to CO2e and water (proportional to energy)
    assert cmp.compare(recs, "co2", baseline="a").group("b").verdict == "no detectable difference"
    assert cmp.compare(recs, "co2", baseline="a").group("b").threshold == pytest.approx(g.threshold)
    # duration is not an energy reading: the sensors' energy resolution does not apply to it
    assert cmp.resolution_of(recs[0], cmp.METRICS["duration"]) == 0.0


def test_resolution_converts_to_each_energy_derived_metric():
    r = make_result("x", 50.0, energy_resolution_j=0.5, energy_per_item_j=0.05, items=1000).to_dict()
    assert cmp.resolution_of(r, cmp.METRICS["energy"]) == pytest.approx(0.5)
    assert cmp.resolution_of(r, cmp.METRICS["co2"]) == pytest.approx(r["co2_g"] / 100)
    assert cmp.resolution_of(r, cmp.METRICS["water"]) == pytest.approx(r["water_l"] / 100)
    assert cmp.resolution_of(r, cmp.METRICS["energy_per_item"]) == pytest.approx(0.0005)
    assert cmp.resolution_of(make_result("x", 0.0, energy_resolution_j=0.5).to_dict(), cmp.METRICS["energy"]) == 0


# --- grouping ----------------------------------------------------------------------------------------------------
def test_label_pools_every_row_including_repeat_groups_and_failed_runs_are_left_out():
    recs = (rows("a", [10.0, 10.2], group="g1", runs=2) + rows("a", [9.9, 10.1], group="g2", runs=2)
            + rows("a", [55.0], status="error") + noisy("b", 10.0, 4))
    c = cmp.compare(recs, "energy")
    assert c.group("a").n == 4 and c.group("a").summary.mean == pytest.approx(10.05)
    assert c.notes[0] == "1 failed or interrupted run left out"
    by_group = cmp.compare(recs, "energy", by="group")
    assert [g.group for g in by_group.groups] == ["g1", "g2", "(none)"]


def test_groups_without_values_are_gaps_never_zero():
    recs = rows("fp32", [1.0, 1.1], ess=None) + rows("int8", [1.0, 1.0], ess=4.0) + rows("int4", [1, 1], ess=8.0)
    c = cmp.compare(recs, "ess")
    assert c.baseline == "int8"  # the first group with a value
    assert c.group("fp32").summary is None and c.group("fp32").verdict == "too few runs"
    assert "no run of fp32 has a value for ESS" in c.group("fp32").statement
    assert c.group("int4").ratio.ratio == 2.0 and c.group("int4").verdict == "higher"


def test_bad_input_is_a_value_error():
    recs = rows("a", [1.0])
    with pytest.raises(ValueError, match="no group 'zz'"):
        cmp.compare(recs, "energy", baseline="zz")
    with pytest.raises(ValueError, match="no cell has a value for 'lable'"):
        cmp.compare(recs, "energy", by="lable")
    with pytest.raises(ValueError, match="unknown metric 'joules'"):
        cmp.compare(recs, "joules")
    with pytest.raises(ValueError, match="no cell recorded a number for 'acc'"):
        cmp.compare(recs, "energy", quality="acc")
    with pytest.raises(ValueError, match="confidence"):
        cmp.compare(recs, "energy", confidence=95)
    assert cmp.compare([], "energy").groups == ()
    assert cmp.compare(recs, "energy", baseline="A").baseline == "a"  # case-insensitive


def test_many_comparisons_get_the_multiple_comparisons_note():
    recs = noisy("base", 10.0, 4)
    for i in range(6):
        recs += noisy(f"v{i}", 10.0 + i, 4)
    c = cmp.compare(recs, "energy")
    assert any("6 comparisons at 95 %" in n and "Bonferroni" in n for n in c.notes)
    assert not any("Bonferroni" in n for n in cmp.compare(recs[:12], "energy").notes)


def test_runs_measured_one_after_another_get_the_drift_note():
    early = rows("a", [10.0, 10.1, 9.9], started_at="2026-01-01T10:00:00+00:00")
    late = rows("b", [10.0, 10.1, 9.9], started_at="2026-01-01T11:00:00+00:00")
    assert any("not interleaved" in n for n in cmp.compare(early + late, "energy").notes)
    mixed = early[:2] + late + early[2:]
    mixed[-1] = dict(mixed[-1], started_at="2026-01-01T12:00:00+00:00")
    assert not any("not interleaved" in n for n in cmp.compare(mixed, "energy").notes)


# --- quality -----------------------------------------------------------------------------------------------------
def test_quality_retention_and_pareto_front_hand_checked():
    recs = (rows("fp32", [10.0, 10.0, 10.2], recorded=(("acc", 0.90),))
            + rows("int8", [4.0, 4.1, 3.9], recorded=(("acc", 0.88),))
            + rows("bf16", [6.0, 6.0, 6.1], recorded=(("acc", 0.87),))  # beaten by int8 on both
            + rows("big", [30.0, 30.0, 30.3], recorded=(("acc", 0.95),)))
    c = cmp.compare(recs, "energy", baseline="fp32", quality="acc")
    assert c.quality_higher_is_better
    assert {g.group: g.pareto for g in c.groups} == {"fp32": True, "int8": True, "bf16": False, "big": True}
    int8 = c.group("int8")
    assert int8.retention.ratio == pytest.approx(0.88 / 0.90)
    assert int8.retention.low == pytest.approx(0.88 / 0.90)  # no spread: a zero-width interval
    df = c.to_frame()
    assert df.set_index("group").loc["int8", "retention"] == pytest.approx(0.88 / 0.90)
    assert df.set_index("group").loc["fp32", "retention"] == 1.0
    assert list(df["pareto"]) == [True, True, False, True]


def test_quality_with_spread_has_an_interval_and_lower_is_better_for_losses():
    rng = random.Random(5)
    recs = []
    for label, e, loss in (("a", 10.0, 0.30), ("b", 5.0, 0.35)):
        for _ in range(5):
            recs += rows(label, [e * rng.gauss(1, 0.02)], recorded=(("val_loss", loss * rng.gauss(1, 0.01)),))
    c = cmp.compare(recs, "energy", baseline="a", quality="val_loss")
    assert not c.quality_higher_is_better  # guessed from the name, and said in a note
    assert any("val_loss: lower is better" in n for n in c.notes)
    b = c.group("b")
    assert b.retention.low < b.retention.ratio < b.retention.high
    assert b.pareto and c.group("a").pareto  # cheaper but worse, and dearer but better: both on the front
    forced = cmp.compare(recs, "energy", baseline="a", quality="val_loss", quality_higher_is_better=True)
    # read as higher-is-better, b (0.35) beats a (0.30) on quality as well as on energy: a falls off the front
    assert forced.group("a").pareto is False and forced.group("b").pareto is True


def test_recorded_values_are_read_from_the_dict_or_a_column():
    assert cmp.recorded_value({"recorded": {"acc": 0.9}}, "acc") == 0.9
    assert cmp.recorded_value({"acc": 0.8}, "acc") == 0.8
    assert cmp.recorded_value({"recorded": {"acc": "high"}}, "acc") is None
    assert cmp.recorded_names([{"recorded": {"acc": 0.9, "note": "x"}}, {"recorded": {"f1": 1}}]) == ["acc", "f1"]


# --- the DataFrame -----------------------------------------------------------------------------------------------
def test_frame_columns_and_attrs():
    c = cmp.compare(noisy("a", 10.0, 3) + noisy("b", 20.0, 3) + rows("c", [1.0]), "energy")
    df = c.to_frame()
    for col in ("group", "n", "mean", "ci_low", "ci_high", "ratio", "ratio_ci_low", "ratio_ci_high", "verdict",
                "statement", "unit"):
        assert col in df.columns
    assert list(df["verdict"]) == ["baseline", "higher", "too few runs"]
    assert set(df["verdict"]) <= set(cmp.VERDICTS)
    assert df.attrs["unit"] == "J" and df.attrs["baseline"] == "a" and df.attrs["confidence"] == 0.95
    assert df.loc[0, "ratio"] == 1.0 and math.isnan(df.loc[2, "ci_low"])
    empty = cmp.compare([], "energy").to_frame()
    assert empty.empty and "verdict" in empty.columns


def test_every_metric_compares():
    recs = []
    for label, scale in (("a", 1.0), ("b", 2.0)):
        for i in range(3):
            e = 10.0 * scale * (1 + 0.01 * i)
            recs += [make_result(label, e, duration_s=2.0 * scale * (1 + 0.01 * i), ess=5.0 / scale,
                                 energy_per_token_j=e / 100, energy_per_item_j=e / 10,
                                 embodied_co2_g=0.001 * scale * (1 + 0.01 * i), water_l=e / 1e4).to_dict()]
    for name, m in cmp.METRICS.items():
        g = cmp.compare(recs, name).group("b")
        assert g.verdict == ("lower" if name == "ess" else "higher"), name
        assert g.ratio.ratio == pytest.approx(0.5 if name == "ess" else 2.0, rel=1e-9), name


def test_pct_and_times_text():
    assert [cmp.pct_text(x) for x in (0.0, 0.04, -4.25, 12.4, -9.96, 54.2)] == \
        ["0 %", "0 %", "−4.2 %", "+12 %", "−10 %", "+54 %"]
    assert [cmp.times_text(x) for x in (2.0, 0.4, 12.34, 1.547, 0.04123, 250.2)] == \
        ["2.00×", "0.400×", "12.3×", "1.55×", "0.0412×", "250×"]


# --- properties --------------------------------------------------------------------------------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_energy = st.one_of(st.none(), st.floats(0, 1e6, allow_nan=False), st.just(0.0))
_row = st.fixed_dictionaries({
    "label": st.sampled_from(["a", "b", "c", "", None]),
    "energy_j": _energy, "energy_resolution_j": st.one_of(st.none(), st.floats(0, 10)),
    "status": st.sampled_from(["ok", "ok", "ok", "error"]),
    "recorded": st.dictionaries(st.just("acc"), st.one_of(st.floats(-1, 1), st.text(max_size=2)), max_size=1)})


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.lists(_row, max_size=25), st.sampled_from([None, "acc"]))
def test_any_rows_give_a_closed_set_of_verdicts_and_intervals_around_the_ratio(recs, quality):
    try:
        c = cmp.compare(recs, "energy", quality=quality)
    except ValueError as exc:  # only the documented reasons
        assert "no cell" in str(exc)
        return
    for g in c.groups:
        assert g.verdict in cmp.VERDICTS
        assert g.is_baseline == (g.group == c.baseline)
        if g.ratio is not None and g.ratio.low is not None:
            assert 0 < g.ratio.low <= g.ratio.ratio * (1 + 1e-12) and g.ratio.ratio <= g.ratio.high * (1 + 1e-12)
        if g.verdict in ("higher", "lower") and g.ratio is None:  # one side read 0: no ratio, the other's
            base = c.group(c.baseline).summary                   # whole interval above what the sensors resolve
            assert 0 in (g.summary.mean, base.mean) and (g.summary.ci_low or base.ci_low) > 0
        elif g.verdict in ("higher", "lower"):
            assert g.ratio.low > 1 + g.threshold - 1e-12 or g.ratio.high < 1 - g.threshold + 1e-12
    c.to_frame()
    from eco_magic.display.compare_view import compare_bundle

    compare_bundle(c)
