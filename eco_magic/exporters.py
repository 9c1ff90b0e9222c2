"""Write ledger records to files: flat CSV, full JSON, or CodeCarbon's ``emissions.csv`` layout.

Pure: records in (the dicts of :meth:`Ledger.records`), a file out; no IPython, no pandas. Files are written to a
temporary file beside the target and moved into place, so an interrupted export never leaves half a file.
Nothing from the environment is written: only what the records hold.

CSV cells are guarded against formula injection: a text cell beginning with ``=``, ``+``, ``-``, ``@``, tab or
carriage return is written with a leading single quote (spreadsheets would otherwise run it as a formula).
"""
from __future__ import annotations

import csv
import datetime as _dt
import io
import itertools
import json
import math
import os
import re
import tempfile
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

FORMATS = ("csv", "json", "codecarbon")
SUFFIX_FORMATS = {".csv": "csv", ".json": "json"}
JSON_SCHEMA = "eco_magic.ledger/1"
JSON_UNITS = ("SI, as each field name says: _j joules, _g grams CO2e, _l litres, _s seconds, _w watts, "
              "_c degrees Celsius, _pct percent, _m millions; carbon intensity g CO2e/kWh")

#: Column names of CodeCarbon's ``emissions.csv``, in its order: the fields of
#: ``codecarbon.output_methods.emissions_data.EmissionsData`` in codecarbon 3.3.2 (the CSV header is that
#: dataclass's ``__dict__``). Units there: duration s, emissions kg CO2eq, emissions_rate kg/s, *_power W,
#: *_energy and energy_consumed kWh, water_consumed L, ram_total_size and ram_used_gb GB, *_percent %, wue L/kWh.
CODECARBON_COLUMNS = (
    "timestamp", "project_name", "run_id", "experiment_id", "duration", "emissions", "emissions_rate",
    "cpu_power", "gpu_power", "ram_power", "cpu_energy", "gpu_energy", "ram_energy", "energy_consumed",
    "water_consumed", "country_name", "country_iso_code", "region", "cloud_provider", "cloud_region", "os",
    "python_version", "codecarbon_version", "cpu_count", "cpu_model", "gpu_count", "gpu_model", "longitude",
    "latitude", "ram_total_size", "tracking_mode", "cpu_utilization_percent", "gpu_utilization_percent",
    "ram_utilization_percent", "ram_used_gb", "on_cloud", "pue", "wue",
)

#: Leading columns of the flat CSV; every other scalar field of the records follows in first-seen order.
CSV_LEADING = (
    "row_id", "session_id", "notebook", "started_at", "label", "status", "duration_s", "energy_j", "energy_net_j",
    "co2_g", "water_l", "water_onsite_l", "water_offsite_l", "ess", "effective_params_m", "n_params", "precision",
    "qf", "items", "region", "region_name", "carbon_intensity_g_per_kwh", "carbon_source", "carbon_year", "pue",
    "pue_tier", "cpu_energy_j", "gpu_energy_j", "ram_energy_j", "methods",
)

_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_CSV_SPECIAL = re.compile('[,"\r\n]')
_SCALARS = frozenset({str, int, float, type(None)})
J_PER_KWH = 3.6e6


class ExportError(ValueError):
    """The export cannot be done as asked (unknown format or suffix, missing folder, unwritable file)."""


# --- format choice ----------------------------------------------------------------------------------------------
def resolve_format(path: str | os.PathLike, fmt: str | None = None) -> str:
    """``"csv"``, ``"json"`` or ``"codecarbon"`` for writing ``path``.

    Without ``fmt`` the suffix decides (``.csv`` / ``.json``). An explicit ``fmt`` wins over an unknown suffix but
    may not contradict a known one (CodeCarbon's layout is CSV).
    """
    suffix = Path(path).suffix.lower()
    by_suffix = SUFFIX_FORMATS.get(suffix)
    if fmt is None:
        if by_suffix is None:
            raise ExportError(f"cannot tell the format from {os.fspath(path)!r}: use a .csv or .json path, "
                              f"or --format {'|'.join(FORMATS)}")
        return by_suffix
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    wanted = "json" if fmt == "json" else "csv"
    if by_suffix is not None and by_suffix != wanted:
        raise ExportError(f"--format {fmt} writes {wanted.upper()}, but {os.fspath(path)!r} ends in {suffix}")
    return fmt


