"""eco_magic: what a notebook cell costs the planet.

``%load_ext eco_magic``, then ``%%ecolyze`` on a cell. Importing this package has no side effects and pulls in
neither IPython, ipywidgets, matplotlib, pandas nor pynvml; the magic module is imported when IPython loads the
extension.
"""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "measure", "repeat", "ledger", "plan", "Plan", "count_tokens", "model_card",
           "load_ipython_extension", "unload_ipython_extension", "EcoResult", "DeviceReading"]


def load_ipython_extension(ipython) -> None:
    """Register ``%%ecolyze`` and friends on ``ipython`` (called by ``%load_ext eco_magic``)."""
    from . import magic

    magic.load(ipython)


def unload_ipython_extension(ipython) -> None:
    """Undo :func:`load_ipython_extension`: stop background threads, unregister magics and hooks."""
    from . import magic

    magic.unload(ipython)


def ledger():
    """The kernel's :class:`~eco_magic.session_ledger.Ledger` (every measured cell of this session)."""
    from .session_ledger import current_ledger

    return current_ledger()


def model_card(rows=None, **kwargs):
    """The ``co2_eq_emissions`` block of a Hugging Face model card for ``rows`` (default: this session's ledger).

    See ``eco_magic.integrations.model_card.model_card`` for the arguments (``training_type``, ``path`` …).
    """
    from .integrations.model_card import model_card as _model_card

    return _model_card(ledger() if rows is None else rows, **kwargs)


def __getattr__(name: str):  # lazy public names, so ``import eco_magic`` stays cheap
    if name in ("EcoResult", "DeviceReading"):
        from . import result

        return getattr(result, name)
    if name == "measure":
        from .api import measure

        return measure
    if name == "repeat":
        from .series import repeat

        return repeat
    if name in ("plan", "Plan"):  # the planner: MLCarbon's method before running (issue 17)
        from . import planner

        return getattr(planner, name)
    if name == "count_tokens":  # eco_magic.count_tokens(generated, prompt=0, responses=1): see frameworks.tokens
        from .frameworks.tokens import count_tokens

        return count_tokens
    raise AttributeError(f"module 'eco_magic' has no attribute {name!r}")
