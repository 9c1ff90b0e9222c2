"""The Ledger: every measured cell, kept in memory for this session and persisted to SQLite.

Why SQLite: each append is one transaction in WAL mode, so a row is either fully there or absent after a crash or
``kill -9``; several kernels can append to one file at once (the busy timeout serialises writers); locks are held
by the OS and die with the process, so a crashed kernel leaves nothing stale behind. The file's layout (schema 2:
real SQL columns for the figures, shared JSON documents for the texts, one packed BLOB per row for fast reads) is
in :mod:`eco_magic.ledger_store` and :mod:`eco_magic.ledger_codec`; ledgers written by 0.1.0 are upgraded in place
when first opened. A file that is not an eco_magic ledger is never written.

``eco_magic.ledger()`` returns the kernel's ledger. (A submodule named ``ledger.py`` would shadow that function,
hence this module's name.)
"""
from __future__ import annotations

import gc
import math
import os
import sqlite3
import threading
import time
import uuid
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

if TYPE_CHECKING:
    from .ledger_codec import Codec
    from .ledger_store import Store
    from .ledger_table import Columns
    from .result import EcoResult

DEFAULT_DIRNAME = ".eco_magic"
DEFAULT_FILENAME = "ledger.sqlite"
_IDS = ("session_id", "notebook")


def _plain(value: Any) -> Any:
    """A result attribute as ``to_dict`` would give it for the scalar fields (non-finite floats → None)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@contextmanager
def _bulk():
    """Around reads that build 100,000s of objects at once (none of them cyclic): no cyclic garbage collection
    meanwhile, since each pass would also walk every result this session keeps (half the time of a DataFrame)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@lru_cache(maxsize=1)
def _codec() -> "Codec":
    from .ledger_codec import Codec

    return Codec()


def default_path(cwd: str | os.PathLike | None = None) -> Path:
    """``.eco_magic/ledger.sqlite`` in the kernel's working directory, i.e. next to the notebook."""
    return Path(cwd or os.getcwd()) / DEFAULT_DIRNAME / DEFAULT_FILENAME


def notebook_name(env: dict | None = None) -> str | None:
    """The notebook this kernel serves, when the Jupyter server says so (``JPY_SESSION_NAME``)."""
    env = os.environ if env is None else env
    name = env.get("JPY_SESSION_NAME")
    return os.path.basename(name) if name else None


class LedgerError(RuntimeError):
    """The ledger file cannot be used (unwritable, corrupt, another program's database)."""


