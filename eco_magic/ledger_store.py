"""The ledger file: whose it is, its schema (created, migrated from 0.1.0, extended), appends, reads and deletes.

A file is written only when it is an eco_magic ledger (``PRAGMA application_id`` = :data:`APPLICATION_ID`, or the
0.1.0 layout: a ``meta`` table saying schema 1 and a ``cells`` table), or empty, or absent. Whose it is is decided
first from the header bytes and an ``immutable`` read-only look (which creates and changes nothing, not even WAL
side files), then again inside the write transaction that would create or upgrade the schema.

Schema 2 (see :mod:`eco_magic.ledger_codec` for the row format)::

    strings(id, text UNIQUE)         interned texts: session ids, contexts, layouts, extras
    shapes(id, session, context, layout, extra)     the combinations rows share (ids into strings; 0: none)
    measurements(id, shape, recorded_at, packed, label, started_at,
                 <one REAL/INTEGER column per numeric field>, <field>_low/_high per interval, <kind>_energy_j)
    ledger                           a view with every field as a column, texts included, for SQL queries
    meta(key, value)                 schema_version, compatible_schema, created_by

Columns are only ever added (``ALTER TABLE ADD COLUMN``), so files stay readable by older and newer versions.
"""
from __future__ import annotations

import json
import random
import sqlite3
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from .ledger_codec import Codec, Encoded
from .ledger_rows import RAW_COLUMNS, Interned

APPLICATION_ID = 0x45636F4D  # "EcoM"
SCHEMA_VERSION = 2
COMPATIBLE_SCHEMA = 2  # readers and writers of this layout can use the file (bumped only for breaking changes)
BUSY_TIMEOUT_S = 30.0
_HEADER = b"SQLite format 3\x00"
_V1_TABLES = {"meta", "cells", "sqlite_sequence"}
_CORE = ("shape INTEGER NOT NULL", "recorded_at REAL NOT NULL", "packed BLOB", "label TEXT", "started_at TEXT")


class NotOurs(Exception):
    """The file exists and is not an eco_magic ledger (another program's database, or not a database)."""


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)


