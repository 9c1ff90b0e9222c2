"""One HTTPS GET with a deadline, JSON in, a readable reason out: the only network code of eco_magic.

Standard library only (``urllib``). Every failure becomes a :class:`LiveError` whose message says what happened
in words a user can act on ("the token was refused (HTTP 401)", "no answer within 4 s"); secrets passed in
``secrets`` are masked in it, and in nothing else is the answer body echoed.
"""
from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Mapping, Sequence

USER_AGENT = "eco_magic (live carbon intensity; https://github.com/eco-magic/eco_magic)"
_MAX_BODY_BYTES = 4 * 1024 * 1024  # a day of 5-minute points is ~30 kB; anything near this is not an answer


class LiveError(Exception):
    """A request that produced no usable answer. ``status`` is the HTTP status when there was one."""

    def __init__(self, reason: str, status: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status


def scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every non-empty secret replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _error_detail(body: bytes) -> str:
    """The provider's own short error message (``error``/``message``/``detail`` field), if it sent one."""
    try:
        data = json.loads(body.decode("utf-8", "replace"))
    except ValueError:
        return ""
    if isinstance(data, dict):
        for key in ("error", "message", "detail"):
            value = data.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()[:160]
    return ""


class _Watchdog:
    """Bounds one request in wall-clock time. A socket timeout bounds each read, not the request: a server that
    sends a byte every few seconds would hold the cell for as long as it likes. At the deadline the watchdog shuts
    the request's sockets down, which ends any read in progress at once."""

    def __init__(self, timeout_s: float) -> None:
        self.expired = False
        self._sockets: list = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, timeout_s), self._expire)
        self._timer.name = "eco_magic-live-deadline"
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _watch(self, sock) -> None:
        with self._lock:
            if not self.expired:
                self._sockets.append(sock)
                return
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def cancel(self) -> None:
        self._timer.cancel()
        self._timer.join()

    def opener(self) -> urllib.request.OpenerDirector:
        """urllib's usual opener (proxies from the environment, HTTPS checks) whose connections report their
        socket to this watchdog as soon as they are connected."""
        watch = self._watch

        def watched(connection_class):
            class Watched(connection_class):
                def connect(self):
                    super().connect()
                    watch(self.sock)
            return Watched

        class HTTPHandler(urllib.request.HTTPHandler):
            def do_open(self, http_class, req, **kwargs):
                return super().do_open(watched(http_class), req, **kwargs)

        class HTTPSHandler(urllib.request.HTTPSHandler):
            def do_open(self, http_class, req, **kwargs):
                return super().do_open(watched(http_class), req, **kwargs)

        return urllib.request.build_opener(HTTPHandler, HTTPSHandler)


def get_json(url: str, params: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None, *,
             timeout_s: float, deadline: float | None = None, secrets: Sequence[str] = (),
             what: str = "the provider") -> Any:
    """GET ``url`` (``params`` URL-encoded) and return its JSON body.

    ``timeout_s`` bounds this request; ``deadline`` (a ``time.monotonic()`` instant) bounds all requests of one
    cell: the request gets what is left of it. Raises :class:`LiveError` for a timeout, a refused connection,
    any non-200 status (401 and 429 named as such) and a body that is not JSON.
    """
    timeout = timeout_s
    if deadline is not None:
        timeout = min(timeout, deadline - time.monotonic())
        if timeout <= 0:
            raise LiveError(f"no time left for {what} (the live lookup's time budget is spent)")
    query = urllib.parse.urlencode({k: v for k, v in (params or {}).items() if v is not None})
    full = f"{url}?{query}" if query else url
    request = urllib.request.Request(full, headers={"User-Agent": USER_AGENT, "Accept": "application/json",
                                                    **(headers or {})})
    watchdog = _Watchdog(timeout)
    try:
        with watchdog.opener().open(request, timeout=timeout) as response:  # noqa: S310 - https/loopback only
            body = response.read(_MAX_BODY_BYTES + 1)
        if watchdog.expired:  # a server that trickles its answer: cut off at the deadline, whatever it sent
            raise TimeoutError
    except urllib.error.HTTPError as exc:
        detail = scrub(_error_detail(exc.read(65536) or b""), secrets)
        exc.close()
        status = exc.code
        if status == 401:
            reason = f"{what} refused the credentials (HTTP 401)"
        elif status == 403:
            reason = f"{what} refused access to this data with these credentials (HTTP 403)"
        elif status == 429:
            reason = f"{what} is rate-limiting these requests (HTTP 429)"
        else:
            reason = f"{what} answered HTTP {status}"
        raise LiveError(f"{reason}: {detail}" if detail else reason, status) from None
    except (TimeoutError, socket.timeout):
        raise LiveError(f"no answer from {what} within {timeout:.3g} s") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, (TimeoutError, socket.timeout)):
            raise LiveError(f"no answer from {what} within {timeout:.3g} s") from None
        raise LiveError(f"could not reach {what}: {scrub(str(exc.reason), secrets)[:160]}") from None
    except (OSError, http.client.HTTPException) as exc:
        if watchdog.expired:
            raise LiveError(f"no answer from {what} within {timeout:.3g} s") from None
        raise LiveError(f"could not reach {what}: {scrub(str(exc), secrets)[:160]}") from None
    finally:
        watchdog.cancel()
    if len(body) > _MAX_BODY_BYTES:
        raise LiveError(f"{what} sent an answer too large to be a carbon-intensity reply")
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise LiveError(f"{what} sent an answer that is not valid JSON") from None
