"""Reading what a cell left behind without ever being broken by it: exceptions and recorded values.

A cell may raise an exception whose ``__str__`` raises, or leave a value whose ``__float__`` does. The recording
must survive both (issue 13: "nothing the cell does breaks the recording"): every description of a user object
that the measuring path needs goes through these functions, which never raise.
"""
from __future__ import annotations

import math
import numbers
import sys
from typing import Any

__all__ = ["describe_exception", "status_of", "number_value", "storable"]


def describe_exception(exc: BaseException) -> str:
    """``"ValueError: bad input"`` for the ledger, whatever the exception's ``__str__`` does (it may raise)."""
    name = getattr(type(exc), "__name__", "Exception")
    if isinstance(exc, SystemExit):
        try:
            return f"SystemExit({exc.code!r})"
        except Exception:  # noqa: BLE001
            return "SystemExit"
    try:
        text = str(exc)
    except BaseException:  # noqa: BLE001 - a hostile __str__ (even one raising KeyboardInterrupt)
        return f"{name}: <message unavailable: its __str__ raised>"
    text = storable(text)
    return f"{name}: {text}" if text else name


def storable(text: str) -> str:
    """``text`` as UTF-8 can hold it: lone surrogates (bytes decoded with ``surrogateescape``, e.g. a file name
    or a subprocess's output) become ``\\udce9``, so the ledger, the card and the exports can write it."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def status_of(exc: BaseException | None) -> tuple[str, str | None]:
    if exc is None:
        return "ok", None
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", "KeyboardInterrupt"
    aio = sys.modules.get("asyncio")  # not imported: the exception cannot be asyncio's
    if aio is not None and isinstance(exc, aio.CancelledError):  # Ctrl-C in a cell awaiting in the kernel's loop
        return "interrupted", "CancelledError"
    return "error", describe_exception(exc)


def number_value(value: Any) -> float | None:
    """A recorded quality value as a float: Python/numpy numbers and one-element arrays/tensors; else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Real):
        try:
            out = float(value)
        except Exception:  # noqa: BLE001 - a Real whose __float__ fails is not recorded
            return None
    else:
        if type(value).__module__.split(".")[0] not in ("numpy", "torch", "jax", "jaxlib", "tensorflow", "cupy"):
            return None
        try:  # a 0-d or one-element array / tensor
            size = value.numel() if hasattr(value, "numel") else getattr(value, "size", 1)
            if int(size) != 1:
                return None
            out = float(value.item() if hasattr(value, "item") else value)
        except Exception:  # noqa: BLE001 - a value that cannot become a float is not recorded
            return None
    return out if math.isfinite(out) else None
