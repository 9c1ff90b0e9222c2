"""%%ecolyze through a real IPython shell: the cell runs as without the magic, and one result is shown and kept."""
from __future__ import annotations

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

import eco_magic
from helpers import load_fresh


def outputs_with(cap, mime):
    return [o.data for o in cap.outputs if mime in o.data]


def test_magics_are_registered(ip):
    assert "ecolyze" in ip.magics_manager.magics["cell"]
    assert "ecolyze" in ip.magics_manager.magics["line"]


def test_cell_runs_in_user_namespace_and_returns_its_value(ip):
    with capture_output() as cap:
        res = ip.run_cell("%%ecolyze -l answer\nx = 21 * 2\nx + 1")
    assert res.success, res.error_in_exec
    assert ip.user_ns["x"] == 42
    assert res.result == 43                      # Out[n] is the cell's last expression
    assert eco_magic.ledger()[-1].label == "answer"
    assert len(eco_magic.ledger()) == 1


def test_trailing_semicolon_suppresses_the_value(ip):
    with capture_output():
        res = ip.run_cell("%%ecolyze\n21 * 2;")
    assert res.success and res.result is None


def test_one_output_shows_five_figures_with_units_and_provenance(ip):
    with capture_output() as cap:
        res = ip.run_cell("%%ecolyze -l busy\ns = sum(i * i for i in range(200_000))")
    assert res.success, res.error_in_exec
    bundles = outputs_with(cap, "text/html")
    assert [sorted(o.data) for o in cap.outputs] == [["text/html", "text/plain"]], (cap.stdout, cap.stderr)
    assert len(bundles) == 1
    text, html = bundles[0]["text/plain"], bundles[0]["text/html"]
    assert text.startswith("ecolyze: busy")
    for needle in ("IT energy", "CO₂e", "water", "thermal", "ESS", "estimated", "France", "PUE 1.1",
                   "CPU-only tier"):
        assert needle in text, needle
    for cls in ("eco-energy", "eco-co2", "eco-water", "eco-thermal", "eco-ess", "eco-provenance"):
        assert cls in html
    r = eco_magic.ledger()[-1]
    assert r.energy_j > 0                         # CPU time × TDP: non-zero for real work
    assert {d.method for d in r.devices} == {"estimated"}
    assert r.co2_g == pytest.approx(r.energy_j / 3.6e6 * r.carbon_intensity_g_per_kwh * 1.1)
    assert r.ess is None and "no model" in r.ess_note


def test_exception_propagates_once_and_is_recorded(ip):
    with capture_output() as cap:
        res = ip.run_cell("%%ecolyze -l boom\nx = 1\n1/0")
    assert not res.success
    assert isinstance(res.error_in_exec, ZeroDivisionError)
    assert ip.user_ns["x"] == 1
    r = eco_magic.ledger()[-1]
    assert r.status == "error" and "ZeroDivisionError" in r.error
    assert len(outputs_with(cap, "text/html")) == 1   # the partial result is still shown


def test_keyboard_interrupt_is_recorded_and_reraised(ip):
    with capture_output(), pytest.raises(KeyboardInterrupt):
        ip.run_cell_magic("ecolyze", "-l stop", "raise KeyboardInterrupt")
    assert eco_magic.ledger()[-1].status == "interrupted"


def test_return_var_and_quiet(ip):
    with capture_output() as cap:
        r = ip.run_cell_magic("ecolyze", "-o -q --var res -n 8", "y = 2")
    assert isinstance(r, eco_magic.EcoResult)
    assert ip.user_ns["res"] is r
    assert r.items == 8 and r.energy_per_item_j == pytest.approx(r.energy_j / 8)
    assert cap.outputs == [] and cap.stdout == ""


def test_params_and_precision_give_effective_params(ip):
    with capture_output():
        r = ip.run_cell_magic("ecolyze", "-o -q -p 7e9 --precision int8", "z = 1")
    assert r.effective_params_m == pytest.approx(1750.0)
    assert r.precision == "int8" and r.qf == pytest.approx(0.25)


def test_line_magic_measures_a_statement(ip):
    ip.user_ns["values"] = list(range(1000))
    with capture_output() as cap:
        res = ip.run_cell("%ecolyze -l line sum(values)")
    assert res.success and res.result == sum(range(1000))
    assert eco_magic.ledger()[-1].label == "line"
    assert len(outputs_with(cap, "text/html")) == 1


