"""The ledger file, schema 2: exact round trips, one read path for file and memory, files of 0.1.0 and of other
versions, foreign files never written, and several processes opening one fresh file at once."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
import subprocess
import sys
import time
import tracemalloc
import typing
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eco_magic import exporters
from eco_magic.ledger_codec import Codec, finite
from eco_magic.ledger_store import APPLICATION_ID, Store
from eco_magic.result import DeviceReading, EcoResult, WorkerReading
from eco_magic.session_ledger import Ledger, LedgerError
from helpers import make_result
from kernel_child import REPO, child_env

GPU = DeviceReading("gpu:0", "gpu", "NVIDIA H100", 250.5, "counter", "NVML total-energy counter", "device",
                    mean_power_w=300.25, peak_power_w=350.0, peak_temp_c=71.0, mean_util_pct=93.5,
                    throttle_events=("HW slowdown",), notes=("counter wrapped once",))
RAM = DeviceReading("ram:model", "ram", "RAM 24 GB", None, "estimated", "DIMM model", "process")


def varied_results() -> list[EcoResult]:
    """Results that exercise every way a value is stored: defaults, ints and floats in each other's fields,
    -0.0, huge ints, None where a text is expected, pairs, mappings, nested workers, NaN inside a mapping."""
    worker = WorkerReading("tcp://10.0.0.7:40123", "node7", "measured", 12.5, read_j=13.0, pid=77,
                           devices=(GPU,), counted_j=(("gpu:0", 12.5),), notes=("shared host",))
    return [
        make_result("plain", 100.0),
        make_result("=formula, \"quoted\"\nline", 20, status="error", error="ZeroDivisionError: division by zero",
                    devices=(GPU, RAM), notes=("a note", "é"), thermal_flags=("gpu:0 peaked at 86 °C (> 85 °C)",)),
        make_result("repeat", 7.25, runs=5, group="g1", run_index=2, energy_j_std=0.5, energy_j_ci=(6.5, 8.0),
                    duration_s_ci=(1, 3), recorded=(("accuracy", 0.91), ("loss", 3)), tokens_in=120,
                    tokens_out=2**60, precision_mix=(("fp16", 0.75), ("fp32", 0.25)), items=3),
        make_result("odd", -0.0, energy_resolution_j=-0.0, carbon_year=None, region_resolved_by=None,
                    n_params=float("inf"), qf=float("nan"), recorded=(("nan", float("nan")),), workers=(worker,),
                    carbon_kind="live", carbon_time="2026-11-22T10:00Z", devices=()),
        make_result("types", 1.0, items=True, n_samples=3.5, water_model=None, sampling=42),
    ]


def expected(result: EcoResult, session_id: str, notebook: str | None) -> dict:
    return finite(dict(result.to_dict(), session_id=session_id, notebook=notebook))


def file_records(path: Path) -> list[dict]:
    led = Ledger(path)
    try:
        return led.records(all_sessions=True)
    finally:
        led.close()


# --- exact round trips ------------------------------------------------------------------------------------------
def test_every_value_reads_back_exactly_with_its_type_and_key_order(tmp_path):
    path = tmp_path / "l.sqlite"
    led = Ledger(path, session_id="s1", notebook="nb.ipynb")
    results = varied_results()
    for r in results:
        led.append(r)
    assert led.note is None
    for got, r in zip(file_records(path), results):
        want = expected(r, "s1", "nb.ipynb")
        assert got.pop("row_id") > 0
        assert got == want
        assert list(got) == list(want)
        assert [type(v) for v in got.values()] == [type(v) for v in want.values()]
        assert got["devices"] == want["devices"]


finite_or_not = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.integers(-2**62, 2**62))
texts = st.one_of(st.none(), st.text(max_size=12))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(energy=st.floats(allow_nan=False, allow_infinity=False), net=finite_or_not, items=finite_or_not,
       label=st.text(max_size=20), region=texts, ci=st.one_of(st.none(), st.tuples(finite_or_not, finite_or_not)),
       notes=st.lists(st.text(max_size=8), max_size=3), mix=st.dictionaries(st.text(max_size=5), finite_or_not,
                                                                           max_size=3))
def test_fuzzed_results_read_back_exactly(tmp_path, energy, net, items, label, region, ci, notes, mix):
    r = make_result(label, energy, energy_net_j=net, items=items, region_name=region, co2_g_ci=ci,
                    notes=tuple(notes), recorded=tuple(mix.items()))
    led = Ledger(tmp_path / "fuzz.sqlite", session_id="fz")
    try:
        led.append(r)
        assert led.note is None
        got = led.recent(1, all_sessions=True)[0]
        got.pop("row_id")
        want = expected(r, "fz", led.notebook)
        assert json.dumps(got, sort_keys=True) == json.dumps(want, sort_keys=True)
        assert list(got) == list(want)
    finally:
        led.clear(all_sessions=True)
        led.close()


# --- one read path: file and memory agree, and agree with the records --------------------------------------------
def reference_frame(records: list[dict]) -> pd.DataFrame:
    """The DataFrame the way 0.1.0 built it (one dict per row), with intervals split into low/high columns."""
    rows = []
    for d in records:
        d = dict(d)
        devices = d.pop("devices", [])
        d.pop("precision_mix", None)
        d["methods"] = ", ".join(f"{x['key']}={x['method']}" for x in devices)
        for kind in ("cpu", "gpu", "ram"):
            energies = [x["energy_j"] for x in devices if x["kind"] == kind and x["energy_j"] is not None]
            d[f"{kind}_energy_j"] = sum(energies) if energies else None
        for key in ("notes", "thermal_flags"):
            d[key] = "; ".join(d.get(key) or [])
        for key in [k for k in d if k.endswith("_ci")]:
            value = d.pop(key)
            d[f"{key}_low"], d[f"{key}_high"] = value if value else (None, None)
        rows.append(d)
    df = pd.DataFrame(rows)
    kinds = Codec().kinds
    for c in df.columns:  # a numeric field with no value stays numeric (NaN), where 0.1.0 gave None objects
        numeric = kinds.get(c) in ("int", "float") or c.endswith(("_ci_low", "_ci_high", "_energy_j"))
        if numeric and df[c].isna().all():
            df[c] = df[c].astype(float)
    return df


@pytest.mark.parametrize("persist", [True, False])
def test_dataframe_is_the_records_column_by_column(tmp_path, persist):
    led = Ledger(tmp_path / "l.sqlite" if persist else None, session_id="s1", notebook="nb.ipynb")
    results = [r for r in varied_results() if r.label != "types"]  # odd types make object columns: tested above
    for r in results:
        led.append(r)
    for all_sessions in (False, True):
        df = led.to_dataframe(all_sessions=all_sessions)
        ref = reference_frame([finite(r) for r in led.records(all_sessions=all_sessions)])
        assert sorted(df.columns) == sorted(ref.columns)
        assert list(df.columns[:21]) == ["label", "status", "duration_s", "energy_j", "energy_net_j", "co2_g",
                                         "water_l", "ess", "effective_params_m", "precision", "items", "region",
                                         "carbon_intensity_g_per_kwh", "pue", "cpu_energy_j", "gpu_energy_j",
                                         "ram_energy_j", "methods", "started_at", "session_id", "notebook"]
        pd.testing.assert_frame_equal(df, ref[list(df.columns)], check_dtype=False)
        assert df["energy_j"].dtype == "float64" and df["tokens_in"].dtype == "float64"  # missing: NaN, numeric
        assert ("row_id" in df.columns) == (persist and all_sessions)
    memory = Ledger(None, session_id="s1", notebook="nb.ipynb")
    for r in results:
        memory.append(r)
    pd.testing.assert_frame_equal(led.to_dataframe(), memory.to_dataframe())


@pytest.mark.parametrize("persist", [True, False])
def test_csv_export_is_byte_identical_to_the_record_path(tmp_path, persist):
    led = Ledger(tmp_path / "l.sqlite" if persist else None, session_id="s1", notebook="nb,1.ipynb")
    if persist:
        Ledger(led.path, session_id="s0").append(make_result("earlier", 3.0))
    for r in varied_results():
        led.append(r)
    for all_sessions in (False, True):
        assert led.export(tmp_path / "fast.csv", all_sessions=all_sessions) == len(
            led.records(all_sessions=all_sessions))
        exporters.to_csv([finite(r) for r in led.records(all_sessions=all_sessions)], tmp_path / "ref.csv")
        assert (tmp_path / "fast.csv").read_bytes() == (tmp_path / "ref.csv").read_bytes()
    empty = Ledger(tmp_path / "none.sqlite")
    empty.export(tmp_path / "fast.csv")
    exporters.to_csv([], tmp_path / "ref.csv")
    assert (tmp_path / "fast.csv").read_bytes() == (tmp_path / "ref.csv").read_bytes()


def test_fields_recent_and_count_read_columns_of_the_file(tmp_path):
    path = tmp_path / "l.sqlite"
    Ledger(path, session_id="old").append(make_result("o", 1.0))
    led = Ledger(path, session_id="new")
    for r in varied_results():
        led.append(r)
    names = ("label", "energy_j", "items", "energy_j_ci", "recorded", "carbon_year", "notebook", "session_id")
    full = led.records(all_sessions=True)
    assert led.fields(names, all_sessions=True) == [{n: r.get(n) for n in names} for r in full]
    assert led.recent(3, all_sessions=True) == full[-3:]
    assert led.count(all_sessions=True) == len(full) == 1 + len(varied_results())


# --- the file: compact, queryable -------------------------------------------------------------------------------
def test_rows_are_compact_and_the_sql_view_has_every_field(tmp_path):
    path = tmp_path / "l.sqlite"
    led = Ledger(path, session_id="s1", notebook="nb.ipynb")
    base = make_result("fp32", devices=(GPU, RAM), water_formula="E × WI × overhead (1.05)",
                       pue_source="CPU-only tier (ML-EcoLyzer)", region_resolved_by="default: world average")
    n = 400
    for i in range(n):
        led.append(dataclasses.replace(base, energy_j=100.0 + i / 7, duration_s=2.0 + i / 13))
    led.close()
    assert (path.stat().st_size) / n < 800  # 0.1.0 needed a 4 KiB page per row
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert conn.execute("SELECT count(*) FROM shapes").fetchone()[0] == 1  # texts stored once
        row = conn.execute("SELECT label, session_id, notebook, region, water_formula, energy_j, gpu_energy_j, "
                           "methods, energy_j_ci_low, notes FROM ledger WHERE row_id = 2").fetchone()
        assert row == ("fp32", "s1", "nb.ipynb", "FR", "E × WI × overhead (1.05)", 100.0 + 1 / 7, 250.5,
                       "gpu:0=counter, ram:model=estimated", None, "[]")
        assert conn.execute("SELECT count(*), round(sum(energy_j), 6) FROM measurements WHERE energy_j > 150"
                            ).fetchone() == (sum(1 for i in range(n) if 100 + i / 7 > 150),
                                             round(sum(100 + i / 7 for i in range(n) if 100 + i / 7 > 150), 6))
    finally:
        conn.close()


def test_the_ledger_keeps_nothing_per_row_beyond_the_results(tmp_path):
    led = Ledger(tmp_path / "l.sqlite")
    results = [dataclasses.replace(make_result("m", devices=(GPU, RAM)), energy_j=float(i)) for i in range(1000)]
    led.append(results[0])
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for r in results[1:]:
            led.append(r)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown / (len(results) - 1) < 64  # bytes: a list slot, not a copy of the row


def test_take_note_says_a_lost_file_once(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    led = Ledger(blocker / "l.sqlite")
    assert led.persistent and led.take_note() is None
    led.append(make_result("a"))
    assert not led.persistent
    note = led.take_note()
    assert note.startswith(f"ledger not saved to {blocker / 'l.sqlite'}") and "in memory" in note
    assert led.take_note() is None
    led.append(make_result("b"))
    assert led.take_note() is None and len(led) == 2


# --- 0.1.0 ledgers ------------------------------------------------------------------------------------------------
# The 0.1.0 write path, copied verbatim (schema, pragmas, insert), as a fixture writer.
V010_COLUMNS = ("label", "status", "duration_s", "energy_j", "energy_net_j", "co2_g", "water_l", "water_onsite_l",
                "water_offsite_l", "ess", "effective_params_m", "precision", "pue", "carbon_intensity_g_per_kwh",
                "region", "items")
V010_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS cells (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    notebook TEXT,
    started_at TEXT,
    recorded_at REAL NOT NULL,
    {", ".join(f"{c} {'TEXT' if c in ('label', 'status', 'precision', 'region') else 'REAL'}" for c in V010_COLUMNS)},
    result_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cells_session ON cells(session_id);
"""
#: EcoResult's fields in 0.1.0 (to_dict keys).
V010_FIELDS = ("label status duration_s energy_j co2_g water_l ess effective_params_m precision pue "
               "carbon_intensity_g_per_kwh region devices energy_net_j idle_power_w energy_resolution_j region_name "
               "region_resolved_by carbon_source carbon_year pue_tier pue_source water_onsite_l water_offsite_l "
               "water_model water_formula water_source n_params qf model_source model_variable precision_mix "
               "ess_note items energy_per_item_j co2_per_item_g energy_per_min_j co2_per_min_g thermal_flags "
               "sampling n_samples started_at error notes workers").split()


