"""Measure the Dask workers a cell drives (``%%ecolyze --dask``), with the engine every kernel already has.

When a notebook hands work to ``dask.distributed``, the energy is spent on the workers: measuring only the
kernel's machine under-reports. This module runs the same sensors and :class:`~eco_magic.sampler.Sampler` on
every worker, through ``Client.run`` (no scheduler, no transport of our own), and brings each worker's figures
back as plain dicts.

Two halves
    *worker side* — :func:`worker_start` / :func:`worker_stop`, called on each worker by ``Client.run``. A
    module-level registry keyed by a measurement id holds the running samplers; discovery is cached per worker
    process (``discover_all``, the kernel's scope); a second, concurrent measurement gets its own sensors.
    *kernel side* — :func:`start_cell` at cell start and :func:`stop_cell` at cell end (never raise), and
    :func:`attribute`, the pure function that decides which worker joules are added to the totals.

Counting each joule once (:func:`attribute`)
    * ``machine``/``device`` scope channels (RAPL, NVML, machine-scope estimates) see the whole host or device,
      so they are counted **once per host**: per host and identity (a GPU by its UUID, the CPU or RAM of a host
      by its kind), the kernel's own reading when the kernel runs on that host (it is already in the kernel's
      totals), else the best-method reading of the worker with the smallest address. Hosts are told apart by
      the Linux boot id (shared by containers on one machine, as their RAPL/NVML counters are), else
      ``/etc/machine-id``, else the host name.
    * ``process`` scope estimates are per worker process, summed — unless the same host also has a machine-level
      channel of that kind (the process is inside it), or the process is, or descends from, another participant
      whose process-tree estimate of that kind already includes it. The kernel's estimate follows its children,
      so the worker processes a ``LocalCluster`` spawns are already in the kernel's figure and are shown, not added.
    * One mixed case: a worker's host counter chosen for a host where the kernel only has a process estimate of
      the same kind counts the counter minus the kernel's estimate (the kernel's part is already in its totals).

Workers that leave or die during the cell, join it late, fail to start, or lack eco_magic are reported in notes and
in the per-worker breakdown; nothing here raises into the cell. A worker without eco_magic gets a copy of the
package shipped to its temporary directory (see :func:`ship_package`), so a cluster needs nothing installed.

Per-host region and PUE come from the worker's environment (``ECO_MAGIC_REGION``, ``ECO_MAGIC_PUE``) or from a
``hosts`` mapping given to :func:`start_cell`; :mod:`eco_magic.assemble` applies them.

``dask``/``distributed`` are never imported here at module level, and :func:`active_client` does not import them
at all unless the user already did.
"""
from __future__ import annotations

import hashlib
import io
import os
import socket
import sys
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

if TYPE_CHECKING:
    from .result import WorkerReading
    from .sampler import ChannelResult, Measurement

__all__ = [
    "ENV_PUE",
    "ENV_REGION",
    "ClusterMeasurement",
    "ClusterRun",
    "active_client",
    "attribute",
    "channel_dict",
    "host_identity",
    "ship_package",
    "start_cell",
    "stop_cell",
    "worker_start",
    "worker_stop",
]

ENV_REGION = "ECO_MAGIC_REGION"
"""A worker's own region (read on the worker): where a cluster spans regions, set it in each worker's environment."""
ENV_PUE = "ECO_MAGIC_PUE"
"""A worker's data-centre PUE (read on the worker), e.g. ``1.2``; else the notebook's PUE rule applies."""

MAX_RUNS_PER_WORKER = 8
"""Measurements one worker process keeps running at once; starting another stops the oldest (a kernel that died
between start and stop must not leave samplers behind for ever)."""
DEFAULT_TIMEOUT_S = 35.0
"""Longest wait for the workers' answers at cell start or end (s): above Dask's 30-s connect timeout, so that
the scheduler reports an unreachable worker itself and the others' answers still arrive."""
MACHINE_SCOPES = ("machine", "device")
_METHOD_RANK = {"counter": 0, "integrated": 1, "estimated": 2}
_MISSING = "eco_magic not importable"


# ----------------------------------------------------------------------------------------- host identity
def _first_line(path: str) -> str:
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            return fh.readline().strip()
    except OSError:
        return ""


