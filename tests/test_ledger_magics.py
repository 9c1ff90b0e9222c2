"""%ecoledger through a real IPython shell: the table, compare (see also test_comparison.py), export, clear."""
from __future__ import annotations

import csv
import json

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

import eco_magic
from eco_magic import ledger_magics
from eco_magic.session_ledger import Ledger
from helpers import make_result

HOSTILE = "<script>alert('x')</script>"


@pytest.fixture
def lm(ip):
    """The shell with %ecoledger registered on top of the loaded extension."""
    ledger_magics.register(ip)
    yield ip
    ledger_magics.unregister(ip)


def run(ip, line):
    with capture_output() as cap:
        ip.run_line_magic("ecoledger", line)
    return cap


def bundles(cap, mime="text/plain"):
    return [o.data for o in cap.outputs if mime in o.data]


def other_session(name="earlier"):
    """A second Ledger on the same file, as an earlier kernel would have written it."""
    return Ledger(eco_magic.ledger().path, session_id=name)


def add(*results):
    for r in results:
        eco_magic.ledger().append(r)


# --- registration -------------------------------------------------------------------------------------------------
def test_register_and_unregister(ip):
    ledger_magics.register(ip)
    ledger_magics.register(ip)  # idempotent
    assert "ecoledger" in ip.magics_manager.magics["line"]
    ledger_magics.unregister(ip)
    assert "ecoledger" not in ip.magics_manager.magics["line"]
    ledger_magics.unregister(ip)  # no-op


# --- the table ----------------------------------------------------------------------------------------------------
def test_empty_ledger_shows_one_hint_line(lm):
    cap = run(lm, "")
    (b,) = bundles(cap)
    assert b["text/plain"] == "no measured cells yet: put %%ecolyze on a cell"
    assert cap.stdout == ""


def test_table_has_rows_units_in_headers_and_hand_checked_totals(lm):
    add(make_result("fp32", 100.0), make_result("int8", 62.0, ess=3.5), make_result("int4", 50.0))
    (b,) = bundles(run(lm, ""), "text/html")
    text, html = b["text/plain"], b["text/html"]
    # 212 J in total; CO2 = 212 J / 3.6e6 J/kWh × 56 g/kWh × PUE 1.1 = 3.627 mg; water 3 × 1 mL; 3 × 2 s
    total = [line for line in text.splitlines() if "total (3 cells)" in line][0]
    assert total.split()[-4:] == ["6.00", "212", "3.63", "3.00"]
    for header in ("duration (s)", "energy (J)", "CO₂e (mg)", "water (mL)", "ESS (M params/g CO₂e)"):
        assert header in text and header in html
    assert "3 cells · 212 J · 3.63 mg CO₂e · 3.00 mL water · 6.00 s measured" in text
    assert "<tfoot>" in html and "eco-total" in html
    assert "n/a" in text and "3.50" in text  # missing ESS is n/a, not 0
    assert [line.split()[0] for line in text.splitlines()[3:6]] == ["1", "2", "3"]


def test_table_lists_the_last_rows_but_totals_all(lm):
    add(*(make_result(f"r{i}", 10.0) for i in range(5)))
    text = bundles(run(lm, "--last 2"))[0]["text/plain"]
    assert "r4" in text and "r3" in text and "r2" not in text
    assert "total (5 cells)" in text and "showing the last 2 of 5 cells" in text
    assert "r0" in bundles(run(lm, "--last 0"))[0]["text/plain"]


def test_all_includes_earlier_sessions_rows(lm):
    other_session().append(make_result("old", 10.0))
    add(make_result("new", 20.0))
    mine = bundles(run(lm, ""))[0]["text/plain"]
    assert "new" in mine and "old" not in mine and "total (1 cell)" in mine
    everything = bundles(run(lm, "--all"))[0]["text/plain"]
    assert "old" in everything and "new" in everything and "total (2 cells)" in everything
    assert "earlier" in everything  # the session column
    df = eco_magic.ledger().to_dataframe(all_sessions=True)
    assert sorted(df["label"]) == ["new", "old"]


