"""The ``co2_eq_emissions`` block of a Hugging Face model card, from measured ledger rows.

The Hub's model-card metadata (https://huggingface.co/docs/hub/model-cards-co2) describes a model's carbon
footprint with five keys::

    co2_eq_emissions:
      emissions: 1234.5            # grams of CO2 equivalent
      source: "..."                # where the figure comes from
      training_type: fine-tuning   # "pre-training" or "fine-tuning"
      geographical_location: "..." # where the compute ran
      hardware_used: "..."         # what compute, how many

``model_card`` sums the operational CO₂e of the rows (embodied carbon is not part of it, and the source says
so), states how the energy was obtained and which carbon-intensity data was used, and names the regions and the
hardware read. With ``path`` it also writes the block into that model card (``README.md``) through
``huggingface_hub.ModelCard``, locally: nothing is pushed to the Hub.
"""
from __future__ import annotations

import math
import os
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Mapping

TRAINING_TYPES = ("pre-training", "fine-tuning")
KINDS_IN_HARDWARE = ("gpu", "cpu")  # RAM is not "compute"; its energy is still in the emissions

_MINIMAL_TEXT = "# Model card\n\nEnvironmental impact measured with eco_magic: see `co2_eq_emissions` above.\n"


def records_of(rows: Any, all_sessions: bool = False) -> list[dict[str, Any]]:
    """Plain dicts from a Ledger, an EcoResult, a pandas DataFrame, or an iterable of results / record dicts."""
    if hasattr(rows, "records") and callable(rows.records):  # Ledger
        return rows.records(all_sessions=all_sessions)
    if hasattr(rows, "to_dict") and hasattr(rows, "energy_j") and not hasattr(rows, "columns"):  # one EcoResult
        return [rows.to_dict()]
    if hasattr(rows, "columns") and hasattr(rows, "to_dict"):  # DataFrame
        return rows.to_dict("records")
    if isinstance(rows, Mapping):
        return [dict(rows)]
    out = []
    for row in rows:
        out.append(row.to_dict() if hasattr(row, "to_dict") and not isinstance(row, Mapping) else dict(row))
    return out


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _unique(values: Iterable[Any]) -> list[str]:
    seen: list[str] = []
    for v in values:
        if v not in (None, "") and str(v) not in seen:
            seen.append(str(v))
    return seen


