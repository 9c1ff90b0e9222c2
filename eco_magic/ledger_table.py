"""Ledger rows decoded column by column (numpy arrays, for the DataFrame and the CSV export) without building a
dict per row: each layout's packed figures become one float64 matrix, each shared document is read once.

numpy is imported only when a :class:`Columns` is built. Raw rows and :class:`~eco_magic.ledger_rows.Interned`:
see :mod:`eco_magic.ledger_rows`.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

from .ledger_codec import DEVICE_EXTRA_KEY, INLINE, NOTEBOOK_KEY, Codec, Plan, fresh, num_kind
from .ledger_rows import DamagedRow, Interned

#: Leading DataFrame columns (the rest follow in record order).
DF_LEADING = ("label", "status", "duration_s", "energy_j", "energy_net_j", "co2_g", "water_l", "ess",
              "effective_params_m", "precision", "items", "region", "carbon_intensity_g_per_kwh", "pue",
              "cpu_energy_j", "gpu_energy_j", "ram_energy_j", "methods", "started_at", "session_id", "notebook")
#: Record fields that the DataFrame shows as "; "-joined text, and those it leaves out (devices → per-kind columns).
DF_JOINED = ("notes", "thermal_flags")
DF_DROPPED = ("devices", "precision_mix")


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