def test_empty_session_hint_points_at_earlier_rows(lm):
    other_session().append(make_result("old", 10.0))
    text = bundles(run(lm, ""))[0]["text/plain"]
    assert "no measured cells yet" in text and "--all shows 1 row of earlier sessions" in text


def test_hostile_label_is_escaped_in_table_and_comparison_html(lm):
    add(make_result(HOSTILE, 10.0), make_result("b", 20.0))
    for line in ("", "compare"):
        html = bundles(run(lm, line), "text/html")[0]["text/html"]
        assert HOSTILE not in html and "&lt;script&gt;" in html


# --- compare ------------------------------------------------------------------------------------------------------
def test_compare_magic_shows_svg_chart_table_and_verdicts(lm):
    add(*(make_result("fp32", e) for e in (100.0, 101.0, 99.0)), *(make_result("int8", e) for e in (62.0, 61.0, 63.0)),
        make_result("int4", 40.0))
    cap = run(lm, "compare --by label --metric energy")
    (b,) = bundles(cap, "text/html")
    text, html = b["text/plain"], b["text/html"]
    assert "image/png" not in b and "<svg class='eco-chart'" in html and "<img" not in html
    assert "int8 uses 38 % less energy than fp32 (95 % CI −" in text and "3 runs each" in text
    assert "int4: too few runs to compare with fp32 (1 run and 3 runs)" in text
    assert "int8 uses 38 % less energy than fp32" in html and "data-verdict='lower'" in html
    assert "baseline" in text and cap.stdout == ""
    # theme-aware: JupyterLab variables with light fallbacks, the header not a fixed grey
    assert "var(--jp-ui-font-color0, #1f2328)" in html and "color:var(--jp-ui-font-color2, #57606a)" in html
    assert "color:#57606a" not in html


def test_compare_by_another_field_and_baseline_over_all_sessions(lm):
    other_session().append(make_result("a", 200.0, precision="fp32"))
    other_session().append(make_result("a", 202.0, precision="fp32"))
    add(make_result("b", 50.0, precision="int8"), make_result("b", 50.5, precision="int8"))
    text = bundles(run(lm, "compare --by precision --baseline int8 --all --static"))[0]["text/plain"]
    assert "fp32 uses 4.00× the energy of int8 (95 % CI" in text and "ratio to int8" in text
    with pytest.raises(UsageError, match="no group 'fp32'"):
        run(lm, "compare --by precision --baseline fp32")  # this session has int8 only


def test_compare_quality_and_other_metrics_through_the_magic(lm):
    for e, acc in ((10.0, 0.90), (10.2, 0.90), (4.0, 0.88), (4.1, 0.88)):
        add(make_result("fp32" if e > 5 else "int8", e, duration_s=e / 5, recorded=(("acc", acc),)))
    b = bundles(run(lm, "compare --metric duration --baseline fp32 --quality acc"), "text/html")[0]
    assert "int8 keeps 97.8 % of fp32's acc" in b["text/plain"] and "on the Pareto front" in b["text/plain"]
    assert "class='eco-pareto'" in b["text/html"] and "Duration by label" in b["text/plain"]
    with pytest.raises(UsageError, match="no cell recorded a number for 'loss'"):
        run(lm, "compare --quality loss")
    with pytest.raises(UsageError, match="--confidence takes a fraction"):
        run(lm, "compare --confidence high")
    text = bundles(run(lm, "compare --confidence 0.9"))[0]["text/plain"]
    assert "90 % CI" in text


def test_compare_on_empty_ledger_gives_the_hint(lm):
    assert "no measured cells yet" in bundles(run(lm, "compare"))[0]["text/plain"]


