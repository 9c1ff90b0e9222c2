"""Token accounting while a measurement runs: prompt tokens, generated tokens and responses.

Two ways tokens reach a measurement:

* **Generation hooks.** A framework adapter may define ``install_token_hook(record, failed)``; :func:`start` calls
  it when the module it patches (``HOOK_MODULE``, else its library) is already in ``sys.modules`` — eco_magic never
  imports one. When it is not loaded yet, a finder on ``sys.meta_path`` waits, while a watch is active, for the
  measured code itself to import it, and installs the hook right after that import. The returned function restores
  the original when the last active watch stops — also when the cell raised — and the finder leaves with it. The
  transformers adapter patches ``GenerationMixin.generate`` (which every pipeline built on generation calls).
* **:func:`count_tokens`**, public as ``eco_magic.count_tokens``, for other runtimes (llama.cpp, vLLM, an API
  client loop): it adds to the active measurement(s) and says so when none is running.

Which measurement counts a token: the watches started in the calling context (a ``ContextVar``, so asyncio tasks
and nested ``measure()`` blocks keep theirs), else — a worker thread the cell started, which has a fresh context —
every active watch. Nested generation (a model whose ``generate`` calls another ``generate``, assisted decoding)
counts once, at the outermost call of each thread or task. Accumulators take a lock: generation may run in threads.

Cost when no hooked library is imported: one ``sys.modules`` lookup per adapter at :func:`start`, a finder put on
``sys.meta_path`` and taken off again, and one dict lookup per module the measured code imports meanwhile.
"""
from __future__ import annotations

import contextvars
import importlib
import importlib.abc
import importlib.util
import numbers
import pkgutil
import sys
import threading
import warnings
from dataclasses import dataclass
from typing import Callable

__all__ = ["TokenCounts", "Watch", "start", "count_tokens", "record", "active", "TokenWarning"]


class TokenWarning(UserWarning):
    """``count_tokens`` called while nothing is being measured."""


@dataclass(frozen=True)
class TokenCounts:
    """Tokens seen during one measurement.

    tokens_in   prompt tokens (padding excluded), once per prompt
    tokens_out  generated tokens per returned sequence, summed (padding and anything after end-of-sequence
                excluded; the end-of-sequence token itself counts: it was generated)
    responses   returned sequences (a batch of 8 prompts × 2 return sequences is 16)
    source      where the counts came from, e.g. ``"transformers generate() × 3"``, ``"count_tokens() × 1"``
    """

    tokens_in: int
    tokens_out: int
    responses: int
    source: str


class Watch:
    """One measurement's accumulator. :meth:`stop` ends it and returns :class:`TokenCounts` or ``None``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.tokens_in = 0
        self.tokens_out = 0
        self.responses = 0
        self.calls: dict[str, int] = {}
        self.failures: list[str] = []
        self.stopped = False

    def add(self, tokens_in: int, tokens_out: int, responses: int, source: str) -> None:
        with self._lock:
            if self.stopped:
                return
            self.tokens_in += int(tokens_in)
            self.tokens_out += int(tokens_out)
            self.responses += int(responses)
            self.calls[source] = self.calls.get(source, 0) + 1

    def fail(self, message: str) -> None:
        with self._lock:
            if not self.stopped and len(self.failures) < 5:
                self.failures.append(message)

    def counts(self) -> TokenCounts | None:
        """What was seen so far (``None`` when nothing was)."""
        with self._lock:
            if not self.calls and not self.failures:
                return None
            parts = [f"{name} × {n}" for name, n in self.calls.items()]
            if self.failures:
                parts.append(f"{len(self.failures)} call(s) not counted: {self.failures[0]}")
            return TokenCounts(self.tokens_in, self.tokens_out, self.responses, "; ".join(parts))

    def stop(self) -> TokenCounts | None:
        """End the watch (idempotent); the last active watch restores every patched function."""
        _stop(self)
        return self.counts()


# ------------------------------------------------------------------------------------------------ active watches
_LOCK = threading.RLock()
_ACTIVE: list[Watch] = []
_RESTORE: dict[str, Callable[[], None]] = {}  # library → restore function of its installed hook
_CONTEXT: contextvars.ContextVar[tuple[Watch, ...]] = contextvars.ContextVar("eco_magic_token_watches", default=())
#: depth of hooked generation calls in this thread / task: only the outermost call counts
DEPTH: contextvars.ContextVar[int] = contextvars.ContextVar("eco_magic_generation_depth", default=0)
_HOOKS: list | None = None


def _hook_adapters() -> list:
    """Adapter modules of this package that define ``install_token_hook`` (found once)."""
    global _HOOKS
    if _HOOKS is None:
        found = []
        package = __name__.rsplit(".", 1)[0]
        for info in pkgutil.iter_modules(sys.modules[package].__path__):
            if info.name in ("base", "detect", "tokens") or info.name.startswith("_"):
                continue
            module = importlib.import_module(f"{package}.{info.name}")
            if callable(getattr(module, "install_token_hook", None)):
                found.append(module)
        _HOOKS = found
    return _HOOKS


def _install(adapter, first: Watch | None) -> None:
    """Install ``adapter``'s hook now (its module is loaded); caller holds ``_LOCK``."""
    if adapter.LIBRARY in _RESTORE or not _ACTIVE:
        return
    try:
        restore = adapter.install_token_hook(record, watch_failure)
    except Exception as exc:  # noqa: BLE001 - counting must never stop a measurement
        for w in ([first] if first is not None else list(_ACTIVE)):
            w.fail(f"{adapter.NAME} hook could not be installed ({type(exc).__name__}: {exc})")
        return
    if restore is not None:
        _RESTORE[adapter.LIBRARY] = restore