def export(records: list[Mapping[str, Any]], path: str | os.PathLike, fmt: str | None = None) -> int:
    """Write ``records`` to ``path`` in ``fmt`` (or the format its suffix names); returns the number of rows."""
    writer: dict[str, Callable[[list[Mapping[str, Any]], str | os.PathLike], int]] = {
        "csv": to_csv, "json": to_json, "codecarbon": to_codecarbon_csv}
    return writer[resolve_format(path, fmt)](records, path)


# --- writers ----------------------------------------------------------------------------------------------------
def to_csv(records: list[Mapping[str, Any]], path: str | os.PathLike) -> int:
    """One row per record: every scalar field (SI units, as named), per-kind energies in J, methods.

    Lists become ``"; "``-joined text; the device list is summarised (``cpu_energy_j``…, ``methods``) — the JSON
    export keeps it whole.
    """
    rows = [flat_row(r) for r in records]
    columns = [c for c in CSV_LEADING if any(c in row for row in rows)] if rows else list(CSV_LEADING)
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    _write_csv(path, columns, rows)
    return len(rows)


def to_json(records: list[Mapping[str, Any]], path: str | os.PathLike) -> int:
    """The full records, devices included, as ``{"schema": ..., "units": ..., "records": [...]}`` (UTF-8)."""
    head = json.dumps({"schema": JSON_SCHEMA, "units": JSON_UNITS}, ensure_ascii=False)[:-1]
    try:  # one record per line, through the C encoder (an indented dump is ten times slower)
        body = [json.dumps(r, ensure_ascii=False, allow_nan=False) for r in records]
    except ValueError:  # NaN or infinity somewhere inside: JSON has no spelling for them
        body = [json.dumps(_finite(dict(r)), ensure_ascii=False, allow_nan=False) for r in records]

    def write(f) -> None:
        f.write(head + ', "records": [\n')
        f.write(",\n".join(body))
        f.write("\n]}\n")

    _write_atomic(path, write)
    return len(records)


def to_codecarbon_csv(records: list[Mapping[str, Any]], path: str | os.PathLike) -> int:
    """CodeCarbon's ``emissions.csv`` columns (:data:`CODECARBON_COLUMNS`), one row per record."""
    rows = [codecarbon_row(r) for r in records]
    _write_csv(path, list(CODECARBON_COLUMNS), rows)
    return len(rows)


