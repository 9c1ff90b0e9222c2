"""%ecoplan through a real IPython shell, and its option parsing (plan_options)."""
from __future__ import annotations

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from eco_magic import plan_magics, plan_options
from eco_magic.planner import Plan, PlanComparison


def run(ip, line):
    with capture_output() as cap:
        value = ip.run_line_magic("ecoplan", line)
    return cap, value


def test_registered_on_load_and_removed_on_unload(ip):
    assert "ecoplan" in ip.magics_manager.magics["line"]
    plan_magics.register(ip)  # idempotent
    ip.run_line_magic("unload_ext", "eco_magic")
    assert "ecoplan" not in ip.magics_manager.magics["line"]
    ip.run_line_magic("load_ext", "eco_magic")
    assert "ecoplan" in ip.magics_manager.magics["line"]


def test_help_lists_every_option(ip):
    with capture_output() as cap:
        ip.run_cell("%ecoplan?")
    for flag in ("--params", "--tokens", "--phase", "--flops", "--device", "--devices", "--achieved-tflops",
                 "--efficiency", "--precision", "--power", "--days", "--pue", "--region", "--ci", "--lifetime",
                 "--compare", "--list", "--var"):
        assert flag in cap.stdout, flag
    assert "MLCarbon" in cap.stdout


def test_the_issue_example_shows_one_card(ip):
    cap, value = run(ip, "--params 30B --tokens 600B --device A100 --devices 256 --region US-CA")
    assert value is None and len(cap.outputs) == 1
    data = cap.outputs[0].data
    assert set(data) == {"text/plain", "text/html"}
    assert "30B training" in data["text/plain"] and "256 × A100-SXM4-80GB" in data["text/plain"]
    assert "US-CA" in data["text/plain"] and "embodied" in data["text/plain"]
    assert "eco-plan" in data["text/html"]


def test_return_and_var(ip):
    _, value = run(ip, "--flops 3.14e23 --devices 10k --achieved-tflops 24.6 --power 330 --pue 1.1 --ci 429 -o "
                       "--var gpt3")
    assert isinstance(value, Plan) and ip.user_ns.pop("gpt3") is value
    assert value.facility_energy_kwh / 1000 == pytest.approx(1287, rel=0.001)
    assert value.devices == 10_000


def test_compare_sets_plans_side_by_side(ip):
    cap, _ = run(ip, "--tokens 600B --device A100 --devices 256 --pue 1.15 --ci 350 "
                     "--compare params=30B,100B days=30,60")
    text = cap.outputs[0].data["text/plain"]
    assert "params=30B, days=30" in text and "params=100B, days=60" in text and "2.00×" in text
    _, value = run(ip, "--params 7B --tokens 1T --devices 64 --device H100 --compare region=FR,PL -o")
    assert isinstance(value, PlanComparison) and [p.region for p in value.plans] == ["FR", "PL"]
    assert value.plans[1].co2_kg > value.plans[0].co2_kg


def test_list_shows_the_accelerator_table(ip):
    cap, _ = run(ip, "--list")
    text = cap.outputs[0].data["text/plain"]
    assert "A100-SXM4-80GB" in text and "H100-SXM-80GB" in text and "embodied" in text


@pytest.mark.parametrize("line, message", [
    ("--params 30X --tokens 1B --device A100", "--params is a positive number"),
    ("--params 30B --tokens 1B --device A100 --devices 2.5", "--devices is a whole number"),
    ("--params 30B --tokens 1B --device A100 --efficiency 140%", "at most 1"),
    ("--params 30B --tokens 1B --device A100 --pue 9", "--pue must be between 1 and 5"),
    ("--params 30B --tokens 1B --device A100 --ci -3", "--ci must be between 0 and 2000"),
    ("--params 30B --tokens 1B --device Z9000", "unknown device 'Z9000'"),
    ("--params 30B --tokens 1B --device A100 --region Atlantis", "unknown region"),
    ("--params 30B --tokens 1B", "cannot derive the duration"),
    ("--params 30B --tokens 1B --device A100 --bogus 3", "unrecognized arguments"),
    ("--params 30B --tokens 1B --device A100 --phase serving", "invalid choice"),
    ("--tokens 1B --device A100 --compare params=1B", "at least two values"),
    ("--tokens 1B --device A100 --compare params=1B,2B days=1,2,3", "different numbers of values"),
    ("--tokens 1B --device A100 --compare colour=red,blue", "cannot vary 'colour'"),
    ("--tokens 1B --device A100 --compare params=1B,2B --var 'not a name'", "Python variable name"),
    ("--params 1B --tokens 1B --device A100 --compare phase=training,serving", "--phase must be one of"),
    ("--params '30B", "could not read"),
])
def test_bad_values_are_one_line_usage_errors(ip, line, message):
    with pytest.raises(UsageError, match=message) as exc:
        ip.run_line_magic("ecoplan", line)
    assert "\n" not in str(exc.value)


# --- option parsing, pure -------------------------------------------------------------------------------------------
def test_amounts_and_fractions():
    assert plan_options.amount("x", "30B") == 30e9
    assert plan_options.amount("x", "1.4T") == 1.4e12
    assert plan_options.amount("x", "3.14e23") == 3.14e23
    assert plan_options.amount("x", "350m") == 350e6
    assert plan_options.whole("x", "10k") == 10_000
    assert plan_options.fraction("x", "40%") == pytest.approx(0.4)
    assert plan_options.fraction("x", "0.197") == 0.197
    for bad in ("", "B", "-3", "1e400", "nan"):
        with pytest.raises(ValueError):
            plan_options.amount("x", bad)


def test_compare_spec():
    assert plan_options.parse_compare(["params=30B,100B", "days=30,60", "region=FR"]) == [
        {"params": "30B", "days": "30", "region": "FR"}, {"params": "100B", "days": "60", "region": "FR"}]
    assert plan_options.parse_compare(["--achieved_tflops=10,20"]) == [{"achieved_tflops": "10"},
                                                                       {"achieved_tflops": "20"}]
    for bad in (["params"], ["params=30B,"], ["params=1,2", "params=3,4"]):
        with pytest.raises(ValueError):
            plan_options.parse_compare(bad)


def test_planning_opens_no_connection(ip, no_network):
    """The planner, its tables and %ecoplan work with every socket refused."""
    seen = no_network
    cap, _ = run(ip, "--params 30B --tokens 600B --device H100 --devices 64 --region aws:us-east-1 "
                     "--compare params=30B,100B")
    assert cap.outputs and seen == []