def host_id() -> str:
    """Identity of the physical or virtual machine this process runs on, for counting host counters once.

    The Linux boot id first (one per running kernel, so containers on one machine share it, as they share its
    RAPL and NVML counters), then ``/etc/machine-id``, then the host name.
    """
    for path, tag in (("/proc/sys/kernel/random/boot_id", "boot"), ("/etc/machine-id", "machine"),
                      ("/var/lib/dbus/machine-id", "machine")):
        text = _first_line(path)
        if text:
            return f"{tag}:{text}"
    return f"hostname:{socket.gethostname()}"


def _process_key(proc: Any) -> list:
    """``[pid, create_time]``: a process identity that survives PID reuse (create time rounded to 10 ms)."""
    return [int(proc.pid), round(float(proc.create_time()), 2)]


def host_identity() -> dict[str, Any]:
    """This process: ``host`` (name), ``host_id``, ``pid``, ``proc`` ([pid, create time]) and ``ancestors``."""
    ident: dict[str, Any] = {"host": socket.gethostname(), "host_id": host_id(), "pid": os.getpid(),
                             "proc": None, "ancestors": []}
    try:
        import psutil

        me = psutil.Process()
        ident["proc"] = _process_key(me)
        ancestors = []
        for parent in me.parents():
            try:
                ancestors.append(_process_key(parent))
            except psutil.Error:
                continue
        ident["ancestors"] = ancestors
    except Exception:  # noqa: BLE001 - without psutil, ancestry is unknown: workers then count as separate
        pass
    return ident


# ----------------------------------------------------------------------------------------- channel summaries
def channel_dict(ch: "ChannelResult", measurement: "Measurement | None" = None) -> dict[str, Any]:
    """One sampler channel as a plain, picklable dict (SI units), with what attribution and accounting need."""
    info = ch.info
    details = info.details or {}
    out: dict[str, Any] = {
        "key": info.key, "kind": info.kind, "name": info.name, "method": ch.method, "source": info.source,
        "scope": info.scope, "energy_j": ch.energy_j, "mean_power_w": ch.mean_power_w,
        "peak_power_w": ch.peak_power_w, "peak_temp_c": ch.peak_temp_c,
        "slowdown_temp_c": details.get("slowdown_temp_c"), "mean_util_pct": ch.mean_util_pct,
        "throttle_events": list(ch.throttle_events), "notes": list(ch.notes),
        "uuid": details.get("uuid"), "datacenter": bool(details.get("datacenter", False)), "resolution_j": None,
    }
    if measurement is not None and ch.energy_j is not None:
        from . import accounting as acc

        out["resolution_j"] = acc.energy_resolution_j(
            ch.method, ch.mean_power_w, measurement.duration_s, ch.n_samples,
            counter_update_s=details.get("counter_update_s"), quantum_j=details.get("resolution_j"))
    return out


# ----------------------------------------------------------------------------------------- worker side
@dataclass
class _WorkerRun:
    sampler: Any
    sensors: list
    private: bool  # sensors discovered for this run only: close them at the end
    cache_key: tuple
    notes: list
    started: float = field(default_factory=time.monotonic)


_LOCK = threading.Lock()
_RUNS: dict[str, _WorkerRun] = {}
_DISCOVERIES: dict[tuple, Any] = {}


def _close_sensors(sensors: Sequence[Any]) -> None:
    for s in sensors:
        try:
            s.close()
        except Exception:  # noqa: BLE001
            pass


def _finish_run(run: _WorkerRun):
    try:
        return run.sampler.stop()
    finally:
        if run.private:
            _close_sensors(run.sensors)