# --- row builders -----------------------------------------------------------------------------------------------
def flat_row(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record as flat scalars: devices summarised per kind, lists and mappings joined into text."""
    row: dict[str, Any] = {}
    devices = record.get("devices") or []
    for key, value in record.items():
        if key != "devices":
            row[key] = flat_value(value)
    for kind in ("cpu", "gpu", "ram"):
        row[f"{kind}_energy_j"] = _kind_energy_j(devices, kind)
    row["methods"] = ", ".join(f"{d.get('key')}={d.get('method')}" for d in devices)
    return row


def flat_value(value: Any) -> Any:
    """A record value as one CSV cell: mappings as ``k=v; …``, lists as ``a; b``, scalars unchanged."""
    if type(value) in _SCALARS:
        return value
    if isinstance(value, Mapping):
        return "; ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "; ".join(str(v) for v in value)
    return value


def codecarbon_row(record: Mapping[str, Any]) -> dict[str, Any]:
    """One record in CodeCarbon's columns and units.

    CodeCarbon multiplies power and energy by PUE before writing them (``emissions_tracker.py``: ``power *=
    self._pue``; ``energy *= self._pue``), so that ``emissions = energy_consumed × carbon intensity``; the same is
    done here, which keeps that identity with our CO₂e. ``timestamp`` is the end of the cell in UTC, written in
    CodeCarbon's format (``%Y-%m-%dT%H:%M:%S``, no offset). Fields the ledger does not know (os, python and
    CodeCarbon versions, coordinates, RAM size) are left empty rather than taken from this machine.
    """
    devices = record.get("devices") or []
    duration_s = _num(record.get("duration_s"))
    pue = _num(record.get("pue"))
    factor = pue if pue is not None else 1.0
    co2_kg = _scale(record.get("co2_g"), 1e-3)
    energy_kwh = _scale(record.get("energy_j"), factor / J_PER_KWH)
    row: dict[str, Any] = {c: None for c in CODECARBON_COLUMNS}
    row.update(
        timestamp=_end_timestamp(record.get("started_at"), duration_s),
        project_name=record.get("label") or "",
        run_id=record.get("session_id") or "",
        duration=duration_s,
        emissions=co2_kg,
        emissions_rate=co2_kg / duration_s if co2_kg is not None and duration_s else None,
        energy_consumed=energy_kwh,
        water_consumed=_num(record.get("water_l")),
        pue=pue,
    )
    for kind in ("cpu", "gpu", "ram"):
        energy_j = _kind_energy_j(devices, kind)
        row[f"{kind}_energy"] = (energy_j or 0.0) * factor / J_PER_KWH
        row[f"{kind}_power"] = (energy_j or 0.0) * factor / duration_s if duration_s else None
    row.update(_place(str(record.get("region") or ""), str(record.get("region_name") or "")))
    cpus = [d for d in devices if d.get("kind") == "cpu"]
    gpus = [d for d in devices if d.get("kind") == "gpu"]
    row["cpu_model"] = ", ".join(dict.fromkeys(str(d.get("name") or "") for d in cpus if d.get("name")))
    row["gpu_count"] = len(gpus)
    row["gpu_model"] = ", ".join(f"{n} x {name}" for name, n in Counter(str(d.get("name")) for d in gpus).items())
    row["cpu_utilization_percent"] = _mean(d.get("mean_util_pct") for d in cpus)
    row["gpu_utilization_percent"] = _mean(d.get("mean_util_pct") for d in gpus)
    estimated_scopes = {d.get("scope") for d in devices if d.get("kind") in ("cpu", "ram")}
    row["tracking_mode"] = "process" if "process" in estimated_scopes else "machine"
    onsite_l, it_kwh = _num(record.get("water_onsite_l")), _scale(record.get("energy_j"), 1 / J_PER_KWH)
    if record.get("water_model") == "li" and onsite_l is not None and it_kwh:
        row["wue"] = onsite_l / it_kwh  # Li et al.: on-site water = E_IT × WUE_site
    return row


def _place(code: str, name: str) -> dict[str, Any]:
    """CodeCarbon's location columns from our region code: country (ISO-3), US state, or cloud region."""
    out: dict[str, Any] = {"country_name": "", "country_iso_code": "", "region": "", "cloud_provider": "",
                           "cloud_region": "", "on_cloud": "N"}
    countries, clouds = _country_table(), _cloud_table()
    grid = code
    if ":" in code:
        provider, _, cloud_region = code.partition(":")
        out.update(cloud_provider=provider, cloud_region=cloud_region, on_cloud="Y")
        grid = clouds.get(code, "")
    if grid.startswith("US-"):
        if ":" not in code and name:
            out["region"] = name.split(",")[0].strip().lower()  # CodeCarbon writes e.g. "california"
        grid = "US"
    sub = _subnational_table().get(grid)
    if sub is not None:  # a Canadian or Chinese province or a Nordic bidding zone: its country, CodeCarbon's name
        if ":" not in code:
            out["region"] = sub[1]  # "quebec", "SE3", "beijing"
        grid = sub[0]
    if grid in countries:
        out["country_iso_code"], out["country_name"] = countries[grid]
    return out


@lru_cache(maxsize=1)
def _country_table() -> dict[str, tuple[str, str]]:
    """ISO-2 → (ISO-3, name) from the packaged carbon-intensity table (the world row left out)."""
    rows = _read_data_csv("carbon_intensity_countries.csv")
    return {r["iso2"]: (r["iso3"], r["name"]) for r in rows if r.get("iso3") and r["iso2"] != "WORLD"}


@lru_cache(maxsize=1)
def _subnational_table() -> dict[str, tuple[str, str]]:
    """Sub-national grid code → (country ISO-2, CodeCarbon's region name), e.g. ``CA-QC`` → ``("CA", "quebec")``."""
    return {r["code"]: (r["country"], r["codecarbon_key"]) for r in _read_data_csv("carbon_intensity_subnational.csv")}


@lru_cache(maxsize=1)
def _cloud_table() -> dict[str, str]:
    """``provider:region`` → the grid code it sits on."""
    return {f"{r['provider']}:{r['region']}": r["grid_code"] for r in _read_data_csv("cloud_regions.csv")}