class Ledger:
    """Measured cells of this session (in memory) plus everything persisted at ``path`` (``None``: memory only).

    Indexing and ``len`` cover this session; ``to_dataframe(all_sessions=True)`` includes earlier sessions' rows.
    Reads of the file raise :class:`LedgerError` when it cannot be used; appends never raise (see :meth:`append`).
    """

    def __init__(self, path: str | os.PathLike | None = None, *, session_id: str | None = None,
                 notebook: str | None = None) -> None:
        self.session_id = session_id or uuid.uuid4().hex[:12]
        self.notebook = notebook if notebook is not None else notebook_name()
        self._results: list[EcoResult] = []
        self._lock = threading.RLock()
        self._store: Store | None = None
        self._persisted = 0  # rows of this session this object committed to the file at ``path``
        self.path: Path | None = Path(path) if path is not None else None
        #: Why rows stopped being saved, until taken (:meth:`take_note`); the magic says it once.
        self.note: str | None = None

    # --- persistence -------------------------------------------------------------------------------------------
    def _open(self, create: bool) -> "Store | None":
        """The file's store, opened on first use; ``None`` when there is no file and ``create`` is false."""
        if self.path is None:
            return None
        if self._store is None:
            from .ledger_store import NotOurs, Store

            if not create and not self.path.exists():
                return None
            try:
                self._store = Store(self.path, _codec(), create=create)
            except NotOurs as exc:
                raise LedgerError(f"{self.path} is not an eco_magic ledger ({exc}); it was left untouched") from None
            except FileNotFoundError:
                return None
            except (sqlite3.Error, OSError) as exc:
                raise LedgerError(f"{self.path} cannot be used as a ledger ({exc})") from None
            except Exception as exc:  # noqa: BLE001 - e.g. a damaged row met while upgrading: say it, never crash
                raise LedgerError(f"{self.path} cannot be used as a ledger ({type(exc).__name__}: {exc})") from None
        return self._store

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    def set_path(self, path: str | os.PathLike | None) -> None:
        """Point persistence elsewhere (``None`` turns it off). Rows already written stay where they are."""
        with self._lock:
            self.close()
            self.path = Path(path) if path is not None else None
            self._persisted = 0
            self.note = None

    @property
    def persistent(self) -> bool:
        """Whether appends still go to a file (false: memory only, by choice or after a failure)."""
        return self.path is not None

    def take_note(self) -> str | None:
        """Why rows stopped being saved to the file, once: returns the note and forgets it (``None``: nothing
        new). The measuring path calls it after :meth:`append` and says it, on stderr when the cell is quiet."""
        with self._lock:
            note, self.note = self.note, None
            return note

    # --- writing -----------------------------------------------------------------------------------------------
    def append(self, result: "EcoResult") -> None:
        """Keep ``result`` for this session and persist it in one transaction.

        If the file cannot be written (unwritable, corrupt, not an eco_magic ledger), the row stays in memory,
        persistence is switched off and :attr:`note` says why (:meth:`take_note`) — a ledger problem never fails
        the cell.
        """
        with self._lock:
            self._results.append(result)
            if self.path is None:
                return
            try:
                store = self._open(create=True)
                store.append(_codec().encode(result.to_dict(), self.notebook), self.session_id, time.time())
                self._persisted += 1
            except Exception as exc:  # noqa: BLE001 - nothing the file does may fail the cell
                self._lose(exc)

    def _lose(self, exc: Exception) -> None:
        reason = str(exc) if isinstance(exc, LedgerError) else f"{type(exc).__name__}: {exc}"
        self.note = (f"ledger not saved to {self.path}: {reason}; keeping this session's rows in memory only "
                     "(set %config EcoMagics.ledger_path to a writable file)")
        try:
            self.close()
        except Exception:  # noqa: BLE001
            self._store = None
        self.path = None

    def clear(self, all_sessions: bool = False) -> int:
        """Forget this session's rows (or every row with ``all_sessions``); returns how many persisted rows went.

        With ``all_sessions`` nothing is forgotten when the file cannot be changed (:class:`LedgerError`); without
        it, this session's rows are forgotten in memory first, then :class:`LedgerError` says the file could not be
        changed.
        """
        with self._lock:
            if not all_sessions:
                self._results.clear()
                self._persisted = 0
            store = self._open(create=False)
            removed = 0
            if store is not None:
                try:
                    removed = store.delete(None if all_sessions else self.session_id)
                except sqlite3.Error as exc:
                    raise LedgerError(f"{self.path} could not be changed ({exc})") from None
            if all_sessions:
                self._results.clear()
                self._persisted = 0
            return removed

    # --- reading -----------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._results)

    def __getitem__(self, index):
        return self._results[index]

    def __iter__(self) -> Iterator["EcoResult"]:
        return iter(list(self._results))

    def _file_rows(self, session_id: str | None = None, last: int | None = None) -> list[tuple] | None:
        """Raw rows of the file (``None``: no file to read). Call with the lock held."""
        store = self._open(create=False)
        if store is None:
            return None
        try:
            return store.rows(session_id, last)
        except sqlite3.Error as exc:
            raise LedgerError(f"{self.path} cannot be read ({exc})") from None

    def _decoded(self, fn, *args):
        from .ledger_rows import DamagedRow

        try:
            return fn(*args)
        except DamagedRow as exc:
            raise LedgerError(f"{self.path} is damaged: {exc}") from None

    def _columns(self, all_sessions: bool) -> tuple["Columns", bool]:
        """The rows to show, column by column, and whether they carry file row ids.

        This session's rows come from the file when it holds exactly them (one columnar read); otherwise, and for
        a memory-only ledger, they are encoded from memory the same way, so both give the same values.
        """
        from .ledger_rows import Interned, encode_rows
        from .ledger_table import Columns

        with self._lock:
            store = self._open(create=False)
            if store is not None and (all_sessions or (self._persisted == len(self._results)
                                                       and store.count(self.session_id) == len(self._results))):
                rows = self._file_rows(None if all_sessions else self.session_id)
                return self._decoded(Columns, rows, store.interned, _codec()), all_sessions
            interned = Interned()
            rows = encode_rows(_codec(), (r.to_dict() for r in self._results), self.session_id, self.notebook,
                               interned)
            return Columns(rows, interned, _codec()), False

    def records(self, all_sessions: bool = False) -> list[dict[str, Any]]:
        """One dict per measured cell (the result's ``to_dict()`` plus session_id, notebook and row id)."""
        from .ledger_rows import to_records

        if all_sessions:
            with self._lock, _bulk():
                rows = self._file_rows()
                if rows is not None:
                    return self._decoded(to_records, rows, self._store.interned, _codec())
        return [dict(r.to_dict(), session_id=self.session_id, notebook=self.notebook) for r in self]

    def to_dataframe(self, all_sessions: bool = False):
        """A pandas DataFrame, one row per measured cell: every field of the result, devices as
        ``<kind>_energy_j`` and ``methods``, notes and thermal flags as text, confidence intervals as
        ``<field>_ci_low`` / ``<field>_ci_high``; with ``all_sessions``, ``row_id`` too."""
        from .ledger_frames import dataframe

        with _bulk():
            cols, with_ids = self._columns(all_sessions)
            return dataframe(cols, with_ids)

    def fields(self, names: Sequence[str], all_sessions: bool = False) -> list[dict[str, Any]]:
        """Only the named fields of each row, in ``records()`` order — the cheap path for totals and comparisons.

        Read column by column from the file with ``all_sessions``; from memory otherwise. Values are as in
        ``records()``.
        """
        names = list(names)
        if all_sessions and self.path is not None and self.path.exists():
            from .ledger_frames import field_lists

            with _bulk():
                cols, _ = self._columns(True)
                return field_lists(cols, names)
        kinds = _codec().kinds
        if not all(kinds.get(n) in ("int", "float", "text") or n in _IDS for n in names):
            return [{n: r.get(n) for n in names} for r in self.records()]
        extra = {"session_id": self.session_id, "notebook": self.notebook}
        return [{n: extra[n] if n in extra else _plain(getattr(r, n)) for n in names} for r in self]

    def recent(self, n: int, all_sessions: bool = False) -> list[dict[str, Any]]:
        """The last ``n`` rows as :meth:`records` gives them (oldest first), decoding only those."""
        from .ledger_rows import to_records

        if n <= 0:
            return []
        if all_sessions:
            with self._lock:
                rows = self._file_rows(last=n)
                if rows is not None:
                    return self._decoded(to_records, rows, self._store.interned, _codec())
        return [dict(r.to_dict(), session_id=self.session_id, notebook=self.notebook) for r in self._results[-n:]]

    def count(self, all_sessions: bool = False) -> int:
        """Number of measured cells: this session's, or every persisted row with ``all_sessions``."""
        if all_sessions:
            with self._lock:
                store = self._open(create=False)
                if store is not None:
                    try:
                        return store.count()
                    except sqlite3.Error as exc:
                        raise LedgerError(f"{self.path} cannot be read ({exc})") from None
        return len(self)

    def export(self, path: str | os.PathLike, fmt: str | None = None, all_sessions: bool = False) -> int:
        """Write the rows to ``path``: CSV or JSON by suffix, or ``fmt`` "csv" / "json" / "codecarbon"
        (CodeCarbon's emissions.csv columns). Returns the number of rows; raises ``exporters.ExportError``."""
        from . import exporters

        fmt = exporters.resolve_format(path, fmt)
        if fmt == "csv":
            from .ledger_frames import csv_table

            with _bulk():
                cols, with_ids = self._columns(all_sessions)
                header, columns = csv_table(cols, with_ids)
                return exporters.write_csv_columns(path, header, columns, cols.n)
        with _bulk():
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
