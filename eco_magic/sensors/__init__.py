"""Energy sources behind one protocol (see :mod:`eco_magic.sensors.base`).

:func:`discover_all` picks, per device kind, the best source this machine offers:

- GPU: NVML (counter on Volta+, else integrated power), every visible device; AMD GPUs through AMD SMI
  (``amdsmi``, optional extra ``eco_magic[amd]``): energy accumulator, else integrated power.
- CPU: RAPL package counters when readable; on Apple Silicon the IOReport energy counters through
  ``zeus-apple-silicon`` (optional extra ``eco_magic[apple]``: CPU, GPU, Neural Engine and DRAM domains); else the
  utilisation × TDP model (labelled *estimated*).
- RAM: RAPL dram counter (or the Apple DRAM domain) when readable, else the DIMM model (labelled *estimated*).
"""
from __future__ import annotations

import os
import sys
from typing import Mapping

from .base import DeviceInfo, Discovery, ProbeNote, Sample, Sensor, SensorError

__all__ = ["DeviceInfo", "Discovery", "ProbeNote", "Sample", "Sensor", "SensorError", "discover_all", "SCOPES"]

SCOPES = ("process", "machine")


def discover_all(scope: str = "process", env: Mapping[str, str] | None = None, cpu_tdp_w: float | None = None,
                 gpus: bool = True) -> Discovery:
    """Every sensor this machine offers. Never raises; the notes explain what is missing and how to fix it.

    ``scope`` applies to the *estimates* only ("process": CPU time and memory of this kernel and its children,
    right on shared hosts such as Binder; "machine": the whole machine). Counters are device-level by nature.
    """
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}, not {scope!r}")
    env = os.environ if env is None else env
    found = Discovery()
    if gpus:
        found.extend(_guard("NVIDIA", "nvidia", lambda m: m.discover(env=env)))
        found.extend(_guard("AMD", "amd", lambda m: m.discover(env=env)))
    rapl_found = _guard("RAPL", "rapl", lambda m: m.discover(env=env))
    found.extend(rapl_found)
    kinds = {s.info.kind for s in rapl_found.sensors}
    if sys.platform == "darwin":
        apple_found = _guard("Apple Silicon", "apple", lambda m: m.discover(include_gpu=gpus))
        found.extend(apple_found)
        kinds |= {s.info.kind for s in apple_found.sensors}
    if "cpu" not in kinds:
        found.extend(_guard("CPU model", "cpu_model", lambda m: m.discover(scope=scope, tdp_w=cpu_tdp_w)))
    if "ram" not in kinds:
        found.extend(_guard("RAM model", "ram_model", lambda m: m.discover(scope=scope)))
    return found


def _guard(source: str, module: str, probe) -> Discovery:
    """Import a sensor module and run its probe; a bug in one source must not hide the others."""
    import importlib

    try:
        return probe(importlib.import_module(f"{__name__}.{module}"))
    except Exception as exc:  # noqa: BLE001 - the contract is 'never raise'; keep the evidence in a note
        return Discovery(notes=[ProbeNote(source, f"probe failed unexpectedly ({type(exc).__name__}: {exc})")])


def sync_devices() -> str | None:
    """Synchronise frameworks that already initialised CUDA, before the final counter read (never creates one)."""
    from . import nvidia

    return nvidia.sync_cuda()
