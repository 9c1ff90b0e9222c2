"""The ledger never loses a row: kernels killed mid-cell, kernels interrupted, two kernels writing at once,
files that cannot be used.

The slow tests start real processes (a Jupyter kernel through jupyter_client, or plain IPython shells from
``tests/kernel_child.py``) and read the SQLite file from the outside afterwards, as the next session would.
"""
from __future__ import annotations

import random
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from IPython.utils.capture import capture_output

import eco_magic
from eco_magic.session_ledger import Ledger
from kernel_child import HERE, Kernel, child_env, setup_lines
from helpers import make_result


# --------------------------------------------------------------------------------------------------- helpers
def rows(path: Path) -> list[dict]:
    """Every row of the ledger file as SQL sees it (the ``ledger`` view: one column per field)."""
    conn = sqlite3.connect(str(path), timeout=5.0)
    try:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM ledger ORDER BY row_id")]
    finally:
        conn.close()


def integrity(path: Path) -> str:
    conn = sqlite3.connect(str(path), timeout=5.0)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def assert_not_locked(path: Path) -> None:
    """A writer gets the lock at once: nothing stale is left behind (no lock file, no held OS lock)."""
    conn = sqlite3.connect(str(path), timeout=0.5, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
    finally:
        conn.close()
    leftovers = [p.name for p in path.parent.iterdir() if p.name.endswith((".lock", "-journal"))]
    assert not leftovers, leftovers


def assert_rows_consistent(path: Path, found: list[dict]) -> None:
    """Every row is whole: what a fresh ledger decodes agrees with the SQL columns, field by field."""
    led = Ledger(path)
    try:
        decoded = led.records(all_sessions=True)
    finally:
        led.close()
    assert [d["row_id"] for d in decoded] == [r["row_id"] for r in found]
    for d, row in zip(decoded, found):
        for col, value in row.items():
            if col in d and not isinstance(d[col], (list, dict)):
                assert value == d[col], (row["row_id"], col, value, d[col])
        assert d["devices"] and d["devices"][0]["method"]


def spawn(tmp: Path, ledger: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(HERE), "--ledger", str(ledger), *args], cwd=str(tmp),
                            env=child_env(tmp), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def read_until(proc: subprocess.Popen, predicate, timeout: float = 120.0) -> list[str]:
    """Lines of the child's stdout up to the first one ``predicate`` accepts."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"child ended early: {lines[-5:]} / {proc.stderr.read()[-2000:]}")
        lines.append(line.strip())
        if line.startswith("error"):
            raise AssertionError(f"child failed: {line} {proc.stderr.read()[-2000:]}")
        if predicate(line.strip()):
            return lines
    raise TimeoutError(lines[-5:])


# ------------------------------------------------------------------------------ files that cannot be used
def test_corrupt_ledger_file_is_left_alone_and_the_cell_still_runs(ip, tmp_path):
    bad = tmp_path / "corrupt.sqlite"
    junk = b"this is not a database" * 100
    bad.write_bytes(junk)
    ip.run_line_magic("config", f"EcoMagics.ledger_path = {str(bad)!r}")
    with capture_output() as cap:
        res = ip.run_cell("%%ecolyze -l after-corruption\ny = 7\ny")
        second = ip.run_cell_magic("ecolyze", "-o -q", "z = 1")
    assert res.success and res.result == 7
    shown = [o.data["text/plain"] for o in cap.outputs if "text/plain" in o.data]
    assert len(shown) == 1 and "ledger not saved" in shown[0] and "corrupt.sqlite" in shown[0]
    assert not any("ledger not saved" in n for n in second.notes)      # said once
    assert [r.label for r in eco_magic.ledger()] == ["after-corruption", ""]  # kept in memory
    assert bad.read_bytes() == junk                                          # the user's file is untouched


def test_another_program_s_database_is_left_alone_and_the_cell_still_runs(ip, tmp_path):
    theirs = tmp_path / "app.db"
    conn = sqlite3.connect(theirs)
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO users(name) VALUES ('ada')")
    conn.commit()
    conn.close()
    before = theirs.read_bytes()
    ip.run_line_magic("config", f"EcoMagics.ledger_path = {str(theirs)!r}")
    try:
        with capture_output() as cap:
            res = ip.run_cell("%%ecolyze -l theirs\n6 * 7")
        assert res.success and res.result == 42
        shown = "".join(o.data.get("text/plain", "") for o in cap.outputs)
        assert "is not an eco_magic ledger" in shown and "users" in shown and "left untouched" in shown
        assert [r.label for r in eco_magic.ledger()] == ["theirs"]
        assert theirs.read_bytes() == before
        assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("app.db")) == ["app.db"]
    finally:
        ip.run_line_magic("config", f"EcoMagics.ledger_path = {str(tmp_path / 'ledger.sqlite')!r}")


def test_unwritable_ledger_location_degrades_to_memory(ip, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    ip.run_line_magic("config", f"EcoMagics.ledger_path = {str(blocker / 'ledger.sqlite')!r}")
    with capture_output():
        res = ip.run_cell("%%ecolyze -l nowhere\n40 + 2")
        r = ip.run_cell_magic("ecolyze", "-o -q --var kept", "y = 1")
    assert res.success and res.result == 42
    assert len(eco_magic.ledger()) == 2 and ip.user_ns.pop("kept") is r
    assert eco_magic.ledger().path is None                      # persistence off, rows kept in memory


def test_a_reader_holding_the_file_open_does_not_block_appends(tmp_path):
    path = tmp_path / "shared.sqlite"
    writer = Ledger(path)
    writer.append(make_result("first"))
    reader = sqlite3.connect(str(path), isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT COUNT(*) FROM ledger").fetchone()[0] == 1  # a read transaction stays open
    try:
        writer.append(make_result("second"))                               # WAL: readers never block writers
        assert writer.note is None and writer.path == path
    finally:
        reader.execute("ROLLBACK")
        reader.close()
        writer.close()
    assert [r["label"] for r in rows(path)] == ["first", "second"]


def test_rows_survive_closing_without_a_clean_shutdown(tmp_path):
    """Each append is committed on its own: a ledger that is never closed has still written every row."""
    path = tmp_path / "unclosed.sqlite"
    led = Ledger(path)
    for i in range(5):
        led.append(make_result(f"r{i}"))
    found = rows(path)                                           # another connection, the ledger still open
    assert [r["label"] for r in found] == [f"r{i}" for i in range(5)]
    assert_rows_consistent(path, found)
    led.close()


# ------------------------------------------------------------------------------------------ killed kernels
@pytest.mark.slow
def test_kernel_killed_mid_cell_keeps_every_earlier_row(tmp_path):
    ledger = tmp_path / "ledger.sqlite"
    k = Kernel(tmp_path)
    try:
        reply, _ = k.run("\n".join(setup_lines(ledger)))
        assert reply["status"] == "ok", reply
        for i in range(20):
            reply, _ = k.run(f"%%ecolyze -l before-{i}\nx = {i}")
            assert reply["status"] == "ok", reply
        msg_id = k.start("%%ecolyze -l killed\nprint('started', flush=True)\nimport time\ntime.sleep(60)")
        k.wait_for_stream(msg_id, "started")
        k.kill()
        assert not k.km.is_alive()
    finally:
        k.shutdown()

    assert integrity(ledger) == "ok"
    assert_not_locked(ledger)
    found = rows(ledger)
    assert [r["label"] for r in found] == [f"before-{i}" for i in range(20)]   # all there, nothing half-written
    assert_rows_consistent(ledger, found)
    earlier = Ledger(ledger)
    try:
        assert earlier.count(all_sessions=True) == 20
        assert [r["label"] for r in earlier.records(all_sessions=True)] == [f"before-{i}" for i in range(20)]
    finally:
        earlier.close()

    # the next session starts and appends as if nothing had happened
    nxt = spawn(tmp_path, ledger, "--cells", "3", "--label", "next")
    out, err = nxt.communicate(timeout=120)
    assert nxt.returncode == 0, (out, err)
    found = rows(ledger)
    assert [r["label"] for r in found][-3:] == ["next-0", "next-1", "next-2"] and len(found) == 23
    assert len({r["session_id"] for r in found}) == 2
    assert integrity(ledger) == "ok"


@pytest.mark.slow
def test_shell_killed_while_appending_loses_no_committed_row(tmp_path):
    """SIGKILL at a random moment of a stream of measured cells, twice into the same file: every cell that
    returned has its row, at most the one in flight is added, and the file stays sound for the next writer."""
    ledger = tmp_path / "ledger.sqlite"
    rng = random.Random(20261122)
    expected: list[str] = []
    for round_ in range(2):
        label = f"s{round_}"
        proc = spawn(tmp_path, ledger, "--cells", "5000", "--label", label)
        try:
            stop_after = rng.randrange(20, 120)
            lines = read_until(proc, lambda line: line == f"done {stop_after}")
            proc.kill()                                             # SIGKILL, mid-stream
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.stdout.close()
            proc.stderr.close()
        done = [line for line in lines if line.startswith("done ")]
        assert len(done) == stop_after + 1
        found = [r for r in rows(ledger) if r["label"].startswith(label + "-")]
        labels = [r["label"] for r in found]
        # every reported cell is there; after it, at most the cells the child ran before the kill landed
        assert labels[: stop_after + 1] == [f"{label}-{i}" for i in range(stop_after + 1)]
        assert labels == [f"{label}-{i}" for i in range(len(labels))]      # contiguous: no gap, no duplicate
        expected.extend(labels)
        assert integrity(ledger) == "ok"
        assert_not_locked(ledger)
    every = rows(ledger)
    assert [r["label"] for r in every] == expected
    assert_rows_consistent(ledger, every)


@pytest.mark.slow
def test_interrupted_kernel_records_the_cell_and_stops_the_sampler(tmp_path):
    ledger = tmp_path / "ledger.sqlite"
    k = Kernel(tmp_path)
    try:
        reply, _ = k.run("\n".join(setup_lines(ledger)))
        assert reply["status"] == "ok", reply
        msg_id = k.start("%%ecolyze -l stopped\nprint('started', flush=True)\nimport time\ntime.sleep(60)")
        k.wait_for_stream(msg_id, "started")
        k.interrupt()
        reply = k.reply(msg_id)
        msgs = k.wait_idle(msg_id)
        assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt"
        assert len([m for m in msgs if m["msg_type"] == "error"]) == 1          # one traceback
        cards = [m for m in msgs if m["msg_type"] in ("display_data", "update_display_data")
                 and "ecolyze: stopped" in m["content"]["data"].get("text/plain", "")]
        assert cards, "the partial result is shown"
        reply, msgs = k.run("import threading, eco_magic\n"
                            "print([t.name for t in threading.enumerate()\n"
                            "       if t.name in ('eco_magic-sampler', 'eco_magic-live')])\n"
                            "print([(r.label, r.status, r.error) for r in eco_magic.ledger()])")
        text = "".join(m["content"].get("text", "") for m in msgs if m["msg_type"] == "stream")
        assert text.splitlines()[0] == "[]", text                                 # no sampler left running
        assert "('stopped', 'interrupted', 'KeyboardInterrupt')" in text
        reply, _ = k.run("%%ecolyze -l after\nx = 1")                             # the next cell is fine
        assert reply["status"] == "ok"
    finally:
        k.shutdown()
    assert [(r["label"], r["status"]) for r in rows(ledger)] == [("stopped", "interrupted"), ("after", "ok")]


# ------------------------------------------------------------------------------------------- concurrency
@pytest.mark.slow
def test_two_kernels_append_to_one_ledger_at_once(tmp_path):
    ledger = tmp_path / "ledger.sqlite"
    go = tmp_path / "go"
    n = 300
    procs = [spawn(tmp_path, ledger, "--cells", str(n), "--label", name, "--go", str(go)) for name in ("a", "b")]
    try:
        for p in procs:
            read_until(p, lambda line: line == "ready")
        go.touch()                                   # both start their first append (and open the file) now
        for p in procs:
            out, err = p.communicate(timeout=300)
            assert p.returncode == 0, (out[-2000:], err[-2000:])
            assert out.strip().endswith("finished")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    found = rows(ledger)
    assert len(found) == 2 * n
    assert_rows_consistent(ledger, found)
    assert len({r["row_id"] for r in found}) == 2 * n
    by_session: dict[str, list[str]] = {}
    for r in found:
        by_session.setdefault(r["session_id"], []).append(r["label"])
    assert sorted(len(v) for v in by_session.values()) == [n, n]
    for labels in by_session.values():
        prefix = labels[0].split("-")[0]
        assert labels == [f"{prefix}-{i}" for i in range(n)]       # each session's rows complete and in order
    switches = sum(1 for x, y in zip(found, found[1:]) if x["session_id"] != y["session_id"])
    assert switches >= 2, "the two sessions did not write at the same time; the test proved nothing"
    assert integrity(ledger) == "ok"