def test_ledger_compare_method_returns_the_dataframe_for_this_session_or_all(tmp_path):
    led = Ledger(tmp_path / "l.sqlite", session_id="s")
    for label, e in (("x", 10.0), ("y", 5.0), ("x", 30.0), ("y", 5.5)):
        led.append(make_result(label, e))
    for all_sessions in (False, True):
        df = led.compare(metric="co2", all_sessions=all_sessions)
        assert list(df["group"]) == ["x", "y"] and list(df["n"]) == [2, 2]
        assert df.loc[0, "mean"] == pytest.approx((make_result("x", 10.0).co2_g + make_result("x", 30.0).co2_g) / 2)
        assert df.attrs["baseline"] == "x" and df.attrs["unit"] == "g"
        assert df.loc[1, "ratio"] == pytest.approx(5.25 / 20)
        assert list(df["verdict"]) == ["baseline", "no detectable difference"]  # x's two runs are 10 and 30
    df = led.compare(metric="energy", by="label", baseline="y")
    assert list(df["verdict"]) == ["no detectable difference", "baseline"]


# --- cheap ledger reads added for these views ---------------------------------------------------------------------
def test_fields_recent_and_count_agree_with_records(tmp_path):
    path = tmp_path / "l.sqlite"
    Ledger(path, session_id="old").append(make_result("o", 1.0, items=3))
    led = Ledger(path, session_id="new")
    for i in range(4):
        led.append(make_result(f"n{i}", float(i), ess=None if i % 2 else 1.5))
    names = ("label", "energy_j", "ess", "session_id", "started_at")
    for all_sessions in (False, True):
        full = led.records(all_sessions=all_sessions)
        assert led.fields(names, all_sessions) == [{n: r.get(n) for n in names} for r in full]
        assert led.recent(2, all_sessions) == full[-2:]
        assert led.count(all_sessions) == len(full)
    assert led.fields(("label", "carbon_source"), True)[0] == {"label": "o", "carbon_source": "Ember/OWID"}
    assert led.recent(0) == []


# --- export -------------------------------------------------------------------------------------------------------
def test_export_csv_json_and_codecarbon_through_the_magic(lm, tmp_path):
    add(make_result("fp32", 100.0), make_result("=1+1", 50.0))
    cap = run(lm, f"export {tmp_path / 'runs.csv'}")
    assert cap.stdout.strip() == f"exported 2 rows of this session to {tmp_path / 'runs.csv'} (CSV)"
    with open(tmp_path / "runs.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["label"], float(r["energy_j"])) for r in rows] == [("fp32", 100.0), ("'=1+1", 50.0)]
    run(lm, f"export {tmp_path / 'runs.json'}")
    recs = json.loads((tmp_path / "runs.json").read_text())["records"]
    assert [r["label"] for r in recs] == ["fp32", "=1+1"] and recs[0]["devices"][0]["kind"] == "cpu"
    cap = run(lm, f"export {tmp_path / 'emissions.csv'} --format codecarbon")
    assert "(CodeCarbon emissions.csv columns)" in cap.stdout
    with open(tmp_path / "emissions.csv", newline="") as f:
        cc = list(csv.DictReader(f))
    assert cc[0]["project_name"] == "fp32" and cc[0]["run_id"] == eco_magic.ledger().session_id
    assert float(cc[0]["energy_consumed"]) == pytest.approx(100.0 * 1.1 / 3.6e6)


def test_export_all_includes_earlier_sessions(lm, tmp_path):
    other_session().append(make_result("old", 10.0))
    add(make_result("new", 20.0))
    cap = run(lm, f"export {tmp_path / 'all.json'} --all")
    assert "exported 2 rows of all sessions" in cap.stdout
    recs = json.loads((tmp_path / "all.json").read_text())["records"]
    assert [r["session_id"] for r in recs] == ["earlier", eco_magic.ledger().session_id]


@pytest.mark.parametrize("line", ["export runs.txt", "export runs.json --format codecarbon", "export",
                                  "export /no/such/folder/x.csv"])
def test_bad_exports_are_usage_errors(lm, line):
    add(make_result("a", 1.0))
    with pytest.raises(UsageError):
        run(lm, line)


# --- clear --------------------------------------------------------------------------------------------------------
def test_clear_is_scoped_to_this_session_unless_all(lm):
    other_session().append(make_result("old", 10.0))
    add(make_result("a", 1.0), make_result("b", 2.0))
    cap = run(lm, "clear")
    assert cap.stdout.strip() == "cleared 2 rows of this session"
    assert len(eco_magic.ledger()) == 0
    assert [r["label"] for r in eco_magic.ledger().records(all_sessions=True)] == ["old"]
    cap = run(lm, "clear --all")
    assert cap.stdout.startswith("cleared 1 row of all sessions")
    assert eco_magic.ledger().records(all_sessions=True) == []


# --- bad input ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("line", ["show", "compare --metric joules", "--by label", "clear --format csv",
                                  "--last many", "--last -1", "compare --by lable", "clear extra",
                                  "compare --baseline 'unclosed"])
