"""Stored ledger rows as the store hands them over, and back to records (one dict per cell, exactly ``to_dict()``
plus the row id, session id and notebook).

A raw row is ``(row_id, shape, label, started_at, packed)``. A shape is the combination (session, context, layout,
extra) that many rows share; :class:`Interned` maps shape ids to those four text ids and text ids to texts (the
store fills it from the file; a memory-only ledger fills it with :func:`encode_rows`). The column-by-column reader
is :mod:`eco_magic.ledger_table`.
"""
from __future__ import annotations

import json
from typing import Any, Iterable, Sequence

from .ledger_codec import DEVICE_EXTRA_KEY, INLINE, NOTEBOOK_KEY, Codec, Plan, fresh, plan_of

#: The columns of a raw row, in the order the store selects them.
RAW_COLUMNS = ("id", "shape", "label", "started_at", "packed")

class DamagedRow(ValueError):
    """A stored row does not match its layout (the file was edited or damaged)."""


class Interned:
    """Interned texts by id (session ids, contexts, layouts, extras), shapes by id, and parsed documents, cached.

    Interned texts and shapes are never changed or deleted, so an id read once stays valid for the file's life.
    """

    def __init__(self) -> None:
        self.text: dict[int, str] = {}
        self.shapes: dict[int, tuple[int, int, int, int]] = {}  # id → (session, context, layout, extra); 0: none
        self._ids: dict[Any, int] | None = None
        self._docs: dict[int, dict] = {}

    def add_texts(self, pairs: Iterable[tuple[int, str]]) -> None:
        for i, t in pairs:
            self.text[i] = t

    def add_shapes(self, rows: Iterable[tuple[int, int, int, int, int]]) -> None:
        for i, *parts in rows:
            self.shapes[i] = tuple(parts)  # type: ignore[assignment]

    def max_text_id(self) -> int:
        return max(self.text, default=0)

    def max_shape_id(self) -> int:
        return max(self.shapes, default=0)

    def intern(self, text: str) -> int:
        """The id of ``text``, adding it (memory-only ledgers intern locally)."""
        if self._ids is None:
            self._ids = {t: i for i, t in self.text.items()}
        i = self._ids.get(text)
        if i is None:
            i = self._ids[text] = self.max_text_id() + 1
            self.text[i] = text
        return i

    def shape(self, parts: tuple[int, int, int, int]) -> int:
        """The id of a shape, adding it (memory-only ledgers)."""
        if self._ids is None:
            self._ids = {t: i for i, t in self.text.items()}
        key = ("#shape", parts)
        i = self._ids.get(key)
        if i is None:
            i = self._ids[key] = self.max_shape_id() + 1
            self.shapes[i] = parts
        return i

    def get(self, code: int) -> str | None:
        return self.text.get(code) if code else None

    def parts(self, shape: int) -> tuple[int, int, int, int]:
        p = self.shapes.get(shape)
        if p is None:
            raise DamagedRow(f"shape {shape} is missing")
        return p

    def doc(self, code: int) -> dict:
        """A context or extra document (shared: copy containers with :func:`fresh` before handing them out)."""
        if not code:
            return {}
        d = self._docs.get(code)
        if d is None:
            text = self.text.get(code)
            if text is None:
                raise DamagedRow(f"interned text {code} is missing")
            d = self._docs[code] = json.loads(text)
        return d

    def plan(self, code: int) -> Plan:
        text = self.text.get(code)
        if text is None:
            raise DamagedRow(f"layout {code} is missing")
        return plan_of(text)


def encode_rows(codec: Codec, records: Iterable[dict], session_id: str, notebook: str | None,
                interned: Interned) -> list[tuple]:
    """Raw rows for in-memory records (row ids 1…n), interning into ``interned``: the memory-only read path."""
    session = interned.intern(session_id)
    out = []
    for i, rec in enumerate(records, 1):
        e = codec.encode(rec, notebook)
        shape = interned.shape((session, interned.intern(e.context) if e.context else 0, interned.intern(e.layout),
                                interned.intern(e.extra) if e.extra else 0))
        out.append((i, shape, e.label, e.started_at, e.packed))
    return out


