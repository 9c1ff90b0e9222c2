"""Provider answers cached on disk, each with the time it was fetched; stale ones are refused, not used.

One JSON file per request (provider, endpoint, query), named by a hash of those. A file holds the answer and its
fetch time (UTC epoch seconds), nothing else: never a token, a password or any header. Writes are atomic
(temporary file + rename), so two kernels never read half a file. A cache that cannot be read or written only
means the provider is asked again.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

CACHE_ENV = "ECO_MAGIC_CACHE_DIR"


def default_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$ECO_MAGIC_CACHE_DIR/live_carbon``, else ``$XDG_CACHE_HOME/eco_magic/live_carbon``, else
    ``~/.cache/eco_magic/live_carbon``."""
    environ = os.environ if env is None else env
    if environ.get(CACHE_ENV):
        return Path(environ[CACHE_ENV]) / "live_carbon"
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "eco_magic" / "live_carbon"


@dataclass(frozen=True)
class Cached:
    """A cached answer: the provider's JSON, when it was fetched (UTC epoch s) and its age (s)."""

    payload: Any
    fetched_at: float
    age_s: float


class DiskCache:
    """``get``/``put`` of provider answers under ``directory``."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def _path(self, key: Mapping[str, Any]) -> Path:
        text = json.dumps(key, sort_keys=True, separators=(",", ":"))
        return self.directory / (hashlib.sha256(text.encode("utf-8")).hexdigest()[:32] + ".json")

    def get(self, key: Mapping[str, Any], *, now: float) -> Cached | None:
        """The cached answer for ``key`` whatever its age (the caller decides), or None."""
        try:
            record = json.loads(self._path(key).read_text(encoding="utf-8"))
            fetched_at = float(record["fetched_at"])
            if record.get("key") != json.loads(json.dumps(key)):
                return None  # a hash collision or a hand-edited file: not this request's answer
            return Cached(record["payload"], fetched_at, max(0.0, now - fetched_at))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, key: Mapping[str, Any], payload: Any, *, now: float) -> None:
        """Store ``payload`` for ``key``, fetched at ``now``; failures are ignored (the cache is an aid)."""
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump({"key": key, "fetched_at": now, "payload": payload}, fh)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except (OSError, TypeError, ValueError):
            pass
