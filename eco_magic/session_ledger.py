"""The Ledger: every measured cell, kept in memory for this session and persisted to SQLite.

Why SQLite: each append is one transaction in WAL mode, so a row is either fully there or absent after a crash or
``kill -9``; several kernels can append to one file at once (the busy timeout serialises writers); locks are held
by the OS and die with the process, so a crashed kernel leaves nothing stale behind.

``eco_magic.ledger()`` returns the kernel's ledger. (A submodule named ``ledger.py`` would shadow that function,
hence this module's name.)
"""
from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

if TYPE_CHECKING:
    from .result import EcoResult

DEFAULT_DIRNAME = ".eco_magic"
DEFAULT_FILENAME = "ledger.sqlite"
SCHEMA_VERSION = 1

#: Columns stored as SQL columns (the full result is also stored as JSON).
COLUMNS = ("label", "status", "duration_s", "energy_j", "energy_net_j", "co2_g", "water_l", "water_onsite_l",
           "water_offsite_l", "ess", "effective_params_m", "precision", "pue", "carbon_intensity_g_per_kwh",
           "region", "items")

#: Fields :meth:`Ledger.fields` reads straight from SQL columns.
_SQL_FIELDS = frozenset(COLUMNS) | {"session_id", "notebook", "started_at"}
_RESULT_FIELDS = frozenset(COLUMNS) | {"started_at"}


def _plain(value: Any) -> Any:
    """A result attribute as ``to_dict`` would give it for the scalar fields (non-finite floats → None)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS cells (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    notebook TEXT,
    started_at TEXT,
    recorded_at REAL NOT NULL,
    {", ".join(f"{c} {'TEXT' if c in ('label', 'status', 'precision', 'region') else 'REAL'}" for c in COLUMNS)},
    result_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cells_session ON cells(session_id);
"""


def default_path(cwd: str | os.PathLike | None = None) -> Path:
    """``.eco_magic/ledger.sqlite`` in the kernel's working directory, i.e. next to the notebook."""
    return Path(cwd or os.getcwd()) / DEFAULT_DIRNAME / DEFAULT_FILENAME


def notebook_name(env: dict | None = None) -> str | None:
    """The notebook this kernel serves, when the Jupyter server says so (``JPY_SESSION_NAME``)."""
    env = os.environ if env is None else env
    name = env.get("JPY_SESSION_NAME")
    return os.path.basename(name) if name else None


class LedgerError(RuntimeError):
    """The ledger file cannot be used (unwritable, corrupt, not a ledger)."""


