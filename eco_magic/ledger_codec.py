"""Ledger rows, schema 2: how a measured cell is stored compactly and read back exactly. Pure: no SQLite here.

A record (``EcoResult.to_dict()``) is split into parts, each kept where it is cheapest to store and to read:

* ``packed``: every figure that is a finite float or an integer (|n| ≤ 2**53) and differs from its field's default,
  the devices' figures included, as little-endian float64 — exact, 8 bytes each, one BLOB per row, so that 100 k
  rows decode in one numpy call;
* ``layout``: what ``packed`` holds and in which order (field name, int or float), plus each device's fixed
  description (key, kind, name, method, source, scope…) — one JSON document shared by every row laid out alike;
* ``context``: the texts that repeat from cell to cell (status, region, carbon and PUE sources, water formula,
  sampling, model…, and the notebook) — one JSON object shared by the rows with the same context;
* ``extra``: every other non-default value (notes, thermal flags, precision mix, recorded values, Dask workers,
  the error, the repeat group, the carbon time, device notes, anything unusual) — JSON, shared in the same way;
* ``label`` and ``started_at`` inline.

The shared JSON documents are interned by the store (one ``strings`` row each). Defaults are never stored. Fields
are derived from the dataclass, so a field added to ``EcoResult`` later is stored and read without a change here;
a name this version does not know (written by a newer one) reads back as an extra key of the record.
"""
from __future__ import annotations

import dataclasses
import json
import math
import struct
import types
import typing
from functools import lru_cache
from typing import Any, NamedTuple

#: Texts stored inline in the row (they change from cell to cell).
INLINE = ("label", "started_at")
#: Texts that change from cell to cell and are rarely set: kept in ``extra`` so that contexts stay few.
ROW_TEXT = frozenset({"error", "group", "carbon_time"})
#: Fields never stored (``to_dict`` leaves them out).
SKIPPED = frozenset({"trace"})
KINDS = ("cpu", "gpu", "ram")
NOTEBOOK_KEY = "#notebook"
DEVICE_EXTRA_KEY = "#devices"
MAX_EXACT_INT = 2 ** 53
_MISSING = object()


class Encoded(NamedTuple):
    """One record ready for the store; the three JSON texts are interned there (``None``: nothing to store)."""

    context: str | None
    layout: str
    extra: str | None
    label: str | None
    started_at: str | None
    packed: bytes | None
    sql: tuple  # values of :attr:`Codec.sql_columns`, in order