# --- records ------------------------------------------------------------------------------------------------------
def _unpack(plan: Plan, packed: bytes | None, row_id: int) -> tuple:
    if not plan.width:
        return ()
    if packed is None or len(packed) != 8 * plan.width:
        raise DamagedRow(f"row {row_id}: its figures do not match their layout")
    return plan.unpack(packed)


def _value(kind: Any, vals: tuple, slot: int) -> Any:
    """A field's value from a row's packed values (``kind`` as in :attr:`Plan.fields`)."""
    if kind == "f":
        return vals[slot]
    if kind == "i":
        return int(vals[slot])
    if isinstance(kind, tuple):
        return {k: vals[slot + j] if t == "f" else int(vals[slot + j]) for j, (k, t) in enumerate(kind)}
    a, b = vals[slot], vals[slot + 1]
    return [int(a) if kind[1] == "i" else a, int(b) if kind[2] == "i" else b]


def _devices(plan: Plan, vals: tuple, xdoc: dict | None) -> list[dict]:
    devx = xdoc.get(DEVICE_EXTRA_KEY, {}) if xdoc else {}
    out = []
    for i, dp in enumerate(plan.devices or ()):
        dev = dict(dp.template)
        for key in dp.mutable:
            dev[key] = fresh(dev[key])
        for key, slot, kind in dp.nums:
            dev[key] = vals[slot] if kind == "f" else int(vals[slot])
        if dp.extras:
            mine = devx.get(str(i), {})
            for key in dp.extras:
                dev[key] = fresh(mine.get(key))
        out.append(dev)
    return out


def _template(interned: Interned, codec: Codec, shape: int, row_ids: bool) -> tuple[dict, tuple, Plan, dict | None]:
    """What every row of ``shape`` shares: the record with its keys in order and the shared values filled in, the
    keys whose values must be copied for each row, the layout, and the extra document."""
    sess, ctx, lay, ext = interned.parts(shape)
    d = dict(codec.base)
    notebook = None
    for k, v in interned.doc(ctx).items():
        if k == NOTEBOOK_KEY:
            notebook = v
        else:
            d[k] = v
    plan = interned.plan(lay)
    for name, _, _ in plan.fields:
        d[name] = None  # placeholder: fixes the key's place
    xdoc = interned.doc(ext) or None
    for k, v in (xdoc or {}).items():
        if k != DEVICE_EXTRA_KEY:
            d[k] = v
    if row_ids:
        d["row_id"] = None
    d["session_id"] = interned.get(sess)
    d["notebook"] = notebook
    mutable = tuple(k for k, v in d.items() if isinstance(v, (list, dict)) and not (
        k == "devices" and plan.devices is not None))
    inline = tuple(n for n in INLINE if n not in (xdoc or {}))  # (a label SQLite cannot hold is in extra)
    return d, mutable, plan, xdoc, inline


def to_records(rows: Sequence[tuple], interned: Interned, codec: Codec, row_ids: bool = True) -> list[dict[str, Any]]:
    """One dict per row: the record's fields in ``to_dict()`` order (names this version does not know after them),
    then ``row_id`` (when ``row_ids``), ``session_id`` and ``notebook``."""
    templates: dict[int, tuple] = {}
    out = []
    for rid, shape, label, started, packed in rows:
        t = templates.get(shape)
        if t is None:
            t = templates[shape] = _template(interned, codec, shape, row_ids)
        template, mutable, plan, xdoc, inline = t
        d = dict(template)
        if len(inline) == 2:
            d["label"] = label
            d["started_at"] = started
        else:
            for name in inline:
                d[name] = label if name == "label" else started
        for k in mutable:
            d[k] = fresh(template[k])
        vals = _unpack(plan, packed, rid)
        for name, slot, kind in plan.fields:
            d[name] = vals[slot] if kind == "f" else _value(kind, vals, slot)
        if plan.devices is not None:
            d["devices"] = _devices(plan, vals, xdoc)
        if row_ids:
            d["row_id"] = rid
        out.append(d)
    return out