def worker_start(mid: str, config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Start measuring this worker process under measurement id ``mid`` (runs on the worker; never raises).

    config: ``scope`` ("process"/"machine", for the estimates), ``rate_hz`` (``None`` = adaptive), ``cpu_tdp_w``.
    Returns this process's :func:`host_identity` plus ``status`` ("started" or "failed"), the channel keys,
    ``notes`` (discovery notes with a hint, on the first measurement of this worker process only; repeated in
    the stop summary) and ``probe_notes`` (all of them, every time).
    """
    from . import __version__

    ident = host_identity()
    ident.update(version=__version__, env={"region": os.environ.get(ENV_REGION) or None,
                                          "pue": os.environ.get(ENV_PUE) or None})
    try:
        from .sampler import Sampler
        from .sensors import discover_all, sync_devices

        cfg = dict(config or {})
        scope, rate_hz, tdp = cfg.get("scope", "process"), cfg.get("rate_hz"), cfg.get("cpu_tdp_w")
        with _LOCK:
            if mid in _RUNS:
                return {**ident, "status": "started", "notes": ["already started"]}
            while len(_RUNS) >= MAX_RUNS_PER_WORKER:
                oldest = min(_RUNS, key=lambda k: _RUNS[k].started)
                _finish_run(_RUNS.pop(oldest))
            key = (scope, tdp)
            shared_busy = any(r.cache_key == key and not r.private for r in _RUNS.values())
            fresh = True
            if shared_busy:  # a concurrent measurement reads the cached sensors: two samplers must not share one
                found, private = discover_all(scope=scope, cpu_tdp_w=tdp), True
            else:
                found = _DISCOVERIES.get(key)
                fresh = found is None
                if found is None:
                    found = _DISCOVERIES[key] = discover_all(scope=scope, cpu_tdp_w=tdp)
                private = False
            sensors = list(found.sensors)
            sampler = Sampler(sensors, rate_hz=rate_hz, sync=sync_devices, thread_name="eco_magic-dask-sampler")
            sampler.start()
            # actionable discovery notes (with a hint) travel with the first summary of this worker process only,
            # as the kernel shows its own hints once
            notes = [str(n) for n in found.notes if n.hint] if fresh else []
            _RUNS[mid] = _WorkerRun(sampler, sensors, private, key, notes)
        return {**ident, "status": "started", "channels": [s.info.key for s in sensors], "notes": notes,
                "probe_notes": [str(n) for n in found.notes]}
    except Exception as exc:  # noqa: BLE001 - reported by the kernel, never raised on the worker
        return {**ident, "status": "failed", "error": f"{type(exc).__name__}: {exc}"}


def worker_stop(mid: str) -> dict[str, Any]:
    """Stop measurement ``mid`` on this worker and return its summary (runs on the worker; never raises).

    ``status`` is "measured" (with ``duration_s``, ``channels`` as :func:`channel_dict` dicts, ``notes``),
    "not started" (the worker joined after the cell started, or restarted) or "failed".
    """
    from . import __version__

    ident = host_identity()
    ident.update(version=__version__, env={"region": os.environ.get(ENV_REGION) or None,
                                          "pue": os.environ.get(ENV_PUE) or None})
    with _LOCK:
        run = _RUNS.pop(mid, None)
    if run is None:
        return {**ident, "status": "not started"}
    try:
        m = _finish_run(run)
    except Exception as exc:  # noqa: BLE001
        return {**ident, "status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    return {**ident, "status": "measured", "duration_s": m.duration_s, "started_at": m.started_at,
            "rate": m.rate, "n_ticks": m.n_ticks, "channels": [channel_dict(c, m) for c in m.channels],
            "notes": list(run.notes) + list(m.notes)}


# ----------------------------------------------------------------------------------------- shipping the package
_BOOTSTRAP = """
import importlib, io, os, shutil, sys, tempfile, zipfile
target = os.path.join(tempfile.gettempdir(), "eco_magic-shipped-" + digest)
if not os.path.isfile(os.path.join(target, "eco_magic", "__init__.py")):
    part = target + ".part-" + str(os.getpid())
    zipfile.ZipFile(io.BytesIO(data)).extractall(part)
    try:
        os.replace(part, target)
    except OSError:
        shutil.rmtree(part, ignore_errors=True)
if target not in sys.path:
    sys.path.insert(0, target)
importlib.invalidate_caches()
"""

_ZIP: tuple[bytes, str] | None = None


def package_zip() -> tuple[bytes, str]:
    """This eco_magic package (sources and data tables, no caches) as zip bytes, and a short content hash."""
    global _ZIP
    if _ZIP is None:
        root = Path(__file__).resolve().parent
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for path in sorted(root.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".pyc", ".pyo"):
                    z.write(path, Path("eco_magic") / path.relative_to(root))
        data = buf.getvalue()
        _ZIP = (data, hashlib.sha256(data).hexdigest()[:16])
    return _ZIP


def ship_package(client: Any, workers: Sequence[str], timeout_s: float = DEFAULT_TIMEOUT_S) -> dict[str, Any]:
    """Copy this eco_magic to ``workers`` that cannot import it, like ``Client.upload_file`` but as real files.

    The zip is unpacked once per worker machine under its temporary directory
    (``eco_magic-shipped-<hash>``, so the data tables stay readable files) and put first on the worker's
    ``sys.path``. It runs through the built-in ``exec``, which every worker can unpickle. Returns
    ``{address: None | exception}``.
    """
    data, digest = package_zip()
    return _call(client, exec, _BOOTSTRAP, {"data": data, "digest": digest}, workers=list(workers),
                 timeout_s=timeout_s)


# ----------------------------------------------------------------------------------------- kernel side
def active_client() -> Any | None:
    """The kernel's default ``distributed.Client`` when one is running, else ``None``.

    Never imports Dask: when ``distributed`` is not imported yet, no client can exist.
    """
    if "distributed" not in sys.modules:
        return None
    try:
        from distributed import default_client

        client = default_client()
    except Exception:  # noqa: BLE001 - ValueError: no client; anything else: treat as none
        return None
    return client if getattr(client, "status", None) == "running" else None


def _call(client: Any, fn: Callable, *args: Any, workers: Sequence[str] | None = None,
          timeout_s: float = DEFAULT_TIMEOUT_S) -> dict[str, Any]:
    """``client.run(fn, *args, on_error="return")`` bounded by ``timeout_s`` (raises ``TimeoutError``)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = client.run(fn, *args, workers=None if workers is None else list(workers),
                                      on_error="return")
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="eco_magic-dask-call", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        raise TimeoutError(f"the Dask workers did not answer within {timeout_s:g} s")
    if "error" in box:
        raise box["error"]
    return dict(box["value"])


_REMOTE = ("(lambda m: getattr(m, fn)(*args) if m is not None else {'status': missing})"
           "(__import__('eco_magic.cluster', fromlist=['cluster']) "
           "if __import__('importlib.util').util.find_spec('eco_magic') is not None else None)")


def _remote(client: Any, fn_name: str, *args: Any, workers: Sequence[str] | None = None,
            timeout_s: float = DEFAULT_TIMEOUT_S) -> dict[str, Any]:
    """Call ``eco_magic.cluster.<fn_name>(*args)`` on the workers.

    It goes through the built-in ``eval``, so a worker without eco_magic answers ``{"status": "eco_magic not
    importable"}`` instead of failing to unpickle the function (which Dask would log as an error).
    """
    env = {"fn": fn_name, "args": tuple(args), "missing": _MISSING}
    return _call(client, eval, _REMOTE, env, workers=workers, timeout_s=timeout_s)


def _reason(value: Any) -> str:
    text = str(value).strip().splitlines()[0] if str(value).strip() else ""
    name = type(value).__name__
    if type(value) is Exception and text:  # Dask wraps a worker's error as Exception("OriginalError(...)")
        return text
    return f"{name}: {text}" if text and name not in text else (text or name)


@dataclass
class ClusterRun:
    """A cluster measurement in flight (returned by :func:`start_cell`, consumed by :func:`stop_cell`)."""

    client: Any
    mid: str
    kernel: dict
    started: dict = field(default_factory=dict)  # address → worker_start reply ("started")
    failed: dict = field(default_factory=dict)   # address → reason it could not start
    notes: list = field(default_factory=list)
    hosts: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    scheduler: str = ""
    timeout_s: float = DEFAULT_TIMEOUT_S
    stopped: bool = False


@dataclass(frozen=True)
class ClusterMeasurement:
    """What the workers reported for one cell (plain data; :func:`attribute` decides what counts).

    kernel     :func:`host_identity` of the notebook kernel
    workers    one dict per worker address seen at start or end: ``address``, ``status`` ("measured", "left",
               "joined", "failed"), ``summary`` (the :func:`worker_stop` or :func:`worker_start` reply, when
               there is one) and ``reason`` (why it is not "measured")
    notes      cluster-level notes (no client, shipping, timeouts)
    hosts      per-host settings, ``{host name or IP: {"region": code, "pue": float}}``
    scheduler  the scheduler address
    """

    kernel: Mapping[str, Any]
    workers: tuple[Mapping[str, Any], ...] = ()
    notes: tuple[str, ...] = ()
    hosts: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    scheduler: str = ""


def start_cell(dask: bool | str = "auto", *, client: Any = None, scope: str = "process",
               rate_hz: float | None = None, cpu_tdp_w: float | None = None,
               hosts: Mapping[str, Mapping[str, Any]] | None = None, ship: bool = True,
               timeout_s: float = DEFAULT_TIMEOUT_S) -> ClusterRun | None:
    """Start measuring every Dask worker at cell start. Never raises.

    dask       ``True``/"on" (``--dask``: measure, and say so when there is no client), "auto" (measure when a
               ``distributed.Client`` is active, silently skip otherwise) or ``False``/"off"
    client     the client to use (default: :func:`active_client`)
    scope, rate_hz, cpu_tdp_w   as the kernel's engine uses them; the workers use the same
    hosts      per-host region/PUE, ``{"node-17": {"region": "FR", "pue": 1.2}}`` (host name or IP address)
    ship       copy eco_magic to workers that cannot import it (:func:`ship_package`)

    Returns ``None`` when there is nothing to measure and nothing to say, else a :class:`ClusterRun` to pass to
    :func:`stop_cell` (which must be called, in a ``finally``, to stop the workers' samplers).
    """
    mode = "on" if dask is True else "off" if dask in (False, None) else str(dask).lower()
    if mode not in ("on", "auto"):
        return None
    if client is None:
        client = active_client()
    if client is None and mode == "auto":
        return None  # nothing to measure, nothing to say: no host identity read either (it costs ~1 ms)
    kernel = host_identity() if client is not None else {}
    run = ClusterRun(client=client, mid=uuid.uuid4().hex, kernel=kernel, hosts=dict(hosts or {}),
                     timeout_s=timeout_s)
    if client is None:
        if mode == "on":
            run.notes.append("--dask: no distributed.Client is active in this kernel; only this machine was "
                             "measured (create one with distributed.Client(...) first)")
            return run
        return None
    if getattr(client, "asynchronous", False):
        run.notes.append("Dask: an asynchronous Client cannot be used from a cell; workers not measured")
        run.client = None
        return run
    try:
        run.scheduler = str(getattr(getattr(client, "scheduler", None), "address", "") or "")
        config = {"scope": scope, "rate_hz": rate_hz, "cpu_tdp_w": cpu_tdp_w}
        replies = _remote(client, "worker_start", run.mid, config, timeout_s=timeout_s)
        missing = [a for a, r in replies.items() if isinstance(r, dict) and r.get("status") == _MISSING]
        if missing and ship:
            shipped = ship_package(client, missing, timeout_s=timeout_s)
            ok = [a for a in missing if not isinstance(shipped.get(a), BaseException)]
            if ok:
                replies.update(_remote(client, "worker_start", run.mid, config, workers=ok, timeout_s=timeout_s))
                from . import __version__

                run.notes.append(f"eco_magic {__version__} was not importable on {len(ok)} worker(s): copied to "
                                 "their temporary directory for this session")
        for address, reply in sorted(replies.items()):
            if isinstance(reply, dict) and reply.get("status") == "started":
                run.started[address] = reply
            elif isinstance(reply, dict) and reply.get("status") == _MISSING:
                run.failed[address] = "eco_magic is not installed there (pip install eco_magic on the workers)"
            elif isinstance(reply, dict):
                run.failed[address] = reply.get("error") or str(reply.get("status"))
            else:
                run.failed[address] = _reason(reply)
        if not replies:
            run.notes.append("Dask: the cluster had no workers at cell start")
    except Exception as exc:  # noqa: BLE001 - the cell comes first
        run.notes.append(f"Dask: could not start measuring the workers ({_reason(exc)}); their energy is "
                         "missing from this result")
    return run


def stop_cell(run: ClusterRun | None) -> ClusterMeasurement | None:
    """Stop the workers' samplers and collect their summaries. Never raises; idempotent per run (second call → None).

    Workers present at start but not answering at the end are reported as *left* (left or died during the
    cell: their energy is missing); workers answering at the end without a running measurement *joined* during
    the cell (their energy from when they joined is unknown).
    """
    if run is None or run.stopped:
        return None
    run.stopped = True
    notes = list(run.notes)
    replies: dict[str, Any] = {}
    if run.client is not None and (run.started or run.failed):
        try:
            replies = _remote(run.client, "worker_stop", run.mid, timeout_s=run.timeout_s)
        except Exception as exc:  # noqa: BLE001
            notes.append(f"Dask: could not collect the workers' readings ({_reason(exc)}); their energy is "
                         "missing from this result")
    elif run.client is not None:  # no worker at start: still notice workers that joined meanwhile
        try:
            replies = _remote(run.client, "worker_stop", run.mid, timeout_s=run.timeout_s)
        except Exception:  # noqa: BLE001
            replies = {}
    workers = []
    for address in sorted(set(run.started) | set(run.failed) | set(replies)):
        start = run.started.get(address)
        reply = replies.get(address)
        entry: dict[str, Any] = {"address": address, "summary": start, "reason": None}
        if isinstance(reply, dict) and reply.get("status") == "measured":
            entry.update(status="measured", summary=reply)
        elif address in run.failed:
            entry.update(status="failed", reason=run.failed[address])
        elif start is not None:
            if reply is None:
                why = "no answer at the end of the cell"
            elif not isinstance(reply, dict):
                why = _reason(reply)
            elif reply.get("status") == "not started":
                why = "it restarted during the cell"
            else:
                why = str(reply.get("error") or reply.get("status"))
            entry.update(status="left", reason=why)
        else:
            entry.update(status="joined", summary=reply if isinstance(reply, dict) else None,
                         reason="joined during the cell")
        workers.append(entry)
    from . import __version__

    others = sorted({str(w["summary"].get("version")) for w in workers
                     if w["status"] == "measured" and w["summary"].get("version") not in (None, __version__)})
    if others:
        notes.append(f"Dask: workers run eco_magic {', '.join(others)}, this kernel {__version__}; their figures "
                     "follow their version's rules")
    return ClusterMeasurement(kernel=run.kernel, workers=tuple(workers), notes=tuple(notes), hosts=run.hosts,
                              scheduler=run.scheduler)


# ----------------------------------------------------------------------------------------- attribution
def _ident(ch: Mapping[str, Any]) -> tuple:
    """What a machine-level channel measures on its host: a GPU by UUID (else its key), CPU/RAM by kind."""
    if ch["kind"] == "gpu":
        return ("gpu", ch.get("uuid") or ch["key"])
    return (ch["kind"],)


def _proc(ident: Mapping[str, Any]) -> tuple | None:
    p = ident.get("proc")
    return (ident.get("host_id"), tuple(p)) if p else None


def attribute(cm: ClusterMeasurement, kernel_channels: Sequence[Mapping[str, Any]] = (),
              include_kernel: bool = True) -> tuple[tuple["WorkerReading", ...], tuple[str, ...]]:
    """Decide, channel by channel, which worker energy joins the cell's totals (see the module docstring).

    kernel_channels  the kernel's own channels as :func:`channel_dict` dicts (already in the kernel's totals)
    include_kernel   ``False`` ignores the kernel entirely (cluster-only view)

    Returns one :class:`~eco_magic.result.WorkerReading` per worker (``energy_j`` = joules it adds,
    ``counted_j`` per channel, region/PUE/CO₂ left for :mod:`eco_magic.assemble`) and cluster-level notes.
    """
    from .result import DeviceReading, WorkerReading

    kernel = dict(cm.kernel) if include_kernel else {}
    k_host = kernel.get("host_id")
    measured = [w for w in cm.workers if w["status"] == "measured" and w.get("summary")]

    # every participant: (name, identity, channels); the kernel first
    parts: list[tuple[str, Mapping[str, Any], list]] = []
    if include_kernel and k_host:
        parts.append(("notebook kernel", kernel, [dict(c) for c in kernel_channels]))
    for w in sorted(measured, key=lambda w: (len(w["summary"].get("ancestors") or []), w["address"])):
        parts.append((w["address"], w["summary"], [dict(c) for c in w["summary"].get("channels", [])]))

    # machine-level channels: one owner per (host, identity)
    owner: dict[tuple, tuple[str, str]] = {}  # (host_id, ident) → (participant, channel key)
    ranked = []
    for order, (name, ident, chans) in enumerate(parts):
        for ch in chans:
            if ch["scope"] in MACHINE_SCOPES and ch.get("energy_j") is not None:
                is_kernel = name == "notebook kernel"
                ranked.append(((not is_kernel, _METHOD_RANK.get(ch["method"], 3), order), name, ident, ch))
    for _, name, ident, ch in sorted(ranked, key=lambda r: r[0]):
        owner.setdefault((ident.get("host_id"), _ident(ch)), (name, ch["key"]))
    host_kinds = {(h, ident[0]) for (h, ident) in owner}  # kinds with a machine-level figure per host

    # process-scope channels: processes whose tree estimate of a kind is already counted
    covered: dict[tuple, str] = {}  # (host_id, kind, proc) → participant whose estimate covers it
    kernel_process_j: dict[tuple, float] = {}  # (host_id, kind) → kernel's process-scope joules
    for ch in parts[0][2] if parts and parts[0][0] == "notebook kernel" else []:
        if ch["scope"] == "process" and ch.get("energy_j") is not None and _proc(kernel):
            covered[(k_host, ch["kind"], _proc(kernel))] = "notebook kernel"
            kernel_process_j[(k_host, ch["kind"])] = kernel_process_j.get((k_host, ch["kind"]), 0.0) + ch["energy_j"]

    readings: dict[str, WorkerReading] = {}
    for name, ident, chans in parts:
        if name == "notebook kernel":
            continue
        h = ident.get("host_id")
        me = _proc(ident)
        lineage = [me] + [(h, tuple(a)) for a in ident.get("ancestors") or []] if me else []
        counted: dict[str, float] = {}
        devices = []
        wnotes: list[str] = []
        for ch in chans:
            e = ch.get("energy_j")
            why = ""
            if e is None:
                why = "no reading"
            elif ch["scope"] in MACHINE_SCOPES:
                who, key = owner.get((h, _ident(ch)), (None, None))
                if who == name and key == ch["key"]:
                    extra = kernel_process_j.get((h, ch["kind"]), 0.0)
                    counted[ch["key"]] = max(0.0, e - extra)
                    if extra:
                        why = (f"counted minus the notebook kernel's own {ch['kind']} estimate "
                               f"({extra:.3g} J), which is inside this host counter")
                else:
                    why = f"host counter counted once, by {who}" + (f" ({key})" if key != ch["key"] else "")
            elif (h, ch["kind"]) in host_kinds:
                who, key = next(v for k, v in owner.items() if k[0] == h and k[1][0] == ch["kind"])
                why = f"inside the host's {key} figure (counted by {who})"
            else:
                cover = next((covered[(h, ch["kind"], p)] for p in lineage if (h, ch["kind"], p) in covered), None)
                if cover is not None:
                    why = f"already inside the {cover}'s process-tree estimate"
                else:
                    counted[ch["key"]] = e
                    if me:
                        covered[(h, ch["kind"], me)] = f"worker {name}"
            if why:
                wnotes.append(f"{ch['key']}: {why}")
            devices.append(DeviceReading(
                key=ch["key"], kind=ch["kind"], name=ch["name"], energy_j=e, method=ch["method"],
                source=ch["source"], scope=ch["scope"], mean_power_w=ch.get("mean_power_w"),
                peak_power_w=ch.get("peak_power_w"), peak_temp_c=ch.get("peak_temp_c"),
                slowdown_temp_c=ch.get("slowdown_temp_c"), mean_util_pct=ch.get("mean_util_pct"),
                throttle_events=tuple(ch.get("throttle_events") or ()), notes=tuple(ch.get("notes") or ())))
        wnotes.extend(ident.get("notes") or [])
        readings[name] = WorkerReading(
            address=name, host=str(ident.get("host", "")), status="measured",
            energy_j=sum(counted.values()), read_j=sum(d.energy_j for d in devices if d.energy_j is not None),
            pid=ident.get("pid"), host_id=str(h or ""), duration_s=ident.get("duration_s"),
            devices=tuple(devices), counted_j=tuple(counted.items()), notes=tuple(wnotes))

    notes = list(cm.notes)
    out = []
    covered_hosts = {h for (h, _k) in host_kinds}
    for w in cm.workers:
        address, status = w["address"], w["status"]
        if address in readings:
            out.append(readings[address])
            continue
        s = w.get("summary") or {}
        host = str(s.get("host", "")) or address
        h = s.get("host_id")
        if status == "left":
            text = (f"worker {address} on {host} left or died during the cell ({w.get('reason')}); its energy "
                    "since the cell started is missing")
            if h in covered_hosts:
                text += "; its host's machine-level counters were still read by another participant"
        elif status == "joined":
            text = (f"worker {address} on {host} joined during the cell; its energy from when it joined is "
                    "unknown (not measured)")
            if h in covered_hosts:
                text += ", except what its host's machine-level counters caught"
        else:
            text = f"worker {address} could not be measured ({w.get('reason')}); its energy is missing"
        notes.append(text)
        out.append(WorkerReading(address=address, host=host, status=status, energy_j=None, read_j=None,
                                 pid=s.get("pid"), host_id=str(h or ""), notes=(text,)))
    return tuple(out), tuple(notes)