class _AfterImport(importlib.abc.MetaPathFinder):
    """Installs an adapter's hook right after the measured code imports the module it patches.

    It finds nothing itself: for a watched name it asks the other finders, and wraps the loader so that the hook
    is installed once the module has executed. Every other import costs one dict lookup.
    """

    def __init__(self) -> None:
        self.waiting: dict[str, object] = {}  # module name → adapter
        self._local = threading.local()

    def find_spec(self, name, path, target=None):
        adapter = self.waiting.get(name)
        if adapter is None or getattr(self._local, "busy", False):
            return None
        self._local.busy = True
        try:
            spec = importlib.util.find_spec(name)
        except Exception:  # noqa: BLE001 - let the import system report it as it would without us
            return None
        finally:
            self._local.busy = False
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return None
        spec.loader = _HookingLoader(spec.loader, adapter)
        return spec


class _HookingLoader(importlib.abc.Loader):
    def __init__(self, loader, adapter) -> None:
        self._loader, self._adapter = loader, adapter

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        self._loader.exec_module(module)
        with _LOCK:
            _FINDER.waiting.pop(getattr(self._adapter, "HOOK_MODULE", ""), None)
            _install(self._adapter, None)

    def __getattr__(self, name):  # get_source, is_package, … as the real loader answers them
        return getattr(self._loader, name)


_FINDER = _AfterImport()


def _sync_finder() -> None:
    """Finder on ``sys.meta_path`` exactly while some adapter waits; caller holds ``_LOCK``."""
    present = _FINDER in sys.meta_path
    if _FINDER.waiting and not present:
        sys.meta_path.insert(0, _FINDER)
    elif not _FINDER.waiting and present:
        sys.meta_path.remove(_FINDER)


def start() -> Watch:
    """Start counting for one measurement; call :meth:`Watch.stop` when it ends (in a ``finally``)."""
    watch = Watch()
    with _LOCK:
        _ACTIVE.append(watch)
        for adapter in _hook_adapters():
            if adapter.LIBRARY in _RESTORE:
                continue
            module = getattr(adapter, "HOOK_MODULE", adapter.LIBRARY)
            if module in sys.modules:
                _install(adapter, watch)
            else:
                _FINDER.waiting[module] = adapter
        _sync_finder()
    _CONTEXT.set(_CONTEXT.get() + (watch,))
    return watch


def _stop(watch: Watch) -> None:
    with _LOCK:
        if watch.stopped:
            return
        with watch._lock:
            watch.stopped = True
        if watch in _ACTIVE:
            _ACTIVE.remove(watch)
        if not _ACTIVE:
            _FINDER.waiting.clear()
            _sync_finder()
            for library in list(_RESTORE):
                try:
                    _RESTORE.pop(library)()
                except Exception:  # noqa: BLE001 - restoring is best effort; the next start installs afresh
                    pass
    current = _CONTEXT.get()
    if watch in current:
        _CONTEXT.set(tuple(w for w in current if w is not watch))


def active() -> tuple[Watch, ...]:
    """The watches a token counted now would go to (see the module docstring)."""
    mine = tuple(w for w in _CONTEXT.get() if not w.stopped)
    if mine:
        return mine
    with _LOCK:
        return tuple(_ACTIVE)


def record(tokens_in: int, tokens_out: int, responses: int, source: str) -> bool:
    """Add counts to the active watches; False when there is none."""
    targets = active()
    for w in targets:
        w.add(tokens_in, tokens_out, responses, source)
    return bool(targets)


def watch_failure(message: str) -> None:
    """A hooked call ran but could not be counted: the watches say so instead of undercounting silently."""
    for w in active():
        w.fail(message)


def _whole(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"count_tokens: {name} must be a whole number ≥ 0, got {value!r}")
    return int(value)


def count_tokens(generated: int, prompt: int = 0, responses: int = 1) -> bool:
    """Add tokens to the running measurement(s), for runtimes eco_magic does not hook (llama.cpp, vLLM, APIs).

    ``generated``: tokens the model produced; ``prompt``: tokens it read; ``responses``: answers they make up.
    Returns True when a measurement took them. Outside a measurement nothing is recorded: a ``TokenWarning``
    says so and False is returned. Raises ``ValueError`` for negative or non-integer counts.
    """
    generated, prompt, responses = _whole("generated", generated), _whole("prompt", prompt), \
        _whole("responses", responses)
    if record(prompt, generated, responses, "count_tokens()"):
        return True
    warnings.warn("eco_magic.count_tokens: no measurement is running (use it inside a %%ecolyze cell or "
                  "eco_magic.measure()); these tokens were not recorded", TokenWarning, stacklevel=2)
    return False