@pytest.mark.parametrize("line,needle", [
    ("--pue 0.2", "--pue"), ("--ci -5", "--ci"), ("--params banana", "--params"), ("--items 0", "--items"),
    ("--rate 1e6", "--rate"), ("--precision int3", "precision"), ("--region Frnace", "France"),
    ("--var 1x", "--var"), ("--water-model ocean", "water"), ("--label 'unbalanced", "options"),
])
def test_bad_input_is_a_usage_error_and_runs_nothing(ip, line, needle):
    ip.user_ns["ran"] = False
    with pytest.raises(UsageError, match=needle):
        ip.run_cell_magic("ecolyze", line, "ran = True")
    assert ip.user_ns["ran"] is False
    assert len(eco_magic.ledger()) == 0


def test_region_and_overrides_are_applied_and_labelled(ip):
    with capture_output():
        r = ip.run_cell_magic("ecolyze", "-o -q --region PL --pue 1.5 --ci 300 --water-model li", "pass")
    assert r.region == "PL" and r.pue == 1.5 and r.carbon_intensity_g_per_kwh == 300.0
    assert "--pue" in r.pue_source and "--ci" in r.carbon_source
    assert r.water_model == "li"
    assert r.co2_g == pytest.approx(r.energy_j / 3.6e6 * 300.0 * 1.5)


def test_config_defaults_are_used(ip):
    ip.run_line_magic("config", "EcoMagics.region = 'DE'")
    with capture_output():
        r = ip.run_cell_magic("ecolyze", "-o -q", "pass")
    assert r.region == "DE" and "config" in r.region_resolved_by


def test_ledger_is_persisted_and_has_a_dataframe(ip, tmp_path):
    with capture_output():
        ip.run_cell("%%ecolyze -l a\npass")
        ip.run_cell("%%ecolyze -l b\npass")
    df = eco_magic.ledger().to_dataframe()
    assert list(df["label"]) == ["a", "b"]
    assert (tmp_path / "ledger.sqlite").exists()
    assert [r["label"] for r in eco_magic.ledger().records(all_sessions=True)] == ["a", "b"]


def test_syntax_error_is_reported_as_without_the_magic(ip):
    """IPython's compiler reports it (error_before_exec, no eco_magic frame), on the line it is on."""
    with capture_output() as cap:
        res = ip.run_cell("%%ecolyze\nx = 1\ny = (1 +")
    plain = ip.run_cell("x = 1\ny = (1 +", silent=True)
    assert not res.success and isinstance(res.error_before_exec, SyntaxError)
    assert type(res.error_before_exec) is type(plain.error_before_exec)
    assert res.error_before_exec.lineno == plain.error_before_exec.lineno + 1  # the %%ecolyze line comes first
    assert "eco_magic" not in cap.stdout + cap.stderr
    assert len(eco_magic.ledger()) == 0


def test_ipython_syntax_inside_the_cell_works(ip):
    with capture_output():
        res = ip.run_cell("%%ecolyze\nv = %time 3 + 4\nv")
    assert res.success and res.result == 7


def test_unload_and_reload_leave_nothing_behind(shell):
    shell.run_line_magic("config", "EcoMagics.idle_baseline_s = 0")
    shell.run_line_magic("load_ext", "eco_magic")
    shell.run_line_magic("reload_ext", "eco_magic")
    from eco_magic import magic

    assert len(magic._LOADED) == 1
    shell.run_line_magic("unload_ext", "eco_magic")
    assert "ecolyze" not in shell.magics_manager.magics["cell"]
    assert "ecolyze" not in shell.magics_manager.magics["line"]
    assert not magic._LOADED


def test_model_is_detected_from_the_cell_and_named(ip):
    torch = pytest.importorskip("torch")
    ip.user_ns["torch"] = torch
    ip.user_ns["net"] = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    with capture_output():
        r = ip.run_cell_magic("ecolyze", "-o -q", "out = net(torch.ones(1, 4))")
    assert r.n_params == 23 and r.precision == "fp32" and r.model_variable == "net"
    assert r.effective_params_m == pytest.approx(23e-6)