def dumps(obj: Any) -> str:
    """Canonical compact JSON (interned texts must be byte-identical for equal content). Texts that UTF-8 cannot
    hold (lone surrogates, e.g. from undecodable environment bytes) are written as ``\\u`` escapes instead."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_json_default)
    return text if storable(text) else json.dumps(obj, ensure_ascii=True, separators=(",", ":"), allow_nan=False,
                                                  default=_json_default)


def storable(text: str) -> bool:
    """Whether SQLite can hold ``text`` as it is (valid UTF-8: no lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _json_default(obj: Any) -> Any:
    item = getattr(obj, "item", None)  # numpy scalars
    if callable(item):
        return item()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    return str(obj)


def finite(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by ``None`` at any depth (JSON has no spelling for them)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def num_kind(value: Any) -> str | None:
    """``"f"`` for a finite float, ``"i"`` for an exact integer, else ``None`` (bool is not a number here)."""
    if isinstance(value, float):
        return "f" if math.isfinite(value) else None
    if isinstance(value, int) and not isinstance(value, bool) and -MAX_EXACT_INT <= value <= MAX_EXACT_INT:
        return "i"
    return None


def _same(value: Any, default: Any) -> bool:
    if type(value) is not type(default):
        return False
    if type(value) is float:
        return value == default and math.copysign(1.0, value) == math.copysign(1.0, default)
    return value == default


def fresh(value: Any) -> Any:
    """A copy of a decoded JSON value that the caller may mutate (lists and dicts are shared between rows)."""
    if type(value) is list:
        return [fresh(x) if type(x) in (list, dict) else x for x in value]
    if type(value) is dict:
        return {k: fresh(x) if type(x) in (list, dict) else x for k, x in value.items()}
    return value


def _plain_default(name: str, value: Any) -> Any:
    """A field default as ``to_dict`` writes it (tuples → lists, pair tuples → dicts for the mapping fields)."""
    if isinstance(value, tuple):
        return {} if name in ("precision_mix", "recorded") else []
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _kind_of(hint: Any) -> str:
    """``"int"``, ``"float"``, ``"text"``, ``"pair"`` or ``"nested"`` for a field's type hint."""
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    args = [a for a in typing.get_args(hint) if a is not type(None)] if union else [hint]
    if len(args) != 1:
        return "nested"
    t = args[0]
    if t is int:
        return "int"
    if t is float:
        return "float"
    if t is str:
        return "text"
    if typing.get_origin(t) is tuple and typing.get_args(t) in ((float, float), (int, int)):
        return "pair"
    return "nested"


def _hints(cls: type) -> dict[str, Any]:
    """The fields' type hints; a hint that cannot be resolved counts as ``Any`` (stored as nested JSON), so a field
    added with an unusual annotation never stops the ledger."""
    try:
        return typing.get_type_hints(cls)
    except Exception:  # noqa: BLE001
        import sys

        out: dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            namespace = vars(sys.modules.get(klass.__module__, object()))
            for name, hint in getattr(klass, "__annotations__", {}).items():
                try:
                    out[name] = eval(hint, dict(namespace)) if isinstance(hint, str) else hint  # noqa: S307
                except Exception:  # noqa: BLE001
                    out[name] = Any
        return out


class Codec:
    """The stored form of one dataclass's records (``EcoResult`` unless told otherwise)."""

    def __init__(self, cls: type | None = None) -> None:
        if cls is None:
            from .result import EcoResult as cls
        hints = _hints(cls)
        self.names: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(cls) if f.name not in SKIPPED)
        self.kinds: dict[str, str] = {n: _kind_of(hints.get(n, Any)) for n in self.names}
        self.defaults: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name in SKIPPED:
                continue
            if f.default is not dataclasses.MISSING:
                self.defaults[f.name] = _plain_default(f.name, f.default)
            elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
                self.defaults[f.name] = _plain_default(f.name, f.default_factory())  # type: ignore[misc]
        #: A record before anything is read into it: every known name at its default (None when required).
        self.base: dict[str, Any] = {n: self.defaults.get(n) for n in self.names}
        cols: list[tuple[str, str, str, int | None]] = []  # (column, SQL type, field or "#kind", part)
        for n in self.names:
            k = self.kinds[n]
            if k in ("int", "float"):
                cols.append((n, "INTEGER" if k == "int" else "REAL", n, None))
            elif k == "pair":
                cols += [(f"{n}_low", "REAL", n, 0), (f"{n}_high", "REAL", n, 1)]
        taken = {c[0] for c in cols} | set(self.names)
        cols += [(f"{k}_energy_j", "REAL", "#kind", KINDS.index(k)) for k in KINDS if f"{k}_energy_j" not in taken]
        self.sql_columns: tuple[tuple[str, str, str, int | None], ...] = tuple(cols)

    # --- writing -----------------------------------------------------------------------------------------------
    def encode(self, record: dict[str, Any], notebook: str | None = None) -> Encoded:
        """Split ``record`` (a ``to_dict()``) into the parts of a stored row; exact for every JSON-able value."""
        context: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        fields: list[list] = []
        nums: list[float] = []
        dev_nums: list[float] = []  # the devices' figures follow the fields' in ``packed``
        devices_plan: list | None = None
        methods = ""
        inline = dict.fromkeys(INLINE)
        if notebook is not None:
            context[NOTEBOOK_KEY] = notebook
        defaults = self.base  # a required field's "default" is None: that is what a record without it reads as
        for name, v in record.items():
            if name in inline:
                if v is None or (type(v) is str and storable(v)):
                    inline[name] = v
                else:
                    extra[name] = finite(v)
                continue
            d = defaults.get(name, _MISSING)
            if d is not _MISSING and _same(v, d):
                continue
            k = num_kind(v)
            if k is not None:
                fields.append([name, k])
                nums.append(v)
            elif isinstance(v, (list, tuple)) and len(v) == 2 and self.kinds.get(name) == "pair" \
                    and num_kind(v[0]) and num_kind(v[1]):
                fields.append([name, "p" + num_kind(v[0]) + num_kind(v[1])])
                nums += v
            elif isinstance(v, dict) and v and all(isinstance(key, str) and num_kind(x) for key, x in v.items()):
                fields.append([name, "m", [[key, num_kind(x)] for key, x in v.items()]])  # e.g. recorded
                nums += v.values()
            elif name == "devices" and isinstance(v, list) and all(isinstance(x, dict) for x in v):
                devices_plan = self._encode_devices(v, dev_nums, extra)
                methods = ", ".join(f"{x.get('key')}={x.get('method')}" for x in v)
            elif (v is None or isinstance(v, str)) and name not in ROW_TEXT:
                context[name] = v
            else:
                extra[name] = finite(v)
        layout: dict[str, Any] = {"f": fields}
        if devices_plan is not None:
            layout.update(d=devices_plan, m=methods)
        nums += dev_nums
        packed = struct.pack(f"<{len(nums)}d", *nums) if nums else None
        return Encoded(dumps(context) if context else None, dumps(layout), dumps(extra) if extra else None,
                       inline["label"], inline["started_at"], packed, self._sql_values(record))

    @staticmethod
    def _encode_devices(devices: list[dict], nums: list[float], extra: dict) -> list:
        plans = []
        for i, dev in enumerate(devices):
            plan = []
            for key, x in dev.items():
                k = num_kind(x)
                if k is not None:
                    plan.append([key, k])
                    nums.append(x)
                elif isinstance(x, (list, dict, tuple)) and x:
                    plan.append([key, "x"])
                    extra.setdefault(DEVICE_EXTRA_KEY, {}).setdefault(str(i), {})[key] = finite(x)
                else:
                    plan.append([key, "s", finite(x)])
            plans.append(plan)
        return plans

    def _sql_values(self, record: dict[str, Any]) -> tuple:
        out = []
        kind_sums: dict[int, list[float]] = {}
        for dev in record.get("devices") or ():
            if isinstance(dev, dict) and dev.get("kind") in KINDS and num_kind(dev.get("energy_j")):
                kind_sums.setdefault(KINDS.index(dev["kind"]), []).append(dev["energy_j"])
        for _col, _type, name, part in self.sql_columns:
            if name == "#kind":
                energies = kind_sums.get(part)  # type: ignore[arg-type]
                out.append(sum(energies) if energies else None)  # as the DataFrame and the CSV add them
                continue
            v = record.get(name)
            if part is not None:
                v = v[part] if isinstance(v, (list, tuple)) and len(v) == 2 else None
            out.append(v if num_kind(v) else None)
        return tuple(out)


class DevicePlan(NamedTuple):
    template: dict[str, Any]  # every key in order, static values filled in
    nums: tuple[tuple[str, int, str], ...]  # (key, slot in the packed values, "f" | "i")
    extras: tuple[str, ...]  # keys whose value is in extra["#devices"][index]
    mutable: tuple[str, ...]  # keys whose static value is a list or dict (copied for every row)
    kind: str | None
    energy_slot: int | None  # slot of energy_j when it is a packed number


class Plan(NamedTuple):
    """A decoded layout: how to turn one row's packed values back into fields and devices."""

    width: int
    unpack: Any  # struct.Struct(...).unpack
    fields: tuple[tuple[str, int, Any], ...]  # (name, first slot, kind: "f" | "i" | "pXY" | ((key, "f"|"i"), …))
    devices: tuple[DevicePlan, ...] | None  # None: the record's devices are at their default
    methods: str


@lru_cache(maxsize=4096)
def plan_of(layout: str) -> Plan:
    """Parse a layout document once (cached: layouts are few and immutable)."""
    doc = json.loads(layout)
    slot = 0
    fields = []
    for name, kind, *keys in doc.get("f", ()):
        if kind == "m":  # a mapping of names to numbers: its keys in the layout, its values packed
            fields.append((name, slot, tuple((k, t) for k, t in keys[0])))
            slot += len(keys[0])
        else:
            fields.append((name, slot, kind))
            slot += 2 if kind.startswith("p") else 1
    devices = None
    if "d" in doc:
        devices = []
        for plan in doc["d"]:
            template: dict[str, Any] = {}
            nums, extras = [], []
            energy_slot = None
            for entry in plan:
                key, how = entry[0], entry[1]
                template[key] = entry[2] if how == "s" else None
                if how in ("f", "i"):
                    nums.append((key, slot, how))
                    if key == "energy_j":
                        energy_slot = slot
                    slot += 1
                elif how == "x":
                    extras.append(key)
            kind = template.get("kind") if isinstance(template.get("kind"), str) else None
            mutable = tuple(k for k, v in template.items() if isinstance(v, (list, dict)))
            devices.append(DevicePlan(template, tuple(nums), tuple(extras), mutable, kind, energy_slot))
        devices = tuple(devices)
    return Plan(slot, struct.Struct(f"<{slot}d").unpack, tuple(fields), devices, doc.get("m", ""))