def _devices(record: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(machine, device) pairs of a record: the kernel's devices, then those of its Dask workers."""
    out = [("", d) for d in record.get("devices") or [] if isinstance(d, Mapping)]
    for w in record.get("workers") or []:
        if isinstance(w, Mapping) and w.get("status") == "measured":
            host = str(w.get("host_id") or w.get("host") or w.get("address") or "")
            out += [(host, d) for d in w.get("devices") or [] if isinstance(d, Mapping)]
    return out


def hardware_text(records: list[Mapping[str, Any]]) -> str:
    """``"1 x NVIDIA A100-SXM4-80GB (GPU), 1 x AMD EPYC 7763 (CPU)"``: the most devices of each model read at once
    by any one row (Dask workers' hosts included), GPUs first."""
    most: dict[tuple[str, str], int] = {}
    for record in records:
        unique = {(host, d.get("key")): d for host, d in _devices(record) if d.get("kind") in KINDS_IN_HARDWARE}
        count = Counter((str(d.get("kind")), str(d.get("name") or d.get("key"))) for d in unique.values())
        for key, n in count.items():
            most[key] = max(most.get(key, 0), n)
    order = sorted(most, key=lambda k: (KINDS_IN_HARDWARE.index(k[0]), k[1]))
    return ", ".join(f"{most[k]} x {k[1]} ({k[0].upper()})" for k in order)


def source_text(records: list[Mapping[str, Any]], counted: int) -> str:
    """How the emissions were obtained, in one sentence."""
    from .. import __version__

    methods: dict[str, list[str]] = {}
    for record in records:
        for _, d in _devices(record):
            kinds = methods.setdefault(str(d.get("method")), [])
            if d.get("kind") not in kinds:
                kinds.append(str(d.get("kind")))
    how = "; ".join(f"{m}: {', '.join(k)}" for m, k in methods.items()) or "no sensor"
    carbon = _unique(f"{r.get('carbon_source')} {r.get('carbon_year') or ''}".strip()
                     for r in records if r.get("carbon_source"))
    kinds = _unique(r.get("carbon_kind") for r in records)
    pues = _unique(f"{_num(r.get('pue')):g}" for r in records if _num(r.get("pue")) is not None)
    unit = "cell" if counted == 1 else "cells"
    text = (f"eco_magic {__version__} (ML-EcoLyzer method), {counted} measured {unit}: energy by {how}; "
            f"× grid carbon intensity ({', '.join(kinds) or 'annual average'}: {', '.join(carbon) or 'unknown'})"
            f" × PUE {', '.join(pues) or 'unknown'}; operational emissions only, embodied carbon not included")
    skipped = len(records) - counted
    if skipped:
        text += f"; {skipped} row(s) without a known CO2e not counted"
    return text


def model_card(rows: Any, *, training_type: str | None = None, source: str | None = None,
               geographical_location: str | None = None, hardware_used: str | None = None,
               path: str | os.PathLike | None = None, all_sessions: bool = False) -> dict[str, Any]:
    """The ``co2_eq_emissions`` metadata block for the measured ``rows``; written into a model card with ``path``.

    rows            a Ledger (``eco_magic.ledger()``; ``all_sessions=True`` adds earlier sessions' rows), one
                    EcoResult, a list of results or ledger records, or ``ledger.to_dataframe()``
    training_type   ``"pre-training"`` or ``"fine-tuning"`` (the Hub's two values); left out when not given
    source, geographical_location, hardware_used
                    override what is derived from the rows (how the figure was measured; the regions' names;
                    the GPUs and CPUs read, with counts)
    path            a model card file (``README.md``) or a folder holding one: the block is set in its YAML
                    metadata (the file is created when missing) with ``huggingface_hub.ModelCard``, offline

    ``emissions`` is in grams of CO₂e: the sum of the rows' operational ``co2_g``. Raises ``ValueError`` when no
    row has a known CO₂e or ``training_type`` is not one of the Hub's values.
    """
    if training_type is not None and training_type not in TRAINING_TYPES:
        raise ValueError(f"training_type must be one of {', '.join(TRAINING_TYPES)}, not {training_type!r}")
    records = records_of(rows, all_sessions=all_sessions)
    known = [r for r in records if _num(r.get("co2_g")) is not None]
    if not known:
        raise ValueError("no row with a known CO2e to put in a model card (measure something first)")
    emissions_g = math.fsum(_num(r["co2_g"]) for r in known)
    block: dict[str, Any] = {"emissions": float(f"{emissions_g:.6g}"),
                             "source": source or source_text(records, len(known))}
    if training_type:
        block["training_type"] = training_type
    location = geographical_location or "; ".join(_unique(r.get("region_name") or r.get("region") for r in known))
    if location:
        block["geographical_location"] = location
    hardware = hardware_used or hardware_text(known)
    if hardware:
        block["hardware_used"] = hardware
    if path is not None:
        write_card(path, block)
    return block


def write_card(path: str | os.PathLike, block: Mapping[str, Any]) -> Path:
    """Set ``co2_eq_emissions`` in the model card at ``path`` (a file, or a folder → its README.md)."""
    from huggingface_hub import ModelCard, ModelCardData

    target = Path(path)
    if target.is_dir():
        target = target / "README.md"
    if target.exists():
        card = ModelCard.load(target)
        card.data.co2_eq_emissions = dict(block)
    else:
        data = ModelCardData(co2_eq_emissions=dict(block))
        card = ModelCard(f"---\n{data.to_yaml()}\n---\n\n{_MINIMAL_TEXT}")
    card.save(target)
    return target