def v010_record(r: EcoResult) -> dict:
    return {k: v for k, v in r.to_dict().items() if k in V010_FIELDS}


def v010_append(path: Path, record: dict, session_id: str, notebook: str | None) -> None:
    conn = sqlite3.connect(str(path), timeout=30.0, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA cache_size=-256")
        conn.execute("PRAGMA busy_timeout=30000")
        conn.executescript(V010_SCHEMA)
        conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", ("1",))
        values = [record.get(c) for c in V010_COLUMNS]
        conn.execute(
            f"INSERT INTO cells (session_id, notebook, started_at, recorded_at, {', '.join(V010_COLUMNS)}, "
            f"result_json) VALUES ({', '.join('?' * (len(V010_COLUMNS) + 5))})",
            [session_id, notebook, record.get("started_at"), time.time(), *values,
             json.dumps(record, ensure_ascii=False, allow_nan=False)])
    finally:
        conn.close()


def test_a_0_1_0_ledger_opens_reads_and_is_upgraded_in_place(tmp_path):
    path = tmp_path / "ledger.sqlite"
    old = [make_result("fp32", 100.0, devices=(GPU, RAM)), make_result("int8", 62.0, ess=3.5, items=4),
           make_result("err", 1.0, status="error", error="KeyboardInterrupt", notes=("interrupted",))]
    for i, r in enumerate(old):
        v010_append(path, v010_record(r), "s-old" if i < 2 else "s-older", "nb.ipynb")
    led = Ledger(path, session_id="s-new")
    got = led.records(all_sessions=True)
    assert [d["row_id"] for d in got] == [1, 2, 3]
    for d, r, sess in zip(got, old, ("s-old", "s-old", "s-older")):
        d.pop("row_id")
        assert d == dict(r.to_dict(), session_id=sess, notebook="nb.ipynb")  # new fields at their defaults
    assert list(led.to_dataframe(all_sessions=True)["label"]) == ["fp32", "int8", "err"]
    led.append(make_result("after", 5.0))
    assert led.note is None
    # a 0.1.0 kernel still running appends to its table: the row is moved at the next open
    v010_append(path, v010_record(make_result("straggler", 9.0)), "s-old", None)
    led.close()
    assert [d["label"] for d in file_records(path)] == ["fp32", "int8", "err", "after", "straggler"]
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert conn.execute("SELECT count(*) FROM cells").fetchone()[0] == 0
        assert dict(conn.execute("SELECT key, value FROM meta")).get("schema_version") == "2"
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


# --- other versions of the schema -------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True, slots=True)
class FutureResult(EcoResult):
    """What a later version might store: a new figure, a new provenance text, a new list."""

    heat_j: float | None = None
    heat_source: str = ""
    heat_notes: tuple[str, ...] = ()


def test_a_newer_version_adds_columns_and_this_one_keeps_reading_and_writing(tmp_path):
    path = tmp_path / "l.sqlite"
    led = Ledger(path, session_id="now")
    led.append(make_result("before", 1.0))
    led.close()
    future = Store(path, Codec(FutureResult))
    r = FutureResult(**{f.name: getattr(make_result("later", 2.0), f.name) for f in dataclasses.fields(EcoResult)},
                     heat_j=4.5, heat_source="calorimeter", heat_notes=("warm",))
    future.append(future.codec.encode(r.to_dict(), None), "future", time.time())
    future.close()
    led = Ledger(path, session_id="now")
    led.append(make_result("again", 3.0))  # this version's insert names its own columns
    got = led.records(all_sessions=True)
    assert [d["label"] for d in got] == ["before", "later", "again"]
    assert got[1]["heat_j"] == 4.5 and got[1]["heat_source"] == "calorimeter" and got[1]["heat_notes"] == ["warm"]
    assert sorted(list(got[1])[-6:-3]) == ["heat_j", "heat_notes", "heat_source"]  # after the known fields
    assert list(got[1])[-3:] == ["row_id", "session_id", "notebook"]
    assert "heat_j" not in got[0]
    df = led.to_dataframe(all_sessions=True)
    assert df["heat_j"].tolist()[1] == 4.5
    led.export(tmp_path / "a.csv", all_sessions=True)
    exporters.to_csv(got, tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT heat_j FROM measurements ORDER BY id").fetchall() == [(None,), (4.5,), (None,)]
    finally:
        conn.close()


def test_an_older_version_s_file_gets_the_new_columns(tmp_path):
    path = tmp_path / "l.sqlite"
    hints = typing.get_type_hints(EcoResult)
    keep = [f for f in dataclasses.fields(EcoResult)][:60]
    Past = dataclasses.make_dataclass("Past", [(f.name, hints[f.name], f) for f in keep], frozen=True)
    past = Store(path, Codec(Past))
    past.append(past.codec.encode(v010_record(make_result("old", 1.0)), None), "past", time.time())
    past.close()
    led = Ledger(path, session_id="now")
    led.append(make_result("new", 2.0, tokens_in=10, carbon_kind="hourly"))
    got = led.records(all_sessions=True)
    assert got[0]["tokens_in"] is None and got[0]["carbon_kind"] == "annual average"
    assert got[1]["tokens_in"] == 10 and got[1]["carbon_kind"] == "hourly"


# --- files that are not ours ------------------------------------------------------------------------------------
def _users_db(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO users(name) VALUES ('ada')")
    conn.commit()
    conn.close()


def _cells_lookalike_wal(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    conn.execute("INSERT INTO meta VALUES ('owner', 'someone else')")
    conn.execute("CREATE TABLE cells (id INTEGER PRIMARY KEY, formula TEXT)")
    conn.commit()
    conn.close()


def _other_app(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA application_id = 1234")
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()


def _view_only(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE VIEW v AS SELECT 1")
    conn.commit()
    conn.close()


def _sequence_only(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT)")
    conn.execute("INSERT INTO t DEFAULT VALUES")
    conn.execute("DROP TABLE t")  # sqlite_sequence stays
    conn.commit()
    conn.close()


FOREIGN = {
    "only sqlite_sequence left": _sequence_only,
    "users table": _users_db,
    "look-alike meta and cells in WAL mode": _cells_lookalike_wal,
    "another application_id": _other_app,
    "a view only": _view_only,
    "random bytes": lambda p: p.write_bytes(bytes(range(256)) * 64),
    "text": lambda p: p.write_text("name,score\nada,3\n"),
}


def snapshot(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() + str(p.stat().st_mtime_ns)
            for p in folder.iterdir()}


@pytest.mark.parametrize("kind", list(FOREIGN))
def test_a_file_that_is_not_a_ledger_is_never_written(tmp_path, kind):
    folder = tmp_path / "theirs"
    folder.mkdir()
    path = folder / "their.db"
    FOREIGN[kind](path)
    before = snapshot(folder)
    led = Ledger(path)
    for call in (lambda: led.records(all_sessions=True), lambda: led.to_dataframe(all_sessions=True),
                 lambda: led.count(all_sessions=True), lambda: led.clear(all_sessions=True),
                 lambda: led.export(tmp_path / "out.csv", all_sessions=True)):
        with pytest.raises(LedgerError, match="left untouched"):
            call()
    led.append(make_result("mine", 1.0))
    note = led.take_note()
    assert "is not an eco_magic ledger" in note and "left untouched" in note and "in memory" in note
    assert len(led) == 1 and not led.persistent
    assert snapshot(folder) == before  # same files, same bytes, same mtimes; no -wal, -shm or -journal added


def test_an_empty_file_becomes_a_ledger(tmp_path):
    path = tmp_path / "empty.sqlite"
    path.write_bytes(b"")
    led = Ledger(path)
    led.append(make_result("a"))
    assert led.note is None and file_records(path)[0]["label"] == "a"


# --- several processes opening one fresh file ------------------------------------------------------------------
CHILD = """
import sys
from eco_magic.session_ledger import Ledger
sys.path.insert(0, {tests!r})
from helpers import make_result
me = sys.argv[1]
print("ready", flush=True)
for line in sys.stdin:
    led = Ledger(line.strip(), session_id=me)
    led.append(make_result(me))
    note = led.take_note()
    led.close()
    print("lost " + note if note else "ok", flush=True)
"""


def test_eight_processes_opening_one_fresh_ledger_at_once_lose_no_opening(tmp_path):
    script = tmp_path / "opener.py"
    script.write_text(CHILD.format(tests=str(REPO / "tests")))
    procs = [subprocess.Popen([sys.executable, str(script), f"p{i}"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=child_env(tmp_path), cwd=str(tmp_path))
             for i in range(8)]
    lost = []
    try:
        for p in procs:
            assert p.stdout.readline().strip() == "ready", p.stderr.read()
        for round_ in range(20):
            path = tmp_path / f"fresh-{round_}" / "ledger.sqlite"  # the folder does not exist either
            for p in procs:  # every child blocks on its stdin: one write each wakes them together
                p.stdin.write(f"{path}\n")
                p.stdin.flush()
            answers = [p.stdout.readline().strip() for p in procs]
            lost += [a for a in answers if a != "ok"]
            labels = sorted(d["label"] for d in file_records(path))
            assert labels == sorted(f"p{i}" for i in range(8)), (round_, answers)
    finally:
        for p in procs:
            p.stdin.close()
            p.wait(timeout=60)
            p.stdout.close()
            p.stderr.close()
    assert not lost


def test_a_ledger_that_can_be_read_but_not_written_still_reads(tmp_path, monkeypatch):
    path = tmp_path / "l.sqlite"
    Ledger(path, session_id="s").append(make_result("kept"))
    from eco_magic import ledger_store

    def refuse(self, create):
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(ledger_store.Store, "_set_up", refuse)  # what a read-only file or folder answers
    reader = Ledger(path, session_id="r")
    assert [d["label"] for d in reader.records(all_sessions=True)] == ["kept"]
    reader.close()
    foreign = tmp_path / "theirs.db"
    _users_db(foreign)
    with pytest.raises(LedgerError, match="left untouched"):
        Ledger(foreign).records(all_sessions=True)


def test_the_benchmark_s_rows_go_through_the_public_append_path(tmp_path):
    import random

    from benchmarks.ledger_scale import LABELS, vary

    rows = vary(make_result("template", devices=(GPU, RAM)), 40, random.Random(1))
    led = Ledger(tmp_path / "l.sqlite")
    for r in rows:
        led.append(r)
    df = led.to_dataframe()
    assert len(df) == 40 and df["energy_j"].nunique() == 40 and set(df["label"]) == set(LABELS)
    assert df["started_at"].is_unique and (df["gpu_energy_j"] < df["energy_j"]).all()


@dataclasses.dataclass(frozen=True, slots=True)
class OddlyAnnotated(EcoResult):
    odd: NoSuchType | None = None  # noqa: F821 - an annotation that cannot be resolved
    odd_j: float | None = None


def test_a_field_whose_annotation_cannot_be_resolved_is_still_stored(tmp_path):
    codec = Codec(OddlyAnnotated)
    assert codec.kinds["odd"] == "nested" and codec.kinds["odd_j"] == "float"
    store = Store(tmp_path / "l.sqlite", codec)
    r = OddlyAnnotated(**{f.name: getattr(make_result("x"), f.name) for f in dataclasses.fields(EcoResult)},
                       odd={"a": [1, 2]}, odd_j=2.5)
    store.append(codec.encode(r.to_dict(), None), "s", time.time())
    from eco_magic.ledger_rows import to_records

    (got,) = to_records(store.rows(), store.interned, codec)
    store.close()
    assert got["odd"] == {"a": [1, 2]} and got["odd_j"] == 2.5


def test_texts_sqlite_cannot_hold_and_labels_that_are_not_text_read_back(tmp_path):
    """A lone surrogate (undecodable bytes in the environment come back as such) or a label that is a number:
    the row is stored, exactly, and later rows are stored too."""
    led = Ledger(tmp_path / "l.sqlite", session_id="s", notebook="nb-\udcff.ipynb")
    odd = [make_result("bad-\ud800"), make_result(123), make_result("ok", region_name="r\udcfe", notes=("\ud83d",))]
    for r in odd:
        led.append(r)
    assert led.note is None and led.persistent
    got = led.records(all_sessions=True)
    for d, r in zip(got, odd):
        d.pop("row_id")
        assert d == expected(r, "s", "nb-\udcff.ipynb")
    df = led.to_dataframe(all_sessions=True)
    assert df["label"].tolist() == ["bad-\ud800", 123, "ok"] and df["notebook"].iloc[0] == "nb-\udcff.ipynb"
    assert led.fields(["label", "region_name"], all_sessions=True)[2] == {"label": "ok", "region_name": "r\udcfe"}


def test_a_damaged_0_1_0_row_keeps_what_its_columns_say(tmp_path):
    path = tmp_path / "ledger.sqlite"
    v010_append(path, v010_record(make_result("good", 5.0)), "s-old", None)
    v010_append(path, v010_record(make_result("damaged", 7.0)), "s-old", None)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE cells SET result_json = '{\"label\": \"dam' WHERE label = 'damaged'")
    conn.commit()
    conn.close()
    got = file_records(path)
    assert [d["label"] for d in got] == ["good", "damaged"]
    assert got[1]["energy_j"] == 7.0 and got[1]["status"] == "ok" and "damaged 0.1.0 ledger row" in got[1]["notes"][0]
