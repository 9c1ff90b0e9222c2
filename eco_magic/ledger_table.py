"""Reading stored ledger rows back: as records (one dict per cell, exactly ``to_dict()`` + ids), or column by column
(numpy arrays, for the DataFrame and the CSV export) without building a dict per row.

Rows come from the store (or, for a memory-only ledger, from :func:`encode_rows`) as tuples
``(row_id, shape, label, started_at, packed)``. A shape is the combination (session, context, layout, extra) that
many rows share; :class:`Interned` maps shape ids to those four text ids and text ids to texts. numpy and pandas
are imported only by the column path.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Iterable, NamedTuple, Sequence

from .ledger_codec import DEVICE_EXTRA_KEY, INLINE, NOTEBOOK_KEY, Codec, Plan, fresh, num_kind, plan_of

#: The columns of a raw row, in the order the store selects them.
RAW_COLUMNS = ("id", "shape", "label", "started_at", "packed")
#: Leading DataFrame columns (the rest follow in record order).
DF_LEADING = ("label", "status", "duration_s", "energy_j", "energy_net_j", "co2_g", "water_l", "ess",
              "effective_params_m", "precision", "items", "region", "carbon_intensity_g_per_kwh", "pue",
              "cpu_energy_j", "gpu_energy_j", "ram_energy_j", "methods", "started_at", "session_id", "notebook")
#: Record fields that the DataFrame shows as "; "-joined text, and those it leaves out (devices → per-kind columns).
DF_JOINED = ("notes", "thermal_flags")
DF_DROPPED = ("devices", "precision_mix")


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


# --- columns ------------------------------------------------------------------------------------------------------
class NumCol(NamedTuple):
    """A numeric column: float64 values, which rows have a number, and which of those numbers are integers."""

    values: Any
    present: Any
    isint: Any


def _identity(v: Any) -> Any:
    return v


class Columns:
    """The rows decoded column by column: each layout's packed figures become one float64 matrix."""

    def __init__(self, rows: Sequence[tuple], interned: Interned, codec: Codec) -> None:
        import numpy as np

        self.np, self.codec, self.strings = np, codec, interned
        self.n = n = len(rows)
        ids, shapes, labels, starts, packed = zip(*rows) if n else ((),) * 5
        self.row_id = np.fromiter(ids, np.int64, n)
        self.labels, self.starts = labels, starts
        shape = np.fromiter(shapes, np.int64, n)
        uniq, inv = np.unique(shape, return_inverse=True)  # shapes are few: the rest is decided per shape
        inv = inv.reshape(-1)
        parts = np.array([interned.parts(c) for c in uniq.tolist()], dtype=np.int64).reshape(-1, 4)
        self.sess = parts[inv, 0]
        self.lay = parts[inv, 2]
        self.groups: list[tuple[Plan, Any, Any]] = []
        layouts, lay_of_shape = np.unique(parts[:, 2], return_inverse=True)
        for j, code in enumerate(layouts.tolist()):
            plan = interned.plan(code)
            if len(layouts) == 1:
                idx = np.arange(n)
            else:
                idx = np.flatnonzero(np.isin(inv, np.flatnonzero(lay_of_shape.reshape(-1) == j)))
            mat = None
            if plan.width:
                chunk = packed if len(layouts) == 1 else [packed[i] for i in idx.tolist()]
                try:
                    blob = b"".join(chunk)
                except TypeError:
                    raise DamagedRow("a row has no figures where its layout needs them") from None
                if len(blob) != len(idx) * plan.width * 8:
                    raise DamagedRow("a row's figures do not match its layout")
                mat = np.frombuffer(blob, "<f8").reshape(len(idx), plan.width)
            self.groups.append((plan, idx, mat))
        self.docsets = []  # (index per row into docs, docs per distinct id) for contexts, then extras
        for j in (1, 3):
            u, of_shape = np.unique(parts[:, j], return_inverse=True)
            self.docsets.append((of_shape.reshape(-1)[inv], [interned.doc(c) for c in u.tolist()]))

    # --- which names there are ----------------------------------------------------------------------------------
    def unknown_names(self) -> tuple[list[str], list[str]]:
        """Names this version does not know: (those of the first row, those first seen in later rows), each in
        first-seen order — the key order :func:`to_records` gives."""
        np = self.np
        known = set(self.codec.names) | set(INLINE)
        if not self.n:
            return [], []
        (cinv, cdocs), (xinv, xdocs) = self.docsets
        lay_inv = np.unique(self.lay, return_inverse=True)[1].reshape(-1)
        plans = [p for p, _, _ in sorted(self.groups, key=lambda g: int(self.lay[g[1][0]]))]
        combo = (cinv.astype(np.int64) * (len(plans) + 1) + lay_inv) * (len(xdocs) + 1) + xinv
        _, first = np.unique(combo, return_index=True)
        first_row, later = [], []
        for row in sorted(first.tolist()):
            keys = [k for k in cdocs[cinv[row]] if k != NOTEBOOK_KEY]
            keys += [f for f, _, _ in plans[lay_inv[row]].fields]
            keys += [k for k in xdocs[xinv[row]] if k != DEVICE_EXTRA_KEY]
            target = first_row if row == 0 else later
            for k in keys:
                if k not in known and k not in first_row and k not in later:
                    target.append(k)
        return first_row, later

    # --- one column ---------------------------------------------------------------------------------------------
    def in_docs(self, name: str) -> bool:
        return any(name in d for _, docs in self.docsets for d in docs)

    def numeric(self, name: str) -> NumCol | None:
        """``name`` as numbers, when each row holds a packed number or the field's numeric (or None) default."""
        np = self.np
        if self.codec.kinds.get(name, "float") not in ("int", "float"):
            return None
        default = self.codec.base.get(name)
        dkind = num_kind(default)
        if (default is not None and dkind is None) or name in INLINE or self.in_docs(name):
            return None
        if len(self.groups) == 1:  # one layout (the usual case): a column of its matrix, or the default
            plan, _, mat = self.groups[0]
            for fname, slot, kind in plan.fields:
                if fname == name:
                    if kind not in ("f", "i"):
                        return None
                    return NumCol(mat[:, slot], np.ones(self.n, bool), np.full(self.n, kind == "i"))
        values = np.full(self.n, np.nan if default is None else float(default))
        present = np.full(self.n, default is not None)
        isint = np.full(self.n, dkind == "i")
        for plan, idx, mat in self.groups:
            for fname, slot, kind in plan.fields:
                if fname == name:
                    if kind not in ("f", "i"):
                        return None
                    values[idx] = mat[:, slot]
                    present[idx] = True
                    isint[idx] = kind == "i"
        return NumCol(values, present, isint)

    def pair(self, name: str) -> tuple[NumCol, NumCol] | None:
        """A (low, high) pair field as two numeric columns, when every row holds a packed pair or None."""
        np = self.np
        if self.codec.base.get(name) is not None or self.in_docs(name):
            return None
        cols = [NumCol(np.full(self.n, np.nan), np.zeros(self.n, bool), np.zeros(self.n, bool)) for _ in range(2)]
        for plan, idx, mat in self.groups:
            for fname, slot, kind in plan.fields:
                if fname == name:
                    if not (isinstance(kind, str) and kind.startswith("p")):
                        return None
                    for j, col in enumerate(cols):
                        col.values[idx] = mat[:, slot + j]
                        col.present[idx] = True
                        col.isint[idx] = kind[1 + j] == "i"
        return cols[0], cols[1]

    def constant(self, name: str) -> tuple[bool, Any]:
        """``(True, value)`` when every row holds the same stored value for ``name`` (its default, or one shared
        document); ``(False, None)`` otherwise."""
        if name in INLINE or any(f == name for plan, _, _ in self.groups for f, _, _ in plan.fields):
            return False, None
        found: tuple | None = None
        for _, docs in self.docsets:
            holders = [d for d in docs if name in d]
            if not holders:
                continue
            if found is not None or len(docs) != 1:
                return False, None
            found = (docs[0][name],)
        return True, found[0] if found is not None else self.codec.base.get(name)

    def objects(self, name: str, transform: Callable[[Any], Any] = _identity):
        """``name`` as an object array, ``transform`` applied to each value (once per distinct stored document)."""
        np = self.np
        out = np.empty(self.n, dtype=object)
        if name in INLINE:
            values = self.labels if name == "label" else self.starts
            out[:] = values if transform is _identity else [transform(v) for v in values]
        else:
            out.fill(transform(fresh(self.codec.base.get(name))))
        for plan, idx, mat in self.groups:
            for fname, slot, kind in plan.fields:
                if fname != name:
                    continue
                if kind in ("f", "i"):
                    vals = (mat[:, slot].astype(np.int64) if kind == "i" else mat[:, slot]).tolist()
                elif isinstance(kind, tuple):
                    keys = [k for k, _ in kind]
                    block = mat[:, slot:slot + len(kind)].tolist()
                    if any(t == "i" for _, t in kind):
                        block = [[int(x) if t == "i" else x for x, (_, t) in zip(r, kind)] for r in block]
                    vals = [dict(zip(keys, r)) for r in block]
                else:
                    lo, hi = (mat[:, slot + j].astype(np.int64) if kind[1 + j] == "i" else mat[:, slot + j]
                              for j in range(2))
                    vals = [[a, b] for a, b in zip(lo.tolist(), hi.tolist())]
                out[idx] = np.fromiter(map(transform, vals), object, len(vals))
        for inv, docs in self.docsets:
            has = np.fromiter((name in d for d in docs), bool, len(docs))
            if not has.any():
                continue
            vals = np.empty(len(docs), dtype=object)
            for j, d in enumerate(docs):
                if name in d:
                    vals[j] = transform(fresh(d[name]))
            if has.all():
                out = vals[inv]
            else:
                mask = has[inv]
                out[mask] = vals[inv[mask]]
        return out

    def kind_energy(self, kind: str) -> NumCol:
        """Joules of the devices of ``kind`` (cpu, gpu, ram) per row: the sum of those with a figure, else none."""
        np = self.np
        values, present = np.full(self.n, np.nan), np.zeros(self.n, bool)
        for plan, idx, mat in self.groups:
            slots = [d.energy_slot for d in plan.devices or () if d.kind == kind and d.energy_slot is not None]
            if slots:
                acc = mat[:, slots[0]] + 0.0  # as Python's sum(): 0 + a + b … (so -0.0 sums to 0.0)
                for s in slots[1:]:
                    acc += mat[:, s]
                values[idx] = acc
                present[idx] = True
        return NumCol(values, present, np.zeros(self.n, bool))

    def methods(self):
        np = self.np
        out = np.empty(self.n, dtype=object)
        out.fill("")
        for plan, idx, _ in self.groups:
            out[idx] = plan.methods
        return out

    def session_ids(self):
        np = self.np
        uniq, inv = np.unique(self.sess, return_inverse=True)
        return np.array([self.strings.get(c) for c in uniq.tolist()], dtype=object)[inv.reshape(-1)]

    def notebooks(self, transform: Callable[[Any], Any] = _identity):
        inv, docs = self.docsets[0]
        return self.np.array([transform(d.get(NOTEBOOK_KEY)) for d in docs] or [None], dtype=object)[inv]

    def as_list(self, col: NumCol, missing: Any = None) -> list:
        """A numeric column as Python values (int, float; ``missing`` where there is none), as records hold them."""
        np = self.np
        values, present, isint = col
        if not present.any():
            return [missing] * self.n
        if isint.all():
            out = values.astype(np.int64).tolist()
        else:
            out = values.tolist()
            for i in np.flatnonzero(isint).tolist():
                out[i] = int(out[i])
        if not present.all():
            for i in np.flatnonzero(~present).tolist():
                out[i] = missing
        return out
