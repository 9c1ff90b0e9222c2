import sqlite3

import pytest

from eco_magic.session_ledger import Ledger
from helpers import make_result


def test_memory_only_ledger_keeps_results_and_dataframe(tmp_path):
    led = Ledger(None)
    led.append(make_result("a", 10.0))
    led.append(make_result("b", 20.0, status="error", error="ZeroDivisionError: division by zero"))
    assert len(led) == 2 and led[-1].label == "b"
    df = led.to_dataframe()
    assert list(df["label"]) == ["a", "b"]
    assert list(df["energy_j"]) == [10.0, 20.0]
    assert list(df["status"]) == ["ok", "error"]
    for col in ("co2_g", "water_l", "ess", "duration_s", "cpu_energy_j", "methods"):
        assert col in df.columns
    assert df["methods"][0] == "cpu:model=estimated"


def test_rows_persist_across_sessions(tmp_path):
    path = tmp_path / "l.sqlite"
    first = Ledger(path, session_id="s1", notebook="nb.ipynb")
    first.append(make_result("a"))
    first.close()
    second = Ledger(path, session_id="s2")
    second.append(make_result("b"))
    assert len(second) == 1
    rows = second.records(all_sessions=True)
    assert [(r["label"], r["session_id"]) for r in rows] == [("a", "s1"), ("b", "s2")]
    assert rows[0]["notebook"] == "nb.ipynb"
    df = second.to_dataframe(all_sessions=True)
    assert list(df["label"]) == ["a", "b"]
    # the store is plain SQLite: figures in real columns, texts through the ``ledger`` view
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT energy_j, cpu_energy_j FROM measurements WHERE label='a'").fetchone() == (
            100.0, 100.0)
        assert conn.execute("SELECT session_id, notebook, region, carbon_source, methods FROM ledger "
                            "WHERE label='a'").fetchone() == ("s1", "nb.ipynb", "FR", "Ember/OWID",
                                                              "cpu:model=estimated")
    finally:
        conn.close()


def test_clear_is_scoped(tmp_path):
    path = tmp_path / "l.sqlite"
    Ledger(path, session_id="old").append(make_result("old"))
    led = Ledger(path, session_id="new")
    led.append(make_result("new"))
    assert led.clear() == 1
    assert [r["label"] for r in led.records(all_sessions=True)] == ["old"]
    assert led.clear(all_sessions=True) == 1
    assert led.records(all_sessions=True) == []


def test_unwritable_path_keeps_rows_in_memory_and_says_so(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    led = Ledger(blocker / "sub" / "l.sqlite")
    led.append(make_result("a"))
    assert len(led) == 1
    assert led.path is None
    assert "ledger not saved" in led.note


def test_corrupt_file_is_reported_not_raised(tmp_path):
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    led = Ledger(bad)
    led.append(make_result("a"))
    assert len(led) == 1 and led.note and "not" in led.note


def test_nan_never_reaches_the_store(tmp_path):
    led = Ledger(tmp_path / "l.sqlite")
    led.append(make_result("a", ess=float("nan")))
    assert led.records(all_sessions=True)[0]["ess"] is None
