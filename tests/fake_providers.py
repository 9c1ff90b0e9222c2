"""A local HTTP server on 127.0.0.1 that speaks Electricity Maps' and WattTime's documented v3 formats.

Payload shapes follow the providers' public API documentation and their official clients' fixtures
(electricitymaps/if-electricitymaps `past-range-response.json`, jpbede/aioelectricitymaps
`carbon_intensity_history.json` / `latest_carbon_intensity.json`, WattTime/watttime-python-client `api.py`):

* Electricity Maps: ``auth-token`` header; ``/v3/carbon-intensity/latest`` (one record at the root),
  ``/history`` (``{"zone", "history": [...]}``), ``/past-range`` (``{"zone", "data": [...]}``); records carry
  ``zone, carbonIntensity, datetime, updatedAt, createdAt, emissionFactorType, isEstimated, estimationMethod``;
  a wrong token gets 401 ``{"message": ..., "status": "error"}``.
* WattTime: ``/login`` with HTTP basic auth -> ``{"token"}``; ``/v3/historical``, ``/v3/forecast``,
  ``/v3/signal-index`` with ``Authorization: Bearer`` -> ``{"data": [{"point_time", "value"}], "meta": {...}}``.

Each route can be made slow, failing (any status) or malformed; every request is recorded (path, query,
headers) so tests can check what was sent.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

UTC = dt.timezone.utc


def iso(moment: dt.datetime, ms: bool = True) -> str:
    text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return text + (".000Z" if ms else "+00:00")


def em_record(zone: str, hour: dt.datetime, value: float, estimated: bool = False) -> dict:
    return {"zone": zone, "carbonIntensity": value, "datetime": iso(hour),
            "updatedAt": iso(hour + dt.timedelta(hours=5)), "createdAt": iso(hour - dt.timedelta(days=3)),
            "emissionFactorType": "lifecycle", "isEstimated": estimated,
            "estimationMethod": "TIME_SLICER_AVERAGE" if estimated else None}


def em_history(zone: str, last_hour: dt.datetime, values: list[float]) -> dict:
    """24 hourly records ending with ``last_hour`` (values oldest first)."""
    first = last_hour - dt.timedelta(hours=len(values) - 1)
    return {"zone": zone, "history": [em_record(zone, first + dt.timedelta(hours=i), v)
                                      for i, v in enumerate(values)]}


def wt_series(start: dt.datetime, values: list[float], region: str = "CAISO_NORTH", *, period_s: int = 300,
              units: str = "lbs_co2_per_mwh", signal: str = "co2_moer") -> dict:
    return {"data": [{"point_time": iso(start + dt.timedelta(seconds=i * period_s), ms=False), "value": v}
                     for i, v in enumerate(values)],
            "meta": {"data_point_period_seconds": period_s, "region": region, "signal_type": signal,
                     "units": units, "warnings": [], "model": {"date": "2026-03-01", "type": "binned_regression"},
                     "generated_at": iso(start, ms=False), "generated_at_period_seconds": 300}}


class Route:
    """How the server answers one path: JSON (or raw bytes), a status, a delay."""

    def __init__(self, payload: Any = None, status: int = 200, delay_s: float = 0.0, raw: bytes | None = None):
        self.payload, self.status, self.delay_s, self.raw = payload, status, delay_s, raw


class FakeProviders:
    """``with FakeProviders() as fake:`` -> ``fake.url``, ``fake.routes[path] = Route(...)``, ``fake.requests``."""

    EM_TOKEN = "em-secret-token-123"
    WT_USER, WT_PASSWORD, WT_TOKEN = "wt-user", "wt-secret-password-456", "wt-bearer-token-789"

    def __init__(self):
        self.routes: dict[str, Route | Callable[[dict], Route]] = {}
        self.requests: list[tuple[str, dict, dict]] = []
        self.logins = 0
        self.expired_tokens: set[str] = set()
        self.issued = [self.WT_TOKEN]
        self._stop = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):  # noqa: N802 - http.server API
                parsed = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(parsed.query))
                headers = {k.lower(): v for k, v in self.headers.items()}
                fake.requests.append((parsed.path, query, headers))
                route = fake.answer(parsed.path, query, headers)
                if route.delay_s:
                    fake._stop.wait(route.delay_s)
                body = route.raw if route.raw is not None else json.dumps(route.payload).encode()
                try:
                    self.send_response(route.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up (timeout test)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.server.handle_error = lambda *a: None
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02},
                                       name="fake-providers", daemon=True)

    # ----------------------------------------------------------------------------------------- behaviour
    def answer(self, path: str, query: dict, headers: dict) -> Route:
        if path.startswith("/em/"):
            if headers.get("auth-token") != self.EM_TOKEN:
                return Route({"message": "Invalid authentication credentials", "status": "error"}, 401)
        elif path == "/wt/login":
            expected = base64.b64encode(f"{self.WT_USER}:{self.WT_PASSWORD}".encode()).decode()
            if headers.get("authorization") != f"Basic {expected}":
                return Route({"error": "invalid credentials"}, 401)
            self.logins += 1
            token = self.WT_TOKEN if self.logins == 1 else f"{self.WT_TOKEN}-{self.logins}"
            self.issued.append(token)
            return Route({"token": token})
        elif path.startswith("/wt/"):
            auth = headers.get("authorization", "")
            token = auth.removeprefix("Bearer ")
            if not auth.startswith("Bearer ") or token not in self.issued or token in self.expired_tokens:
                return Route({"error": "token expired or invalid"}, 401)
        route = self.routes.get(path)
        if route is None:
            return Route({"error": f"no such path {path}"}, 404)
        return route(query) if callable(route) else route

    def count(self, path: str) -> int:
        return sum(1 for p, _, _ in self.requests if p == path)

    def env(self, **extra: str) -> dict:
        """Environment pointing both providers at this server, with valid credentials."""
        return {"ECO_MAGIC_ELECTRICITYMAPS_URL": self.url + "/em/v3", "ECO_MAGIC_WATTTIME_URL": self.url + "/wt",
                "ELECTRICITYMAPS_TOKEN": self.EM_TOKEN, "WATTTIME_USERNAME": self.WT_USER,
                "WATTTIME_PASSWORD": self.WT_PASSWORD, **extra}

    def __enter__(self) -> "FakeProviders":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