def _read_data_csv(name: str) -> list[dict[str, str]]:
    from importlib import resources

    try:
        text = (resources.files("eco_magic") / "data" / name).read_text(encoding="utf-8")
    except OSError:
        return []
    return list(csv.DictReader(text.splitlines()))


# --- small helpers ----------------------------------------------------------------------------------------------
def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _scale(value: Any, factor: float) -> float | None:
    v = _num(value)
    return None if v is None else v * factor


def _mean(values: Iterable[Any]) -> float | None:
    nums = [v for v in (_num(x) for x in values) if v is not None]
    return sum(nums) / len(nums) if nums else None


def _kind_energy_j(devices: list[Mapping[str, Any]], kind: str) -> float | None:
    energies = [v for v in (_num(d.get("energy_j")) for d in devices if d.get("kind") == kind) if v is not None]
    return sum(energies) if energies else None


def _end_timestamp(started_at: Any, duration_s: float | None) -> str:
    if not isinstance(started_at, str) or not started_at:
        return ""
    try:
        start = _dt.datetime.fromisoformat(started_at)
    except ValueError:
        return started_at
    if start.tzinfo is not None:
        start = start.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    return (start + _dt.timedelta(seconds=duration_s or 0.0)).strftime("%Y-%m-%dT%H:%M:%S")


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by ``None`` (JSON has no spelling for them)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def csv_safe(value: Any) -> Any:
    """A cell value for CSV: ``None`` → empty, formula-looking text quoted, numbers unchanged."""
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


def csv_field(value: Any) -> str:
    """One cell exactly as ``csv.writer(lineterminator="\\n")`` writes it in a row of several cells."""
    if value is None:
        return ""
    if type(value) is str:
        return value if not _CSV_SPECIAL.search(value) else _csv_module_field(value)
    if type(value) is float:
        return repr(value)
    if type(value) is int:
        return str(value)
    return _csv_module_field(value)


def _csv_module_field(value: Any) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([value, ""])
    return buf.getvalue()[:-2]


def write_csv_columns(path: str | os.PathLike, header: list[str], columns: list[Any], n: int) -> int:
    """Write ``n`` rows given column by column: each column is one cell text for every row (a ``str``) or a list
    of cell texts (:func:`csv_field`). Same bytes as :func:`to_csv` of the same rows, a row at a time."""
    parts: list[Any] = []
    for col in columns:  # runs of constant columns become one pre-joined cell
        if isinstance(col, str) and parts and isinstance(parts[-1], str):
            parts[-1] += "," + col
        else:
            parts.append(col)
    iters = [itertools.repeat(p, n) if isinstance(p, str) else p for p in parts]

    def write(f) -> None:
        f.write(",".join(map(csv_field, header)) + "\n")
        if n:
            f.write("\n".join(map(",".join, zip(*iters))))
            f.write("\n")

    _write_atomic(path, write, newline="")
    return n


def _write_csv(path: str | os.PathLike, columns: list[str], rows: list[Mapping[str, Any]]) -> None:
    def write(f) -> None:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(columns)
        for row in rows:
            w.writerow([csv_safe(row.get(c)) for c in columns])

    _write_atomic(path, write, newline="")


def _write_atomic(path: str | os.PathLike, write: Callable[[Any], Any], newline: str | None = None) -> None:
    target = Path(path)
    folder = target.parent
    if not folder.is_dir():
        raise ExportError(f"cannot write {os.fspath(path)!r}: the folder {os.fspath(folder)!r} does not exist")
    if target.is_dir():
        raise ExportError(f"cannot write {os.fspath(path)!r}: it is a folder")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    try:
        # a text UTF-8 cannot hold (a lone surrogate) is written as a \uXXXX escape: valid JSON, visible in CSV
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline, errors="backslashreplace") as f:
            write(f)
        os.chmod(tmp, _file_mode(target))  # mkstemp makes 0600; give the file the mode a plain open() would
        os.replace(tmp, target)
    except OSError as exc:
        _unlink_quietly(tmp)
        raise ExportError(f"cannot write {os.fspath(path)!r}: {exc.strerror or exc}") from exc
    except BaseException:
        _unlink_quietly(tmp)
        raise


def _file_mode(target: Path) -> int:
    try:
        return target.stat().st_mode & 0o777
    except OSError:
        mask = os.umask(0o022)
        os.umask(mask)
        return 0o666 & ~mask


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
