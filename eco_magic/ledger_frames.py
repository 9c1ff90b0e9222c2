"""Whole-ledger views built column by column from :class:`~eco_magic.ledger_table.Columns`: the DataFrame, the
flat CSV table and selected fields — the same values the records give, without a dict per row.
"""
from __future__ import annotations

from typing import Any, Sequence

from . import exporters
from .ledger_codec import KINDS
from .ledger_table import DF_DROPPED, DF_JOINED, DF_LEADING, Columns, NumCol


def _join(value: Any) -> str:
    return "; ".join(str(x) for x in value) if value else ""


def _pandas_numbers(cols: Columns, col: NumCol):
    """A numeric column: int64 when every row has an integer, else float64 with NaN where there is no value (also
    when no row has one: the column stays numeric)."""
    values, present, isint = col
    if present.all() and isint.all():
        return values.astype(cols.np.int64)
    return values


def _df_columns(cols: Columns, name: str, data: dict) -> None:
    if name in DF_DROPPED:
        return
    if name in DF_JOINED:
        data[name] = cols.objects(name, _join)
        return
    if cols.codec.kinds.get(name) == "pair":
        both = cols.pair(name)
        if both is not None:
            data[f"{name}_low"], data[f"{name}_high"] = (_pandas_numbers(cols, c) for c in both)
        else:
            for j, part in enumerate(("low", "high")):
                data[f"{name}_{part}"] = cols.objects(
                    name, lambda v, j=j: v[j] if isinstance(v, (list, tuple)) and len(v) == 2 else None).tolist()
        return
    num = cols.numeric(name)
    if num is not None:
        data[name] = _pandas_numbers(cols, num)
    elif cols.codec.kinds.get(name) == "text":
        data[name] = cols.objects(name)
    else:
        data[name] = cols.objects(name).tolist()  # a list: pandas infers the dtype as it would from the records


def dataframe(cols: Columns, with_row_id: bool):
    """One row per cell: the record's fields, devices as ``<kind>_energy_j`` and ``methods``, notes and thermal
    flags as text, each confidence interval as ``<field>_ci_low`` / ``_ci_high``; ``row_id`` for file rows."""
    import pandas as pd

    if not cols.n:
        return pd.DataFrame(columns=list(DF_LEADING))
    first, later = cols.unknown_names()
    data: dict[str, Any] = {}
    for name in (*cols.codec.names, *first):
        _df_columns(cols, name, data)
    if with_row_id:
        data["row_id"] = cols.row_id
    data["session_id"] = cols.session_ids()
    data["notebook"] = cols.notebooks()
    data["methods"] = cols.methods()
    for kind in KINDS:
        data[f"{kind}_energy_j"] = _pandas_numbers(cols, cols.kind_energy(kind))
    for name in later:
        _df_columns(cols, name, data)
    order = [c for c in DF_LEADING if c in data] + [c for c in data if c not in DF_LEADING]
    return pd.DataFrame({c: data[c] for c in order})


def _csv_cell(value: Any) -> str:
    """A record value as the flat CSV export writes it (flattened, formula-safe, quoted when needed)."""
    return exporters.csv_field(exporters.csv_safe(exporters.flat_value(value)))


def _csv_cells(values: Sequence[Any]) -> list[str]:
    """Cells for per-row values, each distinct value converted once."""
    memo: dict[Any, str] = {}
    out = []
    for v in values:
        try:
            cell = memo.get(v)
        except TypeError:  # unhashable (a list or dict)
            cell = None
        if cell is None:
            cell = _csv_cell(v)
            try:
                memo[v] = cell
            except TypeError:
                pass
        out.append(cell)
    return out


def _csv_numbers(cols: Columns, col: NumCol) -> str | list[str]:
    """A numeric column's cells: one text when every row has the same figure (or none), else one per row."""
    np = cols.np
    values, present, isint = col
    if not present.any():
        return ""
    bits = values.view(np.int64)
    if present.all() and (isint.all() or not isint.any()) and (bits == bits[0]).all():
        return exporters.csv_field(int(values[0]) if isint[0] else float(values[0]))
    if isint.all():
        return list(map(str, values.astype(np.int64).tolist()))
    out = list(map(repr, values.tolist()))
    for i in np.flatnonzero(isint).tolist():
        out[i] = str(int(values[i]))
    if not present.all():
        for i in np.flatnonzero(~present).tolist():
            out[i] = ""
    return out


def _csv_column(cols: Columns, name: str) -> str | list[str]:
    if cols.codec.kinds.get(name) != "pair":
        num = cols.numeric(name)
        if num is not None:
            return _csv_numbers(cols, num)
    same, value = cols.constant(name)
    if same:
        return _csv_cell(value)
    if name in ("label", "started_at") and not cols.in_docs(name):
        return _csv_cells(cols.labels if name == "label" else cols.starts)
    return cols.objects(name, _csv_cell).tolist()


def csv_table(cols: Columns, with_row_id: bool) -> tuple[list[str], list[str | list[str]]]:
    """The flat CSV export — byte for byte what :func:`exporters.to_csv` writes for the records — as a header and
    columns of cell texts (a ``str`` when the column is the same on every row)."""
    if not cols.n:  # what to_csv writes for no records: the leading columns' names
        return list(exporters.CSV_LEADING), ["" for _ in exporters.CSV_LEADING]
    first, later = cols.unknown_names()
    data: dict[str, str | list[str]] = {}
    for name in (*cols.codec.names, *first):
        if name != "devices":
            data[name] = _csv_column(cols, name)
    if with_row_id:
        data["row_id"] = list(map(str, cols.row_id.tolist()))
    sess = cols.sess
    data["session_id"] = (_csv_cell(cols.strings.get(int(sess[0]))) if (sess == sess[0]).all()
                          else _csv_cells(cols.session_ids().tolist()))
    books = cols.docsets[0][1]
    data["notebook"] = (_csv_cell(books[0].get("#notebook")) if len(books) == 1
                        else cols.notebooks(_csv_cell).tolist())
    for kind in KINDS:
        data[f"{kind}_energy_j"] = _csv_numbers(cols, cols.kind_energy(kind))
    data["methods"] = (_csv_cell(cols.groups[0][0].methods) if len(cols.groups) == 1
                       else _csv_cells(cols.methods().tolist()))
    for name in later:
        if name != "devices":
            data[name] = _csv_column(cols, name)
    header = [c for c in exporters.CSV_LEADING if c in data] + [c for c in data if c not in exporters.CSV_LEADING]
    return header, [data[c] for c in header]


def field_lists(cols: Columns, names: Sequence[str]) -> list[dict[str, Any]]:
    """``[{name: value}]`` per row for ``names``, values as :func:`~eco_magic.ledger_table.to_records` gives them."""
    lists = []
    for name in names:
        if name == "session_id":
            lists.append(cols.session_ids().tolist())
        elif name == "notebook":
            lists.append(cols.notebooks().tolist())
        elif name == "row_id":
            lists.append(cols.row_id.tolist())
        else:
            num = cols.numeric(name) if cols.codec.kinds.get(name) != "pair" else None
            lists.append(cols.as_list(num) if num is not None else cols.objects(name).tolist())
    return [dict(zip(names, values)) for values in zip(*lists)] if names else [{} for _ in range(cols.n)]