def test_precision_flag_overrides_detected_precision(ip):
    np = pytest.importorskip("numpy")
    ip.user_ns["weights"] = {"w": np.ones((10, 10), dtype=np.float32)}
    with capture_output():
        r = ip.run_cell_magic("ecolyze", "-o -q --model weights --precision int8", "s = weights['w'].sum()")
    assert r.n_params == 100 and r.precision == "int8" and r.effective_params_m == pytest.approx(25e-6)
    assert r.model_variable == "weights"


def test_missing_model_variable_is_a_note_not_a_failure(ip):
    with capture_output():
        r = ip.run_cell_magic("ecolyze", "-o -q --model nothing_here", "a = 1")
    assert ip.user_ns["a"] == 1
    assert r.effective_params_m is None
    assert any("--model" in n for n in r.notes)


def test_auto_mode_measures_every_cell(ip):
    with capture_output() as cap:
        ip.run_line_magic("ecolyze_auto", "on")
        ip.run_cell("q = 5", store_history=True)
        ip.run_cell("1/0", store_history=True)
        ip.run_line_magic("ecolyze_auto", "off")
        ip.run_cell("q = 6", store_history=True)
    labels = [r.label for r in eco_magic.ledger()]
    assert len(labels) == 2 and all(label.startswith("cell ") for label in labels)
    assert [r.status for r in eco_magic.ledger()] == ["ok", "error"]
    assert "ecolyze_auto is off" in cap.stdout
    with pytest.raises(UsageError):
        ip.run_line_magic("ecolyze_auto", "maybe")


def test_idle_baseline_on_demand_gives_net_energy(ip):
    with capture_output() as cap:
        ip.run_line_magic("ecolyze_idle", "0.3")
        r = ip.run_cell_magic("ecolyze", "-o -q", "t = sum(range(300_000))")
    assert cap.stdout.startswith("idle baseline over 0.3 s: cpu:model")
    assert r.energy_net_j is not None and 0.0 <= r.energy_net_j <= r.energy_j
    assert r.idle_power_w is not None and r.idle_power_w >= 0
    with pytest.raises(UsageError):
        ip.run_line_magic("ecolyze_idle", "-1")


class _Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_idle_baseline_comes_from_the_time_between_cells(shell, tmp_path):
    """Gaps between cells count as idle; the time a cell runs (measured or not) never does."""
    load_fresh(shell, tmp_path / 'l.sqlite', idle_baseline_s=120)
    try:
        from eco_magic import magic

        engine = magic._LOADED[id(shell)].engine
        engine._warmup.join(5)
        clock = _Clock()
        with capture_output():
            shell.run_cell("pass")                     # opens a gap with the real clock; replace it
        engine.gap_closes()
        engine._meter._gaps.clear()
        engine._meter._seconds = 0.0
        engine._meter._clock = clock
        engine.gap_opens()
        clock.t += 2.0                                 # 2 s idle
        shell.user_ns["clock"] = clock
        with capture_output():
            shell.run_cell("clock.t += 50.0")          # an unmeasured cell that "runs" 50 s
        clock.t += 3.0                                 # 3 s idle
        with capture_output():
            r = shell.run_cell_magic("ecolyze", "-o -q", "clock.t += 40.0")
        assert r.idle_baseline_s == pytest.approx(5.0)
        assert r.idle_source == "idle time between cells"
        assert r.energy_net_j is not None and r.idle_power_w is not None and 0.0 <= r.energy_net_j <= r.energy_j
        shell.run_line_magic("config", "EcoMagics.idle_baseline_s = 0")
        with capture_output():
            r = shell.run_cell_magic("ecolyze", "-o -q", "pass")
        assert r.energy_net_j is None and r.idle_baseline_s is None
    finally:
        shell.run_line_magic("unload_ext", "eco_magic")
        shell.run_line_magic("config", "EcoMagics.idle_baseline_s = 0")


def test_idle_baseline_is_on_every_card_of_a_run_all(shell, tmp_path):
    """Even with gaps of milliseconds (Run All), every measured cell gets net-of-idle figures, saying on what."""
    load_fresh(shell, tmp_path / 'l.sqlite', idle_baseline_s=120)
    try:
        with capture_output():
            results = [shell.run_cell_magic("ecolyze", "-o -q", "t = sum(range(20_000))") for _ in range(3)]
        for r in results:
            assert r.energy_net_j is not None and r.idle_baseline_s is not None and r.idle_baseline_s > 0
    finally:
        shell.run_line_magic("unload_ext", "eco_magic")
        shell.run_line_magic("config", "EcoMagics.idle_baseline_s = 0")
