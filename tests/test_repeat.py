"""``%%ecolyze --repeat N --warmup K --record VAR``: every run measured and kept, the card shows means ± CI."""
from __future__ import annotations

import statistics

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

import eco_magic
from eco_magic import stats


def test_repeat_and_warmup_run_the_cell_n_plus_k_times_and_keep_every_run(ip):
    ip.user_ns["calls"] = 0
    with capture_output():
        res = ip.run_cell("%%ecolyze --repeat 5 --warmup 2 -l r\ncalls += 1\nsum(range(20_000)) + calls")
    assert res.success
    assert ip.user_ns["calls"] == 7                          # side effects of N + K runs, as with %timeit
    assert res.result == sum(range(20_000)) + 7              # Out[n] is the last run's value
    rows = list(eco_magic.ledger())
    assert len(rows) == 5                                    # warm-up runs are not recorded
    assert len({r.group for r in rows}) == 1 and rows[0].group
    assert [r.run_index for r in rows] == [1, 2, 3, 4, 5]
    assert all(r.label == "r" and r.runs == 1 for r in rows)


def test_summary_is_the_mean_with_std_and_t_interval_recomputable_from_the_ledger(ip):
    with capture_output():
        r = ip.run_cell_magic("ecolyze", "--repeat 4 -o -q -l s", "sum(range(30_000))")
    assert r.runs == 4 and r.run_index is None and r.group
    df = eco_magic.ledger().to_dataframe()
    runs = df[df["group"] == r.group]
    assert len(runs) == 4
    energies = list(runs["energy_j"])
    assert r.energy_j == pytest.approx(statistics.fmean(energies))
    assert r.energy_j_std == pytest.approx(statistics.stdev(energies))
    summary = stats.summarize(energies)
    assert r.energy_j_ci == pytest.approx((summary.ci_low, summary.ci_high))
    assert r.energy_j_ci[0] <= r.energy_j <= r.energy_j_ci[1]
    for name in ("co2_g", "water_l", "duration_s"):
        assert getattr(r, f"{name}_ci") is not None and getattr(r, f"{name}_std") is not None
    assert r.duration_s == pytest.approx(statistics.fmean(runs["duration_s"]))


def test_one_run_has_no_error_bar(ip):
    with capture_output():
        r = ip.run_cell_magic("ecolyze", "-o -q", "1")
    assert r.runs == 1 and r.energy_j_ci is None and r.energy_j_std is None and r.group is None


def test_record_keeps_numbers_per_run_and_their_mean(ip):
    ip.user_ns["i"] = 0
    with capture_output():
        r = ip.run_cell_magic("ecolyze", "--repeat 3 --record acc,loss,name -o -q",
                              "i += 1\nacc = 0.5 + i / 10\nloss = 1.0\nname = 'text'")
    rows = list(eco_magic.ledger())
    assert [dict(x.recorded)["acc"] for x in rows] == pytest.approx([0.6, 0.7, 0.8])
    assert dict(r.recorded) == pytest.approx({"acc": 0.7, "loss": 1.0})
    assert any("'name' left out: not a number (str)" in n for n in r.notes)


def test_record_accepts_numpy_scalars_and_rejects_bad_names_before_running(ip):
    ip.run_cell("import numpy as np")
    with capture_output():
        r = ip.run_cell_magic("ecolyze", "--record a,b -o -q", "a = np.float32(0.25)\nb = np.array([3.0])")
    assert dict(r.recorded) == {"a": 0.25, "b": 3.0}
    ip.user_ns["ran"] = False
    for bad in ("1x", "a-b", "class", ","):
        with pytest.raises(UsageError) as info:
            ip.run_cell_magic("ecolyze", f"--record {bad}", "ran = True")
        assert "--record" in str(info.value)
    assert ip.user_ns["ran"] is False


def test_a_run_that_raises_ends_the_series_and_is_recorded(ip):
    ip.user_ns["n"] = 0
    with capture_output():
        res = ip.run_cell("%%ecolyze --repeat 5 -l boom\nn += 1\nif n == 3:\n    raise ValueError('third')")
    assert isinstance(res.error_in_exec, ValueError)
    assert ip.user_ns["n"] == 3
    assert [r.status for r in eco_magic.ledger()] == ["ok", "ok", "error"]


def test_var_and_return_give_the_summary(ip):
    with capture_output():
        res = ip.run_cell("%%ecolyze --repeat 2 --var summary -q\n3")
    assert res.success and res.result == 3
    assert ip.user_ns["summary"].runs == 2


def test_repeat_options_are_documented_in_the_magics_help(ip):
    doc = ip.find_cell_magic("ecolyze").__doc__
    for flag in ("--repeat", "--warmup", "--record"):
        assert flag in doc
