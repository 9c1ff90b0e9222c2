"""Smoke test of the benchmark code: it imports, and its accuracy maths is right on a 1-s fake cell.

No timing is asserted here (benchmarks time things; tests do not). Simulated time only: nothing sleeps.
"""
from __future__ import annotations

import importlib
import math
import random

import pytest

from benchmarks import common, truth
from benchmarks.bench_accuracy import NEW, OLD, edge_prediction, one_trial
from benchmarks.gpu_validate import NOT_RUN, PowerPoller, not_run

MODULES = ("bench_overhead", "bench_fixed_cost", "bench_load", "bench_accuracy", "bench_short", "bench_scale",
           "bench_sampler", "bench_kernel", "gpu_validate", "run_all")


@pytest.mark.parametrize("name", MODULES)
def test_benchmark_modules_import_and_expose_an_entry_point(name):
    module = importlib.import_module(f"benchmarks.{name}")
    assert callable(getattr(module, "main"))
    if name.startswith("bench_"):
        assert callable(getattr(module, "run"))


def test_one_second_fake_cell_counter_paths_are_accurate(tmp_path):
    """Steady 250 W over a 1-s cell: RAPL (1 ms updates) within 0.5 %, the plain NVML delta (100 ms updates)
    within one update period of energy, the aligned one within 0.5 %, instant-power integration exact."""
    errors = one_trial("steady", 1.0, random.Random(5), str(tmp_path), rates=(None, 5.0))
    assert abs(errors["RAPL counter"]) < 0.005
    assert abs(errors[OLD]) <= 0.11 + 1e-9                       # ≤ one 110-ms update period of 1 s
    assert errors[OLD] != 0.0                                     # the fake models the update granularity
    assert abs(errors[NEW]) < 0.005
    assert abs(errors["instant adaptive"]) < 1e-9
    assert abs(errors["instant 5 Hz"]) < 1e-9
    assert errors["_labelled_counter"] == 1.0
    assert 0.0 < errors["_edge_wait_s"] <= 0.15


def test_ramp_cell_plain_counter_lags_and_alignment_fixes_it(tmp_path):
    errors = one_trial("ramp", 3.0, random.Random(2), str(tmp_path), rates=(None,))
    assert abs(errors["RAPL counter"]) < 0.005
    # the end read is stale at high power, the start read at low power: the plain delta reads low on a rising ramp
    assert errors[OLD] < -0.002 and abs(errors[NEW]) < 0.002


def test_profiles_energy_is_the_integral_of_power():
    rng = random.Random(9)
    for profile in (truth.Steady(120.0), truth.Telegraph(rng, 5.0), truth.Ramp(5.0),
                    truth.Affine(truth.Ramp(5.0), 8.0, 0.3)):
        steps = 20000
        h = 6.0 / steps
        numeric = sum(profile.power_w(-0.5 + (k + 0.5) * h) for k in range(steps)) * h
        assert profile.between_j(-0.5, 5.5) == pytest.approx(numeric, rel=2e-3)


def test_telegraph_starts_with_a_burst_after_an_idle_boundary_sample():
    t = truth.Telegraph(random.Random(1), 2.0)
    assert t.power_w(0.0) == t.idle_w and t.power_w(1e-9) == t.busy_w
    assert truth.Telegraph(random.Random(1), 2.0, first_sample_sees_burst=True).power_w(0.0) == 300.0


def test_update_grid_returns_the_last_update_not_after_t():
    grid = truth.UpdateGrid(0.1, 0.03)
    for t in (0.0, 0.03, 0.05, 1.234, -0.2):
        last = grid.last(t)
        assert last <= t + 1e-12 and t - last < 0.1 + 1e-12
    jittered = truth.UpdateGrid(0.1, 0.03, jitter=0.1, seed=4)
    instants = sorted({jittered.last(k / 1000) for k in range(3000)})
    gaps = [b - a for a, b in zip(instants, instants[1:])]
    assert min(gaps) >= 0.09 - 1e-12 and max(gaps) <= 0.11 + 1e-12 and len(set(gaps)) > 5
    assert jittered.last(1.5) == truth.UpdateGrid(0.1, 0.03, jitter=0.1, seed=4).last(1.5)   # reproducible


def test_edge_prediction_signs_follow_what_the_first_sample_sees():
    assert edge_prediction(3.0, 1.0) < edge_prediction(3.0, 0.2) < 0.0
    assert edge_prediction(3.0, 1.0, first_sample_sees_burst=True) > 0.0
    assert abs(edge_prediction(120.0, 1.0)) < abs(edge_prediction(3.0, 1.0))   # decays as 1/T


def test_reference_poller_trapezoid_clips_to_the_window():
    poller = PowerPoller(nv=None, handle=None)
    poller.samples["instant"] = [(0.0, 100.0), (1.0, 100.0), (2.0, 300.0), (3.0, 300.0)]
    assert poller.energy_j("instant", 0.5, 2.5) == pytest.approx(50.0 + 200.0 + 150.0)
    assert poller.energy_j("usage", 0.0, 1.0) is None


def test_not_run_section_says_so():
    s = not_run("torch not installed")
    assert s.targets[0].measured == NOT_RUN and s.targets[0].met is None


def test_statistics_and_tables():
    assert common.median([3.0, 1.0, 2.0]) == 2.0
    assert common.iqr([1.0, 2.0, 3.0, 4.0, 5.0]) == (2.0, 4.0)
    assert common.quantile([0.0, 10.0], 0.95) == pytest.approx(9.5)
    assert math.isnan(common.median([]))
    assert common.md_table(["a", "b|c"], [[1, 2]]).splitlines()[0] == "| a | b\\|c |"
    s = common.Section("k", "t", targets=[common.Target("w", "1", "≤ 2", True)])
    assert common.Section.from_json(s.to_json()) == s


def test_patcher_restores_attributes_and_environment(monkeypatch):
    class Box:
        x = 1

    monkeypatch.delenv("ECO_BENCH_SMOKE", raising=False)
    with common.Patcher() as p:
        p.setattr(Box, "x", 2)
        p.setattr(Box, "y", 3)
        p.setenv("ECO_BENCH_SMOKE", "1")
        assert (Box.x, Box.y) == (2, 3)
    import os

    assert Box.x == 1 and not hasattr(Box, "y") and "ECO_BENCH_SMOKE" not in os.environ
