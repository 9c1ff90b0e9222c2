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
    """A numeric column as pandas would infer it from the records: int64, float64 with NaN, or all-None object."""
    np = cols.np
    values, present, isint = col
    if not present.any():
        return np.full(cols.n, None, dtype=object)
    if present.all() and isint.all():
        return values.astype(np.int64)
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


def _csv_cell(value: Any) -> Any:
    return exporters.csv_safe(exporters.flat_value(value))


def csv_table(cols: Columns, with_row_id: bool) -> tuple[list[str], list[Sequence]]:
    """The flat CSV export (:func:`exporters.to_csv` of the records, byte for byte) as a header and columns."""
    first, later = cols.unknown_names()
    data: dict[str, Sequence] = {}

    def add(name: str) -> None:
        if name == "devices":
            return
        num = cols.numeric(name) if cols.codec.kinds.get(name) != "pair" else None
        data[name] = cols.as_list(num, missing="") if num is not None else cols.objects(name, _csv_cell)

    for name in (*cols.codec.names, *first):
        add(name)
    if with_row_id:
        data["row_id"] = cols.row_id.tolist()
    data["session_id"] = [_csv_cell(v) for v in cols.session_ids().tolist()]
    data["notebook"] = cols.notebooks(_csv_cell)
    for kind in KINDS:
        data[f"{kind}_energy_j"] = cols.as_list(cols.kind_energy(kind), missing="")
    data["methods"] = [_csv_cell(v) for v in cols.methods().tolist()]
    for name in later:
        add(name)
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