class Ledger:
    """Measured cells of this session (in memory) plus everything persisted at ``path`` (``None``: memory only).

    Indexing and ``len`` cover this session; ``to_dataframe(all_sessions=True)`` includes earlier sessions' rows.
    """

    def __init__(self, path: str | os.PathLike | None = None, *, session_id: str | None = None,
                 notebook: str | None = None) -> None:
        self.session_id = session_id or uuid.uuid4().hex[:12]
        self.notebook = notebook if notebook is not None else notebook_name()
        self._results: list[EcoResult] = []
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self.path: Path | None = Path(path) if path is not None else None
        self.note: str | None = None  # set when persistence had to be disabled, shown once by the magic

    # --- persistence -------------------------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection | None:
        if self.path is None:
            return None
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None, check_same_thread=False)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA cache_size=-256")  # 256 KiB: appends need no big page cache
                conn.execute("PRAGMA busy_timeout=30000")
                conn.executescript(_SCHEMA)
                conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)",
                             (str(SCHEMA_VERSION),))
            except sqlite3.DatabaseError as exc:
                conn.close()
                raise LedgerError(f"{self.path} is not a usable eco_magic ledger ({exc})") from exc
            self._conn = conn
        return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def set_path(self, path: str | os.PathLike | None) -> None:
        """Point persistence elsewhere (``None`` turns it off). Rows already written stay where they are."""
        self.close()
        self.path = Path(path) if path is not None else None
        self.note = None

    # --- writing -----------------------------------------------------------------------------------------------
    def append(self, result: "EcoResult") -> None:
        """Keep ``result`` for this session and persist it in one transaction.

        If the file cannot be written, the row stays in memory, persistence is switched off and ``note`` says why
        (the magic shows it once) — a ledger problem never fails the cell.
        """
        with self._lock:
            self._results.append(result)
            if self.path is None:
                return
            try:
                conn = self._connect()
                d = result.to_dict()
                values = [d.get(c) for c in COLUMNS]
                conn.execute(
                    f"INSERT INTO cells (session_id, notebook, started_at, recorded_at, {', '.join(COLUMNS)}, "
                    f"result_json) VALUES ({', '.join('?' * (len(COLUMNS) + 5))})",
                    [self.session_id, self.notebook, d.get("started_at"), time.time(), *values,
                     json.dumps(d, ensure_ascii=False, allow_nan=False)])
            except (OSError, sqlite3.Error, LedgerError) as exc:
                self.note = (f"ledger not saved to {self.path}: {exc}; keeping this session's rows in memory "
                             "(set %config EcoMagics.ledger_path to a writable file)")
                self.path = None
                self._conn = None

    def clear(self, all_sessions: bool = False) -> int:
        """Forget this session's rows (or every row with ``all_sessions``); returns how many persisted rows went."""
        with self._lock:
            self._results.clear()
            if self.path is None or not self.path.exists():
                return 0
            conn = self._connect()
            if all_sessions:
                cur = conn.execute("DELETE FROM cells")
            else:
                cur = conn.execute("DELETE FROM cells WHERE session_id = ?", (self.session_id,))
            return cur.rowcount

    # --- reading -----------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._results)

    def __getitem__(self, index):
        return self._results[index]

    def __iter__(self) -> Iterator["EcoResult"]:
        return iter(list(self._results))

    def records(self, all_sessions: bool = False) -> list[dict[str, Any]]:
        """One dict per measured cell (the result's ``to_dict()`` plus session_id, notebook and row id)."""
        if all_sessions and self.path is not None and self.path.exists():
            with self._lock:
                conn = self._connect()
                rows = conn.execute(
                    "SELECT id, session_id, notebook, result_json FROM cells ORDER BY id").fetchall()
            out = []
            for row_id, session_id, notebook, blob in rows:
                d = json.loads(blob)
                d.update(row_id=row_id, session_id=session_id, notebook=notebook)
                out.append(d)
            return out
        return [dict(r.to_dict(), session_id=self.session_id, notebook=self.notebook) for r in self]

    def to_dataframe(self, all_sessions: bool = False):
        """A pandas DataFrame, one row per measured cell; device details flattened to ``<kind>_energy_j`` etc."""
        import pandas as pd

        rows = []
        for d in self.records(all_sessions=all_sessions):
            devices = d.pop("devices", [])
            d.pop("precision_mix", None)
            d["methods"] = ", ".join(f"{x['key']}={x['method']}" for x in devices)
            for kind in ("cpu", "gpu", "ram"):
                energies = [x["energy_j"] for x in devices if x["kind"] == kind and x["energy_j"] is not None]
                d[f"{kind}_energy_j"] = sum(energies) if energies else None
            for key in ("notes", "thermal_flags"):
                d[key] = "; ".join(d.get(key) or [])
            rows.append(d)
        columns = ["label", "status", "duration_s", "energy_j", "energy_net_j", "co2_g", "water_l", "ess",
                   "effective_params_m", "precision", "items", "region", "carbon_intensity_g_per_kwh", "pue",
                   "cpu_energy_j", "gpu_energy_j", "ram_energy_j", "methods", "started_at", "session_id", "notebook"]
        df = pd.DataFrame(rows)
        if df.empty:
            return pd.DataFrame(columns=columns)
        ordered = [c for c in columns if c in df.columns] + [c for c in df.columns if c not in columns]
        return df[ordered]

    def fields(self, names: Sequence[str], all_sessions: bool = False) -> list[dict[str, Any]]:
        """Only the named fields of each row, in ``records()`` order — the cheap path for totals and comparisons.

        Names that are SQL columns (``COLUMNS``, ``session_id``, ``notebook``, ``started_at``) are read without
        decoding the stored JSON; any other name falls back to :meth:`records`. Values are as in ``records()``.
        """
        names = list(names)
        if all_sessions and self.path is not None and self.path.exists():
            if not set(names) <= _SQL_FIELDS:
                return [{n: r.get(n) for n in names} for r in self.records(all_sessions=True)]
            with self._lock:
                conn = self._connect()
                rows = conn.execute(f"SELECT id, {', '.join(names)} FROM cells ORDER BY id").fetchall()
            return [dict(zip(names, row[1:])) for row in rows]
        if not set(names) <= _RESULT_FIELDS | {"session_id", "notebook"}:
            return [{n: r.get(n) for n in names} for r in self.records()]
        extra = {"session_id": self.session_id, "notebook": self.notebook}
        return [{n: extra[n] if n in extra else _plain(getattr(r, n)) for n in names} for r in self]

    def recent(self, n: int, all_sessions: bool = False) -> list[dict[str, Any]]:
        """The last ``n`` rows as :meth:`records` gives them (oldest first), decoding only those."""
        if n <= 0:
            return []
        if all_sessions and self.path is not None and self.path.exists():
            with self._lock:
                conn = self._connect()
                rows = conn.execute("SELECT id, session_id, notebook, result_json FROM cells ORDER BY id DESC "
                                    "LIMIT ?", (int(n),)).fetchall()
            out = []
            for row_id, session_id, notebook, blob in reversed(rows):
                d = json.loads(blob)
                d.update(row_id=row_id, session_id=session_id, notebook=notebook)
                out.append(d)
            return out
        return [dict(r.to_dict(), session_id=self.session_id, notebook=self.notebook) for r in self._results[-n:]]

    def count(self, all_sessions: bool = False) -> int:
        """Number of measured cells: this session's, or every persisted row with ``all_sessions``."""
        if all_sessions and self.path is not None and self.path.exists():
            with self._lock:
                conn = self._connect()
                return int(conn.execute("SELECT COUNT(*) FROM cells").fetchone()[0])
        return len(self)

    def export(self, path: str | os.PathLike, fmt: str | None = None, all_sessions: bool = False) -> int:
        """Write the rows to ``path``: CSV or JSON by suffix, or ``fmt`` "csv" / "json" / "codecarbon"
        (CodeCarbon's emissions.csv columns). Returns the number of rows; raises ``exporters.ExportError``."""
        from . import exporters

        return exporters.export(self.records(all_sessions=all_sessions), path, fmt)

    def compare(self, metric: str = "energy", by: str = "label", baseline: str | None = None,
                quality: str | None = None, all_sessions: bool = False, **options):
        """Each group's mean ``metric`` with its 95 % interval, and its ratio to ``baseline`` with an interval and a
        verdict, as a pandas DataFrame (one row per group). See :func:`eco_magic.comparison.compare` for the
        statistics, ``quality`` and the other ``options`` (confidence, noise, quality_higher_is_better)."""
        from .comparison import compare_ledger

        return compare_ledger(self, metric, by, baseline, quality, all_sessions, **options).to_frame()

    def __repr__(self) -> str:
        where = str(self.path) if self.path else "memory only"
        return f"<Ledger session={self.session_id} cells={len(self)} ({where})>"


_CURRENT: Ledger | None = None
_CURRENT_LOCK = threading.Lock()


def current_ledger() -> Ledger:
    """The process-wide ledger (memory-only until the magic configures a path)."""
    global _CURRENT
    with _CURRENT_LOCK:
        if _CURRENT is None:
            _CURRENT = Ledger(None)
        return _CURRENT


def set_current_ledger(ledger: Ledger) -> Ledger:
    global _CURRENT
    with _CURRENT_LOCK:
        if _CURRENT is not None and _CURRENT is not ledger:
            _CURRENT.close()
        _CURRENT = ledger
    return ledger