def _read_only(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF == sqlite3.SQLITE_READONLY if code is not None else "readonly" in str(exc)


def retry(fn: Callable[[], Any], timeout_s: float = BUSY_TIMEOUT_S) -> Any:
    """``fn()``, retried with jittered exponential backoff while SQLite says the file is busy or locked (a lock
    upgrade that would deadlock fails at once, without the busy handler; several kernels opening one fresh file
    meet that)."""
    deadline = time.monotonic() + timeout_s
    delay = 0.002
    while True:
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            if not _busy(exc) or time.monotonic() > deadline:
                raise
        time.sleep(delay * (0.5 + random.random()))
        delay = min(delay * 2, 0.25)


# --- whose file is it -----------------------------------------------------------------------------------------------
def _describe(tables: Sequence[str]) -> str:
    shown = ", ".join(sorted(tables)[:5]) + (", …" if len(tables) > 5 else "")
    return f"another program's SQLite database (tables: {shown})"


def _classify(conn: sqlite3.Connection) -> str:
    """"ours", "v1" or "empty" for ``conn``'s database; raises :class:`NotOurs` otherwise."""
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    if app_id == APPLICATION_ID:
        return "ours"
    if app_id:
        raise NotOurs(f"another application's SQLite database (application_id {app_id:#x})")
    if not names:
        if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            raise NotOurs(_describe(["(views or indexes only)"]))
        return "empty"
    if set(names) <= _V1_TABLES and {"meta", "cells"} & set(names):
        meta_ok = "meta" not in names or {tuple(r) for r in conn.execute("SELECT key, value FROM meta")} <= {
            ("schema_version", "1")}
        cells_ok = "cells" not in names or {"session_id", "result_json"} <= {
            r[1] for r in conn.execute("PRAGMA table_info(cells)")}
        if meta_ok and cells_ok:
            return "v1"
    raise NotOurs(_describe(names))


def probe(path: Path) -> str:
    """"new", "empty", "v1" or "ours" for ``path``, read without changing anything; :class:`NotOurs` otherwise."""
    try:
        with open(path, "rb") as f:
            header = f.read(100)
    except FileNotFoundError:
        return "new"
    if not header:
        return "empty"
    if len(header) < 100 or not header.startswith(_HEADER):
        raise NotOurs("not an SQLite database (corrupt, or another kind of file)")
    if int.from_bytes(header[68:72], "big") == APPLICATION_ID:
        return "ours"
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    try:
        return _classify(conn)
    except sqlite3.DatabaseError as exc:
        raise NotOurs(f"not a usable SQLite database ({exc})") from None
    finally:
        conn.close()


# --- the store --------------------------------------------------------------------------------------------------------
class Store:
    """One open ledger file. Not thread-safe: :class:`~eco_magic.session_ledger.Ledger` serialises the calls."""

    def __init__(self, path: Path, codec: Codec, *, create: bool = True) -> None:
        """Open ``path``; ``create=False`` opens only an existing ledger. Raises :class:`NotOurs` for a foreign or
        corrupt file (left untouched), ``sqlite3.Error`` / ``OSError`` when it cannot be used."""
        self.path, self.codec = path, codec
        self.interned = Interned()
        self._ids: dict[Any, int] = {}  # committed texts and shapes → id (write side)
        kind = probe(path)
        if kind in ("new", "empty") and not create and not Path(f"{path}-wal").exists():
            raise FileNotFoundError(path)
        if kind == "new":
            path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                    check_same_thread=False)
        try:
            self.conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA cache_size=-2048")
            try:
                retry(lambda: self._set_up(create))
            except sqlite3.OperationalError as exc:
                if not _read_only(exc) or _classify(self.conn) != "ours":
                    raise
                return  # a ledger we may read but not write (its folder or file is read-only): reads work
            if retry(lambda: self.conn.execute("PRAGMA journal_mode").fetchone()[0]) != "wal":
                retry(lambda: self.conn.execute("PRAGMA journal_mode=WAL").fetchone())
        except BaseException:
            self.conn.close()
            raise

    def close(self) -> None:
        self.conn.close()

    # --- schema ---------------------------------------------------------------------------------------------------
    def _transaction(self, body: Callable[[], Any]) -> Any:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            out = body()
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        return out

    def _set_up(self, create: bool) -> None:
        """Create, upgrade or extend the schema in one write transaction, re-checking whose file it is inside it
        (another kernel may have created it meanwhile: that is success, not an error)."""
        def body() -> None:
            kind = _classify(self.conn)
            if kind == "empty" and not create:
                raise FileNotFoundError(self.path)  # nothing to read, and a read creates nothing
            c = self.conn
            if kind in ("empty", "v1"):
                c.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                c.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
                c.execute("CREATE TABLE strings (id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE)")
                c.execute("CREATE TABLE shapes (id INTEGER PRIMARY KEY, session INTEGER NOT NULL, context INTEGER "
                          "NOT NULL, layout INTEGER NOT NULL, extra INTEGER NOT NULL, "
                          "UNIQUE (session, context, layout, extra))")
                c.execute("CREATE INDEX shapes_session ON shapes(session)")
                cols = ", ".join([*_CORE, *(f"{_q(n)} {t}" for n, t, _, _ in self.codec.sql_columns)])
                c.execute(f"CREATE TABLE measurements (id INTEGER PRIMARY KEY AUTOINCREMENT, {cols})")
                c.execute("CREATE INDEX measurements_shape ON measurements(shape)")
                from . import __version__

                c.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", [
                    ("schema_version", str(SCHEMA_VERSION)), ("compatible_schema", str(COMPATIBLE_SCHEMA)),
                    ("created_by", f"eco_magic {__version__}")])
            else:
                compatible = c.execute("SELECT value FROM meta WHERE key = 'compatible_schema'").fetchone()
                if compatible is None or compatible[0] != str(COMPATIBLE_SCHEMA):
                    raise NotOurs(f"an eco_magic ledger in a layout this version cannot use "
                                  f"(compatible_schema {compatible[0] if compatible else 'missing'})")
            added = self._add_columns()
            if kind in ("empty", "v1") or added:
                self._make_view()
            self._migrate_v1()
        self._transaction(body)

    def _add_columns(self) -> bool:
        have = {r[1] for r in self.conn.execute("PRAGMA table_info(measurements)")}
        missing = [(n, t) for n, t, _, _ in self.codec.sql_columns if n not in have]
        for n, t in missing:
            self.conn.execute(f"ALTER TABLE measurements ADD COLUMN {_q(n)} {t}")
        return bool(missing)

    def _make_view(self) -> None:
        """``ledger``: every field as a column (texts read from the shared JSON documents), for SQL queries."""
        have = [r[1] for r in self.conn.execute("PRAGMA table_info(measurements)")]
        numeric = {n for n, _, _, _ in self.codec.sql_columns}
        sel = ["m.id AS row_id", "s.text AS session_id", "json_extract(c.text, '$.\"#notebook\"') AS notebook"]
        for name in self.codec.names:
            if name in ("label", "started_at") or (name in numeric and name in have):
                sel.append(f"m.{_q(name)}")
            elif self.codec.kinds[name] != "pair" and name != "devices":
                path = "'$.\"" + name.replace("'", "''").replace('"', '\\"') + "\"'"
                default = json.dumps(self.codec.base.get(name)).replace("'", "''")
                sel.append(f"CASE WHEN json_type(c.text, {path}) IS NOT NULL THEN json_extract(c.text, {path}) "
                           f"WHEN json_type(x.text, {path}) IS NOT NULL THEN json_extract(x.text, {path}) "
                           f"ELSE json_extract('[{default}]', '$[0]') END AS {_q(name)}")
        sel += [f"m.{_q(n)}" for n in have if n not in self.codec.names and n in numeric]
        sel.append("json_extract(l.text, '$.m') AS methods")
        self.conn.execute("DROP VIEW IF EXISTS ledger")
        self.conn.execute(
            f"CREATE VIEW ledger AS SELECT {', '.join(sel)} FROM measurements m JOIN shapes h ON h.id = m.shape "
            "LEFT JOIN strings s ON s.id = h.session LEFT JOIN strings c ON c.id = h.context "
            "LEFT JOIN strings l ON l.id = h.layout LEFT JOIN strings x ON x.id = h.extra")

    def _migrate_v1(self) -> int:
        """Move the rows of a 0.1.0 ``cells`` table into ``measurements`` (kept: a 0.1.0 kernel may still append
        there; its rows are moved at the next open)."""
        c = self.conn
        if not c.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cells'").fetchone():
            return 0
        c.row_factory = sqlite3.Row
        try:
            rows = c.execute("SELECT * FROM cells ORDER BY id").fetchall()
        finally:
            c.row_factory = None
        taken = c.execute("SELECT ifnull(max(id), 0) FROM measurements").fetchone()[0]
        for row in rows:
            try:
                record = json.loads(row["result_json"])
                if not isinstance(record, dict):
                    raise ValueError("not a JSON object")
            except (TypeError, ValueError) as exc:  # a damaged row: keep what its SQL columns say
                record = {k: row[k] for k in row.keys() if k not in ("id", "session_id", "notebook", "recorded_at",
                                                                     "result_json")}
                record["notes"] = [f"moved from a damaged 0.1.0 ledger row ({exc}): only its SQL columns were "
                                   "readable"]
            self._insert(self.codec.encode(record, row["notebook"]), row["session_id"] or "",
                         row["recorded_at"] or 0.0, row_id=row["id"] if row["id"] > taken else None)
        c.execute("DELETE FROM cells")
        return len(rows)

    # --- writing ----------------------------------------------------------------------------------------------------
    def _intern(self, text: str, fresh: dict[Any, int]) -> int:
        i = self._ids.get(text) or fresh.get(text)
        if i is None:
            row = self.conn.execute("SELECT id FROM strings WHERE text = ?", (text,)).fetchone()
            i = row[0] if row else self.conn.execute("INSERT INTO strings(text) VALUES (?)", (text,)).lastrowid
            fresh[text] = i
        return i

    def _shape(self, e: Encoded, session_id: str, fresh: dict[Any, int]) -> int:
        parts = (self._intern(session_id, fresh), self._intern(e.context, fresh) if e.context else 0,
                 self._intern(e.layout, fresh), self._intern(e.extra, fresh) if e.extra else 0)
        i = self._ids.get(parts) or fresh.get(parts)
        if i is None:
            row = self.conn.execute("SELECT id FROM shapes WHERE session = ? AND context = ? AND layout = ? AND "
                                    "extra = ?", parts).fetchone()
            i = row[0] if row else self.conn.execute(
                "INSERT INTO shapes(session, context, layout, extra) VALUES (?, ?, ?, ?)", parts).lastrowid
            fresh[parts] = i
        return i

    def _insert(self, e: Encoded, session_id: str, recorded_at: float, row_id: int | None = None) -> dict:
        fresh: dict[Any, int] = {}
        values = [self._shape(e, session_id, fresh), recorded_at, e.packed, e.label, e.started_at, *e.sql]
        names = ["shape", "recorded_at", "packed", "label", "started_at", *(n for n, _, _, _ in self.codec.sql_columns)]
        if row_id is not None:
            names.insert(0, "id")
            values.insert(0, row_id)
        self.conn.execute(f"INSERT INTO measurements ({', '.join(map(_q, names))}) "
                          f"VALUES ({', '.join('?' * len(names))})", values)
        return fresh

    def append(self, e: Encoded, session_id: str, recorded_at: float) -> None:
        """One row in its own transaction (committed when this returns)."""
        fresh = retry(lambda: self._transaction(lambda: self._insert(e, session_id, recorded_at)))
        self._ids.update(fresh)  # only once committed: a rolled-back id is not ours to reuse

    # --- reading ----------------------------------------------------------------------------------------------------
    def _session_filter(self, session_id: str | None) -> tuple[str, list] | None:
        """A WHERE clause for one session's rows (``None``: that session has no row here)."""
        if session_id is None:
            return "", []
        row = self.conn.execute("SELECT id FROM strings WHERE text = ?", (session_id,)).fetchone()
        if row is None:
            return None
        return " WHERE shape IN (SELECT id FROM shapes WHERE session = ?)", [row[0]]

    def rows(self, session_id: str | None = None, last: int | None = None) -> list[tuple]:
        """Raw rows (see :data:`~eco_magic.ledger_rows.RAW_COLUMNS`), oldest first; :attr:`interned` is brought
        up to date with every shape and text they refer to (one read transaction: one snapshot)."""
        def read() -> list[tuple]:
            self.conn.execute("BEGIN")
            try:
                where = self._session_filter(session_id)
                if where is None:
                    return []
                table = "measurements"
                if session_id is not None and last is None:
                    mine = self.conn.execute(f"SELECT count(*) FROM measurements{where[0]}", where[1]).fetchone()[0]
                    if 4 * mine >= self.conn.execute("SELECT count(*) FROM measurements").fetchone()[0]:
                        table = "measurements NOT INDEXED"  # most rows are this session's: a scan in id order
                sql = f"SELECT {', '.join(RAW_COLUMNS)} FROM {table}{where[0]} ORDER BY id"
                args = where[1]
                if last is not None:
                    sql = f"SELECT * FROM ({sql} DESC LIMIT ?) ORDER BY id"
                    args = [*args, int(last)]
                rows = self.conn.execute(sql, args).fetchall()
                known = self.interned
                known.add_shapes(self.conn.execute("SELECT id, session, context, layout, extra FROM shapes "
                                                   "WHERE id > ?", (known.max_shape_id(),)))
                known.add_texts(self.conn.execute("SELECT id, text FROM strings WHERE id > ?",
                                                  (known.max_text_id(),)))
                return rows
            finally:
                self.conn.execute("COMMIT")

        return retry(read)

    def count(self, session_id: str | None = None) -> int:
        def read() -> int:
            where = self._session_filter(session_id)
            if where is None:
                return 0
            return int(self.conn.execute(f"SELECT count(*) FROM measurements{where[0]}", where[1]).fetchone()[0])

        return retry(read)

    def delete(self, session_id: str | None = None) -> int:
        """Delete this session's rows (every row when ``session_id`` is None); interned texts and shapes stay."""
        def body() -> int:
            where = self._session_filter(session_id)
            if where is None:
                return 0
            return self.conn.execute(f"DELETE FROM measurements{where[0]}", where[1]).rowcount

        return retry(lambda: self._transaction(body))
