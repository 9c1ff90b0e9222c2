"""Registering and removing a ``Magics`` class on a shell, for each of eco_magic's magics (IPython glue).

``%unload_ext`` must leave no magic behind: IPython has no "unregister", so the magic names and the registry entry are
removed by hand, the same way for ``%%ecolyze``, ``%ecoledger`` and ``%ecoplan``.
"""
from __future__ import annotations

from typing import Any


def register(ipython, cls: type, table: dict[int, Any]) -> Any:
    """Create ``cls(shell=ipython)`` and register it once per shell (idempotent); returns the instance."""
    key = id(ipython)
    if key not in table:
        magics = cls(shell=ipython)
        ipython.register_magics(magics)
        table[key] = magics
    return table[key]


def remove(ipython, magics: Any) -> None:
    """Remove every magic of the ``magics`` instance, and its class's registry entry, from ``ipython``."""
    mm = ipython.magics_manager
    for kind in ("line", "cell"):
        for name in list(magics.magics.get(kind, {})):
            mm.magics[kind].pop(name, None)
    mm.registry.pop(type(magics).__name__, None)


def unregister(ipython, table: dict[int, Any]) -> None:
    """Undo :func:`register` (no-op when it was not registered)."""
    magics = table.pop(id(ipython), None)
    if magics is not None:
        remove(ipython, magics)