def test_bad_input_is_a_usage_error_naming_the_usage(lm, line):
    add(make_result("a", 1.0))
    with pytest.raises(UsageError) as info:
        run(lm, line)
    assert "%ecoledger" in str(info.value) or "lable" in str(info.value) or "--last" in str(info.value)


def test_unknown_subcommand_message_has_the_usage_line(lm):
    with pytest.raises(UsageError, match="unknown %ecoledger subcommand 'show'; usage: %ecoledger"):
        run(lm, "show")


# --- a ledger file that cannot be used, and paths with spaces ------------------------------------------------------
@pytest.fixture
def broken(lm, tmp_path):
    """The ledger path points at random bytes; restored afterwards."""
    import random

    bad = tmp_path / "corrupt.sqlite"
    bad.write_bytes(random.Random(7).randbytes(8192))
    lm.run_line_magic("config", f"EcoMagics.ledger_path = {str(bad)!r}")
    yield bad
    lm.run_line_magic("config", f"EcoMagics.ledger_path = {str(tmp_path / 'ledger.sqlite')!r}")


def run_cell(ip, code):
    with capture_output() as cap:
        res = ip.run_cell(code)
    return res, cap


@pytest.mark.parametrize("line", ["--all", "compare --all", "export out.csv --all", "clear --all"])
def test_a_corrupt_ledger_gives_a_one_line_usage_error_not_a_traceback(broken, lm, tmp_path, line, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = broken.read_bytes()
    res, cap = run_cell(lm, f"%ecoledger {line}")
    assert isinstance(res.error_in_exec, UsageError), res.error_in_exec
    message = str(res.error_in_exec)
    assert "\n" not in message and "corrupt.sqlite" in message and "left untouched" in message
    assert "Traceback" not in cap.stdout + cap.stderr
    assert broken.read_bytes() == before and not (tmp_path / "out.csv").exists()


def test_a_corrupt_ledger_still_shows_and_clears_this_session(broken, lm):
    res, cap = run_cell(lm, "%ecoledger")
    assert res.success
    (b,) = bundles(cap)
    assert "no measured cells yet" in b["text/plain"] and "earlier sessions cannot be read" in b["text/plain"]
    res, cap = run_cell(lm, "%ecoledger clear")
    assert res.success
    assert cap.stdout.startswith("cleared 0 rows of this session in memory; the ledger file was not changed:")
    assert len(cap.stdout.strip().splitlines()) == 1


@pytest.mark.parametrize("quote", ['"', "'"])
def test_export_to_a_quoted_path_with_spaces(lm, tmp_path, quote):
    add(make_result("a", 1.0))
    folder = tmp_path / "my runs"
    folder.mkdir()
    for name in ("a b.csv", "c d.json"):
        res, cap = run_cell(lm, f"%ecoledger export {quote}{folder / name}{quote} --all")
        assert res.success, res.error_in_exec
        assert (folder / name).exists() and f"to {folder / name} (" in cap.stdout
    assert sorted(p.name for p in folder.iterdir()) == ["a b.csv", "c d.json"]


def test_split_line_keeps_backslashes_and_drops_quotes():
    assert ledger_magics.split_line(r'export "C:\Users\me\a b.csv" --all') == [
        "export", r"C:\Users\me\a b.csv", "--all"]
    assert ledger_magics.split_line("compare --by 'my label'") == ["compare", "--by", "my label"]
    with pytest.raises(ValueError):
        ledger_magics.split_line("export 'unclosed")
